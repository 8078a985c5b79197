"""Per-sleeper calibration: rest and gentle contraction set the amplitude references."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from crampwatch.live.calibration import (
    Calibration,
    CalibrationError,
    CalibrationParams,
    compute_calibration,
    record_calibration,
)
from sensor.records import SampleBlock, SignalGroup

FS = 2000.0
LABELS = ("EMG R Gastroc", "EMG R Tib Ant")


def _blocks(t0: float, seconds: float, rms: tuple[float, float], seed: int) -> list[SampleBlock]:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = rng.normal(0, 1, (n, 2)) * np.array(rms)
    step = int(0.1 * FS)
    return [SampleBlock(SignalGroup.EMG, FS, t0 + i / FS, x[i:i + step], LABELS)
            for i in range(0, n, step)]


def test_references_match_the_recorded_levels() -> None:
    params = CalibrationParams()
    cal = compute_calibration(_blocks(0, 10, (3.0, 2.5), 0), _blocks(10, 5, (60.0, 4.0), 1),
                              params)
    # white noise keeps ~(450-20)/1000 of its power in the 20-450 Hz band at 2 kHz
    band = math.sqrt(430 / 1000)
    assert cal.rest_rms_uv["EMG R Gastroc"] == pytest.approx(3.0 * band, rel=0.1)
    assert cal.contraction_rms_uv["EMG R Gastroc"] == pytest.approx(60.0 * band, rel=0.1)
    severity = cal.severity("EMG R Gastroc", {"amp_rel_median": 20.0,
                                              "baseline_uv": cal.rest_rms_uv["EMG R Gastroc"]})
    assert severity == pytest.approx(1.0, rel=0.1)  # a cramp as strong as the contraction


def test_no_real_contraction_is_refused_with_advice() -> None:
    with pytest.raises(CalibrationError, match="press the toes down"):
        compute_calibration(_blocks(0, 10, (3.0, 3.0), 0), _blocks(10, 5, (4.0, 3.0), 1),
                            CalibrationParams())


def test_guided_recording_says_each_step_and_saves(tmp_path: Path) -> None:
    params = CalibrationParams(settle_s=1.0, rest_s=4.0, contraction_s=3.0)
    blocks = _blocks(0, 5, (3.0, 2.0), 0) + _blocks(5, 4, (80.0, 3.0), 1) + _blocks(9, 5,
                                                                                   (3, 2), 2)

    async def items() -> AsyncIterator[object]:
        for b in blocks:
            yield b

    said: list[str] = []
    cal = asyncio.run(record_calibration(items(), said.append, params))
    assert said[0].startswith("Lie still") and said[1].startswith("Now gently point")
    assert cal.contraction_rms_uv["EMG R Gastroc"] > 10 * cal.rest_rms_uv["EMG R Gastroc"]
    cal.save(tmp_path)
    assert Calibration.load(tmp_path) == cal


def test_damaged_calibration_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "calibration.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="calibrate again"):
        Calibration.load(tmp_path)

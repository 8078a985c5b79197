"""Synthetic nights: reproducible from a seed, and the truth agrees with the signals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from crampwatch.recordings import EdfRecording
from crampwatch.synth import NightConfig, NightTruth, generate_night
from crampwatch.synth.motor_units import motor_unit_emg
from sensor.records import EventKind

SHORT = NightConfig(duration_s=15 * 60.0, emg_fs_hz=1000.0, cramps_min=2, cramps_max=2)


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> tuple[Path, NightTruth]:
    out = tmp_path_factory.mktemp("synth")
    files = generate_night(SHORT, 11, out, "n")
    return files.edf, NightTruth.read(files.truth)


def _rms_and_acc(edf: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Return per-second band-passed RMS (uV) per EMG channel and per-second mean ACC."""
    with EdfRecording(edf) as rec:
        emg, acc = rec.window(0, rec.duration_s)
        fs = rec.emg_fs_hz
        labels = rec.emg_labels
    sos = signal.butter(4, [20, 450], "bandpass", fs=fs, output="sos")
    f = signal.sosfiltfilt(sos, emg, axis=0)
    n = int(f.shape[0] // fs)
    rms = np.sqrt((f[: int(n * fs)].reshape(n, int(fs), -1) ** 2).mean(axis=1))
    acc_s = acc[: n * 100].reshape(n, 100, 3).mean(axis=1)
    return rms, acc_s, labels


def test_same_seed_same_night_other_seed_other_night(tmp_path, night):
    edf, truth = night
    again = generate_night(SHORT, 11, tmp_path, "n")
    assert again.edf.read_bytes() == edf.read_bytes()
    assert json.loads(again.truth.read_text()) == truth.to_json()
    other = generate_night(SHORT, 12, tmp_path, "m")
    assert other.edf.read_bytes() != edf.read_bytes()


def test_night_holds_cramps_and_every_look_alike(night):
    _, truth = night
    kinds = {e.kind for e in truth.events}
    subtypes = {e.subtype for e in truth.events}
    assert sum(e.is_cramp for e in truth.events) == 2
    assert {EventKind.PLM, EventKind.MOVEMENT, EventKind.JERK, EventKind.TREMOR,
            EventKind.STRETCH, EventKind.ARTIFACT} <= kinds
    assert {"hypnic_jerk", "fragmentary_myoclonus", "contact_loss", "electrode_pop",
            "turning_over", "foot_tremor", "stretch", "plm"} <= subtypes
    plms = [e for e in truth.events if e.kind is EventKind.PLM]
    assert len(plms) >= 4 and all(0.5 <= e.end_s - e.start_s <= 10 for e in plms)
    spans = sorted((e.start_s, e.end_s) for e in truth.events)
    assert all(b0 >= a1 for (_, a1), (b0, _) in itertools.pairwise(spans))


def test_cramps_raise_calf_rms_and_spare_the_shin(night):
    edf, truth = night
    rms, _, labels = _rms_and_acc(edf)
    calf, shin = labels.index("EMG R Gastroc"), labels.index("EMG R Tib Ant")
    for cramp in (e for e in truth.events if e.is_cramp):
        inside = rms[int(cramp.start_s) + 2 : int(cramp.end_s) - 2]
        before = rms[max(0, int(cramp.start_s) - 8) : int(cramp.start_s) - 2]
        # Energy above rest on the cramping calf, agonist far above antagonist.
        assert np.median(inside[:, calf]) > 3 * np.median(before[:, calf]), cramp
        assert np.median(inside[:, calf]) > 4 * np.median(inside[:, shin]), cramp
        assert np.median(inside[:, calf]) == pytest.approx(cramp.strength_uv, rel=0.6)


def test_plm_on_the_shin_and_walking_upright(night):
    edf, truth = night
    rms, acc, labels = _rms_and_acc(edf)
    shin = labels.index("EMG R Tib Ant")
    for plm in (e for e in truth.events if e.kind is EventKind.PLM and e.end_s - e.start_s > 1.5):
        t = int(plm.start_s + 0.5)
        assert rms[t, shin] > 2 * np.median(rms[:, shin])
    lying = [abs(acc[int(e.start_s) - 3, 0]) for e in truth.events if e.start_s > 5]
    assert max(lying) < 0.6  # shank about horizontal in bed: gravity off the long axis
    walks = [e for e in truth.events if e.kind is EventKind.WALKING]
    assert walks
    for walk in walks:
        mid = int((walk.start_s + walk.end_s) / 2)
        assert acc[mid, 0] > 0.8  # upright: gravity along the shank


def test_motor_units_fire_at_cramp_rates_and_scale_with_drive():
    rng = np.random.default_rng(0)
    fs = 2000.0
    weak = motor_unit_emg(np.full(int(5 * fs), 0.2), fs, rng)
    strong = motor_unit_emg(np.full(int(5 * fs), 0.9), fs, rng)
    assert np.sqrt(np.mean(strong**2)) > 2 * np.sqrt(np.mean(weak**2))
    spectrum_f, power = signal.welch(strong, fs=fs, nperseg=1024)
    median_hz = spectrum_f[np.searchsorted(np.cumsum(power) / power.sum(), 0.5)]
    assert 60 < median_hz < 250  # surface EMG median frequency range


def test_synth_command_writes_numbered_nights_with_truth(tmp_path):
    from crampwatch.cli import main

    code = main(["synth", "--out", str(tmp_path), "--nights", "2", "--minutes", "3",
                 "--seed", "4", "--emg-rate", "1000", "--extra-calf", "--leg", "L",
                 "--labels", "emg"])
    assert code == 0
    for i in range(2):
        truth = NightTruth.read(tmp_path / f"night-{i:03d}.truth.json")
        assert truth.seed == 4 + i and truth.duration_s == 180.0
        with EdfRecording(tmp_path / f"night-{i:03d}.edf") as rec:
            assert rec.emg_labels == ("EMG L Gastroc", "EMG L Tib Ant", "EMG L Soleus")
            assert rec.emg_fs_hz == 1000.0 and rec.duration_s == 180.0
    assert main(["synth", "--out", str(tmp_path), "--cramps", "3", "1"]) == 2

"""Real thigh EMG (UCI lower-limb dataset): onsets where the muscle turns on the knee."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.sensor.uci import agreement


@pytest.mark.slow
def test_emg_onsets_precede_knee_movement(uci_emg_dir: Path) -> None:
    result = agreement(uci_emg_dir)
    rate = result.matched / result.movements
    lead = float(np.median(result.leads_s))
    print(f"\nUCI sit/stand: {result.matched}/{result.movements} knee movement onsets "
          f"({100 * rate:.0f} %) have an EMG onset within -1.0/+0.3 s; median EMG lead "
          f"{1000 * lead:.0f} ms")
    assert result.movements >= 100
    # Muscles often stay on between repetitions (no new onset to find), so not every
    # movement has one; but when one is found the muscle turns on before the knee moves
    # (electromechanical delay plus the build-up of force): a positive lead < 0.5 s.
    assert rate >= 0.4
    assert 0.0 < lead < 0.5

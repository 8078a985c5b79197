"""Detector vs NeuroKit2 ``emg_process`` on the same signal, as a speed ratio.

A slice (default 1 hour) of the bench night (2 EMG channels at 2 kHz, built as in
bench_detector.py) goes through NeuroKit2's ``emg_process`` (clean, amplitude,
activation; one call per channel, its defaults) and through the Detector (fed in 60 s
chunks). Both times are extrapolated to an 8-hour night and printed with their ratio
(target: Detector >= 200x faster).

Run: .venv/bin/python bench/bench_neurokit.py [--minutes 60]
(needs the ``bench`` extra: neurokit2).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detector import FS_HZ, night

from sensor import Detector
from sensor.records import SignalGroup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    try:
        import neurokit2 as nk
    except ImportError as exc:
        raise SystemExit("neurokit2 is missing: .venv/bin/pip install -e '.[bench]'") from exc

    hours = args.minutes / 60.0
    emg_blocks = [b for b in night(hours) if b.group is SignalGroup.EMG]

    det = Detector(expect_acc=False)
    t = time.perf_counter()
    for block in emg_blocks:
        det.process(block)
    det.finish()
    ours = time.perf_counter() - t

    # NeuroKit2 takes one channel as one array.
    channels = [np.concatenate([b.samples[:, c] for b in emg_blocks]).astype(np.float64)
                for c in range(emg_blocks[0].n_channels)]
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x in channels:
            nk.emg_process(x, sampling_rate=int(FS_HZ))
    theirs = time.perf_counter() - t

    scale = 8.0 / hours
    print(f"{args.minutes:g} min of 2 EMG ch @ 2 kHz: Detector {ours:.2f} s, NeuroKit2 "
          f"{nk.__version__} emg_process {theirs:.1f} s")
    print(f"extrapolated to 8 h: Detector {ours * scale:.1f} s, NeuroKit2 "
          f"{theirs * scale:.0f} s; Detector is {theirs / ours:,.0f}x faster (target >= 200x)")


if __name__ == "__main__":
    main()

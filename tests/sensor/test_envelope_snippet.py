"""A closed episode carries its leg's muscles around it: RMS envelopes, decimated, bounded."""

from __future__ import annotations

import numpy as np
import pytest

from sensor import Detector
from sensor.envelope_ring import EnvelopeRing
from sensor.records import ChannelInfo, EpisodePhase, EpisodeUpdate, Role
from tests.sensor.synth import FS_HZ, add_bursts, blocks, rest_emg, run

LABELS = ("EMG R Gastroc", "EMG R Tib Ant")
CRAMP = (15.0, 27.0)


def _night(n_channels: int = 2) -> np.ndarray:
    calf = add_bursts(rest_emg(40.0, 3.0, FS_HZ, 1), FS_HZ, [CRAMP], 150.0, 2)
    others = [rest_emg(40.0, 4.0, FS_HZ, 3 + c) for c in range(n_channels - 1)]
    return np.stack([calf, *others], axis=1)


def _closed(outputs: list) -> list[EpisodeUpdate]:
    return [o for o in outputs if isinstance(o, EpisodeUpdate) and o.phase is EpisodePhase.CLOSED]


def _cramp(sizes: list[int] | int) -> EpisodeUpdate:
    closed = _closed(run(Detector(expect_acc=False), blocks(_night(), FS_HZ, LABELS, sizes)))
    assert len(closed) == 1
    return closed[0]


WHOLE = _cramp(10**9)


def test_a_cramp_snippet_holds_both_muscles_from_ten_seconds_before_the_onset() -> None:
    u = WHOLE
    e = u.envelope
    assert e is not None
    assert [c.label for c in e.channels] == list(LABELS)
    assert [c.role for c in e.channels] == [Role.CALF, Role.SHIN]
    assert e.start_s == pytest.approx(u.start_s - 10.0, abs=0.11)
    assert e.step_s == pytest.approx(0.1)
    calf, shin = (np.array(v) for v in e.values_uv)
    t = e.start_s + e.step_s * np.arange(calf.size)
    assert t[-1] == pytest.approx(u.known_at_s, abs=e.step_s)  # up to when the close was known
    before, during = calf[t < u.start_s - 0.2], calf[(t > u.start_s + 0.3) & (t < CRAMP[1])]
    assert np.median(before) < 6.0  # resting calf: a few uV
    assert np.min(during) > 10 * np.median(before)  # rises at the onset and stays up
    rise = t[np.argmax(calf > 10 * np.median(before))]
    assert abs(rise - u.start_s) <= 0.15
    assert np.max(shin) < 10.0  # the shin stays at rest
    assert len(calf) <= 401


@pytest.mark.parametrize("sizes", [40, [3001, 17, 555, 9000], 777])
def test_the_snippet_does_not_depend_on_block_sizes(sizes: list[int] | int) -> None:
    assert _cramp(sizes).envelope == WHOLE.envelope


def test_only_closed_updates_carry_a_snippet() -> None:
    outs = run(Detector(expect_acc=False), blocks(_night(), FS_HZ, LABELS, 4000))
    updates = [o for o in outs if isinstance(o, EpisodeUpdate)]
    assert any(o.phase is not EpisodePhase.CLOSED for o in updates)
    assert all((o.envelope is not None) == (o.phase is EpisodePhase.CLOSED) for o in updates)


def test_a_snippet_holds_the_muscles_of_the_cramping_leg_only() -> None:
    labels = ("EMG R Gastroc", "EMG L Tib Ant", "EMG R Tib Ant", "EMG L Gastroc")
    closed = _closed(run(Detector(expect_acc=False), blocks(_night(4), FS_HZ, labels, 10**9)))
    assert len(closed) == 1
    assert closed[0].envelope is not None
    assert [c.label for c in closed[0].envelope.channels] == ["EMG R Gastroc", "EMG R Tib Ant"]


CHANNELS = (ChannelInfo("EMG R Gastroc"), ChannelInfo("EMG R Tib Ant"))


def _ring(seconds: float, keep_s: float = 900.0, skip: tuple[float, float] | None = None,
          block_frames: int = 1000) -> EnvelopeRing:
    """A ring fed 10 ms frames whose envelope is the frame time (calf) and 1 uV (shin)."""
    ring = EnvelopeRing(2, 0.01, keep_s=keep_s)
    n = round(seconds / 0.01)
    t_end = (np.arange(n) + 1) * 0.01
    env = np.stack([t_end, np.ones(n)], axis=1)
    keep = np.ones(n, dtype=bool) if skip is None else ~((t_end > skip[0]) & (t_end <= skip[1]))
    for k0 in range(0, n, block_frames):
        sel = np.flatnonzero(keep[k0 : k0 + block_frames]) + k0
        for run_ in np.split(sel, np.flatnonzero(np.diff(sel) > 1) + 1):
            if run_.size:
                ring.add(int(run_[0]), t_end[run_], env[run_])
    return ring


def test_the_ring_keeps_one_value_per_100_ms_and_a_long_episode_gets_its_last_part() -> None:
    ring = _ring(200.0, keep_s=60.0)
    assert ring.every == 10
    ring.trim_before(200.0 - 60.0)
    assert 600 <= len(ring) <= 601  # memory stays bounded by keep_s
    e = ring.snippet([0, 1], CHANNELS, onset_s=50.0, known_s=200.0)
    assert e is not None
    assert e.start_s == pytest.approx(140.0, abs=0.011)  # the last 60 s, said by start_s
    assert e.step_s == pytest.approx(0.15)  # 60 s in at most 400 steps
    assert len(e.values_uv[0]) <= 401
    assert e.values_uv[1] == pytest.approx([1.0] * len(e.values_uv[1]))


def test_short_snippet_steps_are_100_ms_and_a_gap_holds_the_last_value() -> None:
    ring = _ring(60.0, skip=(30.0, 33.0))
    e = ring.snippet([0], CHANNELS[:1], onset_s=35.0, known_s=40.0)
    assert e is not None
    assert e.start_s == pytest.approx(25.0)
    assert e.step_s == pytest.approx(0.1)
    values = np.array(e.values_uv[0])
    t = e.start_s + e.step_s * np.arange(values.size)
    assert values[t < 29.95] == pytest.approx(t[t < 29.95], abs=1e-9)
    in_gap = (t > 30.05) & (t < 32.95)
    assert values[in_gap] == pytest.approx(30.0, abs=1e-9)  # held through the gap
    assert values[-1] == pytest.approx(40.0, abs=1e-9)


def test_nothing_kept_gives_no_snippet_and_bad_limits_are_refused() -> None:
    ring = _ring(5.0)
    assert ring.snippet([0], CHANNELS[:1], onset_s=100.0, known_s=110.0) is None
    with pytest.raises(ValueError, match="max_values"):
        ring.snippet([0], CHANNELS[:1], onset_s=1.0, known_s=2.0, max_values=0)
    with pytest.raises(ValueError, match="positive"):
        EnvelopeRing(2, 0.0)

"""Whole live sessions fed hostile band streams: the night ends when the stream does.

Each example writes a capture of a band that drops packets, repeats them, sends wild
sequence numbers, device times near 2^63 and sample indices 2^31 away, whose clock
jumps, that reboots, comes back with another rate or other channel labels, and whose
capture file has damaged records and junk; the live session (capture source, real
pipeline, journal) plays it. The session must end because the stream ended, having
processed every sample the band delivered and reported lost exactly the samples
really dropped.

``CRAMPWATCH_FUZZ_SESSIONS`` sets the number of streams (200 by default; the
acceptance figure is 1,000: ``CRAMPWATCH_FUZZ_SESSIONS=1000 .venv/bin/python -m pytest
tests/crampwatch/test_session_fuzz.py --hypothesis-show-statistics``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crampwatch.live.sources import capture_source
from tests.crampwatch.test_session_hostile import FAST, assert_whole_night, run_session
from tests.firmware_bridge.hostile import Op, write_hostile_capture

SESSIONS = int(os.environ.get("CRAMPWATCH_FUZZ_SESSIONS", "200"))

# Mostly good packets, as from a real band, with every kind of trouble mixed in.
OPS = st.sampled_from([Op.OK] * 12 + [op for op in Op if op is not Op.OK])


@pytest.mark.slow
@settings(max_examples=SESSIONS, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=st.lists(OPS, min_size=10, max_size=400), seed=st.integers(0, 2**32 - 1))
def test_a_hostile_stream_never_ends_the_night_early(ops: list[Op], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        truth = write_hostile_capture(Path(tmp) / "night.cwcap", ops, seed)
        for op in sorted({op for op in truth.ops if op is not Op.OK}, key=lambda o: o.value):
            event(f"stream has {op.value}")  # --hypothesis-show-statistics: the mix
        report, _ = run_session(capture_source(str(truth.path), FAST), Path(tmp) / "home")
        assert_whole_night(report, truth)
        assert report.stream_restarts == truth.restarts
        assert report.layout_changes == truth.descriptors
        assert report.clock_steps == truth.clock_steps
        # Every quarantined packet and damaged stretch was counted (adjacent damage
        # may be one stretch).
        assert truth.quarantined <= report.corrupt_packets
        assert report.corrupt_packets <= (truth.quarantined + truth.damaged_records
                                          + truth.ops.count(Op.JUNK))

"""Band captures (*.cwcap) replay through the same pipeline, lost packets shown as gaps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crampwatch.cli import main
from crampwatch.recordings import EdfRecording
from crampwatch.synth import NightConfig, NightTruth, generate_night
from firmware_bridge.capture import CaptureWriter
from firmware_bridge.protocol import DataPacket, Descriptor, GroupSpec, pack_samples, quantise
from sensor.records import SignalGroup

EMG_PER_PACKET = 40  # 20 ms at 2 kHz
ACC_PER_PACKET = 2


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A 3-minute synthetic night as the band would have sent it, one packet lost."""
    out = tmp_path_factory.mktemp("capture")
    night = generate_night(NightConfig(duration_s=180.0, cramps_min=1, cramps_max=1,
                                       every_kind=False, rates_per_hour={}), 21, out, "n")
    with EdfRecording(night.edf) as rec:
        emg, acc = rec.window(0, rec.duration_s)
        emg_labels, acc_labels = rec.emg_labels, rec.acc_labels
    descriptor = Descriptor("CrampBand-test", "1.0", (
        GroupSpec(SignalGroup.EMG, 2_000_000, 2, 0.2, emg_labels),
        GroupSpec(SignalGroup.ACC, 100_000, 2, 0.001, acc_labels),
    ))
    path = out / "night.cwcap"
    lost_seq = 3000  # at 60 s
    with CaptureWriter(path) as writer:
        host0 = 1_700_000_000_000_000
        writer.append(descriptor.encode(), host0)
        for seq in range(emg.shape[0] // EMG_PER_PACKET):
            e0, a0 = seq * EMG_PER_PACKET, seq * ACC_PER_PACKET
            samples = pack_samples(
                descriptor,
                quantise(emg[e0 : e0 + EMG_PER_PACKET], descriptor.emg),
                quantise(acc[a0 : a0 + ACC_PER_PACKET], descriptor.acc),
            )
            t_us = seq * 20_000
            packet = DataPacket(seq, t_us, e0, EMG_PER_PACKET, a0, ACC_PER_PACKET, samples)
            if seq != lost_seq:
                writer.append(packet.encode(), host0 + t_us + 25_000)
    return path, NightTruth.read(night.truth)


@pytest.mark.slow
def test_capture_replay_finds_the_cramp_and_keeps_time_across_a_lost_packet(capture, tmp_path,
                                                                             caplog):
    path, truth = capture
    events = tmp_path / "events.jsonl"
    assert main(["replay", str(path), "--events", str(events), "--classifier", "rules",
                 "--edf-out", str(tmp_path / "edf")]) == 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    (cramp,) = [e for e in truth.events if e.is_cramp]
    calls = [e for e in lines if e["kind"] in ("tonic", "clonic")]
    assert any(e["start_s"] <= cramp.end_s and e["end_s"] >= cramp.start_s for e in calls)
    assert "signal gap" in caplog.text
    with EdfRecording(tmp_path / "edf" / "night.events.edf") as rec:
        assert rec.duration_s == pytest.approx(180.0)
        lost = [a for a in rec.annotations() if a.text.startswith("signal lost")]
        emg, _ = rec.window(59.0, 61.0)
    assert lost and lost[0].onset_s == pytest.approx(60.0, abs=0.001)
    # The lost 20 ms are zeros (within one 0.2 uV EDF step); the samples after kept their times.
    assert np.all(np.abs(emg[2000:2040]) <= 0.2) and np.any(np.abs(emg[2040:2080]) > 1.0)

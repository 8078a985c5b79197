"""`crampwatch band --ble` and `crampwatch scan`, run as a user would (in-process air)."""

from __future__ import annotations

import re

import pytest

from crampwatch.cli import main

pytestmark = pytest.mark.timeout(60)


@pytest.mark.slow
def test_band_ble_streams_recovers_from_faults_and_reports_every_loss(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [
        "band",
        "--ble",
        "--speed",
        "10",
        "--seconds",
        "12",
        "--fault",
        "drop@3",
        "--fault",
        "disconnect@6",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hub connected through bleak, ATT_MTU 247" in out
    # 10 packets of 49 EMG frames dropped: exactly 490 samples reported lost.
    assert "gap: 490 emg samples lost" in out
    assert "link down: the band dropped the link" in out
    assert re.search(r"link back after \d+\.\d\d s", out)
    done = re.search(
        r"done: EMG (\d+) samples delivered, (\d+) lost and reported; "
        r"(\d+) connection\(s\), (\d+) drop\(s\)",
        out,
    )
    assert done is not None
    delivered, lost, connections, drops = map(int, done.groups())
    assert (connections, drops) == (2, 1)
    gaps = sum(int(n) for n in re.findall(r"gap: (\d+) emg samples lost", out))
    assert gaps == lost > 490
    # Every EMG sample up to the end is either delivered or reported lost.
    assert delivered + lost >= 12 * 2000


def test_scan_lists_virtual_bands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--virtual", "2", "--timeout", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "address", "RSSI"]
    assert [line.split()[0] for line in out[1:]] == ["CrampBand-V001", "CrampBand-V002"]


def test_bad_fault_option_says_what_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["band", "--ble", "--fault", "explode@3"])
    assert exc.value.code == 2
    assert "KIND@SECONDS with KIND one of drop, disconnect, stall" in capsys.readouterr().err

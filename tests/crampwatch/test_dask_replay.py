"""Replay on a Dask cluster: real `dask scheduler` and `dask worker` processes on 127.0.0.1.

The cluster's output is compared with a local run of the same code, never with
fixed events: the detector and classifier change while this stays true.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crampwatch.cli import main
from crampwatch.synth import NightConfig, generate_night
from tests.crampwatch.dask_cluster import dask_cluster, free_port

GOOD = ("night-0.edf", "night-1.edf", "night-2.edf")
CORRUPT = "night-1b.edf"  # sorts between two good nights


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """Three short labelled nights and, among them, one cut short by a failed copy."""
    out = tmp_path_factory.mktemp("cohort")
    cfg = NightConfig(duration_s=120.0, cramps_min=1, cramps_max=1)
    for i, name in enumerate(GOOD):
        generate_night(cfg, 300 + i, out, Path(name).stem)
    data = (out / "night-1.edf").read_bytes()
    (out / CORRUPT).write_bytes(data[: len(data) // 2])
    return out


@pytest.fixture
def cluster(tmp_path_factory) -> Iterator[str]:
    """A running scheduler with two one-thread workers; its address.

    One per test: workers import the code when they start, and the comparison is
    with a local run of the code as it is at that moment.
    """
    with dask_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address


def _crampwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crampwatch", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cluster_replay_is_byte_identical_to_local_and_names_the_corrupt_file(cohort, cluster,
                                                                              tmp_path):
    on_cluster, local = tmp_path / "cluster.jsonl", tmp_path / "local.jsonl"
    edf_cluster, edf_local = tmp_path / "edf-cluster", tmp_path / "edf-local"
    address = cluster
    # Both runs back to back, so both load the code as it is now.
    ran = _crampwatch("replay", str(cohort), "--events", str(on_cluster), "--edf-out",
                      str(edf_cluster), "--scheduler", address)
    ref = _crampwatch("replay", str(cohort), "--events", str(local), "--edf-out",
                      str(edf_local), "--jobs", "2")
    assert ran.returncode == 1, ran.stderr
    assert ref.returncode == 1, ref.stderr
    assert on_cluster.read_bytes() == local.read_bytes()
    files = [json.loads(line)["file"] for line in on_cluster.read_text().splitlines()]
    assert files, "three nights with a cramp each: events expected"
    assert files == sorted(files)  # the order given, whatever order the tasks finished in
    assert set(files) == {str(cohort / name) for name in GOOD}
    for err in (ran.stderr, ref.stderr):
        report = err[err.index("1 recording(s) not replayed:"):]
        assert f"{cohort / CORRUPT}: truncated: the header promises" in report
        assert "replayed 3 of 4 recording(s)" in err
        assert "h of signal in" in err and "x real time" in err
        assert "Traceback" not in err
    assert f"on the cluster at {address}" in ran.stderr
    assert sorted(p.name for p in edf_cluster.iterdir()) == sorted(
        f"{Path(name).stem}.events{suffix}" for name in GOOD for suffix in (".edf", ".tsv"))
    for name in GOOD:
        for suffix in (".edf", ".tsv"):  # the EDF+ and its events.tsv sidecar
            written = f"{Path(name).stem}.events{suffix}"
            assert (edf_cluster / written).read_bytes() == (edf_local / written).read_bytes()


@pytest.mark.slow
def test_evaluate_replaying_on_the_cluster_scores_as_a_local_replay(cohort, cluster, tmp_path):
    truth = [str(cohort / f"{Path(name).stem}.truth.json") for name in GOOD]
    ran = _crampwatch("evaluate", "--truth", *truth, "--replay", "--scheduler", cluster,
                      "--json", str(tmp_path / "cluster.json"))
    ref = _crampwatch("evaluate", "--truth", *truth, "--replay", "--jobs", "2",
                      "--json", str(tmp_path / "local.json"))
    assert ran.returncode == 0, ran.stderr
    assert ref.returncode == 0, ref.stderr
    assert ran.stdout == ref.stdout
    assert (json.loads((tmp_path / "cluster.json").read_text())
            == json.loads((tmp_path / "local.json").read_text()))


def test_unreachable_scheduler_is_one_clear_message(cohort, tmp_path, monkeypatch, capsys):
    import crampwatch.replay_dask as replay_dask

    monkeypatch.setattr(replay_dask, "CONNECT_TIMEOUT_S", 2.0)
    events = tmp_path / "events.jsonl"
    events.write_text("kept\n")
    address = f"tcp://127.0.0.1:{free_port()}"
    assert main(["replay", str(cohort), "--events", str(events), "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err and "Traceback" not in err
    assert events.read_text() == "kept\n"


@pytest.mark.slow
def test_local_replay_needs_no_dask_and_scheduler_says_what_to_install(cohort):
    # distributed and dask made unimportable, as on a machine without the cluster extra.
    script = (
        "import sys\n"
        "sys.modules['distributed'] = None\nsys.modules['dask'] = None\n"
        "from crampwatch.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    night = str(cohort / GOOD[0])
    local = subprocess.run([sys.executable, "-c", script, "replay", night, "--classifier",
                            "rules", "--jobs", "1"], capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip()
    remote = subprocess.run([sys.executable, "-c", script, "replay", night, "--scheduler",
                             "tcp://127.0.0.1:8786"], capture_output=True, text=True,
                            timeout=300)
    assert remote.returncode == 2
    assert "pip install 'crampwatch[cluster]'" in remote.stderr
    assert "Traceback" not in remote.stderr

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
from sensor.detector_config import FilterConfig
from sensor.filters import design_notches, detect_mains_hz
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


# --- Families of variation (issue 11) -------------------------------------------------

from crampwatch.synth.layout import leg_layout  # noqa: E402
from crampwatch.synth.plan import plan_night  # noqa: E402
from crampwatch.synth.variation import (  # noqa: E402
    FAMILIES,
    LABEL_STYLES,
    VariationError,
    build_space,
    draw_night,
    full_space,
)
from sensor.channels import parse_label  # noqa: E402
from sensor.records import Muscle, Side  # noqa: E402


def _varied(minutes: float = 4.0, **pins: str) -> NightConfig:
    """A short night with every family varied except the pinned ones (one value each)."""
    space = full_space()
    space["emg_fs_hz"] = ("1000",)  # keep test nights small unless a test pins another
    for family, value in pins.items():
        space[family] = (value,)
    return NightConfig.varied(duration_s=minutes * 60.0, cramps_min=2, cramps_max=2, vary=space)


def _band_rms(edf: Path) -> tuple[np.ndarray, np.ndarray | None, float, tuple[str, ...]]:
    """Return per-second 20-450 Hz RMS per EMG channel (mains lines notched out), per-second
    ACC mean (or None), rate."""
    with EdfRecording(edf) as rec:
        emg, acc = rec.window(0, rec.duration_s)
        fs, labels = rec.emg_fs_hz, rec.emg_labels
    sos = signal.butter(4, [20, min(450, 0.45 * fs)], "bandpass", fs=fs, output="sos")
    cfg = FilterConfig()
    mains = design_notches(fs, detect_mains_hz(emg, fs, cfg.mains_fallback_hz),
                           cfg.notch_harmonics, cfg.notch_quality, min(460, 0.5 * fs),
                           cfg.notch_depth)
    f = signal.sosfiltfilt(np.vstack([sos, mains]), emg, axis=0)
    n = int(f.shape[0] // fs)
    rms = np.sqrt((f[: int(n * fs)].reshape(n, int(fs), -1) ** 2).mean(axis=1))
    return rms, acc, fs, labels


def test_every_night_family_is_drawn_and_recorded():
    seen: dict[str, set[str]] = {name: set() for name in
                                 ("emg_fs_hz", "acc_fs_hz", "leg", "labels", "mains_hz",
                                  "wandering", "floor_step")}
    for seed in range(120):
        v = draw_night(full_space(), 3600.0, (seed, 5), 2000.0, 100.0, "R", 50.0)
        record = v.to_json()
        seen["emg_fs_hz"].add(f"{record['emg_fs_hz']:g}")
        seen["acc_fs_hz"].add("none" if record["acc_fs_hz"] is None
                              else f"{record['acc_fs_hz']:g}")
        seen["leg"].add(record["leg"])
        seen["labels"].add(record["labels"])
        seen["mains_hz"].add(f"{record['mains_hz']:g}")
        seen["wandering"].add("yes" if record["wandering"] else "no")
        seen["floor_step"].add("no" if record["floor_step_s"] is None else "yes")
        if record["wandering"]:
            assert 0.1 <= record["mains_wander_sd_hz"] <= 0.3
        if record["floor_step_s"] is not None:
            assert 2.0 <= record["floor_step_factor"] <= 4.0
            assert 0.0 < record["floor_step_s"] < 3600.0
        assert record["harmonics"][0] > 0 and record["harmonics"][1] > 0  # 2nd and 3rd
    for family, values in seen.items():
        assert values == set(FAMILIES[family]), family


def test_every_episode_family_is_drawn():
    cfg = NightConfig.varied(duration_s=3 * 3600.0, cramps_min=3, cramps_max=4)
    layout = leg_layout()
    responses, textures, triggers, plm = set(), set(), set(), set()
    lookalike_textures = set()
    for seed in range(25):
        plan = plan_night(cfg, layout, np.random.default_rng([seed, 0]),
                          np.random.default_rng([seed, 6]))
        for ep in plan.episodes:
            if ep.kind.is_cramp:
                textures.add(ep.attrs["texture"])
                triggers.add(ep.attrs["triggered_by_movement"])
                if ep.kind is EventKind.TONIC:
                    responses.add(ep.attrs["response"])
                    if ep.attrs["response"] != "none":
                        assert 5.0 <= ep.attrs["wake_s"] - ep.params.get("trigger_s", 0) <= 40.0
                        end = ep.duration_s + ep.attrs.get("walks_on_s", 0.0)
                        assert ep.attrs["wake_s"] < ep.attrs["response_end_s"] <= end + 1e-3
                assert 30.0 <= ep.strength_uv <= 600.0
            else:
                lookalike_textures.add(ep.attrs["texture"])
            if ep.kind is EventKind.PLM:
                plm.add(ep.attrs["plm"])
    assert responses == set(FAMILIES["response"])
    assert textures == lookalike_textures == {"real", "synthetic"}
    assert triggers == {True, False}
    assert plm == {"shin", "calf_heavy"}


def test_truth_records_the_night_and_each_cramp(tmp_path):
    files = generate_night(_varied(emg_fs_hz="512", acc_fs_hz="50", leg="L",
                                   labels="calf_shin"), 31, tmp_path, "v")
    data = json.loads(files.truth.read_text())
    variation = data["variation"]
    assert (variation["emg_fs_hz"], variation["acc_fs_hz"], variation["leg"],
            variation["labels"]) == (512.0, 50.0, "L", "calf_shin")
    assert {"mains_hz", "wandering", "floor_step_s"} <= set(variation)
    for event in data["events"]:
        assert event["texture"] in ("real", "synthetic")
        if event["kind"] in ("tonic", "clonic"):
            assert event["response"] in FAMILIES["response"]
            assert isinstance(event["triggered_by_movement"], bool)
            assert event["strength_uv"] > 0
    with EdfRecording(files.edf) as rec:
        assert rec.emg_fs_hz == 512.0
        assert rec.emg_labels == ("Calf L", "Shin L")
        assert rec.acc_labels == ("ACC X", "ACC Y", "ACC Z")
    # The attributes survive a read: an evaluator can group by them.
    truth = NightTruth.read(files.truth)
    assert truth.variation == variation
    assert all("texture" in e.attributes for e in truth.events)


def test_varied_night_same_seed_same_files(tmp_path):
    cfg = _varied(3.0)
    a = generate_night(cfg, 5, tmp_path / "a", "n")
    b = generate_night(cfg, 5, tmp_path / "b", "n")
    c = generate_night(cfg, 6, tmp_path / "c", "n")
    assert a.edf.read_bytes() == b.edf.read_bytes()
    assert a.truth.read_text() == b.truth.read_text()
    assert a.edf.read_bytes() != c.edf.read_bytes()


def test_night_without_accelerometer_has_no_acc_signals(tmp_path):
    import pyedflib

    files = generate_night(_varied(3.0, acc_fs_hz="none"), 8, tmp_path, "noacc")
    with pyedflib.EdfReader(str(files.edf)) as reader:
        labels = [reader.getLabel(i) for i in range(reader.signals_in_file)]
    assert labels and not any("ACC" in label.upper() for label in labels)
    with EdfRecording(files.edf) as rec:
        assert rec.acc_labels == ()
    truth = json.loads(files.truth.read_text())
    assert truth["variation"]["acc_fs_hz"] is None
    assert not any("ACC" in c for c in truth["channels"])


@pytest.mark.parametrize("style", sorted(LABEL_STYLES))
def test_left_leg_labels_parse_as_left_calf_and_shin(style):
    layout = leg_layout("L", extra_calf=True, labels=style)
    calf, shin, extra = (parse_label(label) for label in layout.emg_labels)
    assert calf.side is shin.side is extra.side is Side.LEFT, layout.emg_labels
    assert calf.muscle is Muscle.GASTROCNEMIUS and shin.muscle is Muscle.TIBIALIS_ANTERIOR
    assert extra.muscle is Muscle.SOLEUS
    assert all(len(label) <= 16 for label in layout.emg_labels)  # EDF label field


def test_floor_step_raises_the_floor_for_the_rest_of_the_night(tmp_path):
    stepped = generate_night(_varied(6.0, floor_step="yes", acc_fs_hz="50"), 12,
                             tmp_path, "step")
    flat = generate_night(_varied(6.0, floor_step="no", acc_fs_hz="50"), 12, tmp_path, "flat")
    truth = NightTruth.read(stepped.truth)
    step_s = truth.variation["floor_step_s"]
    factor = truth.variation["floor_step_factor"]
    assert step_s is not None and NightTruth.read(flat.truth).variation["floor_step_s"] is None
    rms_step, _, _, _ = _band_rms(stepped.edf)
    rms_flat, _, _, _ = _band_rms(flat.edf)
    quiet = np.ones(rms_step.shape[0], bool)
    for e in truth.events:
        quiet[max(0, int(e.start_s) - 3) : int(e.end_s) + 4] = False
    t = np.arange(rms_step.shape[0])
    ramp = truth.variation["floor_step_ramp_s"]
    before = quiet & (t < step_s - 1)
    after = quiet & (t > step_s + ramp + 1)
    assert before.sum() >= 5 and after.sum() >= 5
    # Same night but for the step: equal before it, `factor` times the floor after it.
    ratio_before = np.median(rms_step[before, 0] / rms_flat[before, 0])
    ratio_after = np.median(rms_step[after, 0] / rms_flat[after, 0])
    assert ratio_before == pytest.approx(1.0, abs=0.1)
    assert ratio_after == pytest.approx(factor, rel=0.25)
    # And in the stepped night alone the floor's RMS after the step is well above before.
    assert np.median(rms_step[after, 1]) > 1.6 * np.median(rms_step[before, 1])


def _one_tonic(tmp_path: Path, seed: int, **pins: str) -> tuple[np.ndarray, np.ndarray | None,
                                                                 float, NightTruth]:
    cfg = _varied(5.0, **{"floor_step": "no", **pins})
    cfg = NightConfig.varied(duration_s=cfg.duration_s, cramps_min=1, cramps_max=1,
                             clonic_fraction=0.0, vary=cfg.vary, every_kind=False,
                             rates_per_hour={})
    files = generate_night(cfg, seed, tmp_path, f"t{seed}")
    rms, acc, _, _ = _band_rms(files.edf)
    return rms, acc, 50.0, NightTruth.read(files.truth)


def test_standing_response_is_upright_and_walks_inside_the_cramp(tmp_path):
    rms, acc, afs, truth = _one_tonic(tmp_path, 3, response="stand_walk", acc_fs_hz="50",
                                      triggered_by_movement="no")
    (cramp,) = [e for e in truth.events if e.is_cramp]
    a = cramp.attributes
    assert a["response"] == "stand_walk" and cramp.kind is EventKind.TONIC
    up0, up1 = cramp.start_s + a["wake_s"] + 3.0, cramp.start_s + a["response_end_s"] - 3.0
    assert up1 - up0 >= 8.0
    shank = acc[int(up0 * afs) : int(up1 * afs), 0]
    assert np.median(shank) > 0.8  # upright: gravity along the shank
    before = acc[int((cramp.start_s - 5) * afs) : int(cramp.start_s * afs), 0]
    assert abs(np.median(before)) < 0.6  # lying before
    # Calf keeps cramping to the end of the truth interval, and rests after it...
    calf = rms[:, 0]
    rest = np.median(calf[max(0, int(cramp.start_s) - 20) : int(cramp.start_s) - 2])
    assert np.median(calf[int(up0) : int(min(up1, cramp.end_s - 3))]) > 5 * rest
    walks_on = [e for e in truth.events if e.kind is EventKind.WALKING
                and e.start_s == pytest.approx(cramp.end_s)]
    if "walks_on_s" not in a:
        assert not walks_on
        assert np.median(calf[int(cramp.end_s) + 3 : int(cramp.end_s) + 8]) < 2 * rest
        return
    # ...unless they walk on: a walking event of its own, upright, from the cramp's end.
    (walk,) = walks_on
    assert walk.end_s - walk.start_s == pytest.approx(a["walks_on_s"], abs=0.01)
    assert walk.attributes["after_cramp"] is True
    assert np.median(acc[int((walk.start_s + 1) * afs) : int((walk.start_s + 4) * afs), 0]) > 0.8


def test_standing_sleeper_may_walk_on_after_the_cramp(tmp_path):
    seen = set()
    for seed in range(3, 9):
        _, _, _, truth = _one_tonic(tmp_path, seed, response="stand_walk",
                                          acc_fs_hz="50", triggered_by_movement="no")
        (cramp,) = [e for e in truth.events if e.is_cramp]
        seen.add("walks_on_s" in cramp.attributes)
        if seen == {True, False}:
            break
    assert seen == {True, False}


def test_stretch_response_fires_the_shin_during_the_cramp(tmp_path):
    rms, _, _, truth = _one_tonic(tmp_path, 4, response="stretch",
                                  triggered_by_movement="no", acc_fs_hz="50")
    (cramp,) = [e for e in truth.events if e.is_cramp]
    wake = cramp.start_s + cramp.attributes["wake_s"]
    shin = rms[:, 1]
    early = np.median(shin[int(cramp.start_s) + 2 : int(wake) - 1])
    during = np.median(shin[int(wake) + 1 : int(wake) + 7])
    assert during > 1.5 * early


def test_knead_response_moves_the_leg(tmp_path):
    _, acc, afs, truth = _one_tonic(tmp_path, 5, response="knead",
                                    triggered_by_movement="no", acc_fs_hz="50")
    (cramp,) = [e for e in truth.events if e.is_cramp]
    w0 = cramp.start_s + cramp.attributes["wake_s"]
    w1 = cramp.start_s + cramp.attributes["response_end_s"]
    still = acc[int((w0 - 4) * afs) : int((w0 - 1) * afs)].std(axis=0).sum()
    moving = acc[int((w0 + 1.5) * afs) : int(w1 * afs)].std(axis=0).sum()
    assert moving > 5 * still


def test_movement_triggered_cramp_starts_with_the_movement(tmp_path):
    rms, acc, afs, truth = _one_tonic(tmp_path, 6, response="none",
                                      triggered_by_movement="yes", acc_fs_hz="50")
    (cramp,) = [e for e in truth.events if e.is_cramp]
    assert cramp.attributes["triggered_by_movement"] is True
    s0 = int(np.floor(cramp.start_s))
    shin_rest = np.median(rms[s0 - 10 : s0 - 1, 1])
    # Both muscles and the leg move from the truth's start...
    assert rms[s0 : s0 + 2, 1].max() > 3 * shin_rest
    assert acc[int(cramp.start_s * afs) : int((cramp.start_s + 1) * afs)].std(axis=0).sum() > (
        3 * acc[int((cramp.start_s - 5) * afs) : int((cramp.start_s - 1) * afs)].std(axis=0).sum()
    )
    # ...then the calf goes on alone.
    later = rms[s0 + 6 : int(cramp.end_s) - 10]
    assert np.median(later[:, 0]) > 4 * np.median(later[:, 1])


def test_calf_heavy_plm_recruits_the_calf(tmp_path):
    cfg = NightConfig.varied(duration_s=900.0, cramps_min=0, cramps_max=0, every_kind=True,
                             rates_per_hour={"plm_series": 1.0},
                             vary={**_varied().vary, "plm": ("calf_heavy",),
                                   "floor_step": ("no",)})
    files = generate_night(cfg, 2, tmp_path, "plm")
    truth = NightTruth.read(files.truth)
    plms = [e for e in truth.events if e.kind is EventKind.PLM]
    assert len(plms) >= 4
    assert all(e.attributes["plm"] == "calf_heavy" and len(e.channels) == 2 for e in plms)
    rms, _, _, labels = _band_rms(files.edf)
    calf, shin = labels.index(plms[0].channels[1]), labels.index(plms[0].channels[0])
    for e in (e for e in plms if e.end_s - e.start_s > 1.5):
        t = int(e.start_s + 0.5)
        before = np.median(rms[max(0, int(e.start_s) - 4) : int(e.start_s) - 1, calf])
        assert rms[t, calf] > 0.4 * rms[t, shin] and rms[t, calf] > 2 * before
    # One texture through a series.
    assert len({(e.attributes["texture"], e.attributes.get("texture_source")) for e in plms}) == 1


def test_night_at_256_hz_without_acc_replays(tmp_path):
    from crampwatch.cli import main

    assert main(["synth", "--out", str(tmp_path), "--minutes", "3", "--seed", "9",
                 "--emg-fs", "256", "--no-acc", "--leg", "L", "--labels", "calf_shin"]) == 0
    edf = tmp_path / "night-000.edf"
    with EdfRecording(edf) as rec:
        assert rec.emg_fs_hz == 256.0 and rec.acc_labels == ()
        assert rec.emg_labels == ("Calf L", "Shin L") and rec.duration_s == 180.0
    events = tmp_path / "events.jsonl"
    assert main(["replay", str(edf), "--events", str(events)]) == 0
    assert events.is_file()


def test_exclude_holds_a_family_out():
    space = build_space("all", exclude=[("emg_fs", "500"), ("response", "stand_walk"),
                                        ("acc", "none")])
    assert "500" not in space["emg_fs_hz"] and "2000" in space["emg_fs_hz"]
    assert "stand_walk" not in space["response"] and "none" not in space["acc_fs_hz"]
    assert build_space("none") == {}
    assert build_space("none", pins={"leg": "l"}) == {"leg": ("L",)}
    with pytest.raises(VariationError, match="nothing to draw"):
        build_space("none", pins={"leg": "L"}, exclude=[("leg", "L")])
    with pytest.raises(VariationError, match="unknown variation family"):
        build_space("all", exclude=[("colour", "red")])


def test_synth_command_pins_and_excludes(tmp_path, capsys):
    from crampwatch.cli import main

    assert main(["synth", "--out", str(tmp_path), "--nights", "3", "--minutes", "2",
                 "--seed", "40", "--exclude", "emg_fs=2000", "--exclude", "emg_fs=1024",
                 "--exclude", "emg_fs=1000", "--exclude", "acc=none", "--leg", "L",
                 "--response", "knead"]) == 0
    for i in range(3):
        truth = json.loads((tmp_path / f"night-{i:03d}.truth.json").read_text())
        v = truth["variation"]
        assert v["emg_fs_hz"] in (256.0, 500.0, 512.0) and v["acc_fs_hz"] is not None
        assert v["leg"] == "L"
        assert all(e["response"] == "knead" for e in truth["events"] if e["kind"] == "tonic")
    assert main(["synth", "--out", str(tmp_path), "--exclude", "emg_fs=123"]) == 2
    assert "emg_fs_hz has no value" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--help"])
    assert "--exclude" in capsys.readouterr().out


def test_real_texture_source_is_recorded_and_can_be_held_out(tmp_path):
    from crampwatch.synth.real_emg import packaged_hdemg_path

    cfg = _varied(4.0, texture="real", texture_source="uci")
    truth = NightTruth.read(generate_night(cfg, 14, tmp_path, "uci").truth)
    assert truth.variation["real_sources"]
    textured = [e for e in truth.events if e.attributes["texture"] == "real"]
    assert textured and all(e.attributes["texture_source"] == "uci" for e in textured)
    if packaged_hdemg_path() is None:
        pytest.skip("openhdemg (its shipped HD-EMG sample) is not installed")
    cfg = _varied(4.0, texture="real", texture_source="hdemg")
    truth = NightTruth.read(generate_night(cfg, 14, tmp_path, "hd").truth)
    assert all(e.attributes["texture_source"] == ("uci" if e.kind is EventKind.WALKING
                                                  else "hdemg")
               for e in truth.events if e.attributes["texture"] == "real")
    assert any(e.is_cramp for e in truth.events)


def test_holding_a_family_out_leaves_the_other_families_as_they_were():
    full = full_space()
    held = build_space("all", exclude=[("emg_fs", "2000"), ("response", "stand_walk")])
    for seed in range(10):
        a = draw_night(full, 3600.0, (seed, 5), 2000.0, 100.0, "R", 50.0).to_json()
        b = draw_night(held, 3600.0, (seed, 5), 2000.0, 100.0, "R", 50.0).to_json()
        assert b["emg_fs_hz"] != 2000.0
        assert {k: v for k, v in a.items() if k != "emg_fs_hz"} == {
            k: v for k, v in b.items() if k != "emg_fs_hz"}
    cfg = NightConfig.varied(duration_s=8 * 3600.0, cramps_min=4, cramps_max=4)
    for seed in range(5):
        cramps = []
        for space in (full, held):
            plan = plan_night(NightConfig.varied(duration_s=cfg.duration_s, cramps_min=4,
                                                 cramps_max=4, vary=space),
                              leg_layout(), np.random.default_rng([seed, 0]),
                              np.random.default_rng([seed, 6]))
            cramps.append(sorted(
                (e.attrs["texture"], e.attrs["triggered_by_movement"], round(e.strength_uv, 6))
                 for e in plan.episodes if e.kind.is_cramp))
        assert cramps[0] == cramps[1]


def test_a_cramp_pulls_the_foot_as_it_takes_hold(tmp_path):
    # The leg jolts at the onset of a cramp that rose from rest, by what the truth records.
    for seed in range(20, 30):
        _, acc, afs, truth = _one_tonic(tmp_path, seed, response="none",
                                        triggered_by_movement="no", acc_fs_hz="50")
        (cramp,) = [e for e in truth.events if e.is_cramp]
        pull = cramp.attributes["onset_pull_g"]
        assert 0.0 <= pull <= 0.05
        if pull >= 0.02:
            break
    else:
        pytest.fail("no cramp with a pull of 0.02 g or more in ten nights")
    a0 = int(cramp.start_s * afs)
    still = acc[a0 - int(4 * afs) : a0 - int(afs)].std(axis=0).sum()
    rising = acc[a0 : a0 + int(afs)].std(axis=0).sum()
    assert rising > 2 * still

"""Cramp detection on fresh labelled nights: crampwatch vs published onset detectors.

Generates nights never used in training (seeds ``--seed`` * 10000 + i; `crampwatch
train` uses base seed 7), runs crampwatch's Detector once per night and classifies
its episodes with the rule baseline and with the shipped model, through the same
``crampwatch.pipeline.Pipeline`` a live session uses. Scores come from
``crampwatch.evaluate.scoring`` (cramp F1, false wake-ups per 8 h, tonic/clonic
accuracy, onset error, time from onset to the first cramp call).

Side by side, on the first ``--third-party-nights`` of the same nights, in a window of
``--third-party-hours`` centred on each night's first cramp (NeuroKit2 needs minutes per
hour of signal: whole nights would take hours), on the first calf channel:
NeuroKit2 ``emg_activation`` (threshold method, its defaults) and BioSPPy's Bonato
(1998) and Hodges & Bui (1996) onset detectors (rest statistics from the quietest 10 s
of the window), plus crampwatch's own Detector scored the same way.
None of these finds episodes only: every activation (bursts < 2 s apart merged, the
same bruxism rule the Detector uses) is scored as a cramp call, so their false
wake-ups show what a detector alone would do.

Run: .venv/bin/python bench/bench_onset_detectors.py [--nights 20 --hours 8]
(needs the ``bench`` extra: neurokit2, biosppy).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import signal

from crampwatch.evaluate.scoring import DetectedEvent, FileScore, Summary, score_file, summarize
from crampwatch.pipeline import Pipeline
from crampwatch.recordings.edf_reader import EdfRecording
from crampwatch.synth import NightConfig, NightTruth, generate_night
from crampwatch.synth.real_emg import UCI_DIR, RealEmgLibrary
from models import load_default
from models.classifier import EpisodeClassifier
from models.rules import RuleClassifier
from sensor.detector import Detector
from sensor.records import EpisodeUpdate, Event, SampleBlock, SignalGap, SignalGroup

SEED_STRIDE = 10_000
MERGE_GAP_S = 2.0  # bursts < 2 s apart are one episode (AASM bruxism rule, DOMAIN.md)
REST_S = 10.0  # rest statistics for BioSPPy: the quietest 10 s of the window
REAL_EMG_HELD_OUT_FROM_SUBJECT = 8  # `crampwatch train` trains on subjects below this


class Relay:
    """A DetectorLike that hands the pipeline what a shared Detector just returned."""

    def __init__(self) -> None:
        self.current: list[EpisodeUpdate | SignalGap] = []

    def process(self, block: SampleBlock) -> list[EpisodeUpdate | SignalGap]:
        return self.current

    def finish(self) -> list[EpisodeUpdate | SignalGap]:
        return self.current


def as_detected(name: str, events: Iterable[Event]) -> list[DetectedEvent]:
    """Return pipeline events as evaluation reads them."""
    out = []
    for e in events:
        out.append(DetectedEvent(
            file=name, event_id=e.event_id, start_s=e.start_s, end_s=e.end_s, kind=str(e.kind),
            channel=e.channel.label, confidence=e.confidence, final=e.final,
            first_cramp_call_s=e.first_cramp_call_s,
        ))
    return out


@dataclass
class Run:
    """One pass of a Detector over a stream, classified by several classifiers at once."""

    detected: dict[str, list[DetectedEvent]]
    updates: list[EpisodeUpdate]  # closed updates only
    detector_s: float
    classify_s: dict[str, float]


def run_stream(name: str, blocks: Iterable[SampleBlock],
               classifiers: dict[str, EpisodeClassifier],
               keep: Callable[[SampleBlock], None] | None = None) -> Run:
    """Return the events of every classifier over one Detector pass on ``blocks``."""
    detector = Detector()
    relays = {k: Relay() for k in classifiers}
    pipes = {k: Pipeline(relays[k], c, session_id=name) for k, c in classifiers.items()}
    events: dict[str, list[Event]] = {k: [] for k in classifiers}
    closed: list[EpisodeUpdate] = []
    det_s = 0.0
    cls_s = dict.fromkeys(classifiers, 0.0)

    def feed(outs: list, block: SampleBlock | None) -> None:
        closed.extend(u for u in outs if isinstance(u, EpisodeUpdate) and u.end_s is not None)
        for k, pipe in pipes.items():
            relays[k].current = outs
            t0 = time.perf_counter()
            got = pipe.process(block) if block is not None else pipe.finish()
            cls_s[k] += time.perf_counter() - t0
            events[k].extend(e for e in got if isinstance(e, Event))

    for block in blocks:
        if keep is not None:
            keep(block)
        t0 = time.perf_counter()
        outs = detector.process(block)
        det_s += time.perf_counter() - t0
        feed(outs, block)
    t0 = time.perf_counter()
    outs = detector.finish()
    det_s += time.perf_counter() - t0
    feed(outs, None)
    return Run({k: as_detected(name, v) for k, v in events.items()}, closed, det_s, cls_s)


def episodes_as_cramp_calls(name: str, intervals: Iterable[tuple[float, float]],
                            label: str) -> list[DetectedEvent]:
    """Return episodes of a bare episode finder, each scored as a final cramp call."""
    return [
        DetectedEvent(name, f"{label}/{i}", s, e, "tonic", "calf", 1.0, True, s)
        for i, (s, e) in enumerate(intervals)
    ]


def merge(onsets_s: np.ndarray, offsets_s: np.ndarray) -> list[tuple[float, float]]:
    """Return activations merged into episodes when less than MERGE_GAP_S apart."""
    out: list[list[float]] = []
    for s, e in sorted(zip(onsets_s.tolist(), offsets_s.tolist(), strict=True)):
        if out and s - out[-1][1] < MERGE_GAP_S:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def pairs(transitions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (onsets, offsets) sample indices from alternating transition indices."""
    t = np.sort(np.asarray(transitions, dtype=np.int64))
    if t.size % 2:
        t = np.append(t, n - 1)
    return t[0::2], t[1::2]


def bandpass(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Return x band-passed 20-450 Hz (upper corner <= 0.45 fs; SENIAM, DOMAIN.md)."""
    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs_hz)], btype="bandpass", fs=fs_hz,
                        output="sos")
    return signal.sosfiltfilt(sos, x)


def quietest(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Return the REST_S stretch of x with the lowest RMS (the rest reference)."""
    n = int(REST_S * fs_hz)
    k = max(1, x.size // n)
    rms = [float(np.sqrt(np.mean(x[i * n : (i + 1) * n] ** 2))) for i in range(k)]
    i = int(np.argmin(rms))
    return x[i * n : (i + 1) * n]


def neurokit_finder(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    import neurokit2 as nk

    amplitude = nk.emg_amplitude(x)
    activity, info = nk.emg_activation(emg_amplitude=amplitude, sampling_rate=int(fs_hz),
                                       method="threshold")
    if not isinstance(info, dict):  # the documented order has changed between releases
        activity, info = info, activity
    return np.asarray(info["EMG_Onsets"]), np.asarray(info["EMG_Offsets"])


def bonato_finder(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    from biosppy.signals import emg

    rest = quietest(x, fs_hz)
    # Bonato 1998 settings as BioSPPy documents them: threshold on the test function,
    # an active state of 50 ms, and 25 of 50 samples above to confirm.
    out = emg.bonato_onset_detector(
        signal=x, rest=rest, sampling_rate=fs_hz, threshold=10.0,
        active_state_duration=int(0.05 * fs_hz / 2), samples_above_fail=25, fail_size=50,
    )
    return pairs(out["onsets"], x.size)


def hodges_bui_finder(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    from biosppy.signals import emg

    rest = quietest(x, fs_hz)
    # Hodges & Bui 1996: 50 ms moving average, 3 SD above rest.
    out = emg.hodges_bui_onset_detector(
        signal=x, rest=rest, sampling_rate=fs_hz, size=int(0.05 * fs_hz), threshold=3.0
    )
    return pairs(out["onsets"], x.size)


THIRD_PARTY: dict[str, Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]] = {
    "NeuroKit2 emg_activation": neurokit_finder,
    "BioSPPy Bonato": bonato_finder,
    "BioSPPy Hodges-Bui": hodges_bui_finder,
}


def fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def summary_line(label: str, s: Summary, seconds: float, hours: float,
                 kinds: bool = True) -> str:
    kind_acc = fmt(s.type_accuracy) if kinds else "n/a"
    return (
        f"| {label} | {s.truth_cramps} | {fmt(s.f1)} | {fmt(s.recall)} | {fmt(s.precision)} | "
        f"{fmt(s.false_wakeups_per_8h, 2)} | {kind_acc} | "
        f"{fmt(s.onset_abs_median_s)} | {fmt(s.onset_abs_p90_s)} | "
        f"{fmt(s.alert_latency_median_s, 2)} | {fmt(s.alert_latency_p90_s, 2)} | "
        f"{seconds / max(hours, 1e-9):.1f} |"
    )


HEADER = (
    "| method | cramps | F1 | recall | precision | false wake-ups / 8 h | tonic/clonic acc | "
    "onset err median s | onset err p90 s | first call median s | first call p90 s | "
    "CPU s per h |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def real_emg_false_wakeups(classifiers: dict[str, EpisodeClassifier]) -> dict[str, str]:
    """Return, per classifier, cramp calls on the held-out real EMG (no cramps in it)."""
    from crampwatch.commands.train import real_emg_blocks

    index = json.loads((UCI_DIR / "index.json").read_text())
    fs = float(index["sampling_rate_hz"])
    calls = dict.fromkeys(classifiers, 0)
    episodes, seconds = 0, 0.0
    with np.load(UCI_DIR / "uci_lower_limb_emg.npz") as archive:
        for name, info in sorted(index["recordings"].items()):
            if int(info["subject"]) < REAL_EMG_HELD_OUT_FROM_SUBJECT:
                continue
            x = archive[f"{name}_emg_uV"]
            seconds += x.shape[0] / fs
            run = run_stream(name, real_emg_blocks(x, fs), classifiers)
            for label in classifiers:
                events = run.detected[label]
                if label == next(iter(classifiers)):
                    episodes += len({e.event_id for e in events})
                calls[label] += len({e.event_id for e in events if e.was_called_cramp})
    return {
        label: f"{n} of {episodes} episodes called a cramp in {seconds / 60:.1f} min "
               f"of held-out real EMG (walking, sitting, standing)"
        for label, n in calls.items()
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nights", type=int, default=20)
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=99, help="base seed (training uses 7)")
    p.add_argument("--third-party-hours", type=float, default=0.5,
                   help="hours around each night's first cramp given to the third-party "
                   "detectors (NeuroKit2 is slow)")
    p.add_argument("--third-party-nights", type=int, default=8,
                   help="how many of the nights the third-party detectors see")
    p.add_argument("--no-third-party", action="store_true")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    library = RealEmgLibrary()
    classifiers: dict[str, EpisodeClassifier] = {
        "crampwatch Detector + rules": RuleClassifier(),
        "crampwatch Detector + model": load_default(),
    }
    scores: dict[str, list[FileScore]] = {k: [] for k in classifiers}
    bare: dict[str, list[FileScore]] = {k: [] for k in ("crampwatch Detector", *THIRD_PARTY)}
    cpu: dict[str, float] = dict.fromkeys([*classifiers, *bare], 0.0)
    hours = 0.0
    tp_hours = 0.0
    with tempfile.TemporaryDirectory(prefix="crampwatch-bench-") as tmp:
        for i in range(args.nights):
            seed = args.seed * SEED_STRIDE + i
            cfg = NightConfig(duration_s=args.hours * 3600.0, leg="L" if i % 2 else "R",
                              extra_calf=i % 3 == 1)
            files = generate_night(cfg, seed, tmp, f"eval-{seed}", library=library)
            name = f"eval-{seed}"
            truth_all = NightTruth.read(files.truth)
            span = min(truth_all.duration_s, args.third_party_hours * 3600.0)
            first = min((t.start_s for t in truth_all.events if t.is_cramp), default=0.0)
            w0 = min(max(0.0, first - span / 2), truth_all.duration_s - span)
            w1 = w0 + span
            third_party = not args.no_third_party and i < args.third_party_nights
            calf_parts: list[np.ndarray] = []
            fs_hz = cfg.emg_fs_hz

            def keep(block: SampleBlock, w0: float = w0, w1: float = w1,
                     parts: list[np.ndarray] = calf_parts) -> None:
                # The first calf channel's samples within the third-party window.
                if block.group is SignalGroup.EMG and w0 <= block.t0_s < w1:
                    col = next(i for i, lab in enumerate(block.labels) if "Gastroc" in lab)
                    parts.append(block.samples[:, col].copy())

            with EdfRecording(files.edf) as rec:
                run = run_stream(name, rec.blocks(chunk_s=1.0), classifiers,
                                 keep if third_party else None)
            files.edf.unlink()
            hours += truth_all.duration_s / 3600.0
            for label in classifiers:
                cpu[label] += run.detector_s + run.classify_s[label]
                scores[label].append(score_file(name, truth_all.duration_s, truth_all.events,
                                                run.detected[label]))
            if third_party:
                tp_hours += span / 3600.0
                # Truth events inside the window; times relative to the window start.
                truth = [dataclasses.replace(t, start_s=t.start_s - w0, end_s=t.end_s - w0)
                         for t in truth_all.events if w0 <= t.start_s < w1]
                x = bandpass(np.concatenate(calf_parts).astype(np.float64), fs_hz)
                for label, finder in THIRD_PARTY.items():
                    t0 = time.perf_counter()
                    on, off = finder(x, fs_hz)
                    cpu[label] += time.perf_counter() - t0
                    eps = merge(on / fs_hz, off / fs_hz)
                    bare[label].append(score_file(name, span, truth,
                                                  episodes_as_cramp_calls(name, eps, label)))
                # crampwatch's own episodes on the first calf channel, within the window.
                mine = [u for u in run.updates if "Gastroc" in u.channel.label
                        and w0 <= u.start_s < w1]
                eps = merge(np.array([u.start_s - w0 for u in mine]),
                            np.array([u.end_s - w0 for u in mine]))
                bare["crampwatch Detector"].append(score_file(
                    name, span, truth, episodes_as_cramp_calls(name, eps, "crampwatch")))
                cpu["crampwatch Detector"] += run.detector_s * span / truth_all.duration_s
            print(f"night {i + 1}/{args.nights} done", file=sys.stderr, flush=True)

    print(f"## {args.nights} fresh nights x {args.hours:g} h (seeds "
          f"{args.seed * SEED_STRIDE}..{args.seed * SEED_STRIDE + args.nights - 1}), "
          f"{hours:.1f} h in all\n")
    print(HEADER)
    for label in classifiers:
        print(summary_line(label, summarize(scores[label]), cpu[label], hours))
    for label in classifiers:
        s = summarize(scores[label])
        print(f"\n{label}: recall tonic {fmt(s.recall_by_kind.get('tonic'))}, clonic "
              f"{fmt(s.recall_by_kind.get('clonic'))}, weak cramps {fmt(s.recall_weak)}; "
              f"false wake-ups {s.false_wakeups}, cramp calls {s.cramp_calls} "
              f"({s.split_calls} split)")
    print("\n## Held-out real EMG (UCI lower limb, subjects >= "
          f"{REAL_EMG_HELD_OUT_FROM_SUBJECT})\n")
    for label, line in real_emg_false_wakeups(classifiers).items():
        print(f"- {label}: {line}")
    if not args.no_third_party:
        print(f"\n## Episode finders alone, first calf channel, {args.third_party_hours:g} h "
              f"around the first cramp of {args.third_party_nights} nights ({tp_hours:.1f} h): "
              "every episode scored as a cramp call\n")
        print(HEADER)
        for label, per_file in bare.items():
            print(summary_line(label, summarize(per_file), cpu[label], tp_hours, kinds=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

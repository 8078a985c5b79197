"""The wake-up policy: who is woken, when, how hard, and when it stops."""

from __future__ import annotations

import pytest

from crampwatch.prompt.policy import (
    AckResponse,
    PromptAction,
    PromptDecision,
    PromptParams,
    PromptPolicy,
)
from sensor.records import EventKind
from tests.crampwatch.prompt_helpers import SHIN, event


def actions(decisions: list[PromptDecision]) -> list[PromptAction]:
    return [d.action for d in decisions]


def run_cramp(
    policy: PromptPolicy,
    onset_s: float,
    first_call_s: float,
    until_s: float,
    step_s: float = 0.5,
    kind: EventKind = EventKind.TONIC,
    confidence: float = 0.9,
    event_id: str = "ev-1",
) -> list[PromptDecision]:
    """Provisional calls every ``step_s`` from ``first_call_s`` up to ``until_s``."""
    out: list[PromptDecision] = []
    t = first_call_s
    while t <= until_s + 1e-9:
        ev = event(event_id, onset_s, None, kind, confidence)
        out += policy.on_event(ev, t)
        t += step_s
    return out


def test_tonic_cramp_prompts_within_three_seconds_of_onset() -> None:
    policy = PromptPolicy()
    decisions = run_cramp(policy, onset_s=100.0, first_call_s=101.0, until_s=110.0)
    starts = [d for d in decisions if d.action is PromptAction.START]
    assert len(starts) == 1
    latency_s = starts[0].at_s - 100.0
    assert PromptParams().min_duration_s <= latency_s <= 3.0


def test_prompt_waits_for_a_late_provisional_call() -> None:
    policy = PromptPolicy()
    decisions = run_cramp(policy, onset_s=100.0, first_call_s=102.7, until_s=104.0)
    start = next(d for d in decisions if d.action is PromptAction.START)
    assert start.at_s == pytest.approx(102.7)


@pytest.mark.parametrize(
    "kind",
    [EventKind.PLM, EventKind.MOVEMENT, EventKind.JERK, EventKind.TREMOR, EventKind.WALKING,
     EventKind.STRETCH, EventKind.ARTIFACT],
)
def test_look_alikes_never_prompt(kind: EventKind) -> None:
    policy = PromptPolicy()
    decisions = run_cramp(policy, 100.0, 100.5, 160.0, kind=kind, confidence=0.99)
    decisions += policy.on_event(event("ev-1", 100.0, 160.0, kind, 0.99), 160.5)
    decisions += policy.on_tick(900.0)
    assert decisions == []


def test_low_confidence_cramp_call_does_not_wake() -> None:
    policy = PromptPolicy(PromptParams(min_confidence=0.6))
    decisions = run_cramp(policy, 100.0, 100.5, 130.0, confidence=0.4)
    assert PromptAction.START not in actions(decisions)


def test_confidence_rising_over_the_floor_then_prompts() -> None:
    policy = PromptPolicy()
    assert policy.on_event(event(confidence=0.3), 102.0) == []
    decisions = policy.on_event(event(confidence=0.8), 102.5)
    assert actions(decisions) == [PromptAction.START]


def test_unanswered_prompt_escalates_then_repeats_top_level() -> None:
    params = PromptParams(escalation_after_s=(0.0, 20.0, 45.0), repeat_top_level_s=30.0)
    policy = PromptPolicy(params)
    start = policy.on_event(event(), 102.0)
    assert actions(start) == [PromptAction.START] and start[0].level == 0
    seen: list[PromptDecision] = []
    t = 102.0
    while t < 200.0:
        t += 0.25
        seen += policy.on_tick(t)
    esc = [(round(d.at_s - 102.0), d.level) for d in seen if d.action is PromptAction.ESCALATE]
    assert esc == [(20, 1), (45, 2), (75, 2)]


def test_acknowledgement_stops_escalation_and_end_stops_prompt() -> None:
    policy = PromptPolicy()
    policy.on_event(event(), 102.0)
    ack = policy.acknowledge(110.0, AckResponse.STRETCHED)
    assert actions(ack) == [PromptAction.ACKNOWLEDGED]
    assert ack[0].response is AckResponse.STRETCHED
    assert not policy.escalating
    later = [d for t in range(111, 300) for d in policy.on_tick(float(t))]
    assert PromptAction.ESCALATE not in actions(later)
    end = policy.on_event(event(end_s=301.0), 301.5)
    assert actions(end) == [PromptAction.STOP]
    assert end[0].reason == "cramp ended"
    assert policy.active_prompt_id is None


def test_cramp_ending_unanswered_stops_the_prompt() -> None:
    policy = PromptPolicy()
    policy.on_event(event(), 102.0)
    stop = policy.on_event(event(end_s=115.0), 115.2)
    assert actions(stop) == [PromptAction.STOP]
    assert policy.on_tick(200.0) == []


def test_acknowledge_with_nothing_running_is_empty() -> None:
    policy = PromptPolicy()
    assert policy.acknowledge(50.0) == []


def test_final_call_as_look_alike_stops_the_prompt() -> None:
    policy = PromptPolicy()
    policy.on_event(event(), 102.0)
    stop = policy.on_event(event(end_s=110.0, kind=EventKind.WALKING, confidence=0.9), 110.5)
    assert actions(stop) == [PromptAction.STOP]
    assert "walking" in stop[0].reason


def test_wavering_provisional_call_keeps_the_prompt_running() -> None:
    policy = PromptPolicy()
    policy.on_event(event(), 102.0)
    assert policy.on_event(event(kind=EventKind.MOVEMENT), 103.0) == []
    assert policy.on_event(event(), 103.5) == []  # called a cramp again: no second prompt
    assert policy.active_prompt_id == "prompt-0001"
    later = policy.on_tick(122.5)
    assert actions(later) == [PromptAction.ESCALATE]


def test_provisional_look_alike_before_the_prompt_is_not_prompted() -> None:
    policy = PromptPolicy()
    assert policy.on_event(event(), 101.0) == []  # too young to prompt
    assert policy.on_event(event(kind=EventKind.PLM), 101.5) == []
    assert policy.on_tick(105.0) == []


def test_cramp_only_called_after_it_ended_does_not_wake() -> None:
    policy = PromptPolicy()
    assert policy.on_event(event(end_s=140.0), 140.5) == []


def test_red_flag_at_ten_minutes_once_even_after_acknowledgement() -> None:
    policy = PromptPolicy()
    policy.on_event(event(start_s=0.0), 2.0)
    policy.acknowledge(30.0)
    flags = [d for t in range(31, 1200) for d in policy.on_tick(float(t))
             if d.action is PromptAction.RED_FLAG]
    assert len(flags) == 1
    assert flags[0].at_s == pytest.approx(600.0)
    assert flags[0].event.event_id == "ev-1"


def test_quiet_mode_suppresses_waking_but_keeps_red_flag() -> None:
    policy = PromptPolicy(PromptParams(quiet=True))
    decisions = run_cramp(policy, 0.0, 0.5, 5.0)
    assert actions(decisions) == [PromptAction.SUPPRESSED]
    assert decisions[0].reason == "quiet mode" and decisions[0].wake is False
    flags = policy.on_tick(601.0)
    assert actions(flags) == [PromptAction.RED_FLAG] and flags[0].wake is False


def test_quiet_mode_can_be_switched_off_for_the_next_cramp() -> None:
    policy = PromptPolicy(PromptParams(quiet=True))
    run_cramp(policy, 0.0, 0.5, 5.0)
    policy.set_quiet(False)
    decisions = run_cramp(policy, 100.0, 100.5, 105.0, event_id="ev-2")
    assert PromptAction.START in actions(decisions)


def test_cooldown_after_acknowledgement_holds_back_the_next_cramp() -> None:
    params = PromptParams(cooldown_after_ack_s=180.0)  # longer than the default, on purpose
    policy = PromptPolicy(params)
    policy.on_event(event("a", 0.0), 2.0)
    policy.acknowledge(5.0)
    policy.on_event(event("a", 0.0, end_s=20.0), 20.0)
    soon = run_cramp(policy, 60.0, 60.5, 65.0, event_id="b")
    assert actions(soon) == [PromptAction.SUPPRESSED]
    assert "cooldown" in soon[0].reason
    policy.on_event(event("b", 60.0, end_s=70.0), 70.0)
    later = run_cramp(policy, 300.0, 300.5, 305.0, event_id="c")
    assert PromptAction.START in actions(later)


def test_at_most_n_prompts_per_hour() -> None:
    policy = PromptPolicy(PromptParams(max_prompts_per_hour=2, min_interval_s=1.0))
    results = []
    for i in range(4):
        onset = 100.0 * i
        d = run_cramp(policy, onset, onset + 2.0, onset + 3.0, event_id=f"c{i}")
        d += policy.on_event(event(f"c{i}", onset, end_s=onset + 10.0), onset + 10.0)
        results.append(actions(d))
    assert [PromptAction.START in a for a in results] == [True, True, False, False]
    assert PromptAction.SUPPRESSED in results[2]


def test_second_channel_of_same_cramp_joins_the_running_prompt() -> None:
    policy = PromptPolicy()
    policy.on_event(event("calf"), 102.0)
    joined = policy.on_event(event("shin", 101.0, channel=SHIN), 103.5)
    assert PromptAction.START not in actions(joined)
    assert policy.on_event(event("calf", end_s=120.0), 120.0) == []  # shin still cramping
    stop = policy.on_event(event("shin", 101.0, end_s=121.0, channel=SHIN), 121.0)
    assert actions(stop) == [PromptAction.STOP]


def test_time_going_backwards_is_refused() -> None:
    policy = PromptPolicy()
    policy.on_tick(10.0)
    with pytest.raises(ValueError, match="backwards"):
        policy.on_tick(9.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_confidence": 1.5}, {"min_duration_s": -1.0}, {"escalation_after_s": (5.0, 10.0)},
     {"escalation_after_s": (0.0, 10.0, 10.0)}, {"max_prompts_per_hour": 0},
     {"repeat_top_level_s": 0.0}],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PromptParams(**kwargs)  # type: ignore[arg-type]

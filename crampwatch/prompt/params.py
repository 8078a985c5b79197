"""The prompt policy's settings and the domain limits they start from (no heavy imports).

Commands build their options from these defaults before anything else is loaded;
the policy (:mod:`crampwatch.prompt.policy`), replay, evaluation and the night
summary read the same values from here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sensor.red_flags import RED_FLAG_CRAMP_S

# DOMAIN.md red flags: a cramp that has not let go after 10 minutes.
RED_FLAG_AFTER_S = RED_FLAG_CRAMP_S


@dataclass(frozen=True)
class PromptParams:
    """Prompt policy settings; times are seconds on the session clock."""

    # Provisional calls below this confidence do not wake anyone: a false wake-up costs
    # the sleeper their night (DESIGN.md budget: < 1 false wake-up per 8 h). (inference)
    min_confidence: float = 0.6
    # A cramp must have run this long since its onset. Longer than a hypnic jerk
    # (75-250 ms) or fragmentary myoclonus (<= 150 ms), short enough that a prompt fires
    # within the ~3 s alert budget of DESIGN.md after a tonic onset. (inference)
    min_duration_s: float = 2.0
    # Offsets from the prompt's start at which each level begins: 0 band buzz + screen,
    # 1 soft tone + spoken guidance, 2 loud long tone. (inference: a few breaths apart)
    escalation_after_s: tuple[float, ...] = (0.0, 20.0, 45.0)
    # Unanswered at the top level: repeat it this often until acknowledged or ended.
    repeat_top_level_s: float = 30.0
    # Rate limits. A cramp that restarts soon after a prompt is likely the same bout.
    min_interval_s: float = 30.0  # between the starts of two prompts
    # The sleeper just answered and is up and stretching: activity in the next seconds
    # is most likely their own. Kept short: a new cramp soon after is real, and waking
    # someone already awake costs little. (inference)
    cooldown_after_ack_s: float = 20.0
    max_prompts_per_hour: int = 6
    red_flag_after_s: float = RED_FLAG_AFTER_S
    quiet: bool = False  # log and show silently, never wake (buzz/sound)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be within 0..1, got {self.min_confidence}")
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")
        steps = self.escalation_after_s
        if not steps or steps[0] != 0.0 or any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(
                "escalation_after_s must start at 0.0 and increase strictly, "
                f"got {self.escalation_after_s}"
            )
        if self.repeat_top_level_s <= 0:
            raise ValueError(f"repeat_top_level_s must be > 0, got {self.repeat_top_level_s}")
        if self.max_prompts_per_hour < 1:
            raise ValueError(f"max_prompts_per_hour must be >= 1, got {self.max_prompts_per_hour}")
        if self.red_flag_after_s <= 0:
            raise ValueError(f"red_flag_after_s must be > 0, got {self.red_flag_after_s}")

    @property
    def top_level(self) -> int:
        return len(self.escalation_after_s) - 1

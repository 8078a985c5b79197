"""Draws shared by the cramp and look-alike plans: strengths, lying postures, episode groups."""

from __future__ import annotations

import numpy as np

from crampwatch.synth.episode_types import Episode


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _lying(rng: np.random.Generator) -> np.ndarray:
    """Return the gravity direction on the band for a lying leg (X along the shank)."""
    # Supine (shin up, +Z), side-lying (+/-Y), prone (-Z); knee bent up to ~30 degrees.
    base = [np.array([0, 0, 1.0]), np.array([0, 1.0, 0]), np.array([0, -1.0, 0]),
            np.array([0, 0, -1.0])][int(rng.choice(4, p=[0.45, 0.22, 0.22, 0.11]))]
    tilt = np.deg2rad(rng.uniform(-10, 30))
    vec = base * np.cos(tilt) + np.array([np.sin(tilt), 0, 0])
    return vec / np.linalg.norm(vec)


UPRIGHT = np.array([1.0, 0.0, 0.0])


class _Item:
    """A group of episodes laid out together, with offsets from the group start."""

    def __init__(self, episodes: list[Episode], duration_s: float, priority: int) -> None:
        self.episodes = episodes
        self.duration_s = duration_s
        self.priority = priority

"""Prompt channel: a generated tone and, where espeak-ng is installed, spoken guidance.

Plays through ``paplay`` or ``aplay`` when one is present; otherwise the WAV files are
written and the delivery says where (a hub without speakers still keeps the record).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crampwatch.prompt.channels.base import ChannelError, PromptChannel
from crampwatch.prompt.notice import PromptNotice
from crampwatch.prompt.policy import PromptAction

SAMPLE_RATE_HZ = 22050


@dataclass(frozen=True)
class TonePattern:
    """A beep train: ``beeps`` tones of ``beep_s`` separated by ``gap_s``, at ``amplitude``."""

    freq_hz: float
    beep_s: float
    gap_s: float
    beeps: int
    amplitude: float  # 0..1 of full scale

    @property
    def duration_s(self) -> float:
        return self.beeps * self.beep_s + (self.beeps - 1) * self.gap_s


# Level 1 is a soft, short chime; level 2 and above louder and longer (issue: escalate
# band buzz -> sound -> louder/longer). Red flag: a distinct two-tone pattern.
LEVEL_TONES: dict[int, TonePattern] = {
    1: TonePattern(freq_hz=660.0, beep_s=0.25, gap_s=0.25, beeps=3, amplitude=0.25),
    2: TonePattern(freq_hz=880.0, beep_s=0.4, gap_s=0.15, beeps=8, amplitude=0.8),
}
RED_FLAG_TONE = TonePattern(freq_hz=990.0, beep_s=0.5, gap_s=0.5, beeps=4, amplitude=0.6)


def tone_samples(pattern: TonePattern, rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Return the beep train as int16 samples at ``rate_hz`` (10 ms ramps: no clicks)."""
    n_beep = round(pattern.beep_s * rate_hz)
    n_gap = round(pattern.gap_s * rate_hz)
    t = np.arange(n_beep) / rate_hz
    beep = np.sin(2 * np.pi * pattern.freq_hz * t)
    ramp = min(round(0.01 * rate_hz), n_beep // 2)
    if ramp:
        env = np.ones(n_beep)
        env[:ramp] = np.linspace(0.0, 1.0, ramp)
        env[-ramp:] = np.linspace(1.0, 0.0, ramp)
        beep *= env
    parts: list[np.ndarray] = []
    for i in range(pattern.beeps):
        parts.append(beep)
        if i < pattern.beeps - 1:
            parts.append(np.zeros(n_gap))
    signal = np.concatenate(parts) * pattern.amplitude
    return np.round(signal * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Write mono int16 ``samples`` to a WAV file at ``path``; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return path


def find_player() -> list[str] | None:
    """Return the command line prefix of an installed WAV player, or None."""
    for name in ("paplay", "aplay"):
        exe = shutil.which(name)
        if exe:
            return [exe] if name == "paplay" else [exe, "-q"]
    return None


class SoundChannel(PromptChannel):
    """Plays a tone (and spoken guidance) from escalation level 1; silences on stop/ack."""

    name = "sound"
    wakes = True
    min_level = 1

    def __init__(
        self,
        out_dir: Path,
        *,
        play: bool = True,
        speak: bool = True,
        player: list[str] | None = None,
        espeak: str | None = None,
    ) -> None:
        self._dir = Path(out_dir)
        self._player = (player if player is not None else find_player()) if play else None
        self._espeak = (espeak or shutil.which("espeak-ng")) if speak else None
        self._playing: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None

    async def deliver(self, notice: PromptNotice) -> str:
        d = notice.decision
        if d.action in (PromptAction.STOP, PromptAction.ACKNOWLEDGED):
            stopped = await self._silence()
            return "stopped playback" if stopped else "nothing playing"
        stem = f"{d.prompt_id or 'redflag'}-{d.action.value}-L{d.level}-{d.at_s:.0f}s"
        if d.action is PromptAction.RED_FLAG:
            pattern, words = RED_FLAG_TONE, [notice.book.red_flag_title, *notice.book.red_flag_text]
        else:
            pattern = LEVEL_TONES[min(d.level, max(LEVEL_TONES))]
            words = [notice.headline(), *notice.guidance.now]
        files = [write_wav(self._dir / f"{stem}-tone.wav", tone_samples(pattern))]
        if d.level <= 1 or d.action is PromptAction.RED_FLAG:
            spoken = await self._speak(" ".join(words), self._dir / f"{stem}-speech.wav")
            if spoken is not None:
                files.append(spoken)
        if self._player is None:
            return "no audio player (paplay/aplay) found; wrote " + ", ".join(map(str, files))
        await self._silence()
        await self._play(files)
        return "playing " + ", ".join(p.name for p in files)

    async def close(self) -> None:
        await self._silence()

    async def _speak(self, text: str, path: Path) -> Path | None:
        if self._espeak is None:
            return None
        proc = await asyncio.create_subprocess_exec(
            self._espeak, "-w", str(path), text,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise ChannelError(f"espeak-ng failed ({proc.returncode}): {message}")
        return path

    async def _play(self, files: list[Path]) -> None:
        """Start playing ``files`` one after the other in the background (cancellable)."""
        self._task = asyncio.create_task(self._play_in_turn(files))

    async def _play_in_turn(self, files: list[Path]) -> None:
        assert self._player is not None
        for f in files:
            self._playing = await asyncio.create_subprocess_exec(
                *self._player, str(f),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            await self._playing.wait()

    async def _silence(self) -> bool:
        task, self._task = self._task, None
        proc, self._playing = self._playing, None
        if task is None or task.done():
            return False
        task.cancel()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

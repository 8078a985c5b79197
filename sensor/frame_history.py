"""The Detector's recent frames, addressed by global frame index, in preallocated buffers."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

from sensor.emg_frontend import FrameBatch


class FrameHistory:
    """The most recent frames (all arrays of FrameBatch) addressed by global index."""

    def __init__(self) -> None:
        self.k0 = 0  # global index of the first kept frame
        self.n = 0  # kept frames
        self.spectra: dict[int, np.ndarray] = {}
        # The keys of ``spectra`` in increasing order (frames arrive in order), so a
        # range of them is found by bisection, not by a scan of every kept spectrum.
        self._spectra_keys: list[int] = []
        # Preallocated buffers written in place (a 20 ms block adds 2 frames: copying the
        # whole history per block would cost more than the filtering).
        self._buf: dict[str, np.ndarray] = {}
        self._start = 0

    def extend(self, batch: FrameBatch) -> None:
        m = batch.n
        if self.n and batch.k0 != self.k0 + self.n:
            raise RuntimeError("frames must be appended contiguously")
        if not self.n:
            self.k0 = batch.k0
            self._start = 0
        end = self._start + self.n
        cap = next(iter(self._buf.values())).shape[0] if self._buf else 0
        if end + m > cap:
            keep = {name: buf[self._start : end] for name, buf in self._buf.items()}
            new_cap = max(4096, 2 * (self.n + m))
            self._buf = {}
            for name in FrameBatch.ARRAYS:
                arr = getattr(batch, name)
                buf = np.empty((new_cap, *arr.shape[1:]), dtype=arr.dtype)
                if name in keep:
                    buf[: self.n] = keep[name]
                self._buf[name] = buf
            self._start = 0
            end = self.n
        for name in FrameBatch.ARRAYS:
            self._buf[name][end : end + m] = getattr(batch, name)
        self.n += m
        self._views()
        if batch.spectra:
            self.spectra.update(batch.spectra)
            self._spectra_keys.extend(sorted(batch.spectra))

    def _views(self) -> None:
        a, b = self._start, self._start + self.n
        for name, buf in self._buf.items():
            setattr(self, name, buf[a:b])

    def trim_before(self, k: int) -> None:
        drop = min(k - self.k0, self.n)
        if drop <= 0:
            return
        self._start += drop
        self.k0 += drop
        self.n -= drop
        self._views()
        if self.spectra:
            gone = bisect_left(self._spectra_keys, self.k0)
            for key in self._spectra_keys[:gone]:
                del self.spectra[key]
            del self._spectra_keys[:gone]

    def spectra_keys(self, k_from: int, k_to: int) -> list[int]:
        """Return the frames in [k_from, k_to] that have a spectrum, in increasing order."""
        keys = self._spectra_keys
        return keys[bisect_left(keys, k_from) : bisect_right(keys, k_to)]


def split_batch(batch: FrameBatch, n: int) -> tuple[FrameBatch, FrameBatch]:
    """Return the first n frames and the rest of a batch."""
    head = {name: getattr(batch, name)[:n] for name in FrameBatch.ARRAYS}
    tail = {name: getattr(batch, name)[n:] for name in FrameBatch.ARRAYS}
    hs = {k: v for k, v in batch.spectra.items() if k < batch.k0 + n}
    ts = {k: v for k, v in batch.spectra.items() if k >= batch.k0 + n}
    return FrameBatch(k0=batch.k0, spectra=hs, **head), FrameBatch(
        k0=batch.k0 + n, spectra=ts, **tail
    )

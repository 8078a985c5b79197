"""Butterworth and notch IIR designs, and their step-response state, in numpy alone.

The same arithmetic as ``scipy.signal.butter(..., output="sos")`` (digital, "nearest"
pole-zero pairing), ``scipy.signal.iirnotch`` and ``scipy.signal.sosfilt_zi``, step for
step, so the coefficients are bit for bit scipy's (``tests/sensor/test_iir_design.py``
checks it over the rates in use). Importing ``scipy.signal`` loads scipy.stats,
scipy.spatial and scipy.interpolate too, about a second: longer than filtering a whole
night takes once it is paid for each replayed file.
"""

from __future__ import annotations

import math

import numpy as np


def butter_sos(order: int, corners_hz: float | tuple[float, float], btype: str,
               fs_hz: float) -> np.ndarray:
    """Return the digital Butterworth filter as second-order sections, (n_sections, 6).

    ``btype`` is "lowpass" (one corner) or "bandpass" (two corners, ``order`` per edge
    as scipy's N). Corners must lie strictly between 0 and fs/2.
    """
    if btype not in ("lowpass", "bandpass"):
        raise ValueError(f"btype must be 'lowpass' or 'bandpass', got {btype!r}")
    fs = float(fs_hz)
    wn = np.asarray(corners_hz, dtype=np.float64)
    wn = wn / (fs / 2)
    if np.any(wn <= 0) or np.any(wn >= 1):
        raise ValueError("Digital filter critical frequencies must "
                         f"be 0 < Wn < fs/2 (fs={fs} -> fs/2={fs / 2})")
    if wn.size > 1 and not wn[0] < wn[1]:
        raise ValueError("Wn[0] must be less than Wn[1]")
    # Analog prototype (buttap), pre-warped corners, frequency transform, bilinear.
    z = np.asarray([], dtype=np.float64)
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    p = -np.exp(1j * np.pi * m / (2 * order))
    k = 1.0
    warped = 2 * 2.0 * np.tan(np.pi * wn / 2.0)
    if btype == "lowpass":
        if wn.size != 1:
            raise ValueError("a lowpass filter takes one corner frequency")
        z, p, k = _lp2lp(z, p, k, float(warped))
    else:
        if wn.size != 2:
            raise ValueError("a bandpass filter takes two corner frequencies")
        bw = warped[1] - warped[0]
        wo = np.sqrt(warped[0] * warped[1])
        z, p, k = _lp2bp(z, p, k, float(wo), float(bw))
    z, p, k = _bilinear(z, p, k, 2.0)
    return _zpk2sos(z, p, k)


def notch_ba(f0_hz: float, quality: float, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (b, a) of a second-order notch at ``f0_hz`` with quality factor ``quality``."""
    w0 = 2 * float(f0_hz) / float(fs_hz)
    if w0 > 1.0 or w0 < 0.0:
        raise ValueError("w0 should be such that 0 < w0 < 1")
    bw = w0 / float(quality)
    bw = bw * np.pi
    w0 = w0 * np.pi
    beta = math.tan(bw / 2.0)
    gain = 1.0 / (1.0 + beta)
    b = gain * np.asarray([1.0, -2.0 * math.cos(w0), 1.0])
    a = np.asarray([1.0, -2.0 * gain * math.cos(w0), (2.0 * gain - 1.0)])
    return b, a


def sos_step_state(sos: np.ndarray) -> np.ndarray:
    """Return the (n_sections, 2) state of the cascade's steady response to a unit step."""
    sos = np.asarray(sos)
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype)
    scale = 1.0
    for section in range(sos.shape[0]):
        b = sos[section, :3]
        a = sos[section, 3:]
        zi[section, ...] = scale * _lfilter_zi(b, a)
        scale *= np.sum(b) / np.sum(a)
    return zi


# ------------------------------------------------------------------------------------
def _lp2lp(z, p, k, wo: float):
    degree = p.shape[0] - z.shape[0]
    return wo * z, wo * p, k * wo**degree


def _lp2bp(z, p, k, wo: float, bw: float):
    z = z.astype(np.complex128)  # promoted with the poles, as scipy does
    degree = p.shape[0] - z.shape[0]
    z_lp = (z * bw / 2).astype(np.complex128)
    p_lp = (p * bw / 2).astype(np.complex128)
    z_bp = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2)))
    p_bp = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
    z_bp = np.concatenate((z_bp, np.zeros(degree)))
    return z_bp, p_bp, k * bw**degree


def _bilinear(z, p, k, fs: float):
    degree = p.shape[0] - z.shape[0]
    fs2 = 2.0 * fs
    z_z = (fs2 + z) / (fs2 - z)
    p_z = (fs2 + p) / (fs2 - p)
    z_z = np.concatenate((z_z, -np.ones(degree)))
    k_z = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return z_z, p_z, k_z


def _poly(zeros) -> np.ndarray:
    """Return the polynomial coefficients with the given roots (real when they pair up)."""
    zeros = np.atleast_1d(np.asarray(zeros))
    if zeros.shape[0] == 0:
        return np.asarray(1.0, dtype=np.real(zeros).dtype)
    a = np.ones((1,), dtype=zeros.dtype)
    one = np.ones_like(zeros[0])
    for zero in zeros:
        a = np.convolve(a, np.stack((one, -zero)), mode="full")
    if np.iscomplexobj(a):
        roots = np.asarray(zeros, dtype=np.complex128)
        if np.all(np.sort(np.imag(roots)) == np.sort(np.imag(np.conj(roots)))):
            a = np.real(a).copy()
    return a


def _section(z, p) -> np.ndarray:
    """Return one second-order section (gain 1) from up to two zeros and poles."""
    z, p = np.asarray(z), np.asarray(p)
    k = np.asarray(1, dtype=np.result_type(np.real(z), np.real(p), 1))
    b = np.multiply(np.atleast_1d(k), _poly(z))
    a = np.atleast_1d(np.asarray(_poly(p)))
    sos = np.zeros(6)
    sos[3 - len(b) : 3] = b
    sos[6 - len(a) : 6] = a
    return sos


def _cplxreal(z):
    """Return (complex roots with positive imaginary part, real roots), each sorted."""
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp = z[z.imag > 0]
    zn = z[z.imag < 0]
    if len(zp) != len(zn):
        raise ValueError("Array contains complex value with no matching conjugate.")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    run_starts = np.nonzero(diffs > 0)[0]
    run_stops = np.nonzero(diffs < 0)[0]
    for i in range(len(run_starts)):
        start = run_starts[i]
        stop = run_stops[i] + 1
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("Array contains complex value with no matching conjugate.")
    zc = (zp + zn.conj()) / 2
    return zc, zr


def _nearest(fro, to, which: str) -> int:
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return order[0]
    mask = np.isreal(fro[order])
    if which == "complex":
        mask = ~mask
    return order[np.nonzero(mask)[0][0]]


def _zpk2sos(z, p, k) -> np.ndarray:
    """Return second-order sections of a digital zpk filter, poles paired "nearest"."""
    z, p = np.asarray(z), np.asarray(p)
    k = np.asarray(k)
    if len(z) == len(p) == 0:
        return np.asarray([[k, 0.0, 0.0, 1.0, 0.0, 0.0]])
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p = np.concatenate((p, [0.0]))
        z = np.concatenate((z, [0.0]))
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))
    if not np.isreal(k):
        raise ValueError("k must be real")
    k = k.real

    def idx_worst(p):  # the pole nearest the unit circle
        return np.argmin(np.abs(1 - np.abs(p)))

    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        p1_idx = idx_worst(p)
        p1 = p[p1_idx]
        p = np.delete(p, p1_idx)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            z1_idx = _nearest(z, p1, "real")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _section([z1, 0], [p1, 0])
        elif (len(p) + 1 == len(z) and not np.isreal(p1)
              and np.isreal(p).sum() == 1 and np.isreal(z).sum() == 1):
            z1_idx = _nearest(z, p1, "complex")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _section([z1, z1.conj()], [p1, p1.conj()])
        else:
            if np.isreal(p1):
                prealidx = np.flatnonzero(np.isreal(p))
                p2_idx = prealidx[idx_worst(p[prealidx])]
                p2 = p[p2_idx]
                p = np.delete(p, p2_idx)
            else:
                p2 = p1.conj()
            if len(z) > 0:
                z1_idx = _nearest(z, p1, "any")
                z1 = z[z1_idx]
                z = np.delete(z, z1_idx)
                if not np.isreal(z1):
                    sos[si] = _section([z1, z1.conj()], [p1, p2])
                elif len(z) > 0:
                    z2_idx = _nearest(z, p1, "real")
                    z2 = z[z2_idx]
                    z = np.delete(z, z2_idx)
                    sos[si] = _section([z1, z2], [p1, p2])
                else:
                    sos[si] = _section([z1], [p1, p2])
            else:
                sos[si] = _section([], [p1, p2])
    sos[0][:3] *= k
    return sos


def _lfilter_zi(b, a) -> np.ndarray:
    """Return lfilter's steady state for a unit step through one (b, a) section."""
    while a.shape[0] > 1 and a[0] == 0.0:
        a = a[1:]
    if a[0] != 1.0:
        b = b / a[0]
        a = a / a[0]
    n = max(a.shape[0], b.shape[0])
    if a.shape[0] < n:
        a = np.concatenate((a, np.zeros(n - a.shape[0], dtype=a.dtype)))
    elif b.shape[0] < n:
        b = np.concatenate((b, np.zeros(n - b.shape[0], dtype=b.dtype)))
    dt = np.result_type(a, b)
    # I - A with A the companion matrix of a (scipy.linalg.companion).
    companion = np.zeros((n - 1, n - 1), dtype=(-a[1:] / (1.0 * a[0:1])).dtype)
    companion[0, :] = -a[1:] / (1.0 * a[0:1])
    companion[np.arange(1, n - 1), np.arange(0, n - 2)] = 1
    i_minus_a = np.asarray(np.eye(n - 1) - companion.T, dtype=dt)
    rhs = b[1:] - a[1:] * b[0]
    return np.linalg.solve(i_minus_a, rhs)

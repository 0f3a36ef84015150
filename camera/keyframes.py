"""Sparse, editable VMD camera keys from a per-frame camera track: cut detection and Bezier keyframe fitting.

Why: a per-frame camera (what DCM stores and what the camera models produce) written one key per
frame (:func:`camera.vmd.track_to_vmd`) plays in MMD but cannot be edited by hand: every frame is a
cut, and a user who moves one key breaks the motion. An MMD camera is normally a few keys per shot,
each segment between two keys following one cubic Bezier per channel group. This module turns a
per-frame track into such keys, with a guaranteed bound on how far the sparse track strays from the
per-frame one.

What:

* :func:`detect_cuts` finds the frames where a new shot starts: a frame-to-frame jump of the eye or
  of the view direction far above the motion around it (see :class:`KeyframeConfig`). Unlike the
  reference filter (TV denoising and clustering) it keeps the last cut and returns no cut, rather
  than crashing, on flat, very short or cut-free tracks.
* :func:`fit_keyframes` fits each shot separately. A cut at frame ``c`` becomes a key at ``c - 1``
  (the previous shot's last frame) and one at ``c``: keys one frame apart are a cut in MMD, nothing
  is interpolated between them. Inside a shot the fit is greedy: from a key, the next key is put as
  far ahead as a segment still fits (at most :attr:`KeyframeConfig.max_gap` frames), the length found
  by bisection. A segment fits when, for each of VMD's six curve groups (interest x, y, z, the
  rotation shared by rx, ry, rz, distance, view angle), some curve with control points in VMD's
  0..127 bytes keeps every frame within the group's tolerance. Key values are the track's own values
  at the key frames (as the float32 VMD stores; the view angle rounded to whole degrees), so the
  search is over the curves only:

  1. a cheap necessary test: a VMD curve's weight rises monotonically from 0 to 1, so the band
     ``target +- tolerance`` (in weight units) must admit a non-decreasing path; a channel that
     turns back inside the segment fails here without any curve search (the farthest key passing
     it bounds the bisection);
  2. MMD's near-linear default curve, then the curve the group used in the previous segment;
  3. a fit in the x control points only: for a given ``x1, x2`` the weight is linear in ``y1, y2``
     (``w = b1(t) y1 + b2(t) y2 + b3(t)`` with ``t`` solving ``x(t) = u``), so least squares gives
     them; the x pair comes from a table of 17 x 17 pairs and, when its best entry does not do, a
     descent over neighbouring bytes; the y pair is then moved towards the minimax fit (Lawson's
     reweighting) and rounded to bytes, the best byte values around it kept;
  4. the chosen six curves evaluated exactly as :func:`camera.vmd.vmd_to_track` does (the same
     bisection, the same float arithmetic), every frame checked against the tolerances.

  The rotation group is fitted jointly (one weight for rx, ry and rz), and the angles are keyed as
  the track holds them, unwrapped: a multi-turn spin is kept, never wrapped to (-pi, pi]. The curve
  of a segment is stored on the key that drives it under :attr:`KeyframeConfig.curve_from` (the later
  key, MMD's convention as three.js reads it, or the earlier key, saba's and hence DCM's); the other
  key's curves are left to its own segment. A final check of the whole sparse track replaces any
  segment still over a tolerance by per-frame keys, so the bound holds by construction.
* :func:`keyframe_report` measures a set of keys against the per-frame track: key count, keys per
  minute, the largest error of each channel group, of the eye position and of the view direction.
* :func:`track_to_sparse_vmd` is the whole step: a :class:`camera.vmd.Vmd` ready for
  :func:`camera.vmd.write_vmd`.

The view angle is an integer in VMD. Keys take ``round(fov)``; the fov error is measured against the
per-frame fov itself (not its rounding), so it includes the rounding at the keys, and a tolerance
below half a degree could not be met even with a key on every frame: :class:`KeyframeConfig` refuses
one. Between two keys the fov is interpolated as MMD does and may take fractional values.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

import numpy as np

from camera.vmd import CAMERA_MODEL_NAME, LINEAR, CameraKey, Curve, Vmd
from data.camera import CameraTrack, camera_frame


@dataclass(frozen=True)
class KeyframeConfig:
    """Tolerances of the sparse track against the per-frame one, key spacing, and cut detection."""

    interest_tolerance: float = 0.05
    """Largest error of each interest-point coordinate on any frame, MMD units (0.05 = 4 mm)."""
    distance_tolerance: float = 0.05
    """Largest error of the distance on any frame, MMD units."""
    rotation_tolerance_deg: float = 0.25
    """Largest error of each Euler angle (rx, ry, rz) on any frame, degrees."""
    fov_tolerance_deg: float = 0.5
    """Largest error of the vertical fov on any frame, degrees, against the per-frame fov itself.
    VMD keys hold whole degrees, so a key alone can be 0.5 off: at least 0.5."""
    max_gap: int = 300
    """Most frames from one key to the next (300 = 10 s at 30 fps)."""
    curve_from: str = "later"
    """Whose curve drives a segment: ``"later"`` (MMD's convention as three.js reads it) or
    ``"earlier"`` (saba's, and so DCM's preprocessing). Must match the reader the file is for."""
    cut_jump: float = 8.0
    """A frame-to-frame step (eye travel, or view-direction turn) is a cut when it is more than this
    many times the median of the steps around it (:attr:`cut_window` on each side, the step itself
    left out) and above its absolute floor. The median ignores a few other cuts in the window, and
    a smooth move of any speed has neighbours of the same size."""
    cut_min_eye_step: float = 1.0
    """Absolute floor of the eye jump at a cut, MMD units per frame (1 unit = 8 cm)."""
    cut_min_angle_deg: float = 3.0
    """Absolute floor of the view-direction jump at a cut, degrees per frame."""
    cut_window: int = 15
    """Frames on each side whose steps make the local median (15 = half a second at 30 fps)."""

    def __post_init__(self) -> None:
        for name in ("interest_tolerance", "distance_tolerance", "rotation_tolerance_deg", "fov_tolerance_deg",
                     "cut_jump", "cut_min_eye_step", "cut_min_angle_deg"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v <= 0:
                raise ValueError(f"KeyframeConfig.{name} must be a positive finite number, got {v!r}")
        if self.fov_tolerance_deg < 0.5:
            raise ValueError(f"KeyframeConfig.fov_tolerance_deg is {self.fov_tolerance_deg}: VMD stores the view "
                             "angle in whole degrees, so a key can be 0.5 off; use at least 0.5")
        if self.rotation_tolerance_deg >= 180:
            raise ValueError(f"KeyframeConfig.rotation_tolerance_deg is {self.rotation_tolerance_deg}: "
                             "an error of half a turn or more bounds nothing")
        if self.cut_jump <= 1:
            raise ValueError(f"KeyframeConfig.cut_jump is {self.cut_jump}: a cut must be a step larger than "
                             "the steps around it (more than 1x their median)")
        for name in ("max_gap", "cut_window"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"KeyframeConfig.{name} must be an integer >= 1, got {v!r}")
        if self.curve_from not in ("later", "earlier"):
            raise ValueError(f"KeyframeConfig.curve_from must be 'later' or 'earlier', got {self.curve_from!r}")

    def tolerances(self) -> np.ndarray:
        """(6,) the tolerance of each VMD curve group (interest x, y, z, rotation in radians, distance,
        view angle), in the track's units."""
        return np.array([self.interest_tolerance] * 3 + [math.radians(self.rotation_tolerance_deg),
                                                         self.distance_tolerance, self.fov_tolerance_deg])


# The polar columns [d, Px, Py, Pz, rx, ry, rz, fov] of each VMD curve group, in the file's curve order.
_GROUP_COLUMNS = ((1,), (2,), (3,), (4, 5, 6), (0,), (7,))
_LINEAR_CP = np.array([LINEAR.x1, LINEAR.y1, LINEAR.x2, LINEAR.y2])
_X_GRID = np.array(sorted(set(range(0, 128, 8)) | {127}))  # x1, x2 of the coarse search's table
_TABLE_STEPS = 512  # the table holds each x pair's curve parameter t at u = k / _TABLE_STEPS
_T_SAMPLES = np.linspace(0.0, 1.0, 2049)  # curve parameter samples the table is inverted from
_EXACT_BISECTIONS = 40  # as camera.vmd.Curve.weight
_STARTS = 4  # the x pairs of the table the descent starts from
_DESCENT_MOVES = 24
_LAWSON_ROUNDS = 8  # reweighted least squares towards the minimax y pair
_OFFSETS = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)])
_OFFSETS_5 = np.array([(i, j) for i in range(-2, 3) for j in range(-2, 3)])


# --------------------------------------------------------------------------------------------------
# Curve weights, many curves at once
# --------------------------------------------------------------------------------------------------
def _bez(t, a, b):
    return 3 * t * (1 - t) ** 2 * a + 3 * t ** 2 * (1 - t) * b + t ** 3


def curve_weights(cps: np.ndarray, u: np.ndarray, bisections: int = _EXACT_BISECTIONS) -> np.ndarray:
    """Weights of many curves: ``cps`` (..., 4) control points ``(x1, y1, x2, y2)`` in 0..127 and ``u``
    broadcastable against ``cps[..., 0]``. With the default 40 bisections the result is bit for bit
    :meth:`camera.vmd.Curve.weight` (same arithmetic), so a fit checked with it is checked exactly as
    :func:`camera.vmd.vmd_to_track` will evaluate it."""
    cps = np.asarray(cps)
    x1, y1, x2, y2 = (cps[..., i] / 127.0 for i in range(4))
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    shape = np.broadcast_shapes(x1.shape, u.shape)
    u = np.broadcast_to(u, shape)
    lo, hi = np.zeros(shape), np.ones(shape)
    for _ in range(bisections):
        mid = 0.5 * (lo + hi)
        below = _bez(mid, x1, x2) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return _bez(0.5 * (lo + hi), y1, y2)


def _basis(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Bernstein terms of a VMD curve coordinate: ``x(t) = b1 x1 + b2 x2 + b3``."""
    return 3 * t * (1 - t) ** 2, 3 * t ** 2 * (1 - t), t ** 3


def _invert_x(x1: np.ndarray, x2: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The curve parameter ``t`` with ``x(t) = u``: x control points ``x1, x2`` (m, 1) in [0, 1], ``u`` (n,)
    -> (m, n); 8 bisections then 4 Newton steps kept inside the bracket (to rounding, except where
    the curve is flat in x, where the bracket bounds it)."""
    c1, c2, c3 = 3 * x1, 3 * x2 - 6 * x1, 1 + 3 * x1 - 3 * x2  # x(t) = ((c3 t + c2) t + c1) t
    shape = np.broadcast_shapes(np.shape(x1), np.shape(u))
    lo, hi = np.zeros(shape), np.ones(shape)
    for _ in range(8):
        mid = 0.5 * (lo + hi)
        below = ((c3 * mid + c2) * mid + c1) * mid < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    t = 0.5 * (lo + hi)
    for _ in range(4):
        slope = (3 * c3 * t + 2 * c2) * t + c1
        step = (((c3 * t + c2) * t + c1) * t - u) / np.maximum(slope, 1e-9)
        t = np.clip(t - step, lo, hi)
    return t


@lru_cache(maxsize=1)
def _x_table() -> tuple[np.ndarray, np.ndarray]:
    """The coarse search's x pairs ``(P, 2)`` (bytes) and their curve parameter ``t`` at
    ``u = k / _TABLE_STEPS`` ``(P, _TABLE_STEPS + 1)``, inverted from the curve sampled along ``t``."""
    pairs = np.array(list(itertools.product(_X_GRID, repeat=2)))
    b1, b2, b3 = _basis(_T_SAMPLES)
    X = pairs[:, :1] / 127.0 * b1 + pairs[:, 1:] / 127.0 * b2 + b3  # increasing in t for x1, x2 in [0, 1]
    ug = np.linspace(0.0, 1.0, _TABLE_STEPS + 1)
    return pairs, np.stack([np.interp(ug, X[i], _T_SAMPLES) for i in range(len(pairs))])


def _table_t(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coarse x pairs and their (approximate) curve parameters ``(P, n)`` at ``u`` (n,)."""
    pairs, T = _x_table()
    pos = u * _TABLE_STEPS
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, _TABLE_STEPS - 1)
    fr = pos - i0
    return pairs, T[:, i0] * (1.0 - fr) + T[:, i0 + 1] * fr


def _solve_y(t: np.ndarray, target: np.ndarray, omega: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For curve parameters ``t`` (m, n), the y control points (m, 2) in [0, 1] whose weight
    ``b1 y1 + b2 y2 + b3`` best fits ``target`` (n,) in least squares with frame weights ``omega`` (n,)
    (linear in y1, y2: a 2 x 2 system per curve), nudged towards ``x`` (m, 2), the straight curve,
    where the frames do not decide (a segment with one frame between its keys)."""
    b1, b2, b3 = _basis(t)
    r = target - b3
    lam = 1e-9 * t.shape[1]
    a11 = (omega * b1 * b1).sum(1) + lam
    a12 = (omega * b1 * b2).sum(1)
    a22 = (omega * b2 * b2).sum(1) + lam
    c1 = (omega * b1 * r).sum(1) + lam * x[:, 0]
    c2 = (omega * b2 * r).sum(1) + lam * x[:, 1]
    det = a11 * a22 - a12 * a12
    y1 = (c1 * a22 - c2 * a12) / det
    y2 = (a11 * c2 - a12 * c1) / det
    return np.clip(np.stack([y1, y2], axis=1), 0.0, 1.0)


def _weights_of(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    b1, b2, b3 = _basis(t)
    return b1 * y[:, :1] + b2 * y[:, 1:] + b3


# --------------------------------------------------------------------------------------------------
# Cuts
# --------------------------------------------------------------------------------------------------
def _local_median(x: np.ndarray, half: int) -> np.ndarray:
    """Median of ``x`` over ``half`` entries on each side, the entry itself left out (NaN without any)."""
    n = len(x)
    pad = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1).copy()  # (n, 2 half + 1)
    win[:, half] = np.nan
    out = np.full(n, np.nan)
    ok = np.isfinite(win).any(axis=1)
    if ok.any():
        out[ok] = np.nanmedian(win[ok], axis=1)
    return out


def detect_cuts(track: CameraTrack, config: KeyframeConfig | None = None) -> np.ndarray:
    """Frames where a new shot starts, sorted (int64; never 0).

    Frame ``f`` starts a shot when the step from ``f - 1`` to ``f`` of the eye position (MMD units) or
    of the view direction (degrees) is above its floor (:attr:`KeyframeConfig.cut_min_eye_step`,
    :attr:`KeyframeConfig.cut_min_angle_deg`) and more than :attr:`KeyframeConfig.cut_jump` times the
    median of the steps within :attr:`KeyframeConfig.cut_window` frames of it. A step with no
    neighbouring step to compare with (a 2-frame track) is never a cut; a flat track has none; the
    last cut is found like any other.
    """
    cfg = config or KeyframeConfig()
    N = track.num_frames
    if N < 3:
        return np.zeros(0, dtype=np.int64)
    eye, _, _, forward = track.frame()
    eye_step = np.linalg.norm(np.diff(eye, axis=0), axis=1)  # (N - 1,)
    cross = np.linalg.norm(np.cross(forward[:-1], forward[1:]), axis=1)
    dot = np.einsum("nc,nc->n", forward[:-1], forward[1:])
    turn = np.degrees(np.arctan2(cross, dot))
    cut = np.zeros(N - 1, dtype=bool)
    for step, floor in ((eye_step, cfg.cut_min_eye_step), (turn, cfg.cut_min_angle_deg)):
        med = _local_median(step, cfg.cut_window)
        with np.errstate(invalid="ignore"):
            cut |= (step > floor) & (step > cfg.cut_jump * med)  # NaN median (no neighbours): False
    return (np.flatnonzero(cut) + 1).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------
def _key_values(track: CameraTrack) -> np.ndarray:
    """(N, 8) what a key at each frame holds once written: float32 values, the view angle in whole degrees."""
    polar = track.polar
    if not np.isfinite(polar).all():
        raise ValueError("the camera track has non-finite values")
    kv = polar.astype(np.float32).astype(np.float64)
    kv[:, 7] = np.round(polar[:, 7])
    if ((kv[:, 7] < 1) | (kv[:, 7] > 180)).any():
        raise ValueError("the camera fov must round to 1..180 degrees (VMD's view angle)")
    return kv


class _Fitter:
    """Greedy keyframe fit of one track; segments are ``(start, end, (6, 4) control points)``."""

    def __init__(self, track: CameraTrack, config: KeyframeConfig) -> None:
        self.cfg = config
        self.target = track.polar  # (N, 8)
        self.kv = _key_values(track)  # (N, 8)
        self.tol = config.tolerances()
        self.prev = np.tile(_LINEAR_CP, (6, 1))  # the curves of the last segment fitted
        self.order = list(range(6))  # groups, the one that failed last first

    # ---- one group ------------------------------------------------------------------------------
    def _group(self, g: int, s: int, e: int):
        cols = list(_GROUP_COLUMNS[g])
        y = self.target[s + 1:e][:, cols]  # (n, C)
        v0 = self.kv[s, cols]
        d = self.kv[e, cols] - v0  # as vmd_to_track: values[j] + (values[j + 1] - values[j]) * w
        return y, v0, d

    def _band_ok(self, g: int, s: int, e: int) -> bool:
        """Whether a non-decreasing weight in [0, 1] can keep the group within tolerance (necessary)."""
        y, v0, d = self._group(g, s, e)
        tol = self.tol[g]
        flat = d == 0
        if flat.any() and np.abs(y[:, flat] - v0[flat]).max() > tol:
            return False
        if flat.all():
            return True
        y, v0, d = y[:, ~flat], v0[~flat], d[~flat]
        w = (y - v0) / d
        r = tol / np.abs(d)
        lo = np.maximum((w - r).max(axis=1), 0.0)
        hi = np.minimum((w + r).min(axis=1), 1.0)
        return bool((np.maximum.accumulate(lo) <= hi + 1e-12).all())

    @staticmethod
    def _errors(W: np.ndarray, y: np.ndarray, v0: np.ndarray, d: np.ndarray) -> np.ndarray:
        """(m,) largest error over frames and the group's channels of weights ``W`` (m, n)."""
        err = np.zeros(W.shape[0])
        for c in range(len(v0)):
            err = np.maximum(err, np.abs(v0[c] + d[c] * W - y[:, c]).max(axis=1))
        return err

    def _search(self, g: int, u: np.ndarray, s: int, e: int) -> np.ndarray | None:
        """Control points (4,) keeping group ``g`` within tolerance on the segment, or None.

        MMD's default curve and the previous segment's are tried first. Otherwise the weight is fitted
        in the x control points only: for given x1, x2 it is linear in y1, y2, which least squares
        solves (the channels of the group at once). The x pair comes from a table of 17 x 17 pairs,
        its best entry tried first, then a descent over neighbouring bytes from the best few entries.
        A pair's y are moved towards the minimax fit (Lawson's reweighting) and rounded to bytes,
        the best of the byte values around them kept.
        """
        y, v0, d = self._group(g, s, e)
        tol = self.tol[g]
        if (d == 0).all():
            return _LINEAR_CP.copy()  # the curve does not matter (the band test checked the values)
        goal = tol * (1.0 - 1e-6)  # room for the search's (Newton) weights; the exact check decides
        n = len(u)
        first = np.stack([_LINEAR_CP, self.prev[g]])
        t = _invert_x(first[:, :1] / 127.0, first[:, 2:3] / 127.0, u)
        err = self._errors(_weights_of(t, first[:, [1, 3]] / 127.0), y, v0, d)
        if err.min() <= goal:
            return first[int(np.argmin(err))].copy()
        # least squares over the group's channels: sum_c (d_c w - z_c)^2 = |d|^2 (w - wbar)^2 + const
        z = y - v0
        wbar = z @ d / (d @ d)
        ones = np.ones(n)

        def sse(t: np.ndarray, x: np.ndarray) -> np.ndarray:
            return ((_weights_of(t, _solve_y(t, wbar, ones, x)) - wbar) ** 2).sum(axis=1)

        def finish(pair: np.ndarray, wide: bool) -> np.ndarray | None:
            xs = np.unique(np.clip(pair + _OFFSETS, 0, 127), axis=0) if wide else pair[None]
            t = _invert_x(xs[:, :1] / 127.0, xs[:, 1:] / 127.0, u)  # (P, n)
            tc = t[int(np.flatnonzero((xs == pair).all(axis=1))[0])][None]
            omega, yc, rc = ones.copy(), None, np.inf  # Lawson: reweight the frames by their error
            for _ in range(_LAWSON_ROUNDS):
                yb = _solve_y(tc, wbar, omega, pair[None] / 127.0)
                r = np.abs(d * _weights_of(tc, yb)[0][:, None] - z).max(axis=1)
                if r.max() < rc:
                    yc, rc = yb[0], r.max()
                if r.max() <= 0:
                    break
                omega = omega * r / (omega * r).sum()
            steps = np.arange(-1, 3) if wide else np.arange(0, 2)
            y1s = np.unique(np.clip(np.floor(yc[0] * 127.0) + steps, 0, 127))
            y2s = np.unique(np.clip(np.floor(yc[1] * 127.0) + steps, 0, 127))
            Y = np.array([(a, b) for a in y1s for b in y2s]) / 127.0  # (k, 2)
            b1, b2, b3 = _basis(t)
            W = b1[:, None] * Y[None, :, :1] + b2[:, None] * Y[None, :, 1:] + b3[:, None]  # (P, k, n)
            err = self._errors(W.reshape(-1, n), y, v0, d)
            i, j = divmod(int(np.argmin(err)), len(Y))
            if err[i * len(Y) + j] > goal:
                return None
            return np.array([xs[i, 0], round(Y[j, 0] * 127), xs[i, 1], round(Y[j, 1] * 127)], dtype=np.int64)

        pairs, t = _table_t(u)
        err = sse(t, pairs / 127.0)
        order = np.argsort(err)
        got = finish(pairs[order[0]], wide=False)
        if got is not None:
            return got
        # descent over neighbouring x bytes from the best few table pairs (least squares: smooth)
        cand = (pairs[order[:_STARTS], None, :] + 2 * _OFFSETS_5[None]).reshape(-1, 2)
        cand = np.unique(np.clip(cand, 0, 127), axis=0)
        best, best_err = pairs[order[0]], np.inf
        for _ in range(_DESCENT_MOVES):
            t = _invert_x(cand[:, :1] / 127.0, cand[:, 1:] / 127.0, u)
            err = sse(t, cand / 127.0)
            j = int(np.argmin(err))
            if err[j] >= best_err:
                break
            best, best_err = cand[j].copy(), float(err[j])
            cand = np.unique(np.clip(best + _OFFSETS_5, 0, 127), axis=0)
        return finish(best, wide=True)

    # ---- one segment ----------------------------------------------------------------------------
    def segment(self, s: int, e: int) -> np.ndarray | None:
        """(6, 4) control points for the segment from key ``s`` to key ``e``, or None when it cannot fit."""
        if e - s < 2:
            return np.tile(_LINEAR_CP, (6, 1))
        for g in self.order:
            if not self._band_ok(g, s, e):
                self._failed(g)
                return None
        u = (np.arange(s + 1, e) - s) / (e - s)  # as vmd_to_track
        cps = np.zeros((6, 4), dtype=np.int64)
        for g in list(self.order):
            cp = self._search(g, u, s, e)
            if cp is None:
                self._failed(g)
                return None
            cps[g] = cp
        # the exact check: the weights vmd_to_track will compute
        W = curve_weights(cps[:, None, :], u[None, :])  # (6, n)
        for g in range(6):
            y, v0, d = self._group(g, s, e)
            if self._errors(W[g:g + 1], y, v0, d)[0] > self.tol[g]:
                self._failed(g)
                return None
        return cps

    def _reach(self, s: int, hi: int) -> int:
        """The farthest key ``e <= hi`` after ``s`` that passes the band test of every group, found by
        bisection (the test is cheap; curves are only searched for segments that pass it)."""
        ok = lambda e: e - s < 2 or all(self._band_ok(g, s, e) for g in range(6))  # noqa: E731
        if ok(hi):
            return hi
        lo = s + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def _failed(self, g: int) -> None:
        self.order.remove(g)
        self.order.insert(0, g)

    # ---- one shot -------------------------------------------------------------------------------
    def shot(self, a: int, b: int) -> list[tuple[int, int, np.ndarray]]:
        """Segments covering the shot's frames ``[a, b)``, keys at ``a`` and ``b - 1`` included."""
        last = b - 1
        out = [(a, a, np.tile(_LINEAR_CP, (6, 1)))] if a == last else []  # a one-frame shot: its key alone
        s = a
        self.prev = np.tile(_LINEAR_CP, (6, 1))
        while s < last:
            hi = self._reach(s, min(last, s + self.cfg.max_gap))
            cps = self.segment(s, hi)
            if cps is not None:
                e = hi
            else:
                lo, e, cps = s + 1, s + 1, np.tile(_LINEAR_CP, (6, 1))  # one frame on always fits
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    got = self.segment(s, mid)
                    if got is not None:
                        lo, e, cps = mid, mid, got
                    else:
                        hi = mid
            out.append((s, e, cps))
            if e - s >= 2:
                self.prev = cps
            s = e
        return out


def _shot_bounds(num_frames: int, cuts) -> np.ndarray:
    c = np.unique(np.asarray(cuts, dtype=np.int64).reshape(-1))
    if len(c) and (c[0] < 0 or c[-1] >= num_frames):
        raise ValueError(f"cut frames must be in 1..{num_frames - 1}, got {c[0] if c[0] < 0 else c[-1]}")
    c = c[c > 0]
    starts = np.concatenate([[0], c])
    return np.stack([starts, np.concatenate([c, [num_frames]])], axis=1)


def _keys_from(kv: np.ndarray, segments, curve_from: str) -> list[CameraKey]:
    frames = sorted({f for s, e, _ in segments for f in (s, e)})
    curves: dict[int, tuple[Curve, ...]] = {}
    for s, e, cps in segments:
        if e - s >= 2:  # a segment with frames in between: its curves go on the key that drives it
            curves[e if curve_from == "later" else s] = tuple(Curve(*(int(v) for v in cp)) for cp in cps)
    return [CameraKey(frame=int(f), distance=float(kv[f, 0]), interest=tuple(float(v) for v in kv[f, 1:4]),
                      rotation=tuple(float(v) for v in kv[f, 4:7]), view_angle=int(kv[f, 7]),
                      curves=curves.get(f, (LINEAR,) * 6)) for f in frames]


def sparse_polar(keys: list[CameraKey], curve_from: str = "later") -> np.ndarray:
    """(last key frame + 1, 8) the polar camera :func:`camera.vmd.vmd_to_track` rebuilds from ``keys``,
    computed for all segments at once (the same arithmetic, so the same values, much faster for long
    files)."""
    if curve_from not in ("later", "earlier"):
        raise ValueError(f"curve_from must be 'later' or 'earlier', got {curve_from!r}")
    keys = sorted(keys, key=lambda k: k.frame)
    if not keys:
        raise ValueError("no camera keys")
    frames = np.array([k.frame for k in keys], dtype=np.int64)
    if (np.diff(frames) == 0).any():
        raise ValueError("two camera keys at one frame")
    values = np.array([[k.distance, *k.interest, *k.rotation, k.view_angle] for k in keys], dtype=np.float64)
    cps = np.array([[[c.x1, c.y1, c.x2, c.y2] for c in k.curves] for k in keys], dtype=np.int64)  # (K, 6, 4)
    T = int(frames[-1]) + 1
    f = np.arange(T)
    j = np.clip(np.searchsorted(frames, f, side="right") - 1, 0, len(keys) - 1)  # the key at or before f
    out = values[j].copy()  # key frames, and frames before the first key, hold the key
    inner = (f > frames[j]) & (j < len(keys) - 1)
    if inner.any():
        fi, ji = f[inner], j[inner]
        f0, f1 = frames[ji], frames[ji + 1]
        u = (fi - f0) / (f1 - f0)
        owner = ji + 1 if curve_from == "later" else ji
        W = curve_weights(cps[owner], u[:, None])  # (n, 6)
        col_curve = [4, 0, 1, 2, 3, 3, 3, 5]
        v0, v1 = values[ji], values[ji + 1]
        out[inner] = v0 + (v1 - v0) * W[:, col_curve]
    return out


def _violations(target: np.ndarray, approx: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """(N,) bool: frames where any group is over its tolerance."""
    err = np.abs(approx - target)
    bad = np.zeros(len(target), dtype=bool)
    for g, cols in enumerate(_GROUP_COLUMNS):
        bad |= err[:, list(cols)].max(axis=1) > tol[g]
    return bad


def fit_keyframes(track: CameraTrack, config: KeyframeConfig | None = None, cuts=None) -> list[CameraKey]:
    """Sparse camera keys reproducing ``track`` within ``config``'s tolerances on every frame.

    Args:
        track: the per-frame camera.
        config: tolerances, key spacing, the curve convention and cut detection (defaults if None).
        cuts: frames where a new shot starts (e.g. a synthetic track's known cuts); :func:`detect_cuts`
            when None, none with an empty list. Each cut ``c`` gives keys at ``c - 1`` and ``c``.

    Returns:
        keys sorted by frame, the first at frame 0 and the last at the track's last frame, such that
        ``vmd_to_track(Vmd(cameras=keys), curve_from=config.curve_from)`` is within tolerance of the
        track on every frame (also after :func:`camera.vmd.write_vmd` / :func:`camera.vmd.read_vmd`:
        key values are already float32).

    Raises:
        ValueError: an empty or non-finite track, a fov that does not round to 1..180 degrees, or a
            cut outside the track.
    """
    cfg = config or KeyframeConfig()
    N = track.num_frames
    if N == 0:
        raise ValueError("the camera track has no frames")
    fitter = _Fitter(track, cfg)
    if cuts is None:
        cuts = detect_cuts(track, cfg)
    segments = []
    for a, b in _shot_bounds(N, cuts):
        segments += fitter.shot(int(a), int(b))
    keys = _keys_from(fitter.kv, segments, cfg.curve_from)
    # the whole sparse track, checked as vmd_to_track rebuilds it; a segment still over (never seen:
    # the segment check is exact) is replaced by a key on every frame
    bad = _violations(fitter.target, sparse_polar(keys, cfg.curve_from), fitter.tol)
    if bad.any():
        fixed = []
        for s, e, cps in segments:
            if bad[s:e + 1].any() and e - s >= 2:
                fixed += [(f, f + 1, np.tile(_LINEAR_CP, (6, 1))) for f in range(s, e)]
            else:
                fixed.append((s, e, cps))
        keys = _keys_from(fitter.kv, fixed, cfg.curve_from)
    return keys


def track_to_sparse_vmd(track: CameraTrack, config: KeyframeConfig | None = None, cuts=None,
                        model_name: str = CAMERA_MODEL_NAME) -> Vmd:
    """``track`` as a camera VMD of sparse keys (:func:`fit_keyframes`), named as MMD names camera files."""
    return Vmd(model_name=model_name, cameras=fit_keyframes(track, config, cuts))


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
class KeyframeReport(TypedDict):
    """What :func:`keyframe_report` returns (a plain dict with these keys)."""

    num_keys: int
    num_frames: int
    keys_per_minute: float
    """Keys per minute of track at its fps (a per-frame file at 30 fps: 1800)."""
    max_interest_error: float
    """MMD units, any coordinate, any frame."""
    max_distance_error: float
    """MMD units."""
    max_rotation_error_deg: float
    """Any of rx, ry, rz, degrees."""
    max_fov_error_deg: float
    """Against the per-frame fov itself (so it includes rounding the keys to whole degrees)."""
    max_eye_error: float
    """Eye position (:func:`data.camera.camera_frame`), MMD units."""
    max_view_error_deg: float
    """Angle between the per-frame and the sparse view directions, degrees."""
    within_tolerance: bool
    """Every frame within ``config``'s four tolerances."""
    curve_from: str


def keyframe_report(track: CameraTrack, keys: list[CameraKey], config: KeyframeConfig | None = None
                    ) -> KeyframeReport:
    """How well ``keys`` (read with ``config.curve_from``) reproduce the per-frame ``track``.

    The eye and view-direction errors are measured, not bounded by the fit: they follow from the
    channel errors (an angle error moves the eye by about ``|distance|`` times the angle).

    The sparse track is what :func:`camera.vmd.vmd_to_track` rebuilds from the keys (computed by
    :func:`sparse_polar`, the same values); frames after its last key hold that key (as MMD does).
    """
    cfg = config or KeyframeConfig()
    N = track.num_frames
    sparse = sparse_polar(list(keys), cfg.curve_from)
    if len(sparse) < N:
        sparse = np.concatenate([sparse, np.repeat(sparse[-1:], N - len(sparse), axis=0)])
    sparse = sparse[:N]
    target = track.polar
    err = np.abs(sparse - target)
    eye0, _, _, fw0 = camera_frame(target[:, 0], target[:, 1:4], target[:, 4:7])
    eye1, _, _, fw1 = camera_frame(sparse[:, 0], sparse[:, 1:4], sparse[:, 4:7])
    view = np.degrees(np.arctan2(np.linalg.norm(np.cross(fw0, fw1), axis=1), np.einsum("nc,nc->n", fw0, fw1)))
    minutes = N / track.fps / 60.0
    return KeyframeReport(
        num_keys=len(keys), num_frames=N, keys_per_minute=float(len(keys) / minutes) if minutes > 0 else 0.0,
        max_interest_error=float(err[:, 1:4].max()), max_distance_error=float(err[:, 0].max()),
        max_rotation_error_deg=float(np.degrees(err[:, 4:7].max())), max_fov_error_deg=float(err[:, 7].max()),
        max_eye_error=float(np.linalg.norm(eye1 - eye0, axis=1).max()), max_view_error_deg=float(view.max()),
        within_tolerance=not bool(_violations(target, sparse, cfg.tolerances()).any()), curve_from=cfg.curve_from)


__all__ = ["KeyframeConfig", "KeyframeReport", "detect_cuts", "fit_keyframes", "keyframe_report",
           "track_to_sparse_vmd", "sparse_polar", "curve_weights"]

"""Beat alignment (both published definitions) and EDGE's physical foot contact score (PFC).

Two incompatible "beat alignment scores" are in use; both are here, under their own names, with the
Gaussian width ``sigma`` in frames and the frame rate explicit (σ = 3 frames is 50 ms at 60 fps but
100 ms at 30 fps, which is why 30 and 60 fps numbers are not comparable).

**Bailando's BAS** (:func:`bailando_bas`, music-beat-centric; also Duolando's BAS, and its BED):

* motion beats (:func:`bailando_motion_beats`): the mean over joints of the per-frame joint speed
  ``|p[t+1] - p[t]|`` (T-1 values, index t = the step from frame t to t+1), smoothed with
  ``scipy.ndimage.gaussian_filter(σ = 5 frames)`` (that curve is :func:`bailando_speed_curve`), then its
  strict local minima (``argrelextrema(np.less)``, order 1);
* music beats are truncated to indices < T-1 (the length of the speed curve; :func:`bailando_music_beats`);
* BAS = mean over *music* beats b of ``exp(-min_d (d - b)² / (2 σ²))``, σ = 3 frames.

**FACT's beat alignment** (:func:`fact_beat_align`, motion-beat-centric; mint / AI Choreographer):

* motion beats (:func:`fact_motion_beats`): the *sum* over joints of the joint speed, with the speed at
  frame t taken from frame t-1 to t (speed 0 at frame 0, T values), no smoothing, local minima with
  ``argrelextrema(np.less, order=10)`` (10 at 60 fps, 5 at 30 fps in its forks);
* score = mean over *motion* beats m of ``exp(-min_b (b - m)² / (2 σ²))``, σ = 3 frames; 0 when the
  motion has no beat.

Arithmetic is float64 throughout (FACT stores the joint velocities as float32; a tie between two
speed samples could in principle resolve differently).

A sequence whose music has no beat has no defined score (NaN here, a crash in the references);
:func:`mean_score` averages the defined ones and says how many were skipped.

**PFC** (:func:`pfc_sequence`, EDGE's ``eval/eval_pfc.py``): per sequence, the root acceleration by
finite differences with its *upward* component clamped at ≥ 0 (falling is free), its norm divided by
the sequence's maximum; for each foot the smaller horizontal per-frame displacement of its ankle and
toe (SMPL 7/10 left, 8/11 right, metres per frame); the mean over frames of
``left_min · right_min · root_acc``. The suite score is the mean over sequences × 10⁴
(:func:`pfc_score`). EDGE's data is z-up at 30 fps: here the up axis is a parameter (pasdeux is y-up)
and the per-frame displacements depend on the frame rate, so the protocol resamples to 30 fps first.
Deviations from EDGE: all sequences are used (EDGE samples 1000 when there are more, through a
``random`` it never imports), and a sequence whose root never accelerates scores 0 instead of NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import argrelextrema

BAILANDO_SIGMA_FRAMES = 3.0
BAILANDO_SMOOTHING_FRAMES = 5.0
FACT_SIGMA_FRAMES = 3.0
FACT_ORDER_FRAMES = 10
PFC_FOOT_JOINTS = (7, 10, 8, 11)  # left ankle, left foot (toe), right ankle, right foot
PFC_SCALE = 1e4


# --------------------------------------------------------------------------------------------------
# Motion beats
# --------------------------------------------------------------------------------------------------
def bailando_speed_curve(joints: np.ndarray, smoothing: float = BAILANDO_SMOOTHING_FRAMES) -> np.ndarray:
    """Bailando's kinematic speed curve of ``joints`` (T, J, 3): the (T-1,) mean joint speed per frame
    step (index t = the step from frame t to t+1, units of ``joints`` per frame), Gaussian-smoothed
    with σ = ``smoothing`` frames (none when 0). Its strict local minima are the motion beats."""
    x = np.asarray(joints, dtype=np.float64)
    speed = np.linalg.norm(x[1:] - x[:-1], axis=-1).mean(axis=1)  # (T-1,) mean joint speed
    if smoothing > 0:
        speed = gaussian_filter(speed, smoothing)  # mode 'reflect', truncate 4, as the reference
    return speed


def bailando_motion_beats(joints: np.ndarray, smoothing: float = BAILANDO_SMOOTHING_FRAMES) -> np.ndarray:
    """Bailando's motion beats of ``joints`` (T, J, 3): indices into the (T-1)-long speed curve."""
    return argrelextrema(bailando_speed_curve(joints, smoothing), np.less)[0].astype(np.int64)


def bailando_music_beats(music_beats: np.ndarray, num_frames: int) -> np.ndarray:
    """The music beats (frame indices) Bailando's BAS scores for a ``num_frames``-frame motion: as
    int64, those in ``[0, num_frames - 1)`` (the reference truncates the beat track to the speed curve)."""
    mb = np.asarray(music_beats, dtype=np.int64).reshape(-1)
    return mb[(mb >= 0) & (mb < num_frames - 1)]


def fact_motion_beats(joints: np.ndarray, order: int = FACT_ORDER_FRAMES) -> np.ndarray:
    """FACT's motion beats of ``joints`` (T, J, 3): frame indices (local minima of the speed envelope)."""
    x = np.asarray(joints, dtype=np.float64)
    velocity = np.zeros_like(x)
    velocity[1:] = x[1:] - x[:-1]  # speed at frame t is the step t-1 -> t; 0 at frame 0
    envelope = np.linalg.norm(velocity, axis=-1).sum(axis=1)  # (T,) summed over joints
    return argrelextrema(envelope, np.less, order=int(order))[0].astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------------
def _nearest_sq(targets: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """For each target, the squared distance to its nearest candidate (both 1-D)."""
    d = targets[:, None].astype(np.float64) - candidates[None, :].astype(np.float64)  # (Nt, Nc)
    return np.min(d * d, axis=1)


def music_centric_score(music_beats: np.ndarray, motion_beats: np.ndarray,
                        sigma: float = BAILANDO_SIGMA_FRAMES) -> float:
    """Mean over music beats of ``exp(-d² / 2σ²)``, d = distance to the nearest motion beat (frames).

    NaN when there is no music beat; 0 when there is no motion beat (the reference crashes on both).
    """
    mb = np.asarray(music_beats).reshape(-1)
    db = np.asarray(motion_beats).reshape(-1)
    if mb.size == 0:
        return float("nan")
    if db.size == 0:
        return 0.0
    return float(np.mean(np.exp(-_nearest_sq(mb, db) / (2.0 * sigma * sigma))))


def motion_centric_score(music_beats: np.ndarray, motion_beats: np.ndarray,
                         sigma: float = FACT_SIGMA_FRAMES) -> float:
    """Mean over motion beats of ``exp(-d² / 2σ²)``, d = distance to the nearest music beat (frames).

    0 when there is no motion beat (as FACT), NaN when there is no music beat.
    """
    mb = np.asarray(music_beats).reshape(-1)
    db = np.asarray(motion_beats).reshape(-1)
    if db.size == 0:
        return 0.0
    if mb.size == 0:
        return float("nan")
    return float(np.mean(np.exp(-_nearest_sq(db, mb) / (2.0 * sigma * sigma))))


def bailando_bas(joints: np.ndarray, music_beats: np.ndarray, *, sigma: float = BAILANDO_SIGMA_FRAMES,
                 smoothing: float = BAILANDO_SMOOTHING_FRAMES) -> float:
    """Bailando's BAS of one sequence; ``music_beats`` are frame indices at the motion's frame rate."""
    x = np.asarray(joints)
    return music_centric_score(bailando_music_beats(music_beats, x.shape[0]), bailando_motion_beats(x, smoothing),
                               sigma)


def fact_beat_align(joints: np.ndarray, music_beats: np.ndarray, *, sigma: float = FACT_SIGMA_FRAMES,
                    order: int = FACT_ORDER_FRAMES) -> float:
    """FACT's (motion-beat-centric) beat alignment of one sequence; beats in motion frames."""
    x = np.asarray(joints)
    mb = np.asarray(music_beats, dtype=np.int64).reshape(-1)
    mb = mb[(mb >= 0) & (mb < x.shape[0])]  # FACT's one-hot beat track has the motion's length
    return motion_centric_score(mb, fact_motion_beats(x, order), sigma)


def mean_score(scores) -> tuple[float, int]:
    """Mean of the defined (non-NaN) scores and the number of undefined ones skipped."""
    s = np.asarray(list(scores), dtype=np.float64)
    ok = np.isfinite(s)
    return (float(s[ok].mean()) if ok.any() else float("nan")), int((~ok).sum())


# --------------------------------------------------------------------------------------------------
# PFC
# --------------------------------------------------------------------------------------------------
def pfc_sequence(joints: np.ndarray, fps: float = 30.0, up_axis: int = 1) -> float:
    """EDGE's physical foot contact score of one sequence ``joints`` (T, J, 3) with SMPL foot indices.

    ``fps`` only scales the root acceleration, which is then divided by its maximum, so it cancels;
    it is kept to say what the numbers mean. Resample to 30 fps first to match EDGE.
    """
    x = np.asarray(joints, dtype=np.float64)
    if x.shape[0] < 3:
        raise ValueError(f"PFC needs at least 3 frames, got {x.shape[0]}")
    dt = 1.0 / float(fps)
    root_v = (x[1:, 0] - x[:-1, 0]) / dt  # (T-1, 3)
    root_a = (root_v[1:] - root_v[:-1]) / dt  # (T-2, 3)
    root_a[:, up_axis] = np.maximum(root_a[:, up_axis], 0.0)  # only upward acceleration counts
    root_a = np.linalg.norm(root_a, axis=-1)  # (T-2,)
    peak = root_a.max()
    if not peak > 0:
        return 0.0
    root_a = root_a / peak
    flat = [a for a in range(3) if a != up_axis]
    feet = x[:, list(PFC_FOOT_JOINTS)][:, :, flat]  # (T, 4, 2) horizontal foot positions
    foot_v = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)  # (T-2, 4) metres per frame
    left = np.minimum(foot_v[:, 0], foot_v[:, 1])
    right = np.minimum(foot_v[:, 2], foot_v[:, 3])
    return float(np.mean(left * right * root_a))


def pfc_score(per_sequence) -> float:
    """The suite's PFC: mean over sequences of :func:`pfc_sequence`, times 10⁴."""
    s = np.asarray(list(per_sequence), dtype=np.float64)
    return float(s.mean() * PFC_SCALE) if s.size else float("nan")

"""Per-token rewards for actor-critic fine-tuning, as small functions of decoded dances.

Every function takes absolute joints ``(B, T, J, 3)`` (numpy, SMPL-24, y up; ``T = N * f`` frames for
``N`` tokens of ``f`` frames) and returns ``(B, N)`` float64, one value per token step:

* :func:`beat_reward` -- Bailando's beat term in the paper's form: a token that holds a music beat but
  no dance beat (a local minimum of the smoothed mean joint speed, :func:`metrics.beat.bailando_motion_beats`)
  scores -1, every other token +1 (the released code rewards only tokens holding both, -1 elsewhere);
* :func:`skating_reward` -- minus the horizontal speed (m/s) of feet on the floor
  (:mod:`metrics.skating`), averaged over the token's frame steps: a foot in contact should stand;
* :func:`orientation_reward` -- +1 when the upper body faces within 90 degrees of the lower body for
  all of the token's frames, else -1. Both facings come from the same construction (right-minus-left
  across the shoulders' collars and across the hips, crossed with up), so neither needs a sign fix:
  Bailando's version signs the leg normal with the torso's sign, which is its bug (and then weights
  the term 0).
"""

from __future__ import annotations

import numpy as np

from data.skeleton import get_skeleton
from metrics.beat import bailando_motion_beats
from metrics.skating import foot_contact_steps


def per_token(frames: np.ndarray, frames_per_token: int, reduce: str) -> np.ndarray:
    """``(B, T')`` per-frame values -> ``(B, N)`` per token (``any``, ``all``, ``mean`` or ``min``);
    ``T'`` may be up to one frame short of ``N * f`` (per-step arrays), the last token then has fewer."""
    B, T = frames.shape
    N = -(-T // frames_per_token)
    pad = N * frames_per_token - T
    x = np.asarray(frames, dtype=np.float64)
    if pad:
        fill = {"any": 0.0, "all": 1.0, "min": np.inf, "mean": np.nan}[reduce]
        x = np.concatenate([x, np.full((B, pad), fill)], axis=1)
    x = x.reshape(B, N, frames_per_token)
    if reduce == "any":
        return (x > 0).any(axis=-1).astype(np.float64)
    if reduce == "all":
        return (x > 0).all(axis=-1).astype(np.float64)
    if reduce == "min":
        return x.min(axis=-1)
    return np.nanmean(x, axis=-1)


def beat_reward(joints: np.ndarray, music_beats: np.ndarray, frames_per_token: int) -> np.ndarray:
    """Paper-form beat reward. ``music_beats``: ``(B, T)`` bool, a music beat at that frame."""
    B, T = joints.shape[:2]
    dance = np.zeros((B, T), dtype=bool)
    for b in range(B):
        dance[b, bailando_motion_beats(joints[b])] = True  # speed-curve index t: the step t -> t + 1
    m = per_token(np.asarray(music_beats, dtype=np.float64), frames_per_token, "any")
    d = per_token(dance.astype(np.float64), frames_per_token, "any")
    return np.where((m > 0) & (d == 0), -1.0, 1.0)


def skating_reward(joints: np.ndarray, fps: float, frames_per_token: int) -> np.ndarray:
    """Minus the mean horizontal speed (m/s) of feet in contact, per token (0 where none is)."""
    contact, speed = foot_contact_steps(joints, fps)  # (B, T-1, F)
    skate = (contact * speed).sum(axis=-1) / np.maximum(contact.sum(axis=-1), 1)  # (B, T-1)
    return -np.nan_to_num(per_token(skate, frames_per_token, "mean"))


def facing(joints: np.ndarray, left: int, right: int, up_axis: int = 1) -> np.ndarray:
    """``(B, T, 3)`` unit horizontal direction a body segment faces, ``up x (right - left)`` (an SMPL body
    at rest, left joints at +x, faces +z); zero where the segment is vertical."""
    across = joints[..., right, :] - joints[..., left, :]
    up = np.zeros(3)
    up[up_axis] = 1.0
    f = np.cross(up, across)  # y x (-x) = +z
    f[..., up_axis] = 0.0
    n = np.linalg.norm(f, axis=-1, keepdims=True)
    return np.where(n > 1e-9, f / np.maximum(n, 1e-9), 0.0)


def orientation_reward(joints: np.ndarray, frames_per_token: int, skeleton: str = "smpl24") -> np.ndarray:
    """+1 per token whose upper and lower body face the same half-plane in every frame, else -1."""
    sk = get_skeleton(skeleton)
    upper = facing(joints, sk.index("left_collar"), sk.index("right_collar"))
    lower = facing(joints, sk.index("left_hip"), sk.index("right_hip"))
    agree = (upper * lower).sum(axis=-1)  # (B, T) cosine of the twist
    return np.where(per_token(agree, frames_per_token, "min") >= 0, 1.0, -1.0)

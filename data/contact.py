"""Bodies as capsules around the SMPL bones, and the gap between two dancers' bodies.

Each body is a set of capsules (:data:`BODY_CAPSULES`: a segment between two joints and a radius of
an average adult) on the 24 SMPL joints (SMPL-X is reduced first, :func:`data.skeleton.to_smpl24`).
The gap between two bodies is the exact segment-to-segment distance minus both radii, minimised over
every pair of capsules. The synthetic duets keep their dancers apart with it, and Duolando's contact
metric counts the frames where it falls below :data:`CONTACT_MARGIN` (:mod:`metrics.duet`).
"""

from __future__ import annotations

import numpy as np

CONTACT_MARGIN = 0.02
"""Metres: two bodies touch when their capsules come closer than this (Duolando's two 1 cm inflations)."""

HEAD_TOP = -1  # pseudo-joint: 12 cm beyond the head joint, along neck -> head
BODY_CAPSULES: tuple[tuple[int, int, float], ...] = (
    # (joint a, joint b, radius m) on the 24 SMPL joints (SMPL-X is reduced first)
    (0, 3, 0.11), (3, 6, 0.11), (6, 9, 0.11),  # pelvis -> spine3: the trunk
    (9, 12, 0.06), (12, 15, 0.06), (15, HEAD_TOP, 0.09),  # neck and head
    (9, 13, 0.06), (9, 14, 0.06), (13, 16, 0.05), (14, 17, 0.05),  # collars / shoulders
    (16, 18, 0.045), (17, 19, 0.045), (18, 20, 0.035), (19, 21, 0.035),  # upper arms, forearms
    (20, 22, 0.04), (21, 23, 0.04),  # hands
    (0, 1, 0.08), (0, 2, 0.08), (1, 4, 0.07), (2, 5, 0.07),  # hips, thighs
    (4, 7, 0.05), (5, 8, 0.05), (7, 10, 0.04), (8, 11, 0.04),  # shins, feet
)
"""Capsules around the SMPL skeleton's bones: (joint, joint, radius in metres)."""
_HEAD_EXTENSION = 0.12


def _capsule_segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment end points (T, C, 3) x 2 and radii (C,) of :data:`BODY_CAPSULES` on 24 joints (T, 24, 3)."""
    x = np.asarray(joints, dtype=np.float64)
    up = x[:, 15] - x[:, 12]
    top = x[:, 15] + _HEAD_EXTENSION * up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    ext = np.concatenate([x, top[:, None]], axis=1)  # (T, 25, 3): index -1 is the head top
    a = np.array([c[0] for c in BODY_CAPSULES])
    b = np.array([c[1] for c in BODY_CAPSULES])
    r = np.array([c[2] for c in BODY_CAPSULES])
    return ext[:, a], ext[:, b], r


def segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Shortest distance between segments [p0, p1] and [q0, q1], broadcast over leading axes (..., 3).

    The closed form of the closest points of two segments (clamped to both), with degenerate
    (zero-length) segments handled as points.
    """
    eps = 1e-12
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.einsum("...c,...c->...", d1, d1)
    e = np.einsum("...c,...c->...", d2, d2)
    f = np.einsum("...c,...c->...", d2, r)
    c = np.einsum("...c,...c->...", d1, r)
    b = np.einsum("...c,...c->...", d1, d2)
    a_ok, e_ok = a > eps, e > eps
    safe_a, safe_e = np.where(a_ok, a, 1.0), np.where(e_ok, e, 1.0)
    denom = a * e - b * b
    # general case: s from the unclamped solution (0 for parallel segments), then t, then re-clamp
    s = np.where(denom > eps * np.maximum(a * e, eps), (b * f - c * e) / np.where(denom > 0, denom, 1.0), 0.0)
    s = np.clip(s, 0.0, 1.0)
    t = (b * s + f) / safe_e
    s = np.where(t < 0.0, np.clip(-c / safe_a, 0.0, 1.0), np.where(t > 1.0, np.clip((b - c) / safe_a, 0.0, 1.0), s))
    t = np.clip(t, 0.0, 1.0)
    # degenerate segments: p a point -> t from projecting p0; q a point -> s from projecting q0
    s = np.where(~a_ok, 0.0, np.where(~e_ok, np.clip(-c / safe_a, 0.0, 1.0), s))
    t = np.where(~e_ok, 0.0, np.where(~a_ok, np.clip(f / safe_e, 0.0, 1.0), t))
    closest = (p0 + d1 * s[..., None]) - (q0 + d2 * t[..., None])
    return np.linalg.norm(closest, axis=-1)


def capsule_gap(a_joints: np.ndarray, b_joints: np.ndarray, *, block: int = 1024) -> np.ndarray:
    """Per frame, the smallest surface gap between any capsule of body A and any of body B (T,), metres.

    Negative means the capsules overlap. Both bodies are (T, 24, 3) SMPL joints over the same frames.
    """
    a0, a1, ra = _capsule_segments(a_joints)
    b0, b1, rb = _capsule_segments(b_joints)
    T = a0.shape[0]
    out = np.empty(T)
    for s in range(0, T, block):  # blocks of frames bound the (frames, C, C, 3) temporaries
        sl = slice(s, s + block)
        d = segment_distance(a0[sl, :, None], a1[sl, :, None], b0[sl, None, :], b1[sl, None, :])  # (B, C, C)
        out[sl] = (d - ra[None, :, None] - rb[None, None, :]).reshape(d.shape[0], -1).min(axis=1)
    return out


def capsule_contact(a_joints: np.ndarray, b_joints: np.ndarray, margin: float = CONTACT_MARGIN) -> np.ndarray:
    """(T,) bool: frames where the two capsule bodies come closer than ``margin`` (cropped to common T)."""
    T = min(len(a_joints), len(b_joints))
    return capsule_gap(np.asarray(a_joints)[:T], np.asarray(b_joints)[:T]) < margin


__all__ = ["CONTACT_MARGIN", "BODY_CAPSULES", "segment_distance", "capsule_gap", "capsule_contact"]

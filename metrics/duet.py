"""Duet metrics (Duolando): cross-distance FID, beat echo degree, foot slip and contact frequency.

The solo metrics (FID_k / FID_g / Div / BAS) of the follower come from :mod:`metrics.features`,
:mod:`metrics.fid` and :mod:`metrics.beat`, on Duolando's 24-joint reduction of SMPL-X
(:func:`metrics.features.to_smpl24`). What is specific to two dancers:

* **FID_cd / Div_cd** (:func:`cross_distance_features`): per frame, the 10 x 10 Euclidean distances
  between the follower's and the leader's key joints (:data:`DUET_KEY_JOINTS`: pelvis, ankles, feet,
  head, shoulders, wrists), both cropped to the common length, averaged over time: 100 values per duet
  (follower-joint-major). FID and Div then run on these as on the solo features. Duolando's script
  prints FID_cd under the key ``fid_k``.
* **BED**, beat echo degree (:func:`beat_echo_degree`): Bailando's music-beat-centric alignment with
  the *leader's* motion beats in place of the music beats and the follower's motion beats as the
  dance beats (σ = 3 frames, speed smoothing σ = 5 frames, all joints of the files).
* **Foot-slip rate**, reference form (:func:`slip_frames_reference`, ``metric_footskating_dur.py``):
  frame t (t = 1..T-2 of the T-1 frame steps; the first step is never tested) slips when the pelvis
  step, computed with its **z** coordinate zeroed, exceeds 0.03 m/frame while both ankles move less
  than 0.01 m/frame relative to the pelvis. y is up in the data, so zeroing z does not make the pelvis
  speed horizontal; the thresholds are per frame (the comments say m/s). The rate pools slip steps
  over all ``*.npy`` in the folder, followers *and* leaders (including the ground-truth leaders), over
  their T-1 steps. Corrected form (:func:`slip_frames_corrected`): horizontal pelvis speed (the up
  axis zeroed), thresholds in m/s (0.9 and 0.3 m/s: the reference values at DD100's 30 fps), every step
  tested, pooled over the generated followers only.
* **Contact frequency**: the share of frames in which the two bodies touch, pooled over duets.
  Duolando inflates both SMPL-X meshes by 1 cm and counts a frame when any pair of triangles of the
  two meshes intersects (a CUDA BVH). Here, two ways:

  - from the skeleton (:func:`capsule_contact`, always available): each body is a set of capsules
    around its bones (:data:`BODY_CAPSULES`, radii of an average adult), and a frame is in contact
    when two capsules of different dancers come closer than ``margin`` = 2 cm (the two 1 cm
    inflations), by an exact segment-to-segment distance;
  - from meshes (:func:`mesh_contact`, when SMPL-X model files are given; meshes from
    :class:`data.body_model.BodyModel`): a frame is in contact when a vertex of one body lies within
    ``margin`` of a vertex of the other. This approximates the inflated-triangle test with vertex
    proximity (SMPL-X vertices are 1-2 cm apart).
"""

from __future__ import annotations

import numpy as np

DUET_KEY_JOINTS = (0, 7, 8, 10, 11, 15, 16, 17, 20, 21)
"""Duolando's key joints for FID_cd: pelvis, ankles, feet, head, shoulders, wrists (SMPL / SMPL-X body)."""

SLIP_PELVIS_THRESHOLD = 0.03  # m per frame (reference)
SLIP_ANKLE_THRESHOLD = 0.01  # m per frame (reference)
SLIP_REFERENCE_FPS = 30.0  # DD100's rate, at which the per-frame thresholds were chosen
CONTACT_MARGIN = 0.02  # metres: two 1 cm inflations


# --------------------------------------------------------------------------------------------------
# Cross-distance features and beat echo
# --------------------------------------------------------------------------------------------------
def cross_distance_features(follower: np.ndarray, leader: np.ndarray,
                            key_joints: tuple[int, ...] = DUET_KEY_JOINTS) -> np.ndarray:
    """The 100-d (``len(key_joints)²``) duet feature of one duet; joints (T, J, 3) in one world frame."""
    f = np.asarray(follower, dtype=np.float64)
    lead = np.asarray(leader, dtype=np.float64)
    T = min(f.shape[0], lead.shape[0])
    kf = f[:T, list(key_joints)]  # (T, K, 3)
    kl = lead[:T, list(key_joints)]
    d = np.linalg.norm(kf[:, :, None, :] - kl[:, None, :, :], axis=-1)  # (T, K, K) follower-major
    return d.reshape(T, -1).mean(axis=0)


def beat_echo_degree(follower: np.ndarray, leader: np.ndarray, *, sigma: float = 3.0,
                     smoothing: float = 5.0) -> float:
    """BED of one duet: how well the follower's motion beats echo the leader's (Bailando's BAS form)."""
    from metrics.beat import bailando_motion_beats, music_centric_score

    return music_centric_score(bailando_motion_beats(leader, smoothing),
                               bailando_motion_beats(follower, smoothing), sigma)


# --------------------------------------------------------------------------------------------------
# Foot slip
# --------------------------------------------------------------------------------------------------
def slip_frames_reference(joints: np.ndarray, pelvis: int = 0, left_ankle: int = 7, right_ankle: int = 8,
                          pelvis_threshold: float = SLIP_PELVIS_THRESHOLD,
                          ankle_threshold: float = SLIP_ANKLE_THRESHOLD) -> tuple[int, int]:
    """Duolando's foot-skating count of one motion: ``(slipping steps, T - 1)``; see the module doc."""
    x = np.asarray(joints, dtype=np.float64)
    p = x[:, pelvis].copy()
    rel_l = x[:, left_ankle] - p  # taken before the pelvis z is zeroed, as the reference
    rel_r = x[:, right_ankle] - p
    p[:, 2] = 0.0  # the reference zeroes z (not the up axis y)
    pv = np.linalg.norm(np.diff(p, axis=0), axis=-1)  # (T-1,)
    lv = np.linalg.norm(np.diff(rel_l, axis=0), axis=-1)
    rv = np.linalg.norm(np.diff(rel_r, axis=0), axis=-1)
    slip = (pv > pelvis_threshold) & (lv < ankle_threshold) & (rv < ankle_threshold)
    return int(slip[1:].sum()), int(pv.shape[0])  # the reference loop starts at step 1


def slip_frames_corrected(joints: np.ndarray, fps: float, up_axis: int = 1, pelvis: int = 0,
                          left_ankle: int = 7, right_ankle: int = 8,
                          pelvis_speed: float = SLIP_PELVIS_THRESHOLD * SLIP_REFERENCE_FPS,
                          ankle_speed: float = SLIP_ANKLE_THRESHOLD * SLIP_REFERENCE_FPS) -> tuple[int, int]:
    """Corrected foot-slip count: horizontal pelvis speed, thresholds in m/s, every step tested."""
    x = np.asarray(joints, dtype=np.float64)
    p = x[:, pelvis]
    rel_l, rel_r = x[:, left_ankle] - p, x[:, right_ankle] - p
    flat = [a for a in range(3) if a != up_axis]
    pv = np.linalg.norm(np.diff(p[:, flat], axis=0), axis=-1) * fps  # (T-1,) m/s
    lv = np.linalg.norm(np.diff(rel_l, axis=0), axis=-1) * fps
    rv = np.linalg.norm(np.diff(rel_r, axis=0), axis=-1) * fps
    slip = (pv > pelvis_speed) & (lv < ankle_speed) & (rv < ankle_speed)
    return int(slip.sum()), int(pv.shape[0])


def pooled_rate(counts) -> float:
    """Σ events / Σ frames over ``(events, frames)`` pairs, in percent."""
    c = np.asarray(list(counts), dtype=np.float64).reshape(-1, 2)
    return float(100.0 * c[:, 0].sum() / c[:, 1].sum()) if c[:, 1].sum() > 0 else float("nan")


# --------------------------------------------------------------------------------------------------
# Contact from body capsules
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Contact from meshes
# --------------------------------------------------------------------------------------------------
def mesh_contact(verts_a: np.ndarray, verts_b: np.ndarray, margin: float = CONTACT_MARGIN,
                 block: int = 32) -> np.ndarray:
    """(T,) bool: frames where some vertex of mesh A lies within ``margin`` of some vertex of mesh B.

    ``verts_a`` (T, Va, 3) and ``verts_b`` (T, Vb, 3) share frames (cropped to the common length).
    One k-d tree serves a block of frames: time enters as a fourth coordinate spaced far beyond the
    bodies' extent, so a query only ever finds vertices of its own frame.
    """
    from scipy.spatial import cKDTree

    A = np.asarray(verts_a, dtype=np.float64)
    B = np.asarray(verts_b, dtype=np.float64)
    T = min(A.shape[0], B.shape[0])
    A, B = A[:T], B[:T]
    if T == 0:
        return np.zeros(0, dtype=bool)
    span = float(max(np.ptp(A.reshape(-1, 3), axis=0).max(), np.ptp(B.reshape(-1, 3), axis=0).max()))
    spacing = 4.0 * (span + margin) + 1.0  # frames this far apart in "time" can never be neighbours
    out = np.zeros(T, dtype=bool)
    for s in range(0, T, block):  # blocks of frames, one tree each
        a, b = A[s:s + block], B[s:s + block]  # (n, Va, 3), (n, Vb, 3)
        n = a.shape[0]
        ta = np.repeat(np.arange(n) * spacing, a.shape[1])[:, None]
        tb = np.repeat(np.arange(n) * spacing, b.shape[1])[:, None]
        tree = cKDTree(np.hstack([b.reshape(-1, 3), tb]))
        dist, _ = tree.query(np.hstack([a.reshape(-1, 3), ta]), k=1, distance_upper_bound=margin)
        out[s:s + n] = np.isfinite(dist).reshape(n, a.shape[1]).any(axis=1)
    return out


def body_vertices(motion, body_model) -> np.ndarray:
    """(T, V, 3) mesh vertices of a motion with SMPL(-X) rotations, via :class:`data.body_model.BodyModel`.

    Betas come from the motion's ``extras`` when present (DD100 ground truth has them, generated
    followers usually do not and get the mean shape, as in Duolando).
    """
    if motion.rotations is None:
        raise ValueError(f"{motion.name or 'motion'}: mesh contact needs joint rotations")
    betas = motion.extras.get("betas")
    _, verts = body_model(motion.rotations, motion.root, betas)
    return verts

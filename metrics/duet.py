"""Duet metrics (Duolando): cross-distance FID, beat echo degree, foot slip and contact frequency.

The solo metrics (FID_k / FID_g / Div / BAS) of the follower come from :mod:`metrics.features`,
:mod:`metrics.fid` and :mod:`metrics.beat`, on Duolando's 24-joint reduction of SMPL-X
(:func:`data.skeleton.to_smpl24`). What is specific to two dancers:

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

  - from the skeleton (:func:`data.contact.capsule_contact`, always available): each body is a set of capsules
    around its bones (:data:`data.contact.BODY_CAPSULES`, radii of an average adult), and a frame is in contact
    when two capsules of different dancers come closer than ``margin`` = 2 cm (the two 1 cm
    inflations), by an exact segment-to-segment distance;
  - from meshes (:func:`mesh_contact`, when SMPL-X model files are given; meshes from
    :class:`data.body_model.BodyModel`): a frame is in contact when a vertex of one body lies within
    ``margin`` of a vertex of the other. This approximates the inflated-triangle test with vertex
    proximity (SMPL-X vertices are 1-2 cm apart).
"""

from __future__ import annotations

import numpy as np

from data.contact import CONTACT_MARGIN
from metrics.beat import bailando_motion_beats, music_centric_score

DUET_KEY_JOINTS = (0, 7, 8, 10, 11, 15, 16, 17, 20, 21)
"""Duolando's key joints for FID_cd: pelvis, ankles, feet, head, shoulders, wrists (SMPL / SMPL-X body)."""

SLIP_PELVIS_THRESHOLD = 0.03  # m per frame (reference)
SLIP_ANKLE_THRESHOLD = 0.01  # m per frame (reference)
SLIP_REFERENCE_FPS = 30.0  # DD100's rate, at which the per-frame thresholds were chosen


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
# Contact from meshes
# --------------------------------------------------------------------------------------------------
def mesh_contact(verts_a: np.ndarray, verts_b: np.ndarray, margin: float = CONTACT_MARGIN,
                 block: int = 32) -> np.ndarray:
    """(T,) bool: frames where some vertex of mesh A lies within ``margin`` of some vertex of mesh B.

    ``verts_a`` (T, Va, 3) and ``verts_b`` (T, Vb, 3) share frames (cropped to the common length).
    One k-d tree serves a block of frames: time enters as a fourth coordinate spaced far beyond the
    bodies' extent, so a query only ever finds vertices of its own frame.
    """
    from scipy.spatial import cKDTree  # only with SMPL-X model files: keeps scipy.spatial out of every import

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
    model = body_model.for_motion(motion) if hasattr(body_model, "for_motion") else body_model  # BodyModels
    betas = motion.extras.get("betas")
    _, verts = model(motion.rotations, motion.root, betas)
    return verts

"""Camera metrics (DanceCamera3D): camera FID_k / Div_k, shot FID_s / Div_s, DMR, LCD.

The reference reads its json into float32; everything here is float64 (a joint exactly on the frustum
boundary could flip). The camera's geometry is :mod:`data.camera`'s (DCM's convention, one
implementation): the functions here take the per-frame eye and axes of
:meth:`data.camera.CameraTrack.frame` and the visibility masks of :func:`data.camera.visibility_mask`
(DanceCamera3D's frustum test; ``aspect=None`` is its square frustum).

* **FID_k / Div_k** (:func:`camera_kinetic_chunks`): each sequence is cut into non-overlapping
  75-frame chunks (2.5 s at 30 fps; the tail is dropped); each chunk gives a 10-d vector
  ``[E_v, E_a]`` for the eye, forward, up and right vectors and the fov, where ``E_v`` is the mean
  squared sliding-window (±2 frames) velocity and ``E_a`` the mean norm of the sliding-window
  acceleration, with Δ = 1/30 s (no precedence bug in this copy). The eye is in MMD units and the
  fov in degrees, as the reference reads them from its json; FID and Div follow :mod:`metrics.fid`
  (z-scored with the ground-truth chunks).
* **FID_s / Div_s** (:func:`shot_features`): per frame (all but the last of each sequence), with the
  joints projected to ``x = (v·right)/(v·fwd)``, ``y = (v·up)/(v·fwd)``: ``A_in`` = the bounding-box
  area of the visible joints (0 when none), ``A_body`` = that of every joint in front of the camera.
  Features: ``A_in / (4 tan²(fov/2))`` (the share of the square frame the visible body fills) and
  ``A_in / A_body`` (the share of the body in view); 1e-20 guards both divisions, as in the reference.
  With ``aspect`` the frame area is ``4 · aspect · tan²(fov/2)``.
* **DMR** (:func:`dancer_missing_rate`): frames with no visible joint / all frames, pooled.
* **LCD** (:func:`limbs_capture_difference`): Σ over frames of the mean over joints of
  ``(m_pred - m_gt)²``, divided by the number of frames, pooled; i.e. the mean share of joints whose
  visibility differs from the ground-truth camera's. Both masks are cut to the common length (the
  reference cuts the ground truth to the result's length and fails when the result is longer).
"""

from __future__ import annotations

import numpy as np

from metrics.features import window_acceleration, window_velocity

CAMERA_CHUNK_FRAMES = 75
CAMERA_FRAME_TIME = 1.0 / 30.0
SHOT_EPS = 1e-20


def camera_kinetic_chunks(eye: np.ndarray, forward: np.ndarray, up: np.ndarray, right: np.ndarray,
                          fov_deg: np.ndarray, chunk: int = CAMERA_CHUNK_FRAMES,
                          frame_time: float = CAMERA_FRAME_TIME) -> np.ndarray:
    """(n_chunks, 10) kinetic vectors of non-overlapping ``chunk``-frame pieces (tail dropped).

    Columns: E_v, E_a of eye, forward, up, right, fov (the reference's camera_eye, camera_z,
    camera_y, camera_x, Fov).
    """
    fov = np.asarray(fov_deg, dtype=np.float64).reshape(-1, 1)
    n = len(fov) // chunk
    out = np.zeros((n, 10))
    if n == 0:
        return out
    for k, s in enumerate((eye, forward, up, right, fov)):  # 5 signals, all chunks at once
        x = np.asarray(s, dtype=np.float64)[: n * chunk].reshape(n, chunk, -1).transpose(1, 0, 2)  # (chunk, n, D)
        vel = window_velocity(x, frame_time)  # (chunk-1, n, D)
        acc = window_acceleration(x, frame_time)  # (chunk-1, n, D), no precedence bug here
        out[:, 2 * k] = (np.sqrt(np.sum(vel ** 2, axis=-1)) ** 2).mean(axis=0)
        out[:, 2 * k + 1] = np.sqrt(np.sum(acc ** 2, axis=-1)).mean(axis=0)
    return out


def _bbox_area(x: np.ndarray, y: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per frame, the area of the bounding box of the kept points (T,); 0 where none is kept."""
    inf = np.inf
    w = np.where(keep, x, -inf).max(axis=1) - np.where(keep, x, inf).min(axis=1)
    h = np.where(keep, y, -inf).max(axis=1) - np.where(keep, y, inf).min(axis=1)
    return np.where(keep.any(axis=1), w * h, 0.0)


def shot_features(joints: np.ndarray, eye: np.ndarray, right: np.ndarray, up: np.ndarray,
                  forward: np.ndarray, fov_deg: np.ndarray, mask: np.ndarray,
                  aspect: float | None = None) -> np.ndarray:
    """(T-1, 2) shot features ``[A_in / frame area, A_in / A_body]`` of one sequence (last frame dropped)."""
    v = np.asarray(joints, dtype=np.float64) - eye[:, None, :]  # (T, J, 3)
    z = np.einsum("tjc,tc->tj", v, forward)
    xs = np.einsum("tjc,tc->tj", v, right) / (z + SHOT_EPS)
    ys = np.einsum("tjc,tc->tj", v, up) / (z + SHOT_EPS)
    area_in = _bbox_area(xs, ys, np.asarray(mask, dtype=bool))
    # A_body: joints in front of the camera; when none is, the reference keeps the last joint alone,
    # whose box has zero area, which is what an empty selection gives here too
    area_body = _bbox_area(xs, ys, z > 0)
    tan = np.tan(np.radians(np.asarray(fov_deg, dtype=np.float64)) * 0.5)
    frame_area = 4.0 * tan * tan * (1.0 if aspect is None else aspect)
    feats = np.stack([area_in / (frame_area + SHOT_EPS), area_in / (area_body + SHOT_EPS)], axis=-1)
    return feats[:-1]


def dancer_missing_rate(masks) -> float:
    """Frames with no visible joint / all frames, pooled over sequences of (T, J) masks."""
    masks = list(masks)
    missing = sum(int((~np.asarray(m, dtype=bool).any(axis=1)).sum()) for m in masks)
    total = sum(len(m) for m in masks)
    return missing / total if total else float("nan")


def limbs_capture_difference(pred_masks, gt_masks) -> float:
    """Σ_frames mean_j (m_pred - m_gt)² / Σ frames over paired sequences (cut to common lengths)."""
    diff, frames = 0.0, 0
    for p, g in zip(pred_masks, gt_masks, strict=True):
        n = min(len(p), len(g))
        d = np.asarray(p[:n], dtype=np.float64) - np.asarray(g[:n], dtype=np.float64)
        diff += float((d * d).mean(axis=1).sum())
        frames += n
    return diff / frames if frames else float("nan")

"""Foot skating: a foot that slides while it is on the floor.

Per frame step ``t -> t + 1`` and foot joint (SMPL ankles and toes by default), the foot is *in
contact* when it is within ``contact_height`` of the floor in both frames, the floor being the
sequence's low percentile of foot heights (a dance need not start at y = 0); a contact step *slips*
when the foot's horizontal speed exceeds ``slip_speed`` m/s. Thresholds are in metres and metres per
second, so the figures do not depend on the frame rate. Works on ``(..., T, J, 3)`` arrays (batched).

* :func:`foot_contact_steps` -- the per-step contact and horizontal-speed arrays;
* :func:`foot_skating` -- per sequence: the slip rate (slipping contact steps / contact steps) and
  the mean horizontal speed of feet in contact (m/s).

(Duolando's "foot slip" is another measure, the pelvis moving while both ankles stand still:
:mod:`metrics.duet`.)
"""

from __future__ import annotations

import numpy as np

SMPL_FEET = (7, 8, 10, 11)  # left ankle, right ankle, left foot (toe), right foot
CONTACT_HEIGHT = 0.05  # m above the floor
SLIP_SPEED = 0.2  # m/s horizontal
FLOOR_PERCENTILE = 2.0


def foot_contact_steps(joints: np.ndarray, fps: float, feet=SMPL_FEET, up_axis: int = 1,
                       contact_height: float = CONTACT_HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """``(contact, speed)``, each ``(..., T - 1, F)``: whether foot f is on the floor over step t, and its
    horizontal speed (m/s) over that step."""
    x = np.asarray(joints, dtype=np.float64)[..., list(feet), :]  # (..., T, F, 3)
    height = x[..., up_axis]  # (..., T, F)
    floor = np.percentile(height.reshape(*height.shape[:-2], -1), FLOOR_PERCENTILE, axis=-1)[..., None, None]
    low = height - floor < contact_height
    contact = low[..., 1:, :] & low[..., :-1, :]
    horizontal = [a for a in range(3) if a != up_axis]
    step = np.diff(x[..., horizontal], axis=-3)  # (..., T-1, F, 2)
    return contact, np.linalg.norm(step, axis=-1) * fps


def foot_skating(joints: np.ndarray, fps: float, feet=SMPL_FEET, up_axis: int = 1,
                 contact_height: float = CONTACT_HEIGHT, slip_speed: float = SLIP_SPEED) -> dict[str, np.ndarray]:
    """Per sequence ``(...)``: ``slip_rate`` (NaN without contact), ``contact_speed`` (m/s, NaN without
    contact) and ``contact_fraction`` of foot steps on the floor."""
    contact, speed = foot_contact_steps(joints, fps, feet, up_axis, contact_height)
    n = contact.sum(axis=(-2, -1)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        slip = (contact & (speed > slip_speed)).sum(axis=(-2, -1)) / n
        mean_speed = (speed * contact).sum(axis=(-2, -1)) / n
    return {"slip_rate": np.where(n > 0, slip, np.nan), "contact_speed": np.where(n > 0, mean_speed, np.nan),
            "contact_fraction": n / max(int(np.prod(contact.shape[-2:])), 1)}

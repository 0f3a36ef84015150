"""Kinetic (72-d) and geometric (32-d) motion features, vectorised, with the reference quirks behind ``legacy``.

Both feature sets come from the AIST++ API (via fairmotion) and are what Bailando, Duolando and most
of the field compute FID_k / FID_g and Div_k / Div_g on. The reference code walks frames and joints in
Python, which makes scoring a reference set slow; here every feature is a handful of array operations
over all frames and joints at once. ``bench/bench_metrics.py`` times the two.

Kinetic features (:func:`kinetic_features`), per joint, joint-major ``[h, v, e]`` (3 per joint):

* ``v_i`` is the sliding-window velocity at frame ``i = 1..T-1``: the mean of the frame differences
  ``p[k] - p[k-1]`` over ``k in [i-w, i+w] ∩ [1, T-1]`` (w = 2), divided by the frame time;
* ``h`` = mean over ``i`` of ``|v_i|²`` restricted to the horizontal axes (x, z with y up);
* ``v`` = mean over ``i`` of the squared vertical component;
* ``e`` = mean over ``i`` of ``|a_i|``, where ``a_i`` averages the second differences
  ``((p[m+1]-p[m])/dt - (p[m]-p[m-1])/dt) / dt`` over ``m in [i-w, i+w] ∩ [1, T-2]``.

  Reference quirks reproduced by ``legacy=True``:

  1. **Acceleration precedence bug.** The reference writes the backward velocity as
     ``p[m] - p[m-1] / dt`` (only the previous position is divided), so ``e`` is dominated by
     ``|p| / dt²``: absolute position times 3600. This is why the protocol re-roots the first frame
     at the origin ("zero start"). ``legacy=False`` uses the intended ``(p[m] - p[m-1]) / dt``.
  2. **Hard-coded frame time 1/60 s**, whatever the motion's frame rate (Duolando applies it to
     30 fps DD100). ``legacy=False`` uses ``1 / fps``. On 60 fps motion the two agree.

Geometric features (:func:`geometric_features`): 32 boolean Müller-style relations between joints,
evaluated on frames ``1..T-1`` (velocities use the previous frame) and averaged over time, so each
lies in [0, 1]. :data:`GEOMETRIC_FEATURES` lists them with their joints and thresholds. The relation
types (j1..j4 are joints, ``thr`` a threshold):

* ``plane``: signed distance of j4 from the plane through j1, j2, j3 (normal ``(j3-j1) x (j2-j1)``) > thr;
* ``nplane``: signed distance of j4 from the plane through j3 with normal ``j2 - j1`` > thr;
* ``angle``: the angle between ``j2 - j1`` and ``j4 - j3`` lies strictly inside (lo, hi) degrees;
* ``fast``: the speed of j1 > thr;
* ``nmove``: the velocity of j4 relative to j1, along the normal of the plane (j1, j2, j3), > thr;
* ``move``: the velocity of the moving joint relative to a reference joint, along ``j2 - j1``, > thr.

  Reference quirks reproduced by ``legacy=True`` (each can be switched alone with
  :class:`GeometricVariant`, and :data:`GEOMETRIC_QUIRK_FEATURES` names the features each touches):

  1. **Velocity frame time 1/120 s** (``time_per_frame``): velocities are frame differences times 120
     although the data is 60 fps, so every velocity threshold is effectively halved.
     Corrected: ``1 / fps``.
  2. **Ignored argument of ``move``** (``move_uses_j4``): the reference passes j3 as the moving point
     and the reference joint is j1; j4 is never read. Corrected (Müller's definition): the velocity of
     j4 relative to j3 along ``j2 - j1``.
  3. **Template-derived thresholds** (``body_scale``): the thresholds are multiples of the humerus
     length, shoulder width and hip width of the SMPL template (0.257, 0.391, 0.119 m), whatever the
     dancer's build. Corrected: the same lengths measured on the motion itself (mean over frames).

Precision: everything is float64. The reference returns its vectors as float32 (and is fed float32
joints by some pipelines), so values agree with it to float32 precision (~1e-7 relative); the frame
and window arithmetic is the same, term for term (``tests/metrics/test_features.py`` checks the
vectorised code against the per-frame loop of ``bench/bench_metrics.py``).

Helpers: :func:`data.skeleton.to_smpl24` (Duolando's 24-joint reduction of SMPL-X), :func:`zero_start`,
:func:`resample` (linear, to compare 30 and 60 fps data on one clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from data.skeleton import get_skeleton

REFERENCE_KINETIC_FRAME_TIME = 1.0 / 60.0
"""The frame time the reference kinetic features hard-code (``KineticFeatures(frame_time=1/60)``)."""
REFERENCE_GEOMETRIC_TIME_PER_FRAME = 1.0 / 120.0
"""The frame time the reference geometric velocity relations hard-code."""
SLIDING_WINDOW = 2
"""Half-width of the velocity / acceleration averaging window, frames (reference: 2)."""

# SMPL joint indices (smpl24; the first 22 are also SMPL-X's body joints).
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
L_FOOT, R_FOOT, NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER = range(10, 18)
L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HAND, R_HAND = range(18, 24)


# --------------------------------------------------------------------------------------------------
# Preprocessing helpers
# --------------------------------------------------------------------------------------------------
def zero_start(joints: np.ndarray) -> np.ndarray:
    """Translate every frame so the first frame's root (joint 0) sits at the origin ("zero start")."""
    x = np.asarray(joints, dtype=np.float64)
    return x - x[:1, :1, :]


def resample(x: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly resample ``x`` (T, ...) from ``fps_in`` to ``fps_out`` over the same time span.

    Output frame ``n`` sits at ``n / fps_out`` seconds; there are ``floor((T-1) fps_out / fps_in) + 1``.
    """
    x = np.asarray(x, dtype=np.float64)
    if fps_in <= 0 or fps_out <= 0:
        raise ValueError(f"frame rates must be positive, got {fps_in} -> {fps_out}")
    if fps_in == fps_out or x.shape[0] < 2:
        return x
    T = x.shape[0]
    n_out = int(np.floor((T - 1) * fps_out / fps_in + 1e-9)) + 1
    pos = np.arange(n_out) * (fps_in / fps_out)  # fractional source frame of each output frame
    i0 = np.minimum(np.floor(pos).astype(np.int64), T - 2)
    frac = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - frac) + x[i0 + 1] * frac


# --------------------------------------------------------------------------------------------------
# Sliding-window velocity and acceleration (shared by the motion and camera kinetic features)
# --------------------------------------------------------------------------------------------------
def _window_sum(terms: np.ndarray, rows: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """For output rows r = 0..rows-1: sum of ``terms[r+j]`` over j in [-w, w] with 0 <= r+j < len(terms).

    Returns the sums (rows, ...) and the number of valid terms per row (rows,). The terms are added
    in the order j = -w..w, as the reference loop does (adding the zero padding changes nothing).
    """
    n = terms.shape[0]
    padded = np.concatenate([np.zeros((w,) + terms.shape[1:]), terms,
                             np.zeros((w + max(rows - n, 0),) + terms.shape[1:])], axis=0)
    total = np.zeros((rows,) + terms.shape[1:])
    for j in range(-w, w + 1):  # 2w+1 shifted slices, not a loop over frames
        total = total + padded[w + j: w + j + rows]
    r = np.arange(rows)
    count = np.minimum(n - 1, r + w) - np.maximum(0, r - w) + 1
    return total, count


def window_velocity(x: np.ndarray, frame_time: float, w: int = SLIDING_WINDOW) -> np.ndarray:
    """Sliding-window mean velocity at frames 1..T-1 of ``x`` (T, ..., D); returns (T-1, ..., D)."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    if T < 2:
        raise ValueError(f"need at least 2 frames for a velocity, got {T}")
    diffs = x[1:] - x[:-1]  # (T-1, ..., D): d[k] = p[k] - p[k-1], k = 1..T-1
    total, count = _window_sum(diffs, T - 1, w)
    shape = (-1,) + (1,) * (x.ndim - 1)
    # the reference's operation order: sum / (count * frame_time)
    return total / (count.reshape(shape) * frame_time)


def window_acceleration(x: np.ndarray, frame_time: float, w: int = SLIDING_WINDOW, *,
                        precedence_bug: bool = False) -> np.ndarray:
    """Sliding-window mean acceleration at frames 1..T-1 of ``x`` (T, ..., D); returns (T-1, ..., D).

    With ``precedence_bug`` the backward velocity is ``p[m] - p[m-1] / dt`` (the AIST++ API /
    Bailando / Duolando kinetic features); without it, ``(p[m] - p[m-1]) / dt``.
    """
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    if T < 3:
        raise ValueError(f"need at least 3 frames for an acceleration, got {T}")
    v2 = (x[2:] - x[1:-1]) / frame_time  # (T-2, ..., D) forward velocity at m = 1..T-2
    if precedence_bug:
        v1 = x[1:-1] - x[:-2] / frame_time
    else:
        v1 = (x[1:-1] - x[:-2]) / frame_time
    terms = (v2 - v1) / frame_time  # second difference at m = 1..T-2
    total, count = _window_sum(terms, T - 1, w)
    return total / count.reshape((-1,) + (1,) * (x.ndim - 1))


# --------------------------------------------------------------------------------------------------
# Kinetic features
# --------------------------------------------------------------------------------------------------
def kinetic_features(joints: np.ndarray, fps: float = 60.0, *, legacy: bool = True,
                     up_axis: int = 1, window: int = SLIDING_WINDOW) -> np.ndarray:
    """The kinetic feature vector ``(3 J,)`` of one sequence ``joints`` (T, J, 3), joint-major.

    Args:
        joints: (T, J, 3) positions, metres; apply :func:`zero_start` first to follow the protocol.
        fps: the motion's frame rate; only used when ``legacy=False`` (legacy hard-codes 1/60 s).
        legacy: reproduce the reference exactly (acceleration precedence bug, frame time 1/60 s).
        up_axis: index of the vertical axis (1: y up, pasdeux and AIST++).
        window: velocity / acceleration averaging half-width in frames (reference: 2).
    """
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3), got {x.shape}")
    frame_time = REFERENCE_KINETIC_FRAME_TIME if legacy else 1.0 / float(fps)
    vel = window_velocity(x, frame_time, window)  # (T-1, J, 3)
    horizontal = [a for a in range(3) if a != up_axis]
    # norm then square, as the reference does (np.linalg.norm(...) ** 2)
    h = np.sqrt(np.sum(vel[..., horizontal] ** 2, axis=-1)) ** 2  # (T-1, J)
    v = np.abs(vel[..., up_axis]) ** 2  # (T-1, J)
    acc = window_acceleration(x, frame_time, window, precedence_bug=legacy)  # (T-1, J, 3)
    e = np.sqrt(np.sum(acc ** 2, axis=-1))  # (T-1, J)
    # the reference divides each sum by (T - 1.0), i.e. a mean over frames 1..T-1
    feats = np.stack([h.mean(axis=0), v.mean(axis=0), e.mean(axis=0)], axis=-1)  # (J, 3)
    return feats.reshape(-1)


# --------------------------------------------------------------------------------------------------
# Geometric features
# --------------------------------------------------------------------------------------------------
# Pseudo-joints of the reference: fixed vectors and the lowest joint's height.
ZERO, Y_UNIT, MINUS_Y_UNIT, Y_MIN = -1, -2, -3, -4
_HL, _SW, _HW = "hl", "sw", "hw"


@dataclass(frozen=True)
class GeometricRelation:
    """One of the 32 relations: its type, joints (SMPL indices or pseudo-joints) and threshold."""

    name: str
    kind: Literal["plane", "nplane", "angle", "fast", "move", "nmove"]
    joints: tuple[int, ...]
    scale: str | None = None
    """Body length the threshold multiplies: ``hl`` humerus, ``sw`` shoulder width, ``hw`` hip width."""
    factor: float = 0.0
    angle_range: tuple[float, float] | None = None


_R = GeometricRelation
GEOMETRIC_FEATURES: tuple[GeometricRelation, ...] = (
    _R("r_hand_moves_forward", "nmove", (NECK, R_HIP, L_HIP, R_WRIST), _HL, 1.8),
    _R("l_hand_moves_forward", "nmove", (NECK, L_HIP, R_HIP, L_WRIST), _HL, 1.8),
    _R("r_hand_above_neck", "nplane", (SPINE3, NECK, NECK, R_WRIST), _HL, 0.2),
    _R("l_hand_above_neck", "nplane", (SPINE3, NECK, NECK, L_WRIST), _HL, 0.2),
    _R("r_hand_moves_up", "move", (SPINE1, SPINE3, SPINE3, R_WRIST), _HL, 1.8),
    _R("l_hand_moves_up", "move", (SPINE1, SPINE3, SPINE3, L_WRIST), _HL, 1.8),
    _R("r_elbow_bent", "angle", (R_ELBOW, R_SHOULDER, R_ELBOW, R_WRIST), angle_range=(0.0, 110.0)),
    _R("l_elbow_bent", "angle", (L_ELBOW, L_SHOULDER, L_ELBOW, L_WRIST), angle_range=(0.0, 110.0)),
    _R("hands_far_apart", "nplane", (L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST), _SW, 2.5),
    _R("hands_approach", "move", (L_WRIST, R_WRIST, R_WRIST, L_WRIST), _HL, 1.4),
    _R("l_hand_moves_right", "move", (R_WRIST, PELVIS, L_WRIST, PELVIS), _HL, 1.4),
    _R("r_hand_moves_left", "move", (L_WRIST, PELVIS, R_WRIST, PELVIS), _HL, 1.4),
    _R("r_hand_fast", "fast", (R_WRIST,), _HL, 2.5),
    _R("l_hand_fast", "fast", (L_WRIST,), _HL, 2.5),
    _R("r_foot_in_front", "plane", (PELVIS, L_HIP, L_FOOT, R_ANKLE), _HL, 0.38),
    _R("l_foot_in_front", "plane", (PELVIS, R_HIP, R_FOOT, L_ANKLE), _HL, 0.38),
    _R("r_foot_raised", "nplane", (ZERO, Y_UNIT, Y_MIN, R_ANKLE), _HL, 1.2),
    _R("l_foot_raised", "nplane", (ZERO, Y_UNIT, Y_MIN, L_ANKLE), _HL, 1.2),
    _R("feet_far_apart", "nplane", (L_HIP, R_HIP, L_ANKLE, R_ANKLE), _HW, 2.1),
    _R("r_knee_bent", "angle", (R_KNEE, R_HIP, R_KNEE, R_ANKLE), angle_range=(0.0, 110.0)),
    _R("l_knee_bent", "angle", (L_KNEE, L_HIP, L_KNEE, L_ANKLE), angle_range=(0.0, 110.0)),
    _R("r_foot_fast", "fast", (R_ANKLE,), _HL, 2.5),
    _R("l_foot_fast", "fast", (L_ANKLE,), _HL, 2.5),
    _R("r_arm_raised", "angle", (NECK, PELVIS, R_SHOULDER, R_ELBOW), angle_range=(25.0, 180.0)),
    _R("l_arm_raised", "angle", (NECK, PELVIS, L_SHOULDER, L_ELBOW), angle_range=(25.0, 180.0)),
    _R("r_leg_raised", "angle", (NECK, PELVIS, R_HIP, R_KNEE), angle_range=(50.0, 180.0)),
    _R("l_leg_raised", "angle", (NECK, PELVIS, L_HIP, L_KNEE), angle_range=(50.0, 180.0)),
    _R("root_behind_feet", "plane", (R_ANKLE, NECK, L_ANKLE, PELVIS), _HL, 0.5),
    _R("body_horizontal", "angle", (NECK, PELVIS, ZERO, Y_UNIT), angle_range=(70.0, 110.0)),
    _R("r_hand_low", "nplane", (ZERO, MINUS_Y_UNIT, Y_MIN, R_WRIST), _HL, -1.2),
    _R("l_hand_low", "nplane", (ZERO, MINUS_Y_UNIT, Y_MIN, L_WRIST), _HL, -1.2),
    _R("root_fast", "fast", (PELVIS,), _HL, 2.3),
)
del _R
assert len(GEOMETRIC_FEATURES) == 32

GEOMETRIC_QUIRK_FEATURES: dict[str, tuple[int, ...]] = {
    "time_per_frame": tuple(i for i, r in enumerate(GEOMETRIC_FEATURES) if r.kind in ("fast", "move", "nmove")),
    "move_uses_j4": tuple(i for i, r in enumerate(GEOMETRIC_FEATURES) if r.kind == "move"),
    "body_scale": tuple(i for i, r in enumerate(GEOMETRIC_FEATURES) if r.scale is not None),
}
"""Which of the 32 features each reference quirk can change (the others are provably unaffected)."""


@dataclass(frozen=True)
class GeometricVariant:
    """Which reference quirks the geometric features keep.

    ``legacy()`` keeps all three (the reference numbers), ``corrected()`` fixes all three; any
    combination can be built to isolate one quirk.
    """

    time_per_frame: float | None = REFERENCE_GEOMETRIC_TIME_PER_FRAME
    """Seconds per frame for the velocity relations; ``None`` means ``1 / fps`` (corrected)."""
    move_uses_j4: bool = False
    """``True``: ``move`` takes j4's velocity relative to j3 (corrected); ``False``: j3 relative to j1."""
    body_scale: Literal["template", "measured"] = "template"
    """``template``: SMPL template lengths (reference); ``measured``: the motion's own mean lengths."""

    def __post_init__(self) -> None:
        if self.time_per_frame is not None and not self.time_per_frame > 0:
            raise ValueError(f"time_per_frame must be positive or None, got {self.time_per_frame}")
        if self.body_scale not in ("template", "measured"):
            raise ValueError(f"body_scale must be 'template' or 'measured', got {self.body_scale!r}")

    @classmethod
    def legacy(cls) -> "GeometricVariant":
        return cls()

    @classmethod
    def corrected(cls) -> "GeometricVariant":
        return cls(time_per_frame=None, move_uses_j4=True, body_scale="measured")


def template_body_scales() -> dict[str, float]:
    """Humerus length, shoulder width and hip width of the SMPL template, metres.

    These are the reference's constants: pasdeux's ``smpl24`` rest skeleton holds the same SMPL
    template joints the reference hard-codes (0.25684, 0.39085, 0.11925 m).
    """
    rest = get_skeleton("smpl24").rest_joints()
    return _body_scales(rest[None])


def _body_scales(x: np.ndarray) -> dict[str, float]:
    """Mean humerus length, shoulder width and hip width over the frames of ``x`` (T, 24, 3)."""
    dist = lambda a, b: float(np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean())  # noqa: E731
    return {_HL: dist(L_SHOULDER, L_ELBOW), _SW: dist(L_SHOULDER, R_SHOULDER), _HW: dist(L_HIP, R_HIP)}


def _fetch(x: np.ndarray, j: int) -> np.ndarray:
    """Joint ``j`` of every frame of ``x`` (T, 24, 3), or a pseudo-joint; returns (T, 3)."""
    if j >= 0:
        return x[:, j]
    out = np.zeros((x.shape[0], 3))
    if j == Y_UNIT:
        out[:, 1] = 1.0
    elif j == MINUS_Y_UNIT:
        out[:, 1] = -1.0
    elif j == Y_MIN:
        out[:, 1] = x[:, :, 1].min(axis=1)  # the lowest joint's height, this frame
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("tc,tc->t", a, b)


def geometric_features(joints: np.ndarray, fps: float = 60.0, *, legacy: bool = True,
                       variant: GeometricVariant | None = None) -> np.ndarray:
    """The 32 geometric features ``(32,)`` of one sequence ``joints`` (T, 24, 3), each in [0, 1].

    Args:
        joints: (T, 24, 3) SMPL joint positions, metres, y up (see :func:`data.skeleton.to_smpl24`).
        fps: the motion's frame rate (used by the corrected velocity relations).
        legacy: ``True`` keeps the three reference quirks, ``False`` fixes them; ignored when
            ``variant`` is given.
        variant: pick quirks one by one (see :class:`GeometricVariant`).
    """
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (24, 3):
        raise ValueError(f"geometric features need (T, 24, 3) SMPL joints, got {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 frames, got {x.shape[0]}")
    if variant is None:
        variant = GeometricVariant.legacy() if legacy else GeometricVariant.corrected()
    tpf = variant.time_per_frame if variant.time_per_frame is not None else 1.0 / float(fps)
    scales = template_body_scales() if variant.body_scale == "template" else _body_scales(x)
    cur, prev = x[1:], x[:-1]  # (T-1, 24, 3): the reference evaluates frames 1..T-1

    out = np.zeros((x.shape[0] - 1, len(GEOMETRIC_FEATURES)), dtype=bool)  # (T-1, 32)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Degenerate geometry (zero-length normals) gives NaN, and NaN > thr is False, as in the
        # reference.
        for f, rel in enumerate(GEOMETRIC_FEATURES):  # 32 relations, each over all frames at once
            thr = rel.factor * scales[rel.scale] if rel.scale is not None else 0.0
            j = [_fetch(cur, k) for k in rel.joints]
            if rel.kind == "plane":
                a, b, c, p = j
                normal = np.cross(c - a, b - a)
                out[:, f] = _dot(normal, p - a) / np.linalg.norm(normal, axis=-1) > thr
            elif rel.kind == "nplane":
                n1, n2, a, p = j
                normal = n2 - n1
                out[:, f] = _dot(normal, p - a) / np.linalg.norm(normal, axis=-1) > thr
            elif rel.kind == "angle":
                u, w = j[1] - j[0], j[3] - j[2]
                cos = _dot(u, w) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(w, axis=-1))
                # Clipping cannot change a result: cos = ±1 gives 0° / 180°, which the strict
                # range test rejects, as the reference's NaN from arccos(1 + eps) does.
                angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
                lo, hi = rel.angle_range
                out[:, f] = (angle > lo) & (angle < hi)
            elif rel.kind == "fast":
                k = rel.joints[0]
                out[:, f] = np.linalg.norm(cur[:, k] - prev[:, k], axis=-1) / tpf > thr
            elif rel.kind == "nmove":
                j1, j2, j3, j4 = rel.joints
                vel = (cur[:, j4] - cur[:, j1]) - (prev[:, j4] - prev[:, j1])
                normal = np.cross(cur[:, j3] - cur[:, j1], cur[:, j2] - cur[:, j1])
                out[:, f] = _dot(vel, normal) / np.linalg.norm(normal, axis=-1) / tpf > thr
            else:  # move
                j1, j2, j3, j4 = rel.joints
                moving, ref = (j4, j3) if variant.move_uses_j4 else (j3, j1)
                vel = (cur[:, moving] - cur[:, ref]) - (prev[:, moving] - prev[:, ref])
                direction = cur[:, j2] - cur[:, j1]
                out[:, f] = _dot(vel, direction) / np.linalg.norm(direction, axis=-1) / tpf > thr
    return out.mean(axis=0)

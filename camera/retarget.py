"""SMPL / SMPL-X motions as MikuMikuDance bone motion (VMD): retargeting by global rotations, and the
forward kinematics of the written keys that checks it.

What is written
---------------
One key per frame (at :attr:`RetargetConfig.fps`, 30 by default: MMD's timeline is 30 fps) for MMD's
standard bones, named exactly as MMD models name them:

=========================  ==================================  ==========================================
MMD bone (parent)          from the SMPL / SMPL-X joint         notes
=========================  ==================================  ==========================================
センター (none)             root translation                    position only, rotation identity
下半身 (センター)           pelvis                              turns the legs about the waist
上半身 (センター)           spine1 . spine2 (global of spine2)  swung so waist -> chest matches exactly
上半身2 (上半身)            spine3
首 (上半身2), 頭 (首)       neck, head
左足 / ひざ / 足首          left hip, knee, ankle               右...: right_*
左肩 (上半身2)              left collar
左腕 / ひじ / 手首          left shoulder, elbow, wrist         the arm chain carries the A-pose correction
左親指０-２, 人指１-３ ...   left thumb1-3, index1-3 ...         smplx55 only (:attr:`RetargetConfig.fingers`)
=========================  ==================================  ==========================================

MMD's tree: 下半身 and 上半身 are *both* children of センター (so the pelvis's global orientation goes
into both), the legs hang from 下半身, 上半身 -> 上半身2 -> 首 -> 頭, and the shoulders (肩) from 上半身2.
Bones a real model has in between (グルーブ, 腰, 肩P, 腕捩, 手捩) are not keyed: they stay at identity.

The method
----------
Everything is computed in pasdeux's frame (metres, y up, x to the body's left, the body facing +z):

1. SMPL forward kinematics gives every joint's global rotation ``G_j`` and position.
2. An MMD bone takes the global rotation of the SMPL joint that turns the same body segment, corrected
   for the rest-pose difference: ``G_b = G_j . C_b``. The target's rest is taken to be SMPL's T-pose
   except the arms: a standard MMD model stands in an A-pose, its arm chain (腕 and everything below)
   turned down by ``a`` = :attr:`RetargetConfig.arm_rest_angle_deg` about the forward axis, so
   ``C_b = A^-1`` on the arm chain (``A = R_z(-a)`` on the left, ``R_z(+a)`` on the right: the left arm
   points along +x, down is -y) and identity elsewhere. At SMPL's rest pose every bone is therefore
   at identity except 左腕 / 右腕, which lift the A-pose arm to horizontal: a turn by ``+a`` (left) or
   ``-a`` (right) about z.
3. 上半身 spans three SMPL joints (pelvis -> spine1 -> spine2 -> spine3 moves its segment, waist ->
   chest), so ``G_spine2`` alone would point it a few degrees off when the spine bends; it is swung
   by the smallest rotation that takes its rest direction (SMPL's own waist -> spine3) onto the
   posed one. At rest the swing is identity; every other bone is one SMPL segment and needs none.
4. The local key is ``L_b = G_parent^-1 . G_b`` (``G_センター = I``).
5. Into MMD's left-handed frame (raw MMD coordinates are pasdeux's with z negated, ``S = diag(1, 1,
   -1)``): a rotation matrix becomes ``S L S``, whose quaternion is ``(x, y, z, w) -> (-x, -y, z, w)``
   (:func:`z_flip_quaternion`). MMD builds its matrices from quaternions with the usual formula
   (D3DX's row-vector matrix is the transpose of the column-vector one), so the algebra carries over.
   Quaternions are kept on one hemisphere from frame to frame, so interpolation never takes the long
   way round.

The centre: MMD's 下半身 / 上半身 turn about the waist (their bone position), SMPL's pelvis about the
pelvis joint, so センター places the waist (midpoint of pelvis and spine1, where the ``mmd60`` rest has
下半身) where SMPL's posed waist is: ``centre = waist(t) - standing waist`` in MMD units
(:attr:`RetargetConfig.units_per_metre`, z negated). The standing waist is the target's rest waist in
x and z (0, 0: the model's waist goes where the dancer's is in pasdeux's world, so cameras and partners
made in pasdeux's frame still line up) and, in y, the source's waist height when its rest pose stands
on the floor (its lowest foot joint as high above the floor as the ``mmd60`` rest's). So the rest pose
standing at the origin keys センター at 0, whatever the target model's leg length, a crouch moves it
down by the crouch, and with the root still it moves as the root (SMPL ``transl``).

Leg IK
------
A standard model's leg IK bones (左足ＩＫ, 右足ＩＫ, 左つま先ＩＫ, 右つま先ＩＫ) are on by default; their
solver overwrites 足 / ひざ / 足首 every frame to reach the (unkeyed, so standing still) IK targets,
which would pin the feet where the model was loaded and ignore the legs' keys. With
:attr:`RetargetConfig.disable_ik` the file carries an IK key at frame 0 turning all four off, so the
leg rotations written here drive the legs (MMD reads IK on/off keys since version 7.40).

The check
---------
:func:`vmd_forward_kinematics` runs MMD's forward kinematics on the written keys over the ``mmd60`` rest
skeleton (SMPL-X's T-pose mapped to MMD bones, with the A-pose applied to its arms when the angle is not
0), back in pasdeux's frame and metres; the tests compare its bone directions with the SMPL joints'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import roma
import torch

from camera.vmd import BoneKey, IKKey, Vmd, encode_name
from data.camera import MMD_UNIT_M
from data.errors import InputError, check_finite, is_non_negative
from data.motion import Motion, floor_height, resample
from data.skeleton import get_skeleton

VMD_FPS = 30.0
"""MMD's timeline rate: a VMD frame number is a 30th of a second."""
DEFAULT_ARM_REST_ANGLE_DEG = 37.5
"""Standard MMD models (Animasa Miku and most Tda-style ones) stand with arms 35-40 degrees down."""
DEFAULT_MODEL_NAME = "pasdeux"
IK_BONES = ("左足ＩＫ", "右足ＩＫ", "左つま先ＩＫ", "右つま先ＩＫ")
"""The leg and toe IK bones a standard MMD model has (full-width ＩＫ, as MMD names them)."""
CENTRE = "センター"
FLOOR_PERCENTILE = 2.0
"""Percentile of the per-frame lowest foot joint that :attr:`RetargetConfig.floor_height` ``None`` takes
as standing (as :mod:`metrics.skating` finds the floor), robust to a glitchy frame."""


@dataclass(frozen=True)
class RetargetConfig:
    """How a motion becomes VMD bone keys for a target MMD model."""

    arm_rest_angle_deg: float = DEFAULT_ARM_REST_ANGLE_DEG
    """The target model's rest arm angle below horizontal, degrees, in [0, 90): 35-40 for a standard
    MMD model in its A-pose, 0 for a T-pose model."""
    fps: float = VMD_FPS
    """Key rate of the file. MMD plays 30 fps, so a VMD at another rate plays at the wrong speed there;
    the motion is resampled (:func:`data.motion.resample`: slerp for rotations, linear for the root)."""
    model_name: str = DEFAULT_MODEL_NAME
    """The model name in the VMD header (Shift-JIS, at most 20 bytes); MMD only shows it."""
    units_per_metre: float = 1.0 / MMD_UNIT_M
    """MMD units per metre (12.5: MMD models are built at 8 cm a unit)."""
    disable_ik: bool = True
    """Write an IK key at frame 0 turning 左足ＩＫ, 右足ＩＫ, 左つま先ＩＫ, 右つま先ＩＫ off: otherwise the
    model's leg IK overrides the leg rotations written here (see the module's notes)."""
    floor_height: float | None = None
    """The motion's floor (y, metres). ``None``: estimated from the feet (the lowest foot joint in the
    motion's lowest :data:`FLOOR_PERCENTILE` percent of frames is taken as standing)."""
    fingers: bool = True
    """Key the 30 finger bones from an ``smplx55`` motion's finger joints (``smpl24`` has none)."""

    def __post_init__(self) -> None:
        a = self.arm_rest_angle_deg
        if not (is_non_negative(a) and a < 90):
            raise ValueError(f"arm_rest_angle_deg must be a number of degrees in [0, 90), got {a!r}")
        if not (is_non_negative(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps!r}")
        if not (is_non_negative(self.units_per_metre) and self.units_per_metre > 0):
            raise ValueError(f"units_per_metre must be a positive number, got {self.units_per_metre!r}")
        if not isinstance(self.model_name, str):
            raise ValueError(f"model_name must be a string, got {self.model_name!r}")
        encode_name(self.model_name, 20)  # ValueError: not Shift-JIS or over 20 bytes
        if self.floor_height is not None and not (isinstance(self.floor_height, (int, float))
                                                  and not isinstance(self.floor_height, bool)
                                                  and math.isfinite(self.floor_height)):
            raise ValueError(f"floor_height must be a finite number of metres or None, got {self.floor_height!r}")
        for name in ("disable_ik", "fingers"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")


class _Bone(NamedTuple):
    name: str
    parent: str
    joint: str
    """The SMPL / SMPL-X joint whose global rotation the bone takes."""
    side: str | None
    """``left`` / ``right`` for the arm chain (the A-pose correction), else ``None``."""


def _side_bones(s: str, side: str) -> list[_Bone]:
    return [
        _Bone(f"{s}足", "下半身", f"{side}_hip", None),
        _Bone(f"{s}ひざ", f"{s}足", f"{side}_knee", None),
        _Bone(f"{s}足首", f"{s}ひざ", f"{side}_ankle", None),
        _Bone(f"{s}肩", "上半身2", f"{side}_collar", None),
        _Bone(f"{s}腕", f"{s}肩", f"{side}_shoulder", side),
        _Bone(f"{s}ひじ", f"{s}腕", f"{side}_elbow", side),
        _Bone(f"{s}手首", f"{s}ひじ", f"{side}_wrist", side),
    ]


def _finger_bones(s: str, side: str) -> list[_Bone]:
    out = []
    for mmd, smplx, digits in (("親指", "thumb", "０１２"), ("人指", "index", "１２３"), ("中指", "middle", "１２３"),
                               ("薬指", "ring", "１２３"), ("小指", "pinky", "１２３")):
        parent = f"{s}手首"
        for k, d in enumerate(digits):
            name = f"{s}{mmd}{d}"
            out.append(_Bone(name, parent, f"{side}_{smplx}{k + 1}", side))
            parent = name
    return out


BODY_BONES: tuple[_Bone, ...] = (
    _Bone("下半身", CENTRE, "pelvis", None),
    _Bone("上半身", CENTRE, "spine2", None),
    _Bone("上半身2", "上半身", "spine3", None),
    _Bone("首", "上半身2", "neck", None),
    _Bone("頭", "首", "head", None),
    *_side_bones("左", "left"),
    *_side_bones("右", "right"),
)
"""The body bones keyed, parents first: (MMD name, MMD parent, SMPL joint, arm side)."""
FINGER_BONES: tuple[_Bone, ...] = (*_finger_bones("左", "left"), *_finger_bones("右", "right"))
"""The 30 finger bones keyed from an ``smplx55`` motion (MMD's 親指０-２ are SMPL-X's thumb1-3)."""

_WAIST = (("pelvis", 0.5), ("spine1", 0.5))  # where MMD's 下半身 / 上半身 start (data.datasets.dcm.SMPLX_TO_MMD)
_FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")
_MMD_FOOT_BONES = ("左足首", "右足首", "左つま先", "右つま先")


# --------------------------------------------------------------------------------------------------
# Frames and rotations
# --------------------------------------------------------------------------------------------------
def z_flip_quaternion(q: np.ndarray) -> np.ndarray:
    """A rotation's quaternion ``(..., 4)`` ``(x, y, z, w)`` in pasdeux's right-handed frame -> the same
    rotation in MMD's left-handed frame (z negated), and back (its own inverse): ``(-x, -y, z, w)``.
    Its matrix is ``S R S`` with ``S = diag(1, 1, -1)``: a reflection turns the axis to ``-S axis``."""
    return np.asarray(q, dtype=np.float64) * np.array([-1.0, -1.0, 1.0, 1.0])


def arm_rest_rotation(side: str, angle_deg: float) -> np.ndarray:
    """(3, 3) the A-pose turn of the ``left`` / ``right`` arm chain about the forward axis (z; the same
    matrix in MMD's frame): the T-pose arm (+x left, -x right) goes ``angle_deg`` below horizontal."""
    sign = {"left": -1.0, "right": 1.0}[side]
    a = math.radians(angle_deg) * sign
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) the smallest rotation taking unit vectors ``a`` onto ``b`` (..., 3) (never opposite
    here: the swing is a few degrees)."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)[..., None, None]
    K = np.zeros(v.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return np.eye(3) + K + K @ K / np.maximum(1.0 + c, 1e-12)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Quaternions (T, B, 4) on one hemisphere frame to frame (first frame with w >= 0)."""
    q = q.copy()
    q[0] *= np.where(q[0, :, 3:] < 0, -1.0, 1.0)
    if len(q) > 1:
        flips = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0, -1.0, 1.0)  # relative to the unflipped previous
        q[1:] *= np.cumprod(flips, axis=0)[..., None]
    return q


# --------------------------------------------------------------------------------------------------
# The MMD rest skeleton
# --------------------------------------------------------------------------------------------------
def mmd_parents() -> dict[str, str | None]:
    """MMD's tree over the ``mmd60`` bones plus センター: 下半身 and 上半身 hang from センター (``mmd60``'s
    own tree hangs 上半身 from 下半身, for drawing); the rest as ``mmd60``."""
    sk = get_skeleton("mmd60")
    parents: dict[str, str | None] = {CENTRE: None}
    for name, p in zip(sk.joint_names, sk.parents):
        parents[name] = sk.joint_names[p] if p >= 0 else CENTRE
    parents["上半身"] = CENTRE
    return parents


def _descendants(parents: dict[str, str | None], root: str) -> list[str]:
    out = [root]
    for name, p in parents.items():  # parents precede children
        if p in out:
            out.append(name)
    return out


def mmd_rest_positions(arm_rest_angle_deg: float = 0.0, rest: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The target's rest bone positions (metres, pasdeux's frame): the ``mmd60`` rest (or ``rest``,
    (60, 3) in its order), arm chains turned down by ``arm_rest_angle_deg`` about 腕, and センター at the
    waist (it is only ever translated, so where it sits does not matter)."""
    sk = get_skeleton("mmd60")
    pos = sk.rest_joints() if rest is None else np.asarray(rest, dtype=np.float64)
    if pos.shape != (sk.num_joints, 3):
        raise ValueError(f"rest positions have shape {pos.shape}, expected ({sk.num_joints}, 3)")
    out = {CENTRE: pos[0].copy(), **{name: pos[j].copy() for j, name in enumerate(sk.joint_names)}}
    parents = mmd_parents()
    for s, side in (("左", "left"), ("右", "right")):
        A = arm_rest_rotation(side, arm_rest_angle_deg)
        pivot = out[f"{s}腕"].copy()
        for name in _descendants(parents, f"{s}腕"):
            out[name] = pivot + A @ (out[name] - pivot)
    return out


# --------------------------------------------------------------------------------------------------
# Retargeting
# --------------------------------------------------------------------------------------------------
def _source_fk(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    from data.fk import forward_kinematics

    sk = get_skeleton(motion.skeleton)
    with torch.no_grad():
        P, G = forward_kinematics(sk, torch.as_tensor(motion.rotations, dtype=torch.float64),
                                  torch.as_tensor(motion.root, dtype=torch.float64), return_global_rotations=True)
    return P.numpy(), G.numpy()


def _foot_clearance() -> float:
    """How high the MMD rest skeleton's lowest foot bone is above its floor (y = 0)."""
    return float(min(mmd_rest_positions()[n][1] for n in _MMD_FOOT_BONES))


def floor_plane(motion: Motion, config: RetargetConfig | None = None, positions: np.ndarray | None = None) -> float:
    """The height (metres, the motion's frame) that becomes MMD's floor: ``config.floor_height`` when
    set, else estimated from the feet (their low percentile, less the MMD rest feet's clearance).
    Whatever else is placed beside the dance in MMD (the camera) subtracts the same height."""
    config = config or RetargetConfig()
    if config.floor_height is not None:
        return float(config.floor_height)
    sk = get_skeleton(motion.skeleton)
    P = motion.joints if positions is None else positions
    return floor_height(P[:, [sk.index(j) for j in _FOOT_JOINTS]], FLOOR_PERCENTILE) - _foot_clearance()


def retarget_bones(motion: Motion, config: RetargetConfig | None = None
                   ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The keyed bones' names, their local rotations ``(T, B, 3, 3)`` in pasdeux's frame and センター's
    position ``(T, 3)`` in metres, pasdeux's frame, at the motion's own frame rate (what
    :func:`motion_to_vmd` writes after the z flip). ``motion``: smpl24 / smplx55 with rotations."""
    config = config or RetargetConfig()
    sk = get_skeleton(motion.skeleton)
    P, G = _source_fk(motion)  # (T, J, 3), (T, J, 3, 3)
    rest = sk.rest_joints()
    point = lambda x, weights: sum(w * x[..., sk.index(j), :] for j, w in weights)  # noqa: E731

    bones = list(BODY_BONES)
    if config.fingers and motion.skeleton == "smplx55":
        bones += FINGER_BONES
    T = motion.num_frames
    glob: dict[str, np.ndarray] = {CENTRE: np.broadcast_to(np.eye(3), (T, 3, 3))}
    for b in bones:
        g = G[:, sk.index(b.joint)]
        if b.side is not None:
            g = g @ arm_rest_rotation(b.side, config.arm_rest_angle_deg).T  # G_j . A^-1
        if b.name == "上半身":  # waist -> chest spans pelvis, spine1 and spine2: swing it onto the posed chest
            v_rest = _unit(point(rest, (("spine3", 1.0),)) - point(rest, _WAIST))
            d = _unit(P[:, sk.index("spine3")] - point(P, _WAIST))
            g = _align(_unit(g @ v_rest), d) @ g
        glob[b.name] = g
    local = np.stack([np.swapaxes(glob[b.parent], -1, -2) @ glob[b.name] for b in bones], axis=1)

    # Centre: the posed waist against the standing one (rest x, z; rest height above the floor).
    feet = [sk.index(j) for j in _FOOT_JOINTS]
    clearance = _foot_clearance()
    floor = floor_plane(motion, config, P)
    standing = mmd_rest_positions()["下半身"].copy()  # the target's waist: x = z = 0 ...
    standing[1] = floor + (point(rest, _WAIST)[1] - rest[feet, 1].min()) + clearance  # ... at the source's standing height
    centre = point(P, _WAIST) - standing
    return [b.name for b in bones], local, centre


def motion_to_vmd(motion: Motion, config: RetargetConfig | None = None, source=None) -> Vmd:
    """An smpl24 / smplx55 motion with rotations as VMD bone keys for a standard MMD model, one key per
    frame per bone at ``config.fps`` (see the module's notes), plus the IK-off key when
    ``config.disable_ik``. ``source`` names the file in errors (default: the motion's name).

    Raises :class:`InputError` for a positions-only motion (mmd60, or no rotations), an empty one, or NaN.
    """
    config = config or RetargetConfig()
    where = source if source is not None else (motion.name or None)
    fix = "give an smpl24 or smplx55 motion with joint rotations (an npz from `cli.py dance`, an AIST++ pkl, BVH)"
    if motion.skeleton not in ("smpl24", "smplx55"):
        raise InputError(where, f"a {motion.skeleton} motion holds positions only; VMD bone keys need joint "
                                "rotations", fix)
    if motion.rotations is None or motion.root is None:
        raise InputError(where, "positions-only motion; VMD bone keys need joint rotations", fix)
    if motion.num_frames == 0:
        raise InputError(where, "the motion has no frames", "give a motion with at least one frame")
    check_finite(motion.rotations, where, "rotations")
    check_finite(motion.root, where, "root translation")
    m = resample(motion, config.fps)
    names, local, centre = retarget_bones(m, config)

    # Into MMD's frame: S L S, i.e. quaternion (x, y, z, w) -> (-x, -y, z, w); positions z negated, in units.
    q = roma.rotmat_to_unitquat(torch.as_tensor(local)).numpy()  # (T, B, 4) xyzw
    q = _continuous(z_flip_quaternion(q))
    pos = centre * np.array([1.0, 1.0, -1.0]) * config.units_per_metre
    keys = []
    for t in range(m.num_frames):
        keys.append(BoneKey(CENTRE, t, tuple(map(float, pos[t]))))
        keys.extend(BoneKey(name, t, rotation=tuple(map(float, q[t, i]))) for i, name in enumerate(names))
    ik = [IKKey(0, True, {name: False for name in IK_BONES})] if config.disable_ik else []
    return Vmd(model_name=config.model_name, bones=keys, ik=ik)


# --------------------------------------------------------------------------------------------------
# The check: MMD's forward kinematics of the keys
# --------------------------------------------------------------------------------------------------
def vmd_forward_kinematics(vmd: Vmd, config: RetargetConfig | None = None, rest: np.ndarray | None = None,
                           return_rotations: bool = False):
    """World positions of the MMD bones (``mmd60``'s 60 plus センター) moved by ``vmd``'s bone keys, as MMD
    poses a model: bone ``b`` at ``p_parent + R_parent (rest_b - rest_parent + key position)``, turned
    ``R_b = R_parent . key rotation``, over :func:`mmd_parents`' tree and the rest of
    :func:`mmd_rest_positions` (``rest``: the T-pose positions, default ``mmd60``'s, with
    ``config.arm_rest_angle_deg`` applied). Keys are read in MMD's frame and units and the result is in
    pasdeux's (metres, z negated back): ``{bone: (T, 3)}`` at the keyed frames in order, and with
    ``return_rotations`` also ``{bone: (T, 3, 3)}`` global rotations. Unkeyed bones stay at rest; a
    bone keyed at only some of the frames is an error (this evaluates keys, not interpolation)."""
    config = config or RetargetConfig()
    rest_pos = mmd_rest_positions(config.arm_rest_angle_deg, rest)
    parents = mmd_parents()
    frames = sorted({k.frame for k in vmd.bones})
    T, at = len(frames), {f: i for i, f in enumerate(frames)}
    rot: dict[str, np.ndarray] = {}
    trans: dict[str, np.ndarray] = {}
    seen: dict[str, set] = {}
    for k in vmd.bones:
        if k.name not in parents:
            continue  # a bone the mmd60 rest does not have (IK, グルーブ, ...)
        if k.name not in rot:
            rot[k.name] = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (T, 1))
            trans[k.name] = np.zeros((T, 3))
            seen[k.name] = set()
        i = at[k.frame]
        rot[k.name][i] = k.rotation
        trans[k.name][i] = k.position
        seen[k.name].add(k.frame)
    for name, got in seen.items():
        if len(got) != T:
            raise ValueError(f"bone {name} has keys at {len(got)} of the {T} keyed frames")
    pos_out: dict[str, np.ndarray] = {}
    rot_out: dict[str, np.ndarray] = {}
    for name, parent in parents.items():
        if name in rot:
            q = z_flip_quaternion(rot[name])  # MMD frame -> pasdeux's
            L = roma.unitquat_to_rotmat(torch.as_tensor(q / np.linalg.norm(q, axis=-1, keepdims=True))).numpy()
            t = trans[name] * np.array([1.0, 1.0, -1.0]) / config.units_per_metre
        else:
            L, t = np.broadcast_to(np.eye(3), (T, 3, 3)), np.zeros((T, 3))
        if parent is None:
            pos_out[name] = rest_pos[name] + t
            rot_out[name] = L
        else:
            Rp = rot_out[parent]
            offset = rest_pos[name] - rest_pos[parent] + t
            pos_out[name] = pos_out[parent] + (Rp @ offset[..., None])[..., 0]
            rot_out[name] = Rp @ L
    return (pos_out, rot_out) if return_rotations else pos_out


__all__ = ["RetargetConfig", "motion_to_vmd", "retarget_bones", "vmd_forward_kinematics", "mmd_rest_positions",
           "mmd_parents", "arm_rest_rotation", "z_flip_quaternion", "BODY_BONES", "FINGER_BONES", "IK_BONES",
           "VMD_FPS", "DEFAULT_ARM_REST_ANGLE_DEG"]

"""Synthetic solo dances on a song's ground-truth beats: SMPL-24 (60 fps) or SMPL-X 55 joints.

How a dance is made:

1. **Moves in beat time.** Each genre (:data:`VOCABULARIES`) has its own vocabulary of moves lasting
   1, 2 or 4 beats. A move is a few key poses at beat offsets (rarely a half beat) written in a
   small set of anatomical degrees of freedom (:data:`DOF_NAMES`: arm raise / forward swing / elbow
   flex, hip flex / abduction, knee, spine bend / twist, head, hand curl, root travel, turn, jump
   height), as offsets from the genre's stance.
2. **A genre Markov chain** (:func:`transition_matrix`) chains moves bar by bar; 4-beat moves start on
   downbeats, 2-beat moves on beats 1 or 3. Each move's intensity is matched to the section energy, so
   quiet sections get small moves; a repeated move switches sides. Choreographies are ``"advanced"``
   (AIST++ sFM: the chain runs freely over the song) or ``"basic"`` (sBM: one 2-bar phrase drawn from
   the chain, repeated).
3. **Keys on beats.** Key poses are placed at the music's beat times (plus the dancer's timing jitter
   and lag) and joined with minimum-jerk interpolation, so every degree of freedom has zero velocity
   at a key: the joint-speed envelope has its minima (kinematic beats) on the music beats. A 2-beat
   weight-shift sway keeps consecutive keys apart even when a pose repeats.
4. **Amplitude follows energy:** pose offsets from the stance scale with the section energy at the
   key and the dancer's amplitude; joint angles are clipped to human ranges (:data:`DOF_LIMITS`).
5. **Dancer style** (:class:`DancerStyle`): amplitude, timing jitter (s), a constant lag, sway depth
   and a per-joint posture bias (small rotations composed onto the local joint rotations).
6. **Rendering** (:func:`render_dofs`): degrees of freedom -> local axis-angle rotations and root
   translation; the root is lifted per frame so the lowest foot joint (ankles / toes, after forward
   kinematics on the built-in skeleton) stays on the floor ``y = 0``, plus the jump height. Rotations
   and root are rounded to float32, as AIST++ pickles store them, so FK of a written file reproduces
   :attr:`DanceTruth.joints` exactly.

For ``smplx55`` the body is the same (SMPL-X joints 0..21 are SMPL's), the jaw opens a little with
energy, the eyes counter-rotate against head turns and the fingers curl with the moves' hand shapes.

Public API: :func:`generate_dance`, :class:`DanceTruth`, :class:`DancerStyle`, :class:`Move`,
:data:`VOCABULARIES`, :func:`vocabulary`, :func:`transition_matrix`, :data:`DOF_NAMES`,
:func:`mirror_dofs`, :func:`render_dofs` (also what the duet generator uses to build followers).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from data.fk import forward_kinematics_np
from data.motion import Motion
from data.skeleton import get_skeleton
from data.synth.music import GENRES, SongTruth

SKELETON_JOINTS = {"smpl24": 24, "smplx55": 55}
FOOT_JOINTS = (7, 8, 10, 11)  # ankles and toes, same indices in smpl24 and smplx55
CHOREOGRAPHIES = ("basic", "advanced")
BASIC_PHRASE_BEATS = 8  # sBM: a 2-bar phrase, repeated

# --------------------------------------------------------------------------------------------------
# Degrees of freedom
# --------------------------------------------------------------------------------------------------
DOF_NAMES: tuple[str, ...] = (
    "turn", "root_yaw", "root_pitch", "root_roll",  # degrees; turn = heading change within a move
    "tx", "tz", "air",  # metres: travel (dancer's left / forward) from the move's start; jump height
    "spine_bend", "spine_twist", "spine_side",
    "head_nod", "head_turn", "head_tilt",
    "l_sh_raise", "l_sh_fwd", "l_sh_twist", "l_elbow", "l_wrist", "l_collar",
    "r_sh_raise", "r_sh_fwd", "r_sh_twist", "r_elbow", "r_wrist", "r_collar",
    "l_hip_flex", "l_hip_abd", "l_hip_rot", "l_knee", "l_ankle",
    "r_hip_flex", "r_hip_abd", "r_hip_rot", "r_knee", "r_ankle",
    "l_hand", "r_hand",  # finger curl, 0 open .. 1 fist
    "jaw",  # 0 closed .. 1 open
)
DOF_INDEX = {n: i for i, n in enumerate(DOF_NAMES)}
D = len(DOF_NAMES)
# Mirroring (left <-> right across the body's sagittal plane) negates these; l_/r_ pairs swap.
_MIRROR_NEGATE = ("turn", "root_yaw", "root_roll", "tx", "spine_twist", "spine_side", "head_turn", "head_tilt")
# DOFs that are not joint angles: they are not scaled by energy like the angles are.
_NOT_SCALED = ("turn", "tx", "tz", "air", "l_hand", "r_hand", "jaw")
_SCALED = np.array([n not in _NOT_SCALED for n in DOF_NAMES])

# Human ranges (degrees, or the DOF's unit), applied after scaling.
DOF_LIMITS: dict[str, tuple[float, float]] = {
    "root_pitch": (-30, 60), "root_roll": (-25, 25), "root_yaw": (-60, 60),
    "spine_bend": (-30, 60), "spine_twist": (-50, 50), "spine_side": (-35, 35),
    "head_nod": (-40, 45), "head_turn": (-70, 70), "head_tilt": (-30, 30),
    "sh_raise": (0, 178), "sh_fwd": (-60, 130), "sh_twist": (-80, 80), "elbow": (0, 145),
    "wrist": (-60, 60), "collar": (-10, 25),
    "hip_flex": (-35, 120), "hip_abd": (-20, 70), "hip_rot": (-40, 50), "knee": (0, 140),
    "ankle": (-30, 50), "hand": (0, 1), "jaw": (0, 1), "air": (0, 0.6),
}

# The stance every genre starts from (degrees), before the genre's own posture.
BASE_STANCE: dict[str, float] = {
    "l_sh_raise": 12, "r_sh_raise": 12, "l_elbow": 15, "r_elbow": 15, "l_sh_fwd": 5, "r_sh_fwd": 5,
    "l_knee": 10, "r_knee": 10, "l_hip_flex": 6, "r_hip_flex": 6, "l_hand": 0.3, "r_hand": 0.3,
}


def _limits_arrays() -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(D, -np.inf)
    hi = np.full(D, np.inf)
    for i, name in enumerate(DOF_NAMES):
        key = name[2:] if name[:2] in ("l_", "r_") else name
        if key in DOF_LIMITS:
            lo[i], hi[i] = DOF_LIMITS[key]
    return lo, hi


_LO, _HI = _limits_arrays()


def pose_vector(values: dict[str, float]) -> np.ndarray:
    """A (D,) DOF vector from ``{name: value}`` (unnamed DOFs are 0)."""
    v = np.zeros(D)
    for k, x in values.items():
        if k not in DOF_INDEX:
            raise KeyError(f"unknown degree of freedom {k!r}")
        v[DOF_INDEX[k]] = x
    return v


_MIRROR_PERM = np.array([DOF_INDEX["r_" + n[2:]] if n.startswith("l_") else
                         DOF_INDEX["l_" + n[2:]] if n.startswith("r_") else i
                         for i, n in enumerate(DOF_NAMES)])
_MIRROR_SIGN = np.array([-1.0 if n in _MIRROR_NEGATE else 1.0 for n in DOF_NAMES])


def mirror_dofs(dofs: np.ndarray) -> np.ndarray:
    """Mirror DOF vectors (..., D) left <-> right (a mirror-image dancer)."""
    return dofs[..., _MIRROR_PERM] * _MIRROR_SIGN


# --------------------------------------------------------------------------------------------------
# Moves and vocabularies
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """A move: key poses (offsets from the stance) at beat offsets within ``beats`` beats."""

    name: str
    beats: int
    keys: tuple[tuple[float, dict[str, float]], ...]
    """(beat offset in [0, beats), {dof: offset}). ``tx``/``tz``/``turn`` are measured from the move's
    start; their values at the last key are where the dancer ends up (travel, net turn)."""
    intensity: float
    """0 (calm) .. 1 (explosive): matched against the section energy when choosing moves."""

    def key_vectors(self, side: int = 1) -> list[tuple[float, np.ndarray]]:
        """Keys as DOF vectors; ``side=-1`` gives the mirror-image move."""
        out = []
        for t, values in self.keys:
            v = pose_vector(values)
            out.append((t, mirror_dofs(v) if side < 0 else v))
        return out

    @property
    def travel(self) -> tuple[float, float, float]:
        """(tx, tz, turn) at the last key: how far the move carries the dancer."""
        last = self.keys[-1][1]
        return last.get("tx", 0.0), last.get("tz", 0.0), last.get("turn", 0.0)


def _both(**kw: float) -> dict[str, float]:
    """``_both(sh_raise=90)`` -> ``{"l_sh_raise": 90, "r_sh_raise": 90}``."""
    out: dict[str, float] = {}
    for k, v in kw.items():
        out["l_" + k] = v
        out["r_" + k] = v
    return out


def _k(t: float, *parts: dict[str, float], **kw: float) -> tuple[float, dict[str, float]]:
    d: dict[str, float] = {}
    for p in parts:
        d.update(p)
    d.update(kw)
    return (float(t), d)


def _m(name: str, beats: int, intensity: float, *keys: tuple[float, dict[str, float]]) -> Move:
    return Move(name=name, beats=beats, keys=tuple(keys), intensity=intensity)


# Posture of each genre (offsets from BASE_STANCE, degrees): the "look" of its stance.
GENRE_STANCE: dict[str, dict[str, float]] = {
    "BR": {"spine_bend": 12, "l_knee": 20, "r_knee": 20, "l_hip_flex": 15, "r_hip_flex": 15, "l_elbow": 30,
           "r_elbow": 30, "l_hip_abd": 6, "r_hip_abd": 6},
    "PO": {"l_elbow": 10, "r_elbow": 10, "l_hand": 0.2, "r_hand": 0.2},
    "LO": {"l_knee": 18, "r_knee": 18, "l_hip_flex": 12, "r_hip_flex": 12, "l_elbow": 40, "r_elbow": 40,
           "l_hand": 0.6, "r_hand": 0.6},
    "MH": {"l_knee": 16, "r_knee": 16, "l_hip_flex": 10, "r_hip_flex": 10, "spine_bend": 6, "head_nod": 5},
    "LH": {"l_knee": 14, "r_knee": 14, "l_hip_flex": 8, "r_hip_flex": 8, "spine_bend": 4, "l_hip_abd": 5,
           "r_hip_abd": 5},
    "HO": {"l_knee": 18, "r_knee": 18, "l_hip_flex": 10, "r_hip_flex": 10, "spine_bend": 8, "l_elbow": 35,
           "r_elbow": 35},
    "WA": {"l_sh_raise": 30, "r_sh_raise": 30, "l_elbow": 50, "r_elbow": 50, "l_hand": 0.1, "r_hand": 0.1},
    "KR": {"spine_bend": 20, "l_knee": 30, "r_knee": 30, "l_hip_flex": 25, "r_hip_flex": 25, "l_hip_abd": 12,
           "r_hip_abd": 12, "l_elbow": 60, "r_elbow": 60, "l_sh_raise": 30, "r_sh_raise": 30,
           "l_hand": 0.9, "r_hand": 0.9},
    "JS": {"l_hip_rot": 8, "r_hip_rot": 8, "spine_bend": -4, "l_hand": 0.15, "r_hand": 0.15},
    "JB": {"l_hip_rot": 25, "r_hip_rot": 25, "l_sh_raise": 25, "r_sh_raise": 25, "l_sh_fwd": 25,
           "r_sh_fwd": 25, "l_elbow": 30, "r_elbow": 30, "spine_bend": -5, "head_nod": -5, "l_hand": 0.1,
           "r_hand": 0.1, "l_knee": -5, "r_knee": -5},
}

_ARM_UP = _both(sh_raise=165, elbow=5)
_CLAP = _both(sh_raise=70, sh_fwd=85, elbow=30)

VOCABULARIES: dict[str, tuple[Move, ...]] = {
    "BR": (
        _m("toprock_cross", 2, 0.6,
           _k(0, l_hip_flex=25, l_hip_abd=-15, l_knee=30, tx=0.05, l_sh_raise=70, r_sh_raise=70, l_elbow=60,
              r_elbow=60, spine_twist=-15),
           _k(1, r_hip_flex=20, r_knee=25, r_hip_abd=20, tx=0.0, l_sh_raise=40, r_sh_raise=95, r_elbow=20,
              spine_twist=15)),
        _m("indian_step", 2, 0.5,
           _k(0, l_hip_flex=50, l_knee=60, tz=0.12, l_sh_raise=50, l_sh_fwd=60, l_elbow=80, spine_bend=10),
           _k(1, r_hip_flex=10, r_knee=20, tz=0.0, r_sh_raise=50, r_sh_fwd=60, r_elbow=80, spine_bend=0)),
        _m("kick_out", 1, 0.75,
           _k(0, l_hip_flex=80, l_knee=10, l_ankle=20, r_knee=25, spine_bend=-10, r_sh_raise=110, l_sh_raise=50)),
        _m("shuffle_side", 2, 0.55,
           _k(0, tx=0.15, l_hip_abd=20, r_knee=30, l_sh_raise=80, r_sh_raise=30, spine_side=-8),
           _k(1, tx=0.3, r_hip_abd=15, l_knee=25, l_sh_raise=40, r_sh_raise=60, spine_side=8)),
        _m("drop_squat", 2, 0.85,
           _k(0, l_knee=110, r_knee=110, l_hip_flex=95, r_hip_flex=95, spine_bend=25, l_sh_raise=60,
              l_sh_fwd=70, r_sh_raise=20),
           _k(1, l_knee=-5, r_knee=-5, l_hip_flex=-5, r_hip_flex=-5, l_sh_raise=150, r_sh_raise=40,
              spine_bend=-10, head_nod=-15)),
        _m("arm_swing", 1, 0.4,
           _k(0, l_sh_fwd=70, l_sh_raise=60, r_sh_fwd=-30, r_sh_raise=40, spine_twist=20, head_turn=15)),
        _m("freeze", 1, 0.9,
           _k(0, r_sh_raise=170, r_elbow=0, l_hip_flex=90, l_knee=90, r_knee=35, spine_side=-15, head_tilt=10,
              r_hand=0.9)),
        _m("spin", 4, 0.8,
           _k(0, turn=90, l_sh_raise=80, r_sh_raise=80, l_elbow=70, r_elbow=70, l_knee=30),
           _k(1, turn=180, l_sh_raise=60, r_sh_raise=60, r_knee=30),
           _k(2, turn=270, l_sh_raise=80, r_sh_raise=80, l_knee=30),
           _k(3, turn=360, l_sh_raise=40, r_sh_raise=40, spine_bend=10)),
    ),
    "PO": (
        _m("chest_hit", 1, 0.5,
           _k(0, spine_bend=-12, l_collar=12, r_collar=12, l_elbow=40, r_elbow=40, head_nod=-8, l_hand=0.9,
              r_hand=0.9)),
        _m("arm_wave", 4, 0.6,
           _k(0, l_sh_raise=90, l_wrist=40, r_sh_raise=90, r_elbow=30),
           _k(1, l_sh_raise=100, l_elbow=35, l_wrist=-30, r_sh_raise=85, head_tilt=8),
           _k(2, l_sh_raise=85, l_collar=15, r_collar=15, r_sh_raise=95, r_elbow=35, spine_side=8),
           _k(3, r_sh_raise=100, r_wrist=40, r_elbow=10, l_sh_raise=80, head_tilt=-8)),
        _m("robot_arm", 2, 0.45,
           _k(0, l_sh_raise=90, l_elbow=90, r_sh_raise=20, head_turn=30),
           _k(1, r_sh_raise=90, r_elbow=90, l_sh_raise=20, l_elbow=90, head_turn=-30)),
        _m("neck_slide", 2, 0.3,
           _k(0, head_turn=25, head_tilt=10, l_sh_raise=60, l_sh_fwd=80, l_elbow=110, l_wrist=30),
           _k(1, head_turn=-25, head_tilt=-10, r_sh_raise=60, r_sh_fwd=80, r_elbow=110)),
        _m("tut", 2, 0.55,
           _k(0, l_sh_raise=90, l_elbow=90, r_sh_raise=90, r_sh_fwd=90, r_elbow=90, spine_twist=10),
           _k(1, l_sh_raise=90, l_sh_fwd=90, l_elbow=90, r_sh_raise=160, r_elbow=90, spine_twist=-10)),
        _m("hit_hit", 2, 0.8,
           _k(0, spine_bend=-15, l_knee=30, r_knee=30, **_both(sh_raise=40, elbow=70, collar=10)),
           _k(0.5, spine_bend=5, l_knee=5, r_knee=5, **_both(sh_raise=30, elbow=40)),
           _k(1, spine_bend=-15, r_hip_flex=30, r_knee=45, **_both(sh_raise=60, elbow=90, collar=15))),
        _m("dime_stop", 1, 0.65,
           _k(0, tx=0.2, l_hip_abd=25, r_knee=25, l_sh_raise=90, r_sh_raise=60, r_sh_fwd=80, head_turn=40)),
        _m("twist_flex", 2, 0.7,
           _k(0, root_yaw=30, spine_twist=-25, l_knee=40, r_knee=15, l_hip_rot=20, l_sh_raise=70, r_elbow=60),
           _k(1, root_yaw=-30, spine_twist=25, r_knee=40, l_knee=15, r_hip_rot=20, r_sh_raise=70, l_elbow=60)),
    ),
    "LO": (
        _m("lock", 1, 0.6,
           _k(0, _both(sh_raise=55, sh_fwd=40, elbow=120, collar=15, hand=1.0), spine_bend=15, l_knee=35,
              r_knee=35, head_nod=10)),
        _m("point", 1, 0.65,
           _k(0, r_sh_raise=110, r_sh_fwd=60, r_elbow=0, r_hand=0.7, l_sh_raise=30, l_elbow=90, l_hand=1.0,
              head_turn=-20, spine_twist=-12)),
        _m("wrist_roll", 2, 0.4,
           _k(0, _both(sh_raise=60, sh_fwd=60, elbow=100), l_wrist=40, r_wrist=-40, l_sh_twist=30),
           _k(1, _both(sh_raise=70, sh_fwd=50, elbow=80), l_wrist=-40, r_wrist=40, r_sh_twist=30)),
        _m("skeeter_rabbit", 2, 0.85,
           _k(0, l_hip_flex=60, l_knee=20, r_knee=35, air=0.08, l_sh_raise=40, r_sh_raise=40, spine_bend=-5),
           _k(1, r_hip_flex=60, r_knee=20, l_knee=35, air=0.08, l_sh_raise=45, r_sh_raise=45)),
        _m("scoobot", 2, 0.75,
           _k(0, l_hip_flex=70, l_knee=5, l_sh_raise=100, l_sh_fwd=40, r_sh_raise=20, r_elbow=100),
           _k(1, l_hip_flex=10, l_knee=30, l_sh_raise=30, r_sh_raise=20, spine_bend=20)),
        _m("up_lock", 1, 0.7,
           _k(0, _ARM_UP, _both(hand=0.8), spine_bend=-10, head_nod=-15, l_knee=-5, r_knee=-5)),
        _m("stop_and_go", 2, 0.5,
           _k(0, spine_bend=30, **_both(sh_raise=30, sh_fwd=60, elbow=20), l_knee=40, r_knee=40, l_hip_flex=40,
              r_hip_flex=40),
           _k(1, spine_bend=-5, **_both(sh_raise=80, elbow=90), head_nod=-10)),
        _m("clap", 1, 0.45, _k(0, _CLAP, l_hand=0.0, r_hand=0.0, spine_bend=10, head_nod=10)),
    ),
    "MH": (
        _m("bounce_rock", 2, 0.35,
           _k(0, spine_bend=15, l_knee=30, r_knee=30, l_hip_flex=20, r_hip_flex=20, head_nod=15,
              **_both(sh_raise=25, elbow=50)),
           _k(1, spine_bend=-8, l_knee=5, r_knee=5, head_nod=-10, **_both(sh_raise=20, elbow=30))),
        _m("running_man", 2, 0.8,
           _k(0, l_hip_flex=75, l_knee=85, r_knee=20, tz=0.1, r_sh_fwd=60, l_sh_fwd=-30, l_elbow=80,
              r_elbow=80),
           _k(1, r_hip_flex=75, r_knee=85, l_knee=20, tz=0.0, l_sh_fwd=60, r_sh_fwd=-30, l_elbow=80,
              r_elbow=80)),
        _m("cabbage_patch", 4, 0.55,
           _k(0, _both(sh_raise=70, sh_fwd=70, elbow=100), spine_twist=20, root_yaw=10),
           _k(1, _both(sh_raise=90, sh_fwd=40, elbow=90), spine_side=10),
           _k(2, _both(sh_raise=70, sh_fwd=70, elbow=100), spine_twist=-20, root_yaw=-10),
           _k(3, _both(sh_raise=50, sh_fwd=90, elbow=110), spine_side=-10)),
        _m("shoulder_lean", 2, 0.45,
           _k(0, spine_side=-15, l_collar=20, r_collar=-5, tx=0.08, l_knee=25, head_tilt=-10),
           _k(1, spine_side=15, r_collar=20, l_collar=-5, tx=0.0, r_knee=25, head_tilt=10)),
        _m("the_wop", 2, 0.6,
           _k(0, root_yaw=25, spine_twist=20, **_both(sh_raise=40, elbow=90), l_knee=35, head_turn=-20),
           _k(1, root_yaw=-25, spine_twist=-20, **_both(sh_raise=40, elbow=90), r_knee=35, head_turn=20)),
        _m("step_touch", 2, 0.3,
           _k(0, tx=0.18, r_hip_abd=12, r_knee=20, l_sh_raise=30, r_sh_raise=30, l_elbow=70, r_elbow=70),
           _k(1, tx=0.18, l_hip_abd=8, spine_bend=8, head_nod=10)),
        _m("arm_pump", 1, 0.7,
           _k(0, r_sh_raise=150, r_elbow=40, r_hand=1.0, l_sh_raise=40, l_elbow=100, spine_bend=-8, head_nod=-10,
              l_knee=25, r_knee=25)),
        _m("harlem_shake", 2, 0.9,
           _k(0, l_collar=20, r_collar=-5, spine_twist=20, spine_side=10, **_both(sh_raise=50, elbow=60), l_knee=40),
           _k(1, r_collar=20, l_collar=-5, spine_twist=-20, spine_side=-10, **_both(sh_raise=50, elbow=60),
              r_knee=40)),
    ),
    "LH": (
        _m("groove_sway", 2, 0.3,
           _k(0, spine_side=-10, root_roll=-5, tx=0.05, l_knee=25, **_both(sh_raise=20, elbow=40), head_tilt=8),
           _k(1, spine_side=10, root_roll=5, tx=0.0, r_knee=25, **_both(sh_raise=20, elbow=40), head_tilt=-8)),
        _m("arm_slide", 2, 0.5,
           _k(0, r_sh_raise=90, r_sh_fwd=20, r_elbow=0, l_sh_raise=80, l_sh_fwd=60, l_elbow=110, head_turn=-40),
           _k(1, r_sh_raise=80, r_sh_fwd=70, r_elbow=90, l_sh_raise=90, l_sh_fwd=0, l_elbow=10, head_turn=40)),
        _m("dip", 2, 0.6,
           _k(0, l_knee=80, r_knee=80, l_hip_flex=60, r_hip_flex=60, spine_bend=15, r_sh_raise=60, r_sh_fwd=60),
           _k(1, l_knee=5, r_knee=5, spine_bend=-5, l_sh_raise=90, l_elbow=60, head_nod=-10)),
        _m("chest_roll", 4, 0.45,
           _k(0, spine_bend=-15, head_nod=-10),
           _k(1, spine_side=12, spine_bend=0),
           _k(2, spine_bend=20, head_nod=15, l_knee=25, r_knee=25),
           _k(3, spine_side=-12, spine_bend=5)),
        _m("two_step", 2, 0.5,
           _k(0, tx=0.15, l_hip_abd=15, r_knee=30, spine_twist=10, **_both(sh_raise=35, elbow=70)),
           _k(1, tx=0.0, r_hip_abd=15, l_knee=30, spine_twist=-10, **_both(sh_raise=35, elbow=70))),
        _m("hit_pose", 1, 0.8,
           _k(0, l_sh_raise=120, l_elbow=90, r_sh_raise=70, r_sh_fwd=80, r_elbow=20, l_knee=40, r_hip_abd=25,
              head_turn=30, spine_bend=-8, r_hand=1.0)),
        _m("turn_around", 4, 0.7,
           _k(0, turn=90, l_sh_raise=40, r_sh_raise=40),
           _k(1, turn=180, l_knee=30, r_knee=30),
           _k(2, turn=270, l_sh_raise=50, r_sh_raise=50),
           _k(3, turn=360, spine_bend=10, l_knee=20)),
        _m("crip_walk", 2, 0.85,
           _k(0, l_hip_rot=35, l_ankle=20, r_knee=35, tx=0.1, **_both(sh_raise=30, elbow=60), spine_bend=12),
           _k(1, r_hip_rot=35, r_ankle=20, l_knee=35, tx=0.0, **_both(sh_raise=30, elbow=60), spine_bend=12)),
    ),
    "HO": (
        _m("jack", 1, 0.45,
           _k(0, spine_bend=22, head_nod=18, l_knee=30, r_knee=30, l_hip_flex=20, r_hip_flex=20,
              **_both(sh_raise=30, elbow=60))),
        _m("shuffle", 2, 0.75,
           _k(0, l_hip_flex=35, l_knee=40, l_ankle=-20, r_knee=25, tx=0.05, **_both(sh_raise=35, elbow=70)),
           _k(0.5, l_hip_flex=5, r_hip_abd=15, r_knee=15, tx=0.1),
           _k(1, r_hip_flex=35, r_knee=40, r_ankle=-20, l_knee=25, tx=0.0, **_both(sh_raise=35, elbow=70))),
        _m("loose_legs", 2, 0.65,
           _k(0, l_hip_abd=30, l_hip_rot=-25, l_knee=30, r_knee=20, spine_side=8, l_sh_raise=60),
           _k(1, r_hip_abd=30, r_hip_rot=-25, r_knee=30, l_knee=20, spine_side=-8, r_sh_raise=60)),
        _m("side_walk", 2, 0.55,
           _k(0, tx=0.2, l_hip_abd=20, r_knee=25, l_sh_raise=50, r_sh_raise=25, spine_bend=10),
           _k(1, tx=0.4, r_hip_abd=10, l_knee=25, l_sh_raise=25, r_sh_raise=50, spine_bend=10)),
        _m("farmer", 2, 0.6,
           _k(0, l_hip_rot=30, r_hip_rot=-10, l_knee=25, tx=0.08, spine_twist=12, **_both(sh_raise=45, elbow=80)),
           _k(1, l_hip_rot=-10, r_hip_rot=30, r_knee=25, tx=0.12, spine_twist=-12, **_both(sh_raise=45, elbow=80))),
        _m("heel_toe", 2, 0.5,
           _k(0, l_ankle=-25, l_hip_flex=25, l_knee=10, r_knee=25, head_nod=10),
           _k(1, l_ankle=35, l_hip_flex=15, l_knee=30, r_knee=20, spine_bend=15)),
        _m("skate", 2, 0.7,
           _k(0, tx=0.25, r_hip_flex=-20, r_hip_abd=30, l_knee=45, l_hip_flex=35, spine_bend=25,
              l_sh_fwd=70, l_sh_raise=40, r_sh_fwd=-30),
           _k(1, tx=0.0, l_hip_flex=-20, l_hip_abd=30, r_knee=45, r_hip_flex=35, spine_bend=25,
              r_sh_fwd=70, r_sh_raise=40, l_sh_fwd=-30)),
        _m("house_spin", 2, 0.85,
           _k(0, turn=180, r_hip_flex=40, r_knee=60, **_both(sh_raise=70, elbow=60)),
           _k(1, turn=360, l_knee=25, r_knee=25, **_both(sh_raise=40, elbow=60))),
    ),
    "WA": (
        _m("waack", 1, 0.7,
           _k(0, l_sh_raise=170, l_elbow=110, l_sh_twist=30, r_sh_raise=50, r_elbow=30, head_turn=-20, l_hand=0.0)),
        _m("double_waack", 2, 0.9,
           _k(0, _both(sh_raise=165, elbow=100), head_nod=-10),
           _k(0.5, _both(sh_raise=80, sh_fwd=40, elbow=20)),
           _k(1, _both(sh_raise=170, elbow=120, sh_twist=30), spine_bend=-10)),
        _m("frame_face", 1, 0.5,
           _k(0, l_sh_raise=100, l_sh_fwd=60, l_elbow=140, r_sh_raise=140, r_elbow=120, head_tilt=12,
              head_turn=20, spine_side=-6)),
        _m("arm_roll", 2, 0.55,
           _k(0, _both(sh_raise=90, sh_fwd=50, elbow=80), l_sh_twist=-40, r_sh_twist=40, l_wrist=40),
           _k(1, _both(sh_raise=100, sh_fwd=30, elbow=40), l_sh_twist=40, r_sh_twist=-40, r_wrist=40)),
        _m("strut", 2, 0.45,
           _k(0, tz=0.15, l_hip_flex=30, l_knee=30, root_roll=-8, spine_side=8, r_sh_raise=60, l_sh_raise=20,
              head_tilt=-6),
           _k(1, tz=0.3, r_hip_flex=30, r_knee=30, root_roll=8, spine_side=-8, l_sh_raise=60, r_sh_raise=20,
              head_tilt=6)),
        _m("point_pose", 1, 0.6,
           _k(0, r_sh_raise=130, r_sh_fwd=30, r_elbow=0, l_sh_raise=60, l_elbow=130, l_hip_abd=20, r_knee=20,
              head_turn=-30, head_nod=-12, r_hand=0.5)),
        _m("turn_pose", 4, 0.75,
           _k(0, turn=120, **_both(sh_raise=150, elbow=40)),
           _k(1, turn=240, **_both(sh_raise=110, elbow=70)),
           _k(2, turn=360, **_both(sh_raise=160, elbow=30), head_nod=-15),
           _k(3, turn=360, l_sh_raise=170, r_sh_raise=40, l_elbow=100, head_turn=25)),
        _m("hair_whip", 2, 0.8,
           _k(0, head_turn=50, head_tilt=20, spine_twist=25, **_both(sh_raise=120, elbow=90)),
           _k(1, head_turn=-50, head_tilt=-20, spine_twist=-25, **_both(sh_raise=60, elbow=60))),
    ),
    "KR": (
        _m("stomp", 1, 0.85,
           _k(0, l_hip_flex=70, l_knee=90, r_knee=40, spine_bend=25, **_both(sh_raise=60, elbow=90, hand=1.0),
              head_nod=20)),
        _m("chest_pop", 1, 0.9,
           _k(0, spine_bend=-20, head_nod=-20, **_both(sh_raise=55, sh_fwd=-20, elbow=70, collar=15),
              l_knee=20, r_knee=20)),
        _m("arm_swing", 2, 0.8,
           _k(0, r_sh_raise=150, r_sh_fwd=60, r_elbow=40, spine_twist=-25, spine_bend=-10, l_sh_raise=40),
           _k(1, r_sh_raise=30, r_sh_fwd=80, r_elbow=70, spine_twist=20, spine_bend=35, l_knee=60, r_knee=60,
              head_nod=25)),
        _m("jab", 1, 0.95,
           _k(0, l_sh_raise=85, l_sh_fwd=90, l_elbow=0, l_hand=1.0, r_sh_raise=50, r_elbow=120, spine_twist=25,
              tz=0.08, l_knee=50)),
        _m("buck_hop", 2, 1.0,
           _k(0, l_knee=90, r_knee=90, l_hip_flex=75, r_hip_flex=75, spine_bend=35, **_both(sh_raise=40, elbow=100)),
           _k(1, air=0.22, l_knee=50, r_knee=50, l_hip_flex=30, r_hip_flex=30, spine_bend=-10,
              **_both(sh_raise=120, elbow=60), head_nod=-20)),
        _m("hunch", 2, 0.6,
           _k(0, spine_bend=45, head_nod=25, **_both(sh_raise=30, sh_fwd=40, elbow=110), l_knee=55, r_knee=55),
           _k(1, spine_bend=10, head_nod=-10, **_both(sh_raise=80, elbow=120), l_collar=20, r_collar=20)),
        _m("arm_throw", 2, 0.9,
           _k(0, _both(sh_raise=160, elbow=50), spine_bend=-15, head_nod=-15),
           _k(1, _both(sh_raise=40, sh_fwd=60, elbow=30), spine_bend=40, l_knee=70, r_knee=70, head_nod=25)),
        _m("stalk", 2, 0.45,
           _k(0, tz=0.12, l_hip_flex=45, l_knee=70, spine_bend=30, root_roll=-8, **_both(sh_raise=50, elbow=100)),
           _k(1, tz=0.24, r_hip_flex=45, r_knee=70, spine_bend=30, root_roll=8, **_both(sh_raise=50, elbow=100))),
    ),
    "JS": (
        _m("jazz_square", 4, 0.5,
           _k(0, tz=0.15, tx=0.1, r_hip_flex=25, r_hip_abd=-10, spine_twist=10, l_sh_raise=60, r_sh_raise=30),
           _k(1, tz=0.0, tx=0.1, l_hip_flex=-15, l_knee=20, r_sh_raise=60, l_sh_raise=30),
           _k(2, tz=0.0, tx=-0.05, r_hip_abd=20, l_knee=25, spine_twist=-10, **_both(sh_raise=80)),
           _k(3, tz=0.0, tx=0.0, l_hip_flex=20, spine_bend=-5, **_both(sh_raise=40))),
        _m("kick_ball_change", 2, 0.7,
           _k(0, r_hip_flex=85, r_knee=5, r_ankle=30, l_knee=20, spine_bend=-8, l_sh_raise=120, r_sh_raise=50),
           _k(1, r_hip_flex=-10, r_knee=25, l_knee=35, spine_bend=12, **_both(sh_raise=40, elbow=40))),
        _m("hip_roll", 2, 0.45,
           _k(0, root_roll=12, root_pitch=-6, spine_side=-12, l_knee=30, l_hip_flex=20, **_both(sh_raise=50, elbow=60)),
           _k(1, root_roll=-12, root_pitch=6, spine_side=12, r_knee=30, r_hip_flex=20, **_both(sh_raise=50, elbow=60))),
        _m("arm_sweep", 2, 0.55,
           _k(0, _both(sh_raise=165, elbow=10), spine_bend=-10, head_nod=-15),
           _k(1, _both(sh_raise=60, sh_fwd=90, elbow=10), spine_bend=30, l_knee=40, r_knee=40, head_nod=10)),
        _m("pirouette", 2, 0.8,
           _k(0, turn=180, r_hip_flex=45, r_hip_abd=40, r_knee=100, l_ankle=30, **_both(sh_raise=70, sh_fwd=60,
                                                                                      elbow=60)),
           _k(1, turn=360, r_hip_flex=20, r_knee=30, l_ankle=10, **_both(sh_raise=40, elbow=30))),
        _m("pose_line", 1, 0.65,
           _k(0, l_sh_raise=140, l_elbow=0, r_sh_raise=90, r_elbow=0, r_hip_abd=35, r_knee=0, l_knee=25,
              spine_side=12, head_turn=30, head_nod=-10, l_hand=0.0, r_hand=0.0)),
        _m("chasse", 2, 0.6,
           _k(0, tx=0.25, l_hip_abd=25, r_knee=20, **_both(sh_raise=90, elbow=10), spine_side=-8),
           _k(1, tx=0.5, r_hip_abd=20, l_knee=20, **_both(sh_raise=90, elbow=10), spine_side=-8)),
        _m("shoulder_isolation", 1, 0.35,
           _k(0, l_collar=20, r_collar=-8, spine_side=-8, head_tilt=10, **_both(sh_raise=30, elbow=70))),
    ),
    "JB": (
        _m("plie", 2, 0.3,
           _k(0, l_knee=70, r_knee=70, l_hip_flex=45, r_hip_flex=45, l_hip_abd=25, r_hip_abd=25,
              **_both(sh_raise=60, sh_fwd=70, elbow=40)),
           _k(1, l_knee=-5, r_knee=-5, l_ankle=25, r_ankle=25, **_both(sh_raise=160, elbow=25), head_nod=-12)),
        _m("releve", 1, 0.4,
           _k(0, l_ankle=35, r_ankle=35, l_knee=-5, r_knee=-5, **_both(sh_raise=110, sh_fwd=60, elbow=30),
              spine_bend=-5)),
        _m("arabesque", 4, 0.7,
           _k(0, r_hip_flex=-15, r_knee=0, r_ankle=30, l_sh_raise=90, l_sh_fwd=80, r_sh_raise=90, r_sh_fwd=-20),
           _k(1, r_hip_flex=-35, r_hip_abd=5, r_ankle=40, spine_bend=15, l_sh_raise=100, l_sh_fwd=90,
              r_sh_raise=100, head_nod=-10),
           _k(2, r_hip_flex=-30, r_ankle=40, spine_bend=20, l_ankle=20, l_sh_raise=110, l_sh_fwd=85),
           _k(3, r_hip_flex=0, r_knee=20, spine_bend=0, **_both(sh_raise=40, sh_fwd=50, elbow=30))),
        _m("port_de_bras", 4, 0.25,
           _k(0, _both(sh_raise=35, sh_fwd=60, elbow=35), head_nod=10),
           _k(1, _both(sh_raise=90, sh_fwd=80, elbow=30), head_nod=0),
           _k(2, _both(sh_raise=165, sh_fwd=30, elbow=30), head_nod=-15, spine_bend=-10),
           _k(3, _both(sh_raise=90, sh_fwd=0, elbow=10), head_turn=20)),
        _m("pirouette", 2, 0.75,
           _k(0, turn=180, l_hip_flex=45, l_hip_abd=45, l_knee=110, r_ankle=35, **_both(sh_raise=70, sh_fwd=70,
                                                                                       elbow=50)),
           _k(1, turn=360, l_hip_flex=10, l_knee=20, r_ankle=5, **_both(sh_raise=150, elbow=30))),
        _m("tendu", 2, 0.35,
           _k(0, r_hip_abd=30, r_knee=0, r_ankle=40, r_sh_raise=90, l_sh_raise=50, l_sh_fwd=60, head_turn=-20),
           _k(1, r_hip_abd=0, r_ankle=0, r_sh_raise=40, r_sh_fwd=60, l_sh_raise=90, head_turn=10)),
        _m("pas_de_bourree", 2, 0.5,
           _k(0, tx=0.1, l_ankle=30, r_ankle=30, r_hip_flex=-10, r_knee=25, **_both(sh_raise=80)),
           _k(0.5, tx=0.15, l_ankle=25, r_ankle=35, l_knee=25),
           _k(1, tx=0.2, l_knee=40, r_knee=40, l_hip_flex=25, r_hip_flex=25, **_both(sh_raise=40, sh_fwd=60))),
        _m("grand_jete", 2, 1.0,
           _k(0, l_knee=60, r_knee=60, l_hip_flex=40, r_hip_flex=40, tz=0.1, **_both(sh_raise=60, sh_fwd=60)),
           _k(1, air=0.3, l_hip_flex=80, l_knee=0, r_hip_flex=-30, r_knee=10, tz=0.6, l_sh_raise=150,
              r_sh_raise=100, r_sh_fwd=-20, spine_bend=-10)),
    ),
}


def vocabulary(genre: str) -> tuple[Move, ...]:
    """The genre's moves."""
    if genre not in VOCABULARIES:
        raise ValueError(f"no synthetic vocabulary for genre {genre!r}; genres are {', '.join(VOCABULARIES)}")
    return VOCABULARIES[genre]


def move_label(genre: str, move: Move) -> str:
    """The label a move carries in the ground truth, ``BR.toprock_cross``."""
    return f"{genre}.{move.name}"


def transition_matrix(genre: str) -> np.ndarray:
    """The genre's fixed Markov chain over its moves, (M, M), rows summing to 1.

    Drawn once from a generator seeded by the genre code (CRC-32), so it is the same everywhere:
    sparse-ish Dirichlet rows (each move has a few favourite successors) plus a share of repeats.
    """
    moves = vocabulary(genre)
    M = len(moves)
    rng = np.random.default_rng(zlib.crc32(f"pasdeux-synth-{genre}".encode()))
    P = rng.dirichlet(np.full(M, 0.35), size=M)  # (M, M)
    P = 0.8 * P + 0.2 * np.eye(M)  # dancers repeat a move (on the other side) now and then
    return P / P.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------------
# Dancer style and the result
# --------------------------------------------------------------------------------------------------
@dataclass
class DancerStyle:
    """How one dancer differs from another."""

    amplitude: float = 1.0
    """Scale of every pose offset from the stance."""
    timing_jitter: float = 0.012
    """Std (s) of each key's random timing error around its beat."""
    joint_bias: np.ndarray = field(default_factory=lambda: np.zeros((24, 3)))
    """(24, 3) axis-angle posture offsets composed onto the local SMPL body rotations (radians)."""
    seed: int = 0
    lag: float = 0.0
    """Constant timing offset (s): positive dances behind the beat."""
    groove: float = 1.0
    """Depth of the 2-beat weight-shift sway."""

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "DancerStyle":
        """A random dancer: amplitude 0.8..1.2, jitter 5..18 ms, lag +-8 ms, posture bias <~5 deg."""
        bias = np.zeros((24, 3))
        # posture lives in the spine, neck, collars, shoulders and elbows; the root and feet stay clean
        for j, scale in ((3, 0.04), (6, 0.04), (9, 0.03), (12, 0.05), (15, 0.05), (13, 0.04), (14, 0.04),
                         (16, 0.06), (17, 0.06), (18, 0.08), (19, 0.08)):
            bias[j] = rng.normal(0.0, scale, 3)
        return cls(amplitude=float(rng.uniform(0.8, 1.2)), timing_jitter=float(rng.uniform(0.005, 0.018)),
                   joint_bias=bias, seed=int(rng.integers(2**31 - 1)), lag=float(rng.uniform(-0.008, 0.008)),
                   groove=float(rng.uniform(0.6, 1.4)))

    def to_dict(self) -> dict[str, Any]:
        return {"amplitude": round(self.amplitude, 6), "timing_jitter": round(self.timing_jitter, 6),
                "lag": round(self.lag, 6), "groove": round(self.groove, 6), "seed": int(self.seed),
                "joint_bias": np.round(np.asarray(self.joint_bias), 6).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DancerStyle":
        return cls(amplitude=float(d["amplitude"]), timing_jitter=float(d["timing_jitter"]),
                   joint_bias=np.asarray(d["joint_bias"], dtype=np.float64), seed=int(d["seed"]),
                   lag=float(d.get("lag", 0.0)), groove=float(d.get("groove", 1.0)))


@dataclass
class DanceTruth:
    """A generated dance and what it is made of."""

    rotations: np.ndarray  # (T, J, 3) local axis-angle (SMPL pose), float32-representable
    root: np.ndarray  # (T, 3) SMPL transl, metres (feet on y = 0)
    fps: float
    skeleton: str  # smpl24 | smplx55
    move_labels: list[str]  # one per music beat inside the dance, "BR.kick_out"
    beat_frames: np.ndarray  # (B,) int64 frames of the music beats inside the dance
    genre: str = ""
    choreography: str = "advanced"  # basic (sBM) | advanced (sFM)
    moves: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(label, first beat index, beats, side +1 / -1) of each move in order."""
    key_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """(K,) frames of the pose keys (the intended kinematic beats, jitter included)."""
    dofs: np.ndarray | None = None  # (T, D) the DOF curves before rendering (see DOF_NAMES)
    heading: np.ndarray | None = None  # (T,) degrees, the base heading + turns (unwrapped)
    style: DancerStyle | None = None
    song: str = ""
    _joints: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def joints(self) -> np.ndarray:
        """(T, J, 3) joint positions by the built-in FK (what the written files reproduce)."""
        if self._joints is None or self._joints.shape[0] != self.num_frames:
            self._joints = forward_kinematics_np(get_skeleton(self.skeleton), self.rotations, self.root)
        return self._joints

    def to_motion(self, name: str = "", music: str = ""):
        """This dance as a :class:`data.motion.Motion` (joints from :attr:`joints`)."""
        return Motion(skeleton=self.skeleton, fps=self.fps, joints=self.joints, rotations=self.rotations,
                      root=self.root, name=name, music=music)

    def to_dict(self) -> dict[str, Any]:
        """Ground truth without the big arrays (labels, moves, beats, keys, style)."""
        return {
            "genre": self.genre, "choreography": self.choreography, "skeleton": self.skeleton,
            "fps": self.fps, "num_frames": self.num_frames, "song": self.song,
            "move_labels": list(self.move_labels), "beat_frames": [int(b) for b in self.beat_frames],
            "moves": [[m[0], int(m[1]), int(m[2]), int(m[3])] for m in self.moves],
            "key_frames": [int(k) for k in self.key_frames],
            "style": self.style.to_dict() if self.style is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


# --------------------------------------------------------------------------------------------------
# Choosing moves
# --------------------------------------------------------------------------------------------------
def _energy_weight(moves: tuple[Move, ...], energy: float) -> np.ndarray:
    inten = np.array([m.intensity for m in moves])
    return np.exp(-((inten - energy) ** 2) / (2 * 0.28 ** 2)) + 1e-3


def _fits(move: Move, pos_in_bar: int, remaining: int) -> bool:
    return move.beats <= remaining and pos_in_bar % move.beats == 0


def _chain(genre: str, num_beats: int, energy_per_beat: np.ndarray, rng: np.random.Generator,
           prev: int | None = None) -> list[tuple[int, int]]:
    """(move index, first beat) covering ``num_beats`` beats, bar by bar (bars start at beat 0)."""
    moves = vocabulary(genre)
    P = transition_matrix(genre)
    out: list[tuple[int, int]] = []
    b = 0
    while b < num_beats:
        pos = b % 4
        remaining = min(4 - pos, num_beats - b)
        mask = np.array([_fits(m, pos, remaining) for m in moves], dtype=np.float64)
        if not mask.any():  # a partial bar at the end shorter than any move: 1-beat moves always fit,
            mask = np.array([m.beats == 1 for m in moves], dtype=np.float64)  # else take the shortest
            if not mask.any():
                mask = np.array([m.beats == min(x.beats for x in moves) for m in moves], dtype=np.float64)
        base = P[prev] if prev is not None else np.full(len(moves), 1.0 / len(moves))
        w = base * mask * _energy_weight(moves, float(energy_per_beat[min(b, len(energy_per_beat) - 1)]))
        i = int(rng.choice(len(moves), p=w / w.sum()))
        out.append((i, b))
        b += moves[i].beats
        prev = i
    return out


# --------------------------------------------------------------------------------------------------
# DOF curves -> SMPL parameters
# --------------------------------------------------------------------------------------------------
def _minjerk_interp(key_t: np.ndarray, key_v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Minimum-jerk interpolation of keys (K,) x (K, C) at times (T,): zero velocity and
    acceleration at every key; values hold before the first and after the last key."""
    k = np.clip(np.searchsorted(key_t, t, side="right") - 1, 0, len(key_t) - 2)
    t0, t1 = key_t[k], key_t[k + 1]
    s = np.clip((t - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
    w = s ** 3 * (10.0 - 15.0 * s + 6.0 * s * s)  # (T,)
    return key_v[k] + (key_v[k + 1] - key_v[k]) * w[:, None]


def _col(dofs: np.ndarray, name: str) -> np.ndarray:
    return dofs[:, DOF_INDEX[name]]


def _rot(order: str, angles_deg: np.ndarray) -> Rotation:
    return Rotation.from_euler(order, angles_deg, degrees=True)


def _finger_rotations(curl: np.ndarray, side: int, rng_bias: np.ndarray) -> np.ndarray:
    """(T, 15, 3) axis-angle of one hand's finger joints (SMPL-X order: index, middle, pinky, ring,
    thumb; 3 segments each) for curl (T,) in [0, 1]; ``side`` +1 left, -1 right."""
    T = curl.shape[0]
    out = np.zeros((T, 15, 3))
    seg_max = np.array([65.0, 85.0, 55.0])  # degrees per segment at a full fist
    for f in range(4):  # index, middle, pinky, ring: curl about z (down towards the palm)
        spread = (f - 1.5) * 4.0 * (1.0 - curl)  # fingers fan out a little when open
        for s in range(3):
            ang = curl * seg_max[s] * (1.0 + rng_bias[f])  # (T,)
            z = -side * ang
            y = side * spread if s == 0 else np.zeros(T)
            out[:, 3 * f + s] = _rot("yz", np.stack([y, z], axis=1)).as_rotvec()
    for s in range(3):  # thumb: folds across the palm
        ang = curl * np.array([25.0, 35.0, 40.0])[s]
        out[:, 12 + s] = _rot("zy", np.stack([-side * 0.5 * ang, side * ang], axis=1)).as_rotvec()
    return out


def render_dofs(dofs: np.ndarray, heading: np.ndarray, position: np.ndarray, skeleton: str = "smpl24",
                joint_bias: np.ndarray | None = None, floor: bool = True,
                finger_bias: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """DOF curves -> SMPL parameters.

    Args:
        dofs: (T, D) in :data:`DOF_NAMES` order (absolute values, stance included). ``turn`` and
            ``tx``/``tz`` are ignored here: pass the resolved ``heading`` and ``position``.
        heading: (T,) degrees about +y (0 faces +z).
        position: (T, 2) world x, z of the root (metres).
        skeleton: ``smpl24`` or ``smplx55``.
        joint_bias: optional (24, 3) posture offsets composed onto the body's local rotations.
        floor: lift the root per frame so the lowest foot joint is at y = 0 (then add ``air``).

    Returns:
        rotations (T, J, 3) axis-angle and root (T, 3), both float32-representable float64.
    """
    R, root, _ = _render(dofs, heading, position, skeleton, joint_bias, floor, finger_bias)
    return R, root


def _render(dofs: np.ndarray, heading: np.ndarray, position: np.ndarray, skeleton: str,
            joint_bias: np.ndarray | None, floor: bool,
            finger_bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`render_dofs`, also returning the joints (T, J, 3) of its forward kinematics."""
    if skeleton not in SKELETON_JOINTS:
        raise ValueError(f"synthetic dances use smpl24 or smplx55, not {skeleton!r}")
    T = dofs.shape[0]
    J = SKELETON_JOINTS[skeleton]
    R = np.zeros((T, J, 3))
    c = lambda n: _col(dofs, n)  # noqa: E731

    # root: heading + local yaw, pitch (forward lean), roll
    R[:, 0] = _rot("zxy", np.stack([c("root_roll"), c("root_pitch"), heading + c("root_yaw")], 1)).as_rotvec()
    # spine 3, 6, 9 and neck 12 / head 15 share bend (x), twist (y), side (z)
    for j, w in ((3, 0.35), (6, 0.35), (9, 0.3)):
        R[:, j] = _rot("xyz", w * np.stack([c("spine_bend"), c("spine_twist"), c("spine_side")], 1)).as_rotvec()
    for j, w in ((12, 0.4), (15, 0.6)):
        R[:, j] = _rot("xyz", w * np.stack([c("head_nod"), c("head_turn"), c("head_tilt")], 1)).as_rotvec()
    for side, pre in ((1, "l_"), (-1, "r_")):
        sh, col, el, wr = (16, 13, 18, 20) if side > 0 else (17, 14, 19, 21)
        hip, knee, ankle = (1, 4, 7) if side > 0 else (2, 5, 8)
        # shoulder: raise in the coronal plane (about z), then swing forward about the vertical (y)
        R[:, sh] = _rot("xzy", np.stack([c(pre + "sh_twist"), side * (c(pre + "sh_raise") - 90.0),
                                         -side * c(pre + "sh_fwd")], 1)).as_rotvec()
        R[:, col] = _rot("z", side * c(pre + "collar")[:, None]).as_rotvec()
        R[:, el] = _rot("y", -side * c(pre + "elbow")[:, None]).as_rotvec()
        R[:, wr] = _rot("z", -side * c(pre + "wrist")[:, None]).as_rotvec()
        # hip: rotation about the thigh (y), flexion (x, forward is negative), abduction (z)
        R[:, hip] = _rot("yxz", np.stack([side * c(pre + "hip_rot"), -c(pre + "hip_flex"),
                                          side * c(pre + "hip_abd")], 1)).as_rotvec()
        R[:, knee] = _rot("x", c(pre + "knee")[:, None]).as_rotvec()
        R[:, ankle] = _rot("x", c(pre + "ankle")[:, None]).as_rotvec()
    if joint_bias is not None:
        body = (Rotation.from_rotvec(R[:, :22].reshape(-1, 3))
                * Rotation.from_rotvec(np.tile(np.asarray(joint_bias)[:22], (T, 1)))).as_rotvec()
        R[:, :22] = body.reshape(T, 22, 3)
    if skeleton == "smplx55":
        fb = np.zeros(4) if finger_bias is None else finger_bias
        R[:, 22] = _rot("x", 18.0 * c("jaw")[:, None]).as_rotvec()  # jaw opens downwards
        # eyes keep the gaze: they counter-rotate part of the head turn / nod
        eye = _rot("xy", -0.3 * np.stack([c("head_nod"), c("head_turn")], 1)).as_rotvec()
        R[:, 23] = eye
        R[:, 24] = eye
        R[:, 25:40] = _finger_rotations(np.clip(c("l_hand"), 0, 1), 1, fb)
        R[:, 40:55] = _finger_rotations(np.clip(c("r_hand"), 0, 1), -1, fb)

    # float32 round trip: AIST++ pickles store float32, FK of the file then equals FK of this exactly
    R = R.astype(np.float32).astype(np.float64)
    root = np.zeros((T, 3))
    root[:, 0] = position[:, 0]
    root[:, 2] = position[:, 1]
    root = root.astype(np.float32).astype(np.float64)
    joints = forward_kinematics_np(get_skeleton(skeleton), R, root)  # (T, J, 3)
    if floor:
        lowest = joints[:, list(FOOT_JOINTS), 1].min(axis=1)  # (T,)
        lifted = (root[:, 1] - lowest + c("air")).astype(np.float32).astype(np.float64)
        # the root only translates the whole body: shift the joints instead of a second FK
        joints = joints + (lifted - root[:, 1])[:, None, None] * np.array([0.0, 1.0, 0.0])
        root[:, 1] = lifted  # jumps leave the floor by the air height
    return R, root, joints


# --------------------------------------------------------------------------------------------------
# The dance
# --------------------------------------------------------------------------------------------------
def _stance(genre: str) -> np.ndarray:
    v = pose_vector(BASE_STANCE)
    for k, x in GENRE_STANCE.get(genre, {}).items():
        v[DOF_INDEX[k]] += x
    return v


def generate_dance(truth: SongTruth, rng: np.random.Generator, style: DancerStyle, skeleton: str = "smpl24",
                   fps: float = 60.0, choreography: str = "advanced", duration: float | None = None,
                   genre: str | None = None) -> DanceTruth:
    """Dance to a synthetic song.

    Args:
        truth: the song's ground truth (beats, downbeats, sections, genre).
        rng: draws the move sequence, sides and timing jitter.
        style: the dancer.
        skeleton: ``smpl24`` (AIST++) or ``smplx55`` (DD100: body + jaw + eyes + fingers).
        fps: frame rate (60 for AIST++, 30 for DD100 / DCM).
        choreography: ``advanced`` (free Markov chain, sFM) or ``basic`` (a repeated 2-bar phrase, sBM).
        duration: seconds of dance from the song's start (default: the whole song).
        genre: the vocabulary to dance (default: the song's genre).

    Returns:
        :class:`DanceTruth` with ``T = round(duration * fps)`` frames.
    """
    if choreography not in CHOREOGRAPHIES:
        raise ValueError(f"choreography must be one of {CHOREOGRAPHIES}, not {choreography!r}")
    if skeleton not in SKELETON_JOINTS:
        raise ValueError(f"synthetic dances use smpl24 or smplx55, not {skeleton!r}")
    genre = genre or truth.genre
    moves = vocabulary(genre)
    dur = truth.duration if duration is None else min(float(duration), truth.duration)
    T = int(round(dur * fps))
    if T < 2:
        raise ValueError(f"a dance of {dur} s at {fps} fps has fewer than 2 frames")
    beats = truth.beat_times[truth.beat_times < T / fps]  # (B,)
    B = len(beats)
    if B < 2:
        raise ValueError(f"the song has {B} beat(s) in the first {dur:.2f} s; a dance needs at least 2")
    energy = truth.energy_at(beats)  # (B,)

    # -- the move sequence (indices into `moves`, first beat, side)
    if choreography == "advanced":
        seq = _chain(genre, B, energy, rng)
    else:
        phrase = _chain(genre, BASIC_PHRASE_BEATS, np.full(BASIC_PHRASE_BEATS, 0.6), rng)
        seq = [(i, b0 + rep * BASIC_PHRASE_BEATS) for rep in range(-(-B // BASIC_PHRASE_BEATS))
               for i, b0 in phrase if b0 + rep * BASIC_PHRASE_BEATS < B]
        phrase_sides = [1 if rng.random() < 0.5 else -1 for _ in phrase]

    stance = _stance(genre)
    period = truth.beat_period
    # a first key in the stance one beat before the first beat (before the clip when the song starts
    # on a beat): the first move is entered at the song's pace, not snapped into in a few frames
    key_t: list[float] = [float(beats[0]) - period]
    key_v: list[np.ndarray] = [stance.copy()]
    key_head: list[float] = [0.0]
    key_pos: list[np.ndarray] = [np.zeros(2)]
    base_pos = np.zeros(2)
    base_head = 0.0
    labels = [""] * B
    seq_out: list[tuple[str, int, int, int]] = []
    prev_i, prev_side = -1, 1
    amp = style.amplitude
    def end_of(side: int, direction: int, tx: float, tz: float) -> np.ndarray:
        """Where a move travelling (tx, tz) in the dancer's frame ends, mirrored / reversed."""
        h = np.deg2rad(base_head)
        x, z = side * direction * tx, direction * tz
        return base_pos + np.array([x * np.cos(h) + z * np.sin(h), -x * np.sin(h) + z * np.cos(h)])

    for n_move, (i, b0) in enumerate(seq):
        move = moves[i]
        tx, tz, _ = move.travel
        travels = abs(tx) > 1e-6 or abs(tz) > 1e-6
        direction = 1  # -1 travels the move's path backwards (same poses)
        if choreography == "basic":
            side = phrase_sides[n_move % len(phrase_sides)]
            if travels and (b0 // BASIC_PHRASE_BEATS) % 2 == 1:
                direction = -1  # every other repeat travels back: the phrase stays in place
        elif i == prev_i:
            side = -prev_side  # a repeated move switches sides
        else:
            side = 1 if rng.random() < 0.5 else -1
        # homing: a travelling move goes whichever way keeps the dancer near the centre of the stage,
        # mirrored if that is enough, backwards if it is not
        if travels and choreography == "advanced":
            if np.linalg.norm(base_pos) > 0.6 or np.linalg.norm(end_of(side, 1, tx, tz)) > 1.2:
                options = [(np.linalg.norm(end_of(sd, dr, tx, tz)) + (0.01 if dr < 0 else 0.0), sd, dr)
                           for sd in (1, -1) for dr in (1, -1)]
                _, side, direction = min(options)
        prev_i, prev_side = i, side
        seq_out.append((move_label(genre, move), b0, move.beats, side))
        for b in range(b0, min(b0 + move.beats, B)):
            labels[b] = move_label(genre, move)
        last_turn = 0.0
        last_travel = np.zeros(2)
        for t_beat, v in move.key_vectors(side):
            if direction < 0:
                v[DOF_INDEX["tx"]] *= -1.0
                v[DOF_INDEX["tz"]] *= -1.0
            b_float = b0 + t_beat
            bi = int(np.floor(b_float))
            if bi >= B:
                break
            # time of the key: on the beat (or between two beats), plus lag and jitter
            frac = b_float - bi
            t_key = beats[bi] + frac * period + style.lag
            t_key += float(np.clip(rng.normal(0.0, style.timing_jitter), -3 * style.timing_jitter,
                                   3 * style.timing_jitter))
            e = float(energy[bi])
            a = amp * (0.45 + 0.75 * e)  # amplitude follows section energy
            pose = stance.copy()
            pose[_SCALED] += a * v[_SCALED]
            pose[~_SCALED] += v[~_SCALED]
            pose[DOF_INDEX["air"]] = v[DOF_INDEX["air"]] * min(1.0, 0.5 + e)
            # 2-beat weight-shift sway: consecutive keys always differ, even when a pose repeats
            sway = (1.0 if bi % 2 == 0 else -1.0) * style.groove * (0.4 + 0.6 * e) if frac == 0 else 0.0
            pose[DOF_INDEX["spine_side"]] += 4.0 * sway
            pose[DOF_INDEX["root_roll"]] += 2.5 * sway
            pose[DOF_INDEX["head_tilt"]] -= 3.0 * sway
            pose[DOF_INDEX["l_knee"]] += 6.0 * max(sway, 0.0)
            pose[DOF_INDEX["r_knee"]] += 6.0 * max(-sway, 0.0)
            pose[DOF_INDEX["jaw"]] += 0.15 * e
            pose = np.clip(pose, _LO, _HI)
            travel = np.array([v[DOF_INDEX["tx"]], v[DOF_INDEX["tz"]]])
            h = np.deg2rad(base_head)
            world = base_pos + np.array([travel[0] * np.cos(h) + travel[1] * np.sin(h),
                                         -travel[0] * np.sin(h) + travel[1] * np.cos(h)])
            turn = float(v[DOF_INDEX["turn"]])
            key_t.append(t_key)
            key_v.append(pose)
            key_head.append(base_head + turn)
            key_pos.append(world)
            last_turn, last_travel = turn, travel
        h = np.deg2rad(base_head)
        base_pos = base_pos + np.array([last_travel[0] * np.cos(h) + last_travel[1] * np.sin(h),
                                        -last_travel[0] * np.sin(h) + last_travel[1] * np.cos(h)])
        base_head += last_turn

    # keys must increase in time: jitter never reorders keys half a beat apart, but clamp anyway
    kt = np.asarray(key_t)
    for k in range(1, len(kt)):
        kt[k] = max(kt[k], kt[k - 1] + 1.0 / fps)
    kv = np.stack(key_v)  # (K, D)
    kh = np.asarray(key_head)[:, None]  # (K, 1)
    kp = np.stack(key_pos)  # (K, 2)
    frame_t = np.arange(T) / fps
    dofs = _minjerk_interp(kt, kv, frame_t)  # (T, D)
    heading = _minjerk_interp(kt, kh, frame_t)[:, 0]  # (T,)
    position = _minjerk_interp(kt, kp, frame_t)  # (T, 2)

    frng = np.random.default_rng(style.seed)
    rotations, root, joints = _render(dofs, heading, position, skeleton, style.joint_bias, True,
                                      frng.normal(0.0, 0.08, 4))
    beat_frames = np.round(beats * fps).astype(np.int64)
    key_frames = np.round(kt[1:] * fps).astype(np.int64)
    key_frames = key_frames[(key_frames >= 0) & (key_frames < T)]
    return DanceTruth(rotations=rotations, root=root, fps=float(fps), skeleton=skeleton, move_labels=labels,
                      beat_frames=beat_frames, genre=genre, choreography=choreography, moves=seq_out,
                      key_frames=key_frames, dofs=dofs, heading=heading, style=style, song=truth.name,
                      _joints=joints)

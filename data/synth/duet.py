"""Synthetic duets: a leader's dance, a follower who answers it, formations and hand contact (SMPL-X, 30 fps).

The leader is a solo dance (:func:`data.synth.solo.generate_dance` on the ``smplx55`` skeleton, fingers
included). The song is cut into **phrases** of two bars (on downbeats). In each phrase the follower

* **responds** in one of three ways:

  - ``mirror``: the leader's movement reflected left-right (x -> -x in the leader's frame): left and
    right joints swap and every axis-angle ``(x, y, z)`` becomes ``(x, -y, -z)`` -- the reflection
    ``S = diag(-1, 1, 1)`` conjugates a rotation ``R`` to ``S R S``, whose axis-angle is that;
    :func:`mirror_rotations`; after forward kinematics the joints are the x-reflection
    (exactly on a left-right symmetric skeleton, :func:`symmetrized`);
  - ``canon``: the leader's movement delayed by one or two beats;
  - ``complement``: different moves from the same genre vocabulary (a second dance on the same song
    by the follower's style) shifted by an odd number of beats (1, 3, 5 or 7, either way), so the
    follower's moves start when the leader's are half-way (counter-phase), choosing the shift whose
    moves differ most from the leader's (over 95 % of beats then differ; the labels say which);

* holds a **formation** relative to the leader: ``side_by_side`` (at the leader's left or right,
  facing the same way), ``face_to_face`` (in front, facing the leader) or ``circling`` (a quarter
  circle round the leader in the phrase, facing the leader, from his side to his front or back out);
  she changes place at a walking pace (:data:`FORMATION_SPEED`), and a phrase in which the two
  bodies would pass through each other (capsule bodies of :mod:`data.contact` closer than
  :data:`SPACING_M`) is danced further apart;
* sometimes **holds hands** with the leader (``contact``): both contact arms are solved by two-bone
  IK so the wrists meet at a point between the dancers' shoulders, and the contact hands close.

Frames of reference. Each dancer's motion is split into a *heading-free* local motion and a frame:
the heading ``h`` (the yaw of the pelvis's forward axis, smoothed as a unit vector over ~1 s so a
spin does not drag the frame round) and the *anchor* (the pelvis's ground position smoothed over
~1 s). The follower's frame is the leader's frame moved by the formation: its anchor is the leader's
anchor plus ``R_y(h_L) offset``, with ``offset = r (sin a, 0, cos a)`` in the leader's frame, and its
heading is ``h_L + phi``. The follower's local motion (response) is placed in that frame. All of it
is equivariant: turn the leader about the vertical and the follower turns with it.

Phrase changes blend the response over one beat (rotations by slerp, offsets linearly) and the
formation over at least a beat; those frames are flagged ``transition``. Rotations are SMPL-X local
axis-angle, 55 joints; roots are SMPL-X ``transl`` (the pelvis sits at ``skeleton.root_rest +
transl``), metres, y up.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from data.contact import capsule_gap
from data.fk import forward_kinematics
from data.skeleton import Skeleton, get_skeleton, to_smpl24
from data.synth.solo import generate_dance

RESPONSES = ("mirror", "canon", "complement")
FORMATIONS = ("side_by_side", "face_to_face", "circling")
DUET_FPS = 30.0
BARS_PER_PHRASE = 2
CONTACT_TOLERANCE_M = 0.03
"""Wrists closer than this in a contact phrase count as holding hands (the IK reaches ~1e-6 m)."""

_SKELETON = "smplx55"
_HEADING_SIGMA_S = 1.0
_ANCHOR_SIGMA_S = 1.0
_Y = np.array([0.0, 1.0, 0.0])


# --------------------------------------------------------------------------------------------------
# Mirror
# --------------------------------------------------------------------------------------------------
def _swap_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


@functools.cache
def mirror_permutation(skeleton: str = _SKELETON) -> np.ndarray:
    """(J,) index of each joint's left-right counterpart (itself for centre joints)."""
    sk = get_skeleton(skeleton)
    perm = np.array([sk.index(_swap_name(n)) for n in sk.joint_names])
    perm.setflags(write=False)
    return perm


_MIRROR_AXIS_ANGLE = np.array([1.0, -1.0, -1.0])  # axis-angle of S R S for S = diag(-1, 1, 1)


def mirror_rotations(rotations: np.ndarray, skeleton: str = _SKELETON) -> np.ndarray:
    """(..., J, 3) local axis-angle -> the left-right mirrored pose: joints swapped, (x, y, z) -> (x, -y, -z)."""
    r = np.asarray(rotations, dtype=np.float64)
    return r[..., mirror_permutation(skeleton), :] * _MIRROR_AXIS_ANGLE


def mirror_positions(points: np.ndarray) -> np.ndarray:
    """x -> -x of (..., 3) points (the reflection :func:`mirror_rotations` realises after FK)."""
    return np.asarray(points, dtype=np.float64) * np.array([-1.0, 1.0, 1.0])


def symmetrized(skeleton: Skeleton) -> Skeleton:
    """``skeleton`` with left and right rest offsets averaged (centre joints' offsets put on x = 0).

    The shipped SMPL-X template is a few mm asymmetric (up to ~2 cm at the hands after a chain of
    joints); on this skeleton a mirrored pose is an exact reflection, which is how the mirror is
    verified. ``root_rest`` is kept, so ``transl`` means the same pelvis position on both.
    """
    perm = np.array([skeleton.index(_swap_name(n)) for n in skeleton.joint_names])
    off = np.asarray(skeleton.offsets)
    sym = 0.5 * (off + mirror_positions(off[perm]))
    return Skeleton(name=skeleton.name, joint_names=skeleton.joint_names, parents=skeleton.parents,
                    offsets=sym, root_rest=np.asarray(skeleton.root_rest))


# --------------------------------------------------------------------------------------------------
# Small rotation helpers (numpy in, numpy out; scipy underneath)
# --------------------------------------------------------------------------------------------------
def _rotmat(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3), by scipy's C code (torch/roma's conversion is far slower on busy cores)."""
    r = np.array(rotvec, dtype=np.float64)  # a writable copy: scipy refuses read-only views
    return Rotation.from_rotvec(r.reshape(-1, 3)).as_matrix().reshape(r.shape[:-1] + (3, 3))


def _rotvec(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) axis-angle (angle in [0, pi])."""
    R = np.array(R, dtype=np.float64)
    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_rotvec().reshape(R.shape[:-2] + (3,))


def _yaw(angle: np.ndarray) -> np.ndarray:
    """(...,) angles -> (..., 3, 3) rotations about +y."""
    a = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    R[..., 0, 0] = c
    R[..., 0, 2] = s
    R[..., 1, 1] = 1.0
    R[..., 2, 0] = -s
    R[..., 2, 2] = c
    return R


def _slerp_rotvec(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-element slerp of axis-angle rotations ``a`` -> ``b`` (..., 3) with weights ``w`` (...)."""
    Ra, Rb = _rotmat(a), _rotmat(b)
    delta = _rotvec(np.swapaxes(Ra, -1, -2) @ Rb)  # (..., 3) from a to b
    return _rotvec(Ra @ _rotmat(delta * np.asarray(w)[..., None]))


def unwrap_rotvec(r: np.ndarray) -> np.ndarray:
    """Make a (T, 3) axis-angle track continuous across the pi wrap (a spinning root).

    Each frame takes, of the equivalent vectors ``v (1 + 2 pi k / |v|)``, the one nearest the
    previous frame's, so a model reading raw axis-angles sees no jumps where the body spins.
    """
    out = np.asarray(r, dtype=np.float64).copy()
    for t in range(1, len(out)):
        n = np.linalg.norm(out[t])
        if n < 1e-8:
            continue
        cands = out[t][None] * (1.0 + np.arange(-2, 3)[:, None] * 2.0 * np.pi / n)  # (5, 3)
        out[t] = cands[np.argmin(np.sum((cands - out[t - 1]) ** 2, axis=1))]
    return out


def _rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N, 3, 3) smallest rotations taking unit vectors ``u`` to ``v`` (N, 3)."""
    axis = np.cross(u, v)
    s = np.linalg.norm(axis, axis=-1)
    c = np.sum(u * v, axis=-1)
    angle = np.arctan2(s, c)
    safe = s > 1e-12
    unit = np.where(safe[:, None], axis / np.where(safe, s, 1.0)[:, None], 0.0)
    # antiparallel: any axis perpendicular to u
    anti = (~safe) & (c < 0)
    if anti.any():
        perp = np.cross(u[anti], np.array([1.0, 0.0, 0.0]))
        bad = np.linalg.norm(perp, axis=-1) < 1e-6
        perp[bad] = np.cross(u[anti][bad], np.array([0.0, 0.0, 1.0]))
        unit[anti] = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
    return _rotmat(unit * angle[:, None])


@contextlib.contextmanager
def torch_single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (the previous count is restored after).

    The synthetic corpus does many small batched matmuls (forward kinematics over a few hundred
    frames): a second thread brings nothing, and when other processes share the cores torch's
    spinning threads slow every call down.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def smplx_joints(rotations: np.ndarray, transl: np.ndarray, skeleton: str = _SKELETON) -> np.ndarray:
    """(T, J, 3) joint positions of axis-angle ``rotations`` (T, J, 3) and ``transl`` (T, 3).

    The same numbers as :func:`data.fk.forward_kinematics_np`, with the axis-angle conversion done by
    scipy: torch's conversion (through roma) runs its intra-op threads, which is slow on cores that
    other processes also use.
    """
    return _fk(rotations, transl, get_skeleton(skeleton))[0]


def _fk(rotations: np.ndarray, transl: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Joints (T, J, 3) and global rotations (T, J, 3, 3) by :func:`data.fk.forward_kinematics`."""
    with torch.no_grad(), torch_single_thread():
        joints, glob = forward_kinematics(skeleton, torch.from_numpy(_rotmat(rotations)),
                                          torch.as_tensor(np.asarray(transl, dtype=np.float64)), rep="matrix",
                                          return_global_rotations=True)
    return joints.numpy(), glob.numpy()


# --------------------------------------------------------------------------------------------------
# Heading-free decomposition of a dancer
# --------------------------------------------------------------------------------------------------
@dataclass
class LocalMotion:
    """A dancer split into a frame (heading, anchor) and a heading-free local motion."""

    heading: np.ndarray
    """(T,) smoothed yaw of the pelvis's forward axis, unwrapped; 0 faces +z."""
    anchor: np.ndarray
    """(T, 3) smoothed pelvis ground position (y = 0)."""
    rotations: np.ndarray
    """(T, J, 3) local axis-angle with the root's rotation expressed relative to ``heading``."""
    offset: np.ndarray
    """(T, 3) pelvis relative to the anchor in the heading frame (x, z) and its height (y)."""


def decompose(rotations: np.ndarray, transl: np.ndarray, fps: float, skeleton: Skeleton) -> LocalMotion:
    """Split a dancer into heading, anchor and heading-free local motion (see the module docstring)."""
    rotations = np.asarray(rotations, dtype=np.float64)
    pelvis = np.asarray(transl, dtype=np.float64) + skeleton.root_rest  # (T, 3)
    R0 = _rotmat(rotations[:, 0])  # (T, 3, 3)
    fwd = R0[:, :, 2].copy()  # pelvis forward (+z) in the world
    fwd[:, 1] = 0.0
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True) + 1e-12
    # smooth the direction as a vector: a spin averages out instead of winding the frame round
    fwd = gaussian_filter1d(fwd, sigma=_HEADING_SIGMA_S * fps, axis=0, mode="nearest")
    heading = np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 2]))
    anchor = gaussian_filter1d(pelvis * [1.0, 0.0, 1.0], sigma=_ANCHOR_SIGMA_S * fps, axis=0, mode="nearest")
    Rh_T = np.swapaxes(_yaw(heading), -1, -2)
    local = rotations.copy()
    local[:, 0] = _rotvec(Rh_T @ R0)
    rel = np.einsum("tij,tj->ti", Rh_T, pelvis - anchor)
    return LocalMotion(heading=heading, anchor=anchor, rotations=local, offset=rel)


def place(local_rotations: np.ndarray, local_offset: np.ndarray, heading: np.ndarray, anchor: np.ndarray,
          skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`decompose`: heading-free motion in a frame -> world rotations (T, J, 3), transl (T, 3)."""
    Rh = _yaw(heading)
    rot = np.asarray(local_rotations, dtype=np.float64).copy()
    rot[:, 0] = unwrap_rotvec(_rotvec(Rh @ _rotmat(rot[:, 0])))
    pelvis = anchor + np.einsum("tij,tj->ti", Rh, local_offset)
    return rot, pelvis - skeleton.root_rest


# --------------------------------------------------------------------------------------------------
# The plan: phrases, responses, formations, contact
# --------------------------------------------------------------------------------------------------
@dataclass
class Phrase:
    """One phrase of the duet plan."""

    start: int
    stop: int
    response: str
    delay: int
    """Frames the follower's source is delayed by (canon: 1-2 beats; complement: an odd number of
    beats, negative when the follower's own dance is taken ahead)."""
    formation: str
    side: float
    """+1 / -1: the follower at the leader's left / right (side_by_side), circling direction otherwise."""
    radius: float
    contact: bool
    hands: tuple[str, str] | None = None
    """(leader wrist, follower wrist) joint names that hold, in a contact phrase."""

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "stop": self.stop, "response": self.response, "delay_frames": self.delay,
                "formation": self.formation, "side": self.side, "radius_m": self.radius, "contact": self.contact,
                "hands": list(self.hands) if self.hands else None}


def _beat_period_frames(truth, fps: float) -> float:
    beats = np.asarray(truth.beat_times, dtype=np.float64)
    period = float(np.median(np.diff(beats))) if len(beats) > 1 else 60.0 / float(truth.bpm)
    return period * fps


def phrase_bounds(truth, num_frames: int, fps: float = DUET_FPS, bars: int = BARS_PER_PHRASE) -> np.ndarray:
    """(P, 2) ``[start, stop)`` frames: a phrase is ``bars`` bars, starting on a downbeat.

    The first phrase starts at frame 0 and also holds any pickup before the first downbeat; a last
    phrase shorter than two beats is merged into the one before.
    """
    db = np.unique(np.round(np.asarray(truth.downbeat_times, dtype=np.float64) * fps).astype(np.int64))
    db = db[(db >= 0) & (db < num_frames)]
    starts = [0] + [int(f) for f in db[bars::bars]]
    min_len = int(round(_beat_period_frames(truth, fps) * 2))
    if len(starts) > 1 and num_frames - starts[-1] < min_len:
        starts.pop()
    return np.array([starts, starts[1:] + [num_frames]], dtype=np.int64).T


SPACING_M = 0.03
"""Outside hand contact, the dancers' capsule bodies (:func:`data.contact.capsule_gap`) keep this apart."""
MAX_RADIUS_M = 1.6
"""The spacing never puts her further than this from him (a duet, not two solos)."""
_SPACING_PASSES = 3
CIRCLING_SWEEP = np.pi / 2
"""Radians a circling phrase takes the follower round the leader (a quarter circle)."""
FORMATION_SPEED = 0.6
"""m/s: the follower's average speed when she changes place between phrases (eased: 0.9 m/s at most)."""
_RADIUS = {"side_by_side": 0.95, "face_to_face": 1.05, "circling": 1.1}
_CONTACT_RADIUS = {"side_by_side": 0.85, "face_to_face": 0.75, "circling": 0.8}


def plan_duet(truth, num_frames: int, rng: np.random.Generator, fps: float = DUET_FPS,
              contact_probability: float = 0.35) -> list[Phrase]:
    """Draw responses, formations and contact per phrase (no two neighbours share both; at least one
    phrase of a bar or more holds hands)."""
    beat = _beat_period_frames(truth, fps)
    phrases: list[Phrase] = []
    angle = 0.0  # where the follower ends the previous phrase (nominal, in the leader's frame)
    for start, stop in phrase_bounds(truth, num_frames, fps):
        prev = phrases[-1] if phrases else None
        while True:
            response = str(rng.choice(RESPONSES, p=[0.35, 0.35, 0.3]))
            formation = str(rng.choice(FORMATIONS, p=[0.4, 0.35, 0.25]))
            if prev is None or (response, formation) != (prev.response, prev.formation):
                break
        if response == "canon":
            delay = int(round(int(rng.integers(1, 3)) * beat))
        elif response == "complement":
            delay = int(round(beat))  # refined against the leader's moves when the duet is composed
        else:
            delay = 0
        side = float(rng.choice([-1.0, 1.0]))
        if formation == "side_by_side" and abs(np.sin(angle)) > 0.5:
            side = float(np.sign(np.sin(angle)))  # stay on the side she is on: no crossing in front of him
        if formation == "circling" and abs(np.sin(angle)) > 0.5:
            side = -float(np.sign(np.sin(angle)))  # from his side round to his front, never behind him
        angle = {"side_by_side": side * np.pi / 2, "face_to_face": 0.0}.get(formation, angle + side * CIRCLING_SWEEP)
        contact = bool(rng.random() < contact_probability)
        radius = (_CONTACT_RADIUS if contact else _RADIUS)[formation] * float(rng.uniform(0.95, 1.05))
        phrases.append(Phrase(int(start), int(stop), response, delay, formation, side, radius, contact))
    # every duet holds hands at least once: pick a phrase of at least a bar when none was drawn
    long_enough = [i for i, p in enumerate(phrases) if p.stop - p.start >= 4 * beat]
    if long_enough and not any(p.contact for p in phrases):
        p = phrases[int(rng.choice(long_enough))]
        p.contact = True
        p.radius = _CONTACT_RADIUS[p.formation] * p.radius / _RADIUS[p.formation]
    return phrases


# --------------------------------------------------------------------------------------------------
# Formation paths (in the leader's frame)
# --------------------------------------------------------------------------------------------------
def _pure_formation(ph: Phrase, n: int, start_angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """angle a, radius r, relative heading phi (n,) each for one phrase without its blend-in."""
    u = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    if ph.formation == "side_by_side":
        a = np.full(n, ph.side * np.pi / 2)
        phi = np.zeros(n)
    elif ph.formation == "face_to_face":
        a = np.zeros(n)
        phi = np.full(n, np.pi)
    else:  # circling: a quarter circle round the leader, facing the leader
        a = start_angle + ph.side * CIRCLING_SWEEP * (u * u * (3 - 2 * u))
        phi = a + np.pi
    return a, np.full(n, ph.radius), phi


def _nearest_turn(x: np.ndarray, ref: float) -> np.ndarray:
    """Shift angles ``x`` by a multiple of 2 pi so ``x[0]`` is closest to ``ref``."""
    return x + 2 * np.pi * np.round((ref - x[0]) / (2 * np.pi))


def formation_paths(phrases: list[Phrase], num_frames: int, blend: int, fps: float = DUET_FPS
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Per frame: angle a, radius r, relative heading phi (T,); the ``transition`` mask (T,); and per
    phrase the number of frames its formation blends in over.

    The follower's offset from the leader's anchor, in the leader's frame, is ``r (sin a, 0, cos a)``;
    its heading is the leader's plus ``phi``. Each phrase blends in from the previous one's last frame,
    angles taking the short way round, over at least ``blend`` frames and long enough that the follower
    moves at no more than :data:`FORMATION_SPEED` on average: she walks round him, she does not fly
    (when the phrase ends first, the next one starts from where she got to).
    """
    a = np.zeros(num_frames)
    r = np.zeros(num_frames)
    phi = np.zeros(num_frames)
    transition = np.zeros(num_frames, dtype=bool)
    blends = []
    for i, ph in enumerate(phrases):
        n = ph.stop - ph.start
        start_angle = a[ph.start - 1] if i else 0.0
        pa, pr, pphi = _pure_formation(ph, n, start_angle)
        m = 0
        if i:
            pa = _nearest_turn(pa, a[ph.start - 1])
            pphi = _nearest_turn(pphi, phi[ph.start - 1])
            path = abs(pa[0] - a[ph.start - 1]) * max(pr[0], r[ph.start - 1]) + abs(pr[0] - r[ph.start - 1])
            m = int(max(blend, np.ceil(path / FORMATION_SPEED * fps)))
            w = np.linspace(0.0, 1.0, m + 1)[1:]
            w = (w * w * (3 - 2 * w))[:n]  # a phrase too short for the walk ends with her on the way
            k = len(w)
            for arr, prev in ((pa, a[ph.start - 1]), (pr, r[ph.start - 1]), (pphi, phi[ph.start - 1])):
                arr[:k] = prev + (arr[:k] - prev) * w
            transition[ph.start:ph.start + max(m, blend)] = True
            m = min(m, n)
        a[ph.start:ph.stop], r[ph.start:ph.stop], phi[ph.start:ph.stop] = pa, pr, pphi
        blends.append(m)
    return a, r, phi, transition, blends


# --------------------------------------------------------------------------------------------------
# Hand contact: two-bone IK
# --------------------------------------------------------------------------------------------------
def two_bone_ik(rotations: np.ndarray, transl: np.ndarray, side: str, target: np.ndarray,
                skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Bend ``side``'s arm ("left" / "right") so its wrist reaches ``target`` (T, 3) where it can.

    Only the shoulder and elbow joints change; the elbow stays in its original bending plane. Returns
    the new rotations (T, J, 3) and the wrist positions reached (T, 3).
    """
    sh, el, wr = (skeleton.index(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist"))
    collar = skeleton.parents[sh]
    joints, glob = _fk(rotations, transl, skeleton)
    S, E = joints[:, sh], joints[:, el]
    o_e, o_w = np.asarray(skeleton.offsets[el]), np.asarray(skeleton.offsets[wr])
    la, lb = float(np.linalg.norm(o_e)), float(np.linalg.norm(o_w))
    v = target - S
    dist = np.linalg.norm(v, axis=1)
    u = v / np.maximum(dist, 1e-9)[:, None]
    d = np.clip(dist, abs(la - lb) + 1e-4, la + lb - 1e-4)
    cos_a = np.clip((la * la + d * d - lb * lb) / (2 * la * d), -1.0, 1.0)
    pole = E - S
    n = pole - np.sum(pole * u, axis=1, keepdims=True) * u
    weak = np.linalg.norm(n, axis=1) < 1e-6
    if weak.any():  # arm straight at the target: bend the elbow downwards
        down = -_Y - np.sum(-_Y * u[weak], axis=1, keepdims=True) * u[weak]
        n[weak] = down
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    E_new = S + la * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * n)
    W_new = S + d[:, None] * u

    G_c = glob[:, collar]
    G_s = glob[:, sh]
    R1 = _rotation_between(np.einsum("tij,j->ti", G_s, o_e) / la, (E_new - S) / la)
    G_s_new = R1 @ G_s
    G_e = G_s_new @ _rotmat(rotations[:, el])
    R2 = _rotation_between(np.einsum("tij,j->ti", G_e, o_w) / lb, (W_new - E_new) / lb)
    G_e_new = R2 @ G_e
    out = np.asarray(rotations, dtype=np.float64).copy()
    out[:, sh] = _rotvec(np.swapaxes(G_c, -1, -2) @ G_s_new)
    out[:, el] = _rotvec(np.swapaxes(G_s_new, -1, -2) @ G_e_new)
    return out, W_new


_FINGER_PREFIXES = ("index", "middle", "ring", "pinky")


def grip(rotations: np.ndarray, side: str, weight: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Close ``side``'s fingers by ``weight`` (T,) in [0, 1]: a hand that holds another.

    Fingers lie along +x (left) / -x (right) with the palm down; flexion turns them towards -y, a
    rotation about -z on the left and +z on the right (the mirror of each other).
    """
    out = np.asarray(rotations, dtype=np.float64).copy()
    sign = -1.0 if side == "left" else 1.0
    for f in _FINGER_PREFIXES:
        for k, bend in ((1, 0.7), (2, 0.9), (3, 0.6)):
            j = skeleton.index(f"{side}_{f}{k}")
            target = np.array([0.0, 0.0, sign * bend])
            out[:, j] = _slerp_rotvec(out[:, j], np.broadcast_to(target, out[:, j].shape), weight)
    return out


def _arm_joints(side: str, skeleton: Skeleton) -> list[int]:
    """Shoulder, elbow and finger joints of ``side``: what a hand hold changes."""
    return [skeleton.index(f"{side}_shoulder"), skeleton.index(f"{side}_elbow")] + \
        [skeleton.index(f"{side}_{f}{k}") for f in _FINGER_PREFIXES for k in (1, 2, 3)]


def _contact_weight(phrases: list[Phrase], num_frames: int, blend: int, settle: list[int]) -> list[np.ndarray]:
    """Per contact phrase, a (T,) weight: 0 outside; once the formation has settled (``settle[i]``
    frames into phrase i, at least ``blend``) it rises over half a blend (reaching out), holds at 1,
    and falls over the phrase's last half blend."""
    ramp = max(1, blend // 2)
    up = np.linspace(0.0, 1.0, ramp + 1)[1:]
    up = up * up * (3 - 2 * up)
    out = []
    for ph, m in zip(phrases, settle):
        w = np.zeros(num_frames)
        a, b = ph.start + max(blend, m), ph.stop - ramp
        if ph.contact and b - a > 2 * ramp:
            w[a:a + ramp] = up
            w[a + ramp:b] = 1.0
            w[b:ph.stop] = up[::-1]
        out.append(w)
    return out


def _meeting_point(S_L: np.ndarray, S_F: np.ndarray, reach: float) -> np.ndarray:
    """(n, 3) where two hands meet: below the shoulders' midpoint, within ``reach`` of both shoulders.

    Start a comfortable 0.8 reach from each shoulder, hanging below the midpoint (hands held low, not
    at shoulder height), then alternate projections onto the two reach balls: they converge to a point
    both arms can reach whenever the shoulders are less than two reaches apart.
    """
    half_gap = 0.5 * np.linalg.norm(S_F - S_L, axis=1)
    drop = np.minimum(np.sqrt(np.maximum((0.8 * reach) ** 2 - half_gap ** 2, 0.0)), 0.35)
    point = 0.5 * (S_L + S_F) - drop[:, None] * _Y
    for _ in range(30):
        for S in (S_L, S_F):
            v = point - S
            n = np.linalg.norm(v, axis=1, keepdims=True)
            point = np.where(n > reach, S + v * (reach / np.maximum(n, 1e-12)), point)
    return point


# --------------------------------------------------------------------------------------------------
# The duet
# --------------------------------------------------------------------------------------------------
@dataclass
class DuetTruth:
    """A synthetic duet and its ground truth. Frames at :attr:`fps`; skeleton ``smplx55``."""

    leader_rotations: np.ndarray
    """(T, 55, 3) local axis-angle (SMPL-X order, fingers included)."""
    leader_root: np.ndarray
    """(T, 3) SMPL-X ``transl``."""
    follower_rotations: np.ndarray
    follower_root: np.ndarray
    fps: float
    phrases: list[Phrase]
    formation_angle: np.ndarray
    """(T,) a: the follower's direction from the leader's anchor in the leader's frame (0 = in front)."""
    formation_radius: np.ndarray
    """(T,) r, metres."""
    relative_heading: np.ndarray
    """(T,) phi: the follower's heading minus the leader's."""
    leader_heading: np.ndarray
    leader_anchor: np.ndarray
    transition: np.ndarray
    """(T,) bool: frames blending one phrase into the next."""
    contact_weight: np.ndarray
    """(T,) the IK blend weight of the contact arms (1 = holding)."""
    contact: np.ndarray
    """(T,) bool: hands held (weight 1 and the wrists within :data:`CONTACT_TOLERANCE_M`)."""
    wrist_distance: np.ndarray
    """(T,) distance between the contact wrists (NaN outside contact phrases), metres."""
    beat_frames: np.ndarray
    leader_moves: list[str]
    """Move label per beat of the leader."""
    follower_moves: list[str]
    """Per beat: ``mirror:<move>``, ``canon:<move>`` (the leader's, delayed) or the follower's own move."""
    extras: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.leader_rotations.shape[0])

    @property
    def formation_offset(self) -> np.ndarray:
        """(T, 3) the follower's anchor minus the leader's, in the leader's frame: ``r (sin a, 0, cos a)``."""
        a, r = self.formation_angle, self.formation_radius
        return np.stack([r * np.sin(a), np.zeros_like(a), r * np.cos(a)], axis=1)

    def response_per_frame(self) -> list[str]:
        out = [""] * self.num_frames
        for ph in self.phrases:
            out[ph.start:ph.stop] = [ph.response] * (ph.stop - ph.start)
        return out

    def contact_frames(self) -> np.ndarray:
        return np.flatnonzero(self.contact)

    def to_json(self) -> dict[str, Any]:
        """Ground-truth sidecar content."""
        return {
            "fps": self.fps,
            "num_frames": self.num_frames,
            "phrases": [p.to_json() for p in self.phrases],
            "contact_frames": [int(f) for f in self.contact_frames()],
            "transition_frames": [int(f) for f in np.flatnonzero(self.transition)],
            "formation_offset_leader_frame": np.round(self.formation_offset[:, [0, 2]], 4).tolist(),
            "relative_heading": np.round(self.relative_heading, 4).tolist(),
            "beat_frames": [int(f) for f in self.beat_frames],
            "leader_moves": list(self.leader_moves),
            "follower_moves": list(self.follower_moves),
            **self.extras,
        }


def _delayed(x: np.ndarray, delay: int) -> np.ndarray:
    """x[t - delay], holding frame 0 before the start."""
    idx = np.clip(np.arange(len(x)) - delay, 0, len(x) - 1)
    return x[idx]


def _labels_at(labels: list[str], beat_frames: np.ndarray, frames: np.ndarray) -> list[str]:
    """The move label of the beat each of ``frames`` falls in."""
    if not labels:
        return [""] * len(frames)
    k = np.clip(np.searchsorted(beat_frames, frames, side="right") - 1, 0, len(labels) - 1)
    return [labels[i] for i in k]


def compose_duet(truth, leader_rotations: np.ndarray, leader_root: np.ndarray, material_rotations: np.ndarray,
                 material_root: np.ndarray, phrases: list[Phrase], fps: float = DUET_FPS,
                 leader_moves: list[str] | None = None, material_moves: list[str] | None = None,
                 beat_frames: np.ndarray | None = None) -> DuetTruth:
    """Build the follower from the leader and the plan (deterministic: no random draws here).

    Args:
        truth: the song (``beat_times``, ``downbeat_times``, ``bpm``).
        leader_rotations, leader_root: the leader (T, 55, 3) and (T, 3).
        material_rotations, material_root: the follower's own dance on the same song (complement moves).
        phrases: the plan (:func:`plan_duet`); complement delays are refined here.
        leader_moves, material_moves, beat_frames: move labels per beat of both dances.
    """
    sk = get_skeleton(_SKELETON)
    T = min(len(leader_rotations), len(material_rotations))
    Lr, Lt = np.asarray(leader_rotations, np.float64)[:T], np.asarray(leader_root, np.float64)[:T]
    Mr, Mt = np.asarray(material_rotations, np.float64)[:T], np.asarray(material_root, np.float64)[:T]
    beat = _beat_period_frames(truth, fps)
    blend = max(2, int(round(beat)))
    if beat_frames is None:
        beat_frames = np.round(np.asarray(truth.beat_times) * fps).astype(np.int64)
    beat_frames = np.asarray(beat_frames, dtype=np.int64)
    leader_moves = list(leader_moves or [])
    material_moves = list(material_moves or [])

    L = decompose(Lr, Lt, fps, sk)
    M = decompose(Mr, Mt, fps, sk)
    plan = phrases
    phrases = [replace(p) for p in phrases]  # refined below (delays, radii, hands); the caller's stay

    # complement: of the odd beat shifts (either way) that keep the phrase inside the material, the
    # one whose moves differ most from the leader's (ties: the smallest shift)
    frames_all = np.arange(T)
    for ph in phrases:
        if ph.response != "complement":
            continue
        seg = frames_all[ph.start:ph.stop]
        lead = _labels_at(leader_moves, beat_frames, seg)
        best = None
        for k in (1, -1, 3, -3, 5, -5, 7, -7):
            d = int(round(k * beat))
            if seg[0] - d < 0 or seg[-1] - d > T - 1:
                continue
            mat = _labels_at(material_moves, beat_frames, seg - d)
            same = sum(x == y for x, y in zip(lead, mat))
            if best is None or same < best[0]:
                best = (same, d)
        ph.delay = best[1] if best is not None else int(round(beat))

    # the follower's heading-free local motion, phrase by phrase
    def source(ph: Phrase) -> tuple[np.ndarray, np.ndarray]:
        if ph.response == "mirror":
            return mirror_rotations(L.rotations), mirror_positions(L.offset)
        if ph.response == "canon":
            return _delayed(L.rotations, ph.delay), _delayed(L.offset, ph.delay)
        return _delayed(M.rotations, ph.delay), _delayed(M.offset, ph.delay)

    F_rot = np.zeros_like(L.rotations)
    F_off = np.zeros_like(L.offset)
    prev_src = None
    for i, ph in enumerate(phrases):
        rot, off = source(ph)
        sl = slice(ph.start, ph.stop)
        F_rot[sl], F_off[sl] = rot[sl], off[sl]
        if i and prev_src is not None:
            m = min(blend, ph.stop - ph.start)
            w = np.linspace(0.0, 1.0, m + 1)[1:]
            w = w * w * (3 - 2 * w)
            bl = slice(ph.start, ph.start + m)
            F_rot[bl] = _slerp_rotvec(prev_src[0][bl], rot[bl], np.broadcast_to(w[:, None], rot[bl].shape[:2]))
            F_off[bl] = prev_src[1][bl] + (off[bl] - prev_src[1][bl]) * w[:, None]
        prev_src = (rot, off)

    # formation: the follower's frame from the leader's. A phrase whose bodies come too close (arms
    # swing through the partner) is danced further apart: its radius grows until the capsule bodies
    # keep SPACING_M between them (contact phrases keep theirs: their arms must reach)
    leader_24 = to_smpl24(_fk(Lr, Lt, sk)[0], _SKELETON)
    for attempt in range(_SPACING_PASSES + 1):
        a, r, phi, transition, settle = formation_paths(phrases, T, blend, fps)
        offset_leader = np.stack([r * np.sin(a), np.zeros(T), r * np.cos(a)], axis=1)
        anchor_F = L.anchor + np.einsum("tij,tj->ti", _yaw(L.heading), offset_leader)
        heading_F = L.heading + phi
        F_world_rot, F_world_root = place(F_rot, F_off, heading_F, anchor_F, sk)
        if attempt == _SPACING_PASSES:
            break
        gap = capsule_gap(leader_24, to_smpl24(_fk(F_world_rot, F_world_root, sk)[0], _SKELETON))  # (T,)
        grown = False
        for ph in phrases:
            closest = float(gap[ph.start:ph.stop].min())
            if not ph.contact and closest < SPACING_M and ph.radius < MAX_RADIUS_M:
                ph.radius = min(MAX_RADIUS_M, ph.radius + min(0.5, 1.5 * (SPACING_M - closest) + 0.05))
                grown = True
        if not grown:
            break
    L_world_rot, L_world_root = Lr.copy(), Lt.copy()

    # hand contact: the leader's arm reaches a point between the shoulders, the follower's meets it
    contact_w = np.zeros(T)
    wrist_dist = np.full(T, np.nan)
    weights = _contact_weight(phrases, T, blend, settle)
    for ph, w in zip(phrases, weights):
        if not ph.contact:
            continue
        if not w.any():  # too short a phrase to reach out, hold and let go: left to `missed` below
            continue
        idx = np.flatnonzero(w > 0)
        lj = _fk(L_world_rot[idx], L_world_root[idx], sk)[0]
        fj = _fk(F_world_rot[idx], F_world_root[idx], sk)[0]
        arm = min(float(np.linalg.norm(sk.offsets[sk.index(f"{s}_elbow")])  # upper arm + forearm
                        + np.linalg.norm(sk.offsets[sk.index(f"{s}_wrist")])) for s in ("left", "right"))
        # his left with her right, or his right with her left: the pair whose shoulders are within
        # two arms' reach most often (then the closer on average)
        options = (("left", "right"), ("right", "left"))
        scores = []
        for ls, fs in options:
            gap = np.linalg.norm(lj[:, sk.index(f"{ls}_shoulder")] - fj[:, sk.index(f"{fs}_shoulder")], axis=1)
            scores.append((int((gap < 2 * 0.97 * arm).sum()), -float(gap.mean())))
        ls, fs = options[max(range(2), key=lambda k: scores[k])]
        ph.hands = (f"{ls}_wrist", f"{fs}_wrist")
        S_L, S_F = lj[:, sk.index(f"{ls}_shoulder")], fj[:, sk.index(f"{fs}_shoulder")]  # (n, 3)
        point = _meeting_point(S_L, S_F, 0.97 * arm)  # where the hands meet
        ik_L, _ = two_bone_ik(L_world_rot[idx], L_world_root[idx], ls, point, sk)
        ik_L = grip(ik_L, ls, np.ones(len(idx)), sk)
        arm_l = _arm_joints(ls, sk)  # blend only what the IK and the grip changed
        L_world_rot[np.ix_(idx, arm_l)] = _slerp_rotvec(L_world_rot[np.ix_(idx, arm_l)], ik_L[:, arm_l],
                                                        np.broadcast_to(w[idx, None], (len(idx), len(arm_l))))
        lw = _fk(L_world_rot[idx], L_world_root[idx], sk)[0][:, sk.index(f"{ls}_wrist")]
        ik_F, _ = two_bone_ik(F_world_rot[idx], F_world_root[idx], fs, lw, sk)
        ik_F = grip(ik_F, fs, np.ones(len(idx)), sk)
        arm_f = _arm_joints(fs, sk)
        F_world_rot[np.ix_(idx, arm_f)] = _slerp_rotvec(F_world_rot[np.ix_(idx, arm_f)], ik_F[:, arm_f],
                                                        np.broadcast_to(w[idx, None], (len(idx), len(arm_f))))
        fw = _fk(F_world_rot[idx], F_world_root[idx], sk)[0][:, sk.index(f"{fs}_wrist")]
        contact_w[idx] = w[idx]
        wrist_dist[idx] = np.linalg.norm(fw - lw, axis=1)
    contact = (contact_w >= 1.0) & (wrist_dist < CONTACT_TOLERANCE_M)
    missed = [i for i, ph in enumerate(phrases) if ph.contact and not contact[ph.start:ph.stop].any()]
    if missed:
        # hands that never met (she was still on her way, or out of reach): dance that phrase without
        # holding, at the plain formation's distance, and compose again (once: nothing is left to miss)
        again = [replace(ph, contact=False, hands=None,
                         radius=ph.radius * _RADIUS[ph.formation] / _CONTACT_RADIUS[ph.formation])
                 if i in missed else replace(ph, hands=None) for i, ph in enumerate(plan)]
        return compose_duet(truth, leader_rotations, leader_root, material_rotations, material_root, again,
                            fps, leader_moves, material_moves, beat_frames)

    # follower move labels per beat
    follower_moves: list[str] = []
    for bf in beat_frames[beat_frames < T]:
        ph = next(p for p in phrases if p.start <= bf < p.stop)
        source = np.array([max(bf - ph.delay, 0)])  # the frame the follower's pose comes from
        if ph.response == "mirror":
            follower_moves.append("mirror:" + _labels_at(leader_moves, beat_frames, source)[0])
        elif ph.response == "canon":
            follower_moves.append("canon:" + _labels_at(leader_moves, beat_frames, source)[0])
        else:
            follower_moves.append(_labels_at(material_moves, beat_frames, source)[0])

    return DuetTruth(
        leader_rotations=L_world_rot, leader_root=L_world_root,
        follower_rotations=F_world_rot, follower_root=F_world_root, fps=fps, phrases=phrases,
        formation_angle=a, formation_radius=r, relative_heading=phi, leader_heading=L.heading,
        leader_anchor=L.anchor, transition=transition, contact_weight=contact_w, contact=contact,
        wrist_distance=wrist_dist, beat_frames=beat_frames[beat_frames < T], leader_moves=leader_moves,
        follower_moves=follower_moves)


def generate_duet(truth, rng: np.random.Generator, leader_style, follower_style, fps: float = DUET_FPS,
                  duration: float | None = None) -> DuetTruth:
    """A duet to the song ``truth``: the leader's solo dance, the follower's answer, formation and contact.

    Args:
        truth: the song (:class:`data.synth.music.SongTruth`).
        rng: the random source of the choreography: the leader's and the follower's moves and the
            plan (responses, formations, contact) are drawn from it.
        leader_style, follower_style: the dancers (:class:`data.synth.solo.DancerStyle`).
        fps: frame rate (DD100: 30).
        duration: seconds from the song's start (default: the whole song).

    Returns:
        a :class:`DuetTruth` on the ``smplx55`` skeleton, fingers included.
    """
    leader_rng, material_rng, plan_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63 - 1, size=3))
    with torch_single_thread():  # the solo generator's FK too (see torch_single_thread)
        leader = generate_dance(truth, leader_rng, leader_style, skeleton=_SKELETON, fps=fps, duration=duration)
        material = generate_dance(truth, material_rng, follower_style, skeleton=_SKELETON, fps=fps,
                                  duration=duration)
    T = min(len(leader.rotations), len(material.rotations))
    phrases = plan_duet(truth, T, plan_rng, fps)
    beat_frames = getattr(leader, "beat_frames", None)
    return compose_duet(truth, leader.rotations, leader.root, material.rotations, material.root, phrases, fps=fps,
                        leader_moves=list(getattr(leader, "move_labels", []) or []),
                        material_moves=list(getattr(material, "move_labels", []) or []),
                        beat_frames=None if beat_frames is None else np.asarray(beat_frames))

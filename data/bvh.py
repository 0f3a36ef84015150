"""BVH (Biovision Hierarchy) export and import on the shipped SMPL / SMPL-X skeletons.

What :func:`save_bvh` writes, so that Blender, MotionBuilder and any BVH parser agree on it:

* ``HIERARCHY`` with the skeleton's joint names (``pelvis``, ``left_hip``, ...), every ``OFFSET`` the
  skeleton's rest offset from the parent **in metres** (y up, x to the body's left, z forward; Blender's
  importer reads metres at its default scale 1.0). The rest pose is SMPL's, so every joint's rest
  orientation is the identity and a channel value of zero means "as in the rest pose".
* The root (``pelvis``) has ``OFFSET 0 0 0`` and 6 channels ``Xposition Yposition Zposition Zrotation
  Xrotation Yrotation``; the position channels hold the pelvis *world* position (``root_rest + root``).
  With a zero root offset it makes no difference whether a parser adds the position channels to the
  offset or replaces it, so every parser agrees.
* Other joints have 3 channels ``Zrotation Xrotation Yrotation`` in degrees. As in CMU / Blender files the
  order is intrinsic: the local rotation is ``R = Rz @ Rx @ Ry`` (roma convention ``"ZXY"``).
* Leaves end in an ``End Site`` half the length of their own bone, continuing its direction (a visible
  tip for the head, toes, hands and finger tips).
* ``Frame Time`` is ``1 / fps``. Values are written with 6 decimals (micro-metres, micro-degrees) with
  trailing zeros stripped: compact, and far below the 1e-4 m reconstruction error a test asserts.

:func:`load_bvh` reads any BVH whose joint set (names compared case-insensitively) and parent links
equal a shipped skeleton's (``smpl24`` or ``smplx55``): any Euler channel order per joint, position
channels on the root (taken as the absolute root position, replacing the root offset, as bvhio and most
mocap software do). Position channels on another joint are accepted only when they never move the joint
away from its ``OFFSET`` (some exporters write 6 channels everywhere); otherwise the file is refused,
because SMPL bones cannot stretch.

Offsets in the file are checked against the shipped skeleton: a joint more than
:data:`OFFSET_TOLERANCE` (1 cm) away is an :class:`~data.errors.InputError`, because the returned
:class:`~data.motion.Motion` recomputes joints with the shipped skeleton's forward kinematics, and a
different body (or centimetre units) would silently move every joint. The error names the worst joint
and, when the file is a uniformly scaled copy, the scale.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import roma
import torch

from data.errors import InputError, check_finite
from data.io import atomic_output
from data.motion import Motion
from data.skeleton import Skeleton, get_skeleton

BVH_SKELETONS = ("smpl24", "smplx55")
"""Skeletons with rotations that BVH files can carry (mmd60 motions are positions only)."""

EULER_ORDER = "ZXY"
"""Channel order written for every joint: ``Zrotation Xrotation Yrotation``, intrinsic."""

OFFSET_TOLERANCE = 0.01
"""Metres a file's joint OFFSET may differ from the shipped skeleton's before :func:`load_bvh` refuses it."""

_POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
_ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
# A non-root joint's position channels must reproduce its offset to this tolerance to be accepted.
_STATIC_POSITION_TOLERANCE = 1e-4
# "-0.000000" -> "-0", "12.500000" -> "12.5": every number written has a decimal point (%.6f), so only
# fractional zeros (and then a bare point) can be stripped.
_ROWS_PER_WRITE = 2048  # frames converted and written at a time
_TRAILING_ZEROS = re.compile(r"\.?0+(?=[ \n])")


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def save_bvh(motion: Motion, path: str | os.PathLike) -> Path:
    """Write ``motion`` (``smpl24`` or ``smplx55``, with rotations) as a BVH file, atomically.

    Returns the path written. Raises :class:`InputError` for a positions-only motion, another skeleton,
    or non-finite values.
    """
    path = Path(path)
    who = motion.name or None
    if motion.skeleton not in BVH_SKELETONS:
        raise InputError(who, f"BVH export supports {' and '.join(BVH_SKELETONS)} motions, not "
                              f"{motion.skeleton}", "write npz instead, or retarget the motion first")
    if motion.rotations is None or motion.root is None:
        raise InputError(who, "positions-only motion cannot be written as BVH",
                         "it needs joint rotations; write npz instead")
    if motion.num_frames == 0:
        raise InputError(who, "motion has no frames", "nothing to export")
    check_finite(motion.rotations, who, "rotations")
    check_finite(motion.root, who, "root translation")

    sk = get_skeleton(motion.skeleton)
    header = _hierarchy_text(sk)

    pelvis = motion.root + sk.root_rest  # (T, 3) pelvis world position
    # A frame line lists channels in the order joints appear in HIERARCHY (depth first), which is
    # not the skeleton's index order (SMPL interleaves the legs and the spine).
    order = _depth_first(sk)
    fps = float(motion.fps)
    lines = [header, "MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / fps:.10g}"]
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="ascii", newline="\n") as fh:
            fh.write("\n".join(lines) + "\n")
            # In blocks of frames, so a long dance never holds its whole text (or its rotation
            # matrices) in memory at once.
            for start in range(0, motion.num_frames, _ROWS_PER_WRITE):
                stop = start + _ROWS_PER_WRITE
                fh.write(_frame_lines(motion.rotations[start:stop, order], pelvis[start:stop]))
    return path


def _frame_lines(rotations: np.ndarray, pelvis: np.ndarray) -> str:
    """MOTION lines for ``rotations`` (t, J, 3) axis-angle (joints in HIERARCHY order) and the
    ``pelvis`` (t, 3) position: ``x y z`` then ``Z X Y`` degrees per joint, trailing zeros dropped."""
    with torch.no_grad():
        R = roma.rotvec_to_rotmat(torch.as_tensor(rotations, dtype=torch.float64))  # (t, J, 3, 3)
        euler = roma.rotmat_to_euler(EULER_ORDER, R, degrees=True).numpy()  # (t, J, 3)
    # Euler decompositions near gimbal lock can give -0.0 or -180 vs 180; both are valid angles.
    values = np.concatenate([pelvis, euler.reshape(len(euler), -1)], axis=1)  # (t, 3 + 3J)
    row_format = " ".join(["%.6f"] * values.shape[1])
    return _TRAILING_ZEROS.sub("", "".join(row_format % tuple(row) + "\n" for row in values.tolist()))


def _depth_first(sk: Skeleton) -> list[int]:
    """Joint indices in the order the HIERARCHY section lists them."""
    order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(sk.children(j)))
    return order


def _fmt(x: float) -> str:
    return _TRAILING_ZEROS.sub("", f"{x:.6f} ").rstrip()


def _hierarchy_text(sk: Skeleton) -> str:
    """The HIERARCHY section for ``sk`` (tab indented, one statement per line)."""
    rot_channels = " ".join(f"{axis}rotation" for axis in EULER_ORDER)
    out = ["HIERARCHY"]

    # Recursion (depth <= 8 for SMPL-X) mirrors the nesting of the text; _depth_first gives the same
    # order for the frame values.
    def emit(j: int, depth: int) -> None:
        ind = "\t" * depth
        if j == 0:
            out.append(f"{ind}ROOT {sk.joint_names[j]}")
            offset = (0.0, 0.0, 0.0)  # the position channels carry the pelvis world position
            channels = f"CHANNELS 6 Xposition Yposition Zposition {rot_channels}"
        else:
            out.append(f"{ind}JOINT {sk.joint_names[j]}")
            offset = tuple(sk.offsets[j])
            channels = f"CHANNELS 3 {rot_channels}"
        out.append(f"{ind}{{")
        out.append(f"{ind}\tOFFSET " + " ".join(_fmt(v) for v in offset))
        out.append(f"{ind}\t{channels}")
        children = sk.children(j)
        for c in children:
            emit(c, depth + 1)
        if not children:
            out.append(f"{ind}\tEnd Site")
            out.append(f"{ind}\t{{")
            out.append(f"{ind}\t\tOFFSET " + " ".join(_fmt(v) for v in _end_site(sk, j)))
            out.append(f"{ind}\t}}")
        out.append(f"{ind}}}")

    emit(0, 0)
    return "\n".join(out)


def _end_site(sk: Skeleton, j: int) -> np.ndarray:
    """A leaf's tip: half its own bone, same direction; 5 cm up when the bone has no length."""
    bone = np.asarray(sk.offsets[j], dtype=np.float64)
    if np.linalg.norm(bone) < 1e-6:
        return np.array([0.0, 0.05, 0.0])
    return 0.5 * bone


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------
@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray  # (3,)
    channels: list[str] = field(default_factory=list)
    line: int = 0
    first_channel: int = 0  # column of this joint's first channel in a frame line


class _Tokens:
    """Whitespace tokens of the HIERARCHY section with their 1-based line numbers."""

    def __init__(self, lines: list[str], path: Path) -> None:
        self.path = path
        self.items: list[tuple[str, int]] = []
        self.pos = 0
        self.motion_line = 0
        for n, line in enumerate(lines, start=1):
            words = line.split()
            if words and words[0] == "MOTION":
                self.motion_line = n
                break
            # Braces glued to names ("pelvis{") are legal in some writers: split them off.
            for w in words:
                for piece in re.split(r"([{}])", w):
                    if piece:
                        self.items.append((piece, n))
        self.last_line = len(lines)

    def error(self, problem: str, line: int | None = None) -> InputError:
        line = line if line is not None else self.line()
        return InputError(self.path, f"line {line}: {problem}", "the file is not valid BVH; re-export it")

    def line(self) -> int:
        if self.pos < len(self.items):
            return self.items[self.pos][1]
        return self.motion_line or self.last_line

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise self.error(f"file ends where {what} was expected (truncated?)")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, word: str) -> None:
        line = self.line()
        tok = self.next(f"'{word}'")
        if tok != word:
            raise self.error(f"expected '{word}', found '{tok}'", line)

    def number(self, what: str) -> float:
        line = self.line()
        tok = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise self.error(f"{what} is '{tok}', not a number", line) from None
        if not np.isfinite(value):
            raise self.error(f"{what} is '{tok}'", line)
        return value


def _parse_hierarchy(tokens: _Tokens) -> list[_BvhJoint]:
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    joints: list[_BvhJoint] = []
    _parse_joint(tokens, joints, parent=-1)
    if tokens.peek() is not None:
        raise tokens.error(f"unexpected '{tokens.peek()}' after the root joint's closing brace "
                           "(only one ROOT is supported)")
    if not tokens.motion_line:
        raise tokens.error("no MOTION section (truncated?)", tokens.last_line)
    return joints


def _parse_joint(tokens: _Tokens, joints: list[_BvhJoint], parent: int) -> None:
    line = tokens.line()
    name_parts = []
    while tokens.peek() not in ("{", None):
        name_parts.append(tokens.next("a joint name"))
    if not name_parts:
        raise tokens.error("joint without a name", line)
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = np.array([tokens.number(f"OFFSET {a} of joint {' '.join(name_parts)}") for a in "xyz"])
    joint = _BvhJoint(name=" ".join(name_parts), parent=parent, offset=offset, line=line)
    index = len(joints)
    joints.append(joint)
    if tokens.peek() == "CHANNELS":
        tokens.next("CHANNELS")
        count_line = tokens.line()
        count = tokens.number(f"channel count of joint {joint.name}")
        if count != int(count) or not 0 <= count <= 6:
            raise tokens.error(f"channel count of joint {joint.name} is {count:g}, expected 0 to 6",
                               count_line)
        for _ in range(int(count)):
            ch_line = tokens.line()
            ch = tokens.next(f"a channel name of joint {joint.name}")
            if ch not in _POSITION_CHANNELS + _ROTATION_CHANNELS:
                raise tokens.error(f"unknown channel '{ch}' of joint {joint.name} (CHANNELS count "
                                   "and names disagree?)", ch_line)
            if ch in joint.channels:
                raise tokens.error(f"channel '{ch}' repeated in joint {joint.name}", ch_line)
            joint.channels.append(ch)
    while True:
        line = tokens.line()
        tok = tokens.next(f"the closing brace of joint {joint.name}")
        if tok == "JOINT":
            _parse_joint(tokens, joints, parent=index)
        elif tok == "End":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            for a in "xyz":
                tokens.number(f"End Site OFFSET {a} of joint {joint.name}")
            tokens.expect("}")
        elif tok == "}":
            return
        else:
            raise tokens.error(f"expected JOINT, End Site or '}}' in joint {joint.name}, found '{tok}'",
                               line)


def _parse_motion_header(lines: list[str], start: int, path: Path) -> tuple[int, float, int]:
    """Read ``Frames:`` and ``Frame Time:`` after MOTION (0-based ``start``); return
    (frame count, frame time, index of the first frame line)."""
    def err(n: int, problem: str) -> InputError:
        return InputError(path, f"line {n + 1}: {problem}", "the file is not valid BVH; re-export it")

    i = start + 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise err(i - 1, "file ends after MOTION (truncated?)")
    words = lines[i].split()
    if len(words) != 2 or words[0] != "Frames:":
        raise err(i, f"expected 'Frames: N', found '{lines[i].strip()}'")
    try:
        frames = int(words[1])
    except ValueError:
        raise err(i, f"frame count '{words[1]}' is not an integer") from None
    if frames <= 0:
        raise err(i, f"frame count is {frames}; the motion needs at least one frame")
    i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise err(i - 1, "file ends before 'Frame Time:' (truncated?)")
    words = lines[i].split()
    if len(words) != 3 or words[:2] != ["Frame", "Time:"]:
        raise err(i, f"expected 'Frame Time: SECONDS', found '{lines[i].strip()}'")
    try:
        frame_time = float(words[2])
    except ValueError:
        raise err(i, f"frame time '{words[2]}' is not a number") from None
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise err(i, f"frame time is {words[2]}; it must be a positive number of seconds")
    return frames, frame_time, i + 1


def _read_frames(lines: list[str], first: int, frames: int, width: int, path: Path) -> np.ndarray:
    """(frames, width) channel values; every line checked for count, numbers and finiteness."""
    values = np.empty((frames, width), dtype=np.float64)
    f = 0
    n = first
    for n in range(first, len(lines)):
        words = lines[n].split()
        if not words:
            continue  # blank lines (a trailing newline, or CRLF files) carry no frame
        if f == frames:
            raise InputError(path, f"line {n + 1}: more frame lines than 'Frames: {frames}' declares",
                             "fix the Frames count or re-export the file")
        if len(words) != width:
            raise InputError(path, f"line {n + 1}: frame {f} has {len(words)} values, the hierarchy "
                                   f"declares {width} channels", "the file is corrupt; re-export it")
        try:
            row = np.array(words, dtype=np.float64)
        except ValueError:
            bad = next(w for w in words if not _is_float(w))
            raise InputError(path, f"line {n + 1}: frame {f} holds '{bad}', not a number",
                             "the file is corrupt; re-export it") from None
        if not np.isfinite(row).all():
            k = int(np.argmin(np.isfinite(row)))
            raise InputError(path, f"line {n + 1}: frame {f} holds '{words[k]}' (channel {k})",
                             "repair or re-export the file; pasdeux does not guess missing values")
        values[f] = row
        f += 1
    if f < frames:
        raise InputError(path, f"line {len(lines)}: file ends after {f} of the {frames} frames "
                               "'Frames:' declares (truncated?)", "re-export or re-download the file")
    return values


def _is_float(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def _match_skeleton(joints: list[_BvhJoint], path: Path) -> tuple[Skeleton, list[int]]:
    """The shipped skeleton whose joint set equals the file's; ``order[k]`` = file joint of skeleton
    joint ``k``."""
    file_names = [j.name.lower() for j in joints]
    if len(set(file_names)) != len(file_names):
        dup = sorted({n for n in file_names if file_names.count(n) > 1})
        raise InputError(path, f"joint names repeat: {', '.join(dup)}", "give every joint a unique name")
    best: tuple[int, Skeleton, set, set] | None = None
    for name in BVH_SKELETONS:
        sk = get_skeleton(name)
        want = {n.lower() for n in sk.joint_names}
        have = set(file_names)
        missing, extra = want - have, have - want
        if not missing and not extra:
            order = [file_names.index(n.lower()) for n in sk.joint_names]
            for k, fi in enumerate(order):
                p = sk.parents[k]
                want_parent = -1 if p < 0 else order[p]
                if joints[fi].parent != want_parent:
                    got = "none" if joints[fi].parent < 0 else joints[joints[fi].parent].name
                    exp = "none (root)" if p < 0 else sk.joint_names[p]
                    raise InputError(path, f"line {joints[fi].line}: joint {joints[fi].name} has parent "
                                           f"{got}, {sk.name} has {exp}",
                                     f"export the hierarchy of the {sk.name} skeleton")
            return sk, order
        score = len(missing) + len(extra)
        if best is None or score < best[0]:
            best = (score, sk, missing, extra)
    assert best is not None
    _, sk, missing, extra = best

    def listing(names: set) -> str:
        names = sorted(names)
        return ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")

    original = {j.name.lower(): j.name for j in joints}  # report the file's own spelling
    parts = []
    if missing:
        parts.append(f"missing {listing(missing)}")
    if extra:
        parts.append(f"unknown {listing({original[n] for n in extra})}")
    raise InputError(path, f"joints do not match a pasdeux skeleton (closest {sk.name}: "
                           f"{'; '.join(parts)})",
                     "pasdeux reads BVH on the smpl24 / smplx55 skeletons with their joint names, as "
                     "`cli.py convert --to bvh` writes them; retarget other rigs first")


def _check_offsets(sk: Skeleton, joints: list[_BvhJoint], order: list[int], path: Path) -> None:
    file_off = np.stack([joints[fi].offset for fi in order])  # (J, 3) in skeleton order
    # The root's offset is where the hierarchy starts, not a bone; position channels place it.
    diff = np.linalg.norm(file_off[1:] - sk.offsets[1:], axis=1)  # (J-1,)
    worst = int(np.argmax(diff))
    if diff[worst] <= OFFSET_TOLERANCE:
        return
    k = worst + 1
    ref_len = np.linalg.norm(sk.offsets[1:], axis=1)
    file_len = np.linalg.norm(file_off[1:], axis=1)
    scale = float(np.sum(file_len * ref_len) / np.sum(ref_len ** 2))
    hint = ""
    # A uniformly scaled copy (centimetres, inches) fits scale * offsets to the tolerance, scaled too.
    scaled_fit = np.abs(file_off[1:] - scale * sk.offsets[1:]).max() < OFFSET_TOLERANCE * scale
    if abs(scale - 1.0) > 0.05 and scaled_fit:
        hint = f" (the file's skeleton is {scale:.4g} times pasdeux's: units other than metres?)"
    raise InputError(path, f"line {joints[order[k]].line}: OFFSET of joint {sk.joint_names[k]} is "
                           f"{diff[worst] * 100:.1f} cm away from the {sk.name} rest skeleton{hint}",
                     "pasdeux recomputes joints with its own skeleton, in metres; export with the "
                     f"{sk.name} rest offsets")


def load_bvh(path: str | os.PathLike) -> Motion:
    """Read a BVH file on the ``smpl24`` or ``smplx55`` skeleton into a :class:`Motion`.

    Joint positions are recomputed with the shipped skeleton's forward kinematics; ``fps`` is
    ``1 / Frame Time``, snapped to the nearest integer when within 0.01 (writers round Frame Time).
    Any problem with the file raises :class:`InputError` naming the file and the line.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(p, f"not a text file (byte {e.start} is not UTF-8)",
                         "give a BVH text file") from None
    except OSError as e:
        raise InputError(p, f"cannot read the file ({e.strerror})", "check permissions") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InputError(p, "file is empty", "give a BVH file")

    tokens = _Tokens(lines, p)
    joints = _parse_hierarchy(tokens)
    frames, frame_time, first = _parse_motion_header(lines, tokens.motion_line - 1, p)
    col = 0
    for joint in joints:
        joint.first_channel = col
        col += len(joint.channels)
    values = _read_frames(lines, first, frames, col, p)  # (T, C)

    sk, order = _match_skeleton(joints, p)
    _check_offsets(sk, joints, order, p)

    T, J = frames, sk.num_joints
    R = torch.eye(3, dtype=torch.float64).repeat(T, J, 1, 1)  # (T, J, 3, 3) local rotations
    root_pos = np.tile(joints[order[0]].offset, (T, 1))  # (T, 3) pelvis world position
    for k, fi in enumerate(order):
        joint = joints[fi]
        cols = {ch: joint.first_channel + i for i, ch in enumerate(joint.channels)}
        pos_chs = [ch for ch in joint.channels if ch in _POSITION_CHANNELS]
        if pos_chs:
            # Position channels replace the OFFSET component they name (bvhio, Blender, CMU files).
            pos = np.tile(joint.offset, (T, 1))  # (T, 3)
            for ch in pos_chs:
                pos[:, "XYZ".index(ch[0])] = values[:, cols[ch]]
            if k == 0:
                root_pos = pos
            else:
                drift = np.abs(pos - joint.offset).max()
                if drift > _STATIC_POSITION_TOLERANCE:
                    raise InputError(p, f"line {joint.line}: joint {joint.name} has position channels "
                                        f"that move it up to {drift:.4g} m from its OFFSET",
                                     "pasdeux bones cannot stretch; export with rotation channels "
                                     "only on non-root joints")
        rot_chs = [ch for ch in joint.channels if ch in _ROTATION_CHANNELS]
        if rot_chs:
            # Channels listed "Z X Y" mean R = Rz @ Rx @ Ry: roma's uppercase (intrinsic) convention.
            convention = "".join(ch[0] for ch in rot_chs)
            angles = torch.as_tensor(values[:, [cols[ch] for ch in rot_chs]])  # (T, n)
            R[:, k] = roma.euler_to_rotmat(convention, angles, degrees=True, dtype=torch.float64)

    with torch.no_grad():
        rotations = roma.rotmat_to_rotvec(R).numpy()  # (T, J, 3)
    root = root_pos - sk.root_rest  # (T, 3) SMPL transl
    check_finite(rotations, p, "rotations")

    fps = 1.0 / frame_time
    if abs(fps - round(fps)) < 0.01:
        fps = float(round(fps))
    return Motion.from_smpl(sk.name, rotations, root, fps, name=p.stem)

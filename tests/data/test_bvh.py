"""BVH export/import: checked against an independent parser (bvhio), round trips, other channel
orders, and every kind of broken file through the API and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from data.bvh import OFFSET_TOLERANCE, load_bvh, save_bvh
from data.errors import InputError
from data.formats import load_motion
from data.motion import Motion, save_npz
from data.skeleton import get_skeleton

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def random_motion(skeleton: str, T: int = 10, fps: float = 60.0, seed: int = 0,
                  scale: float = 0.8) -> Motion:
    """Large random rotations (well past +-90 degrees on every axis) and a wandering root."""
    J = get_skeleton(skeleton).num_joints
    rng = np.random.default_rng(seed)
    rot = rng.normal(scale=scale, size=(T, J, 3))  # (T, J, 3)
    root = np.cumsum(rng.normal(scale=0.2, size=(T, 3)), axis=0)  # (T, 3)
    return Motion.from_smpl(skeleton, rot, root, fps, name="dance")


def rotmats(rotvec: np.ndarray) -> np.ndarray:
    import roma

    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec)).numpy()


def bvhio_world_positions(path: Path) -> tuple[list[str], np.ndarray, float]:
    """Joint names (file order), (T, J, 3) world positions and frame time, all from bvhio."""
    import warnings

    with warnings.catch_warnings():  # bvhio imports PyGLM the way PyGLM plans to deprecate
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import bvhio

    frame_time = bvhio.readAsBvh(str(path)).FrameTime
    root = bvhio.readAsHierarchy(str(path))
    layout = root.layout()  # [(joint, index, depth)] depth first
    frames = root.getKeyframeRange()[1] + 1
    out = []
    for f in range(frames):
        root.loadPose(f)
        out.append([list(joint.PositionWorld) for joint, _, _ in layout])
    return [joint.Name for joint, _, _ in layout], np.asarray(out, dtype=np.float64), frame_time


# --------------------------------------------------------------------------------------------------
# Export, read back by bvhio
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skeleton", ["smpl24", "smplx55"])
def test_cli_export_matches_independent_parser(tmp_path, skeleton):
    m = random_motion(skeleton, T=12, fps=30.0, seed=1)
    src = save_npz(m, tmp_path / "in.npz")
    out = tmp_path / "out.bvh"
    res = run_cli("convert", src, "--to", "bvh", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)

    names, world, frame_time = bvhio_world_positions(out)
    sk = get_skeleton(skeleton)
    assert sorted(names) == sorted(sk.joint_names)
    assert frame_time == pytest.approx(1 / 30, rel=1e-8)
    ours = m.joints[:, [sk.index(n) for n in names]]  # (T, J, 3) in the file's joint order
    assert world.shape == ours.shape
    err = np.abs(world - ours).max()
    assert err < 1e-4, f"max joint error against bvhio {err:.3g} m"


def test_file_layout(tmp_path):
    m = random_motion("smpl24", T=3, fps=60.0)
    text = save_bvh(m, tmp_path / "m.bvh").read_text()
    lines = text.splitlines()
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT pelvis"
    assert lines[3].split() == ["OFFSET", "0", "0", "0"]
    assert lines[4].split() == ["CHANNELS", "6", "Xposition", "Yposition", "Zposition",
                                "Zrotation", "Xrotation", "Yrotation"]
    assert text.count("End Site") == 5  # smpl24 leaves: two feet, head, two hands
    i = lines.index("MOTION")
    assert lines[i + 1] == "Frames: 3" and lines[i + 2].startswith("Frame Time: 0.0166666")
    frame_lines = lines[i + 3:]
    assert len(frame_lines) == 3 and all(len(l.split()) == 6 + 3 * 23 for l in frame_lines)
    # The root position channels hold the pelvis world position.
    first = np.array(frame_lines[0].split(), dtype=float)
    np.testing.assert_allclose(first[:3], m.joints[0, 0], atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skeleton", ["smpl24", "smplx55"])
def test_round_trip(tmp_path, skeleton):
    m = random_motion(skeleton, T=15, fps=60.0, seed=2)
    # Hard cases for Euler angles: gimbal lock on the middle axis, and rotations near 180 degrees.
    m.rotations[0, 1] = [np.pi / 2, 0, 0]
    m.rotations[1, 2] = [-np.pi / 2, 0, 0]
    m.rotations[2, 3] = [0, np.pi - 1e-4, 0]
    m.rotations[3, 0] = [np.pi - 1e-6, 0, 0]
    m = Motion.from_smpl(skeleton, m.rotations, m.root, m.fps, name="dance")
    back = load_bvh(save_bvh(m, tmp_path / "m.bvh"))
    assert back.skeleton == skeleton and back.fps == 60.0 and back.num_frames == 15
    assert back.name == "m"
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-5)
    np.testing.assert_allclose(back.root, m.root, atol=1e-5)
    np.testing.assert_allclose(rotmats(back.rotations), rotmats(m.rotations), atol=1e-6)


def test_load_motion_dispatches_bvh_and_fps_snaps(tmp_path):
    m = random_motion("smpl24", T=4, fps=30.0)
    path = save_bvh(m, tmp_path / "m.bvh")
    # Writers that round Frame Time (Blender writes 6 decimals) still give an integer fps.
    text = path.read_text().replace("Frame Time: 0.03333333333", "Frame Time: 0.033333")
    path.write_text(text)
    back = load_motion(path)
    assert back.fps == 30.0
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-5)


def _write_other_order_bvh(path: Path, m: Motion, order: str, root_pos_last: bool) -> None:
    """An independent BVH writer (scipy Euler angles, another channel order, root position channels
    after the rotations, 4-space indents): what another tool might export."""
    from scipy.spatial.transform import Rotation

    sk = get_skeleton(m.skeleton)
    rot_ch = [f"{a}rotation" for a in order]
    pos_ch = ["Xposition", "Yposition", "Zposition"]
    dfs: list[int] = []
    text: list[str] = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "    " * depth
        dfs.append(j)
        text.append(f"{ind}{'ROOT' if j == 0 else 'JOINT'} {sk.joint_names[j]}")
        text.append(f"{ind}{{")
        off = [0.0, 0.0, 0.0] if j == 0 else sk.offsets[j]
        text.append(f"{ind}    OFFSET {off[0]:.8f} {off[1]:.8f} {off[2]:.8f}")
        chans = (rot_ch + pos_ch if root_pos_last else pos_ch + rot_ch) if j == 0 else rot_ch
        text.append(f"{ind}    CHANNELS {len(chans)} {' '.join(chans)}")
        kids = sk.children(j)
        for c in kids:
            emit(c, depth + 1)
        if not kids:
            text.append(f"{ind}    End Site\n{ind}    {{\n{ind}        OFFSET 0 0.03 0\n{ind}    }}")
        text.append(f"{ind}}}")

    emit(0, 0)
    text += ["MOTION", f"Frames: {m.num_frames}", f"Frame Time: {1 / m.fps:.8f}"]
    # scipy: uppercase = intrinsic, the BVH meaning of a channel order.
    euler = Rotation.from_rotvec(m.rotations.reshape(-1, 3)).as_euler(order, degrees=True)
    euler = euler.reshape(m.num_frames, -1, 3)[:, dfs]  # (T, J, 3) depth first
    pelvis = m.root + sk.root_rest
    for t in range(m.num_frames):
        rows = [list(e) for e in euler[t]]
        rows[0] = rows[0] + list(pelvis[t]) if root_pos_last else list(pelvis[t]) + rows[0]
        text.append("  ".join(f"{v:.8f}" for row in rows for v in row))
    path.write_text("\r\n".join(text) + "\r\n")  # CRLF, as Windows tools write


@pytest.mark.parametrize("order,root_pos_last", [("XYZ", False), ("YXZ", True), ("ZYX", False)])
def test_reads_other_channel_orders(tmp_path, order, root_pos_last):
    m = random_motion("smpl24", T=6, fps=60.0, seed=3)
    path = tmp_path / f"{order}.bvh"
    _write_other_order_bvh(path, m, order, root_pos_last)
    back = load_bvh(path)
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-5)
    np.testing.assert_allclose(rotmats(back.rotations), rotmats(m.rotations), atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------
def _good_text(tmp_path) -> str:
    return save_bvh(random_motion("smpl24", T=5), tmp_path / "good.bvh").read_text()


def _motion_start(lines: list[str]) -> int:
    return lines.index("MOTION") + 3  # first frame line (0-based)


def _corrupt(kind: str, text: str) -> tuple[str, str]:
    """(broken text, a regex its error must match)."""
    lines = text.splitlines()
    f0 = _motion_start(lines)
    if kind == "truncated_frames":
        return "\n".join(lines[:f0 + 2]) + "\n", r"after 2 of the 5 frames"
    if kind == "truncated_mid_line":
        cut = text[: text.index(lines[f0 + 3]) + 40]  # half of frame 3
        return cut, rf"line {f0 + 4}: frame 3 has \d+ values"
    if kind == "truncated_hierarchy":
        return "\n".join(lines[:30]) + "\n", r"truncated"
    if kind == "wrong_count":
        vals = lines[f0 + 1].split()
        lines[f0 + 1] = " ".join(vals[:-1])
        return "\n".join(lines), rf"line {f0 + 2}: frame 1 has {len(vals) - 1} values, the hierarchy " \
                                 rf"declares {len(vals)} channels"
    if kind == "nan":
        vals = lines[f0 + 2].split()
        vals[10] = "nan"
        lines[f0 + 2] = " ".join(vals)
        return "\n".join(lines), rf"line {f0 + 3}: frame 2 holds 'nan'"
    if kind == "non_numeric":
        vals = lines[f0].split()
        vals[4] = "1.2.3"
        lines[f0] = " ".join(vals)
        return "\n".join(lines), rf"line {f0 + 1}: frame 0 holds '1.2.3', not a number"
    if kind == "unknown_joints":
        return (text.replace("JOINT left_hip", "JOINT LeftUpLeg").replace("JOINT head", "JOINT Head_end"),
                r"missing head, left_hip; unknown Head_end, LeftUpLeg")
    if kind == "centimetres":
        out = []
        for line in lines:
            w = line.split()
            if w and w[0] == "OFFSET":
                line = "OFFSET " + " ".join(f"{100 * float(v):.6f}" for v in w[1:])
            out.append(line)
        return "\n".join(out), r"100 times pasdeux's"
    if kind == "frames_header":
        return text.replace("Frames: 5", "Frames: five"), r"frame count 'five' is not an integer"
    raise AssertionError(kind)


BAD_KINDS = ["truncated_frames", "truncated_mid_line", "truncated_hierarchy", "wrong_count", "nan",
             "non_numeric", "unknown_joints", "centimetres", "frames_header"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_files_raise_input_error(tmp_path, kind):
    text, pattern = _corrupt(kind, _good_text(tmp_path))
    bad = tmp_path / f"{kind}.bvh"
    bad.write_text(text)
    with pytest.raises(InputError, match=pattern) as info:
        load_bvh(bad)
    msg = str(info.value)
    assert msg.startswith(f"{bad}: ") and "\n" not in msg and ";" in msg  # file, problem; fix


@pytest.mark.parametrize("kind", ["truncated_frames", "wrong_count", "nan", "unknown_joints"])
def test_bad_files_through_cli(tmp_path, kind):
    text, pattern = _corrupt(kind, _good_text(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    bad = work / f"{kind}.bvh"
    bad.write_text(text)
    out = work / "out.npz"
    res = run_cli("convert", bad, "--to", "npz", "--out", out)
    assert res.returncode == 2
    assert res.stderr.startswith("pasdeux: error: ") and res.stderr.count("\n") == 1
    assert str(bad) in res.stderr
    assert sorted(p.name for p in work.iterdir()) == [bad.name]  # no output, no temp file


def test_small_offset_differences_are_accepted_large_ones_refused(tmp_path):
    text = _good_text(tmp_path)
    lines = text.splitlines()
    k = next(i for i, l in enumerate(lines) if l.strip() == "JOINT left_knee") + 2
    x, y, z = (float(v) for v in lines[k].split()[1:])
    ok = tmp_path / "ok.bvh"
    ok.write_text("\n".join(lines[:k] + [f"OFFSET {x} {y + 0.5 * OFFSET_TOLERANCE} {z}"] + lines[k + 1:]))
    load_bvh(ok)
    far = tmp_path / "far.bvh"
    far.write_text("\n".join(lines[:k] + [f"OFFSET {x} {y + 2 * OFFSET_TOLERANCE} {z}"] + lines[k + 1:]))
    with pytest.raises(InputError, match=rf"line {k - 1}: OFFSET of joint left_knee is 2.0 cm away"):
        load_bvh(far)


def test_save_refuses_what_bvh_cannot_hold(tmp_path):
    m = random_motion("smpl24", T=3)
    with pytest.raises(InputError, match="positions-only"):
        save_bvh(Motion(skeleton="smpl24", fps=30, joints=m.joints), tmp_path / "a.bvh")
    bad = Motion.from_smpl("smpl24", m.rotations, m.root, 30.0)
    bad.rotations[1, 2, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        save_bvh(bad, tmp_path / "b.bvh")
    assert list(tmp_path.iterdir()) == []

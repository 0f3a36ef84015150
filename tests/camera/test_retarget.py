"""SMPL / SMPL-X -> VMD bone keys: the z-flip convention, the rest pose (identity keys but the A-pose arms,
the centre at 0 when standing), bone directions and positions through MMD's forward kinematics of the
written keys, the centre following the root, bad input, and `cli.py convert --to vmd`."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

import cli
from camera.retarget import (BODY_BONES, FINGER_BONES, IK_BONES, RetargetConfig, arm_rest_rotation, mmd_rest_positions,
                             motion_to_vmd, vmd_forward_kinematics, z_flip_quaternion)
from camera.vmd import from_bytes, read_vmd, to_bytes
from data.datasets.dcm import MMD_BONES, mmd_joints_from_smplx
from data.errors import InputError
from data.motion import Motion, save_npz
from data.skeleton import get_skeleton

ROOT = Path(__file__).resolve().parents[2]
S = np.diag([1.0, 1.0, -1.0])
UNITS = 12.5  # MMD units per metre
CLEARANCE = min(mmd_rest_positions()[n][1] for n in ("左足首", "右足首", "左つま先", "右つま先"))  # mmd60 foot height

# (MMD head, MMD tail, SMPL head, SMPL tail): upper arm, forearm, thigh, shin, foot, collar, spine, chest, neck.
SEGMENTS = [(f"{s}{a}", f"{s}{b}", f"{side}_{c}", f"{side}_{d}")
            for s, side in (("左", "left"), ("右", "right"))
            for a, b, c, d in (("腕", "ひじ", "shoulder", "elbow"), ("ひじ", "手首", "elbow", "wrist"),
                               ("足", "ひざ", "hip", "knee"), ("ひざ", "足首", "knee", "ankle"),
                               ("足首", "つま先", "ankle", "foot"), ("肩", "腕", "collar", "shoulder"))]
SEGMENTS += [("上半身", "上半身2", "waist", "spine3"), ("上半身2", "首", "spine3", "neck"), ("首", "頭", "neck", "head")]


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def smpl_point(motion: Motion, name: str) -> np.ndarray:
    """(T, 3) a joint of the motion, or the waist (pelvis-spine1 midpoint, where MMD's 下半身 sits)."""
    sk = get_skeleton(motion.skeleton)
    if name == "waist":
        return 0.5 * (motion.joints[:, sk.index("pelvis")] + motion.joints[:, sk.index("spine1")])
    return motion.joints[:, sk.index(name)]


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def random_motion(skeleton: str, frames: int = 24, fps: float = 30.0, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    J = get_skeleton(skeleton).num_joints
    root = np.cumsum(rng.normal(scale=0.05, size=(frames, 3)), axis=0)
    return Motion.from_smpl(skeleton, rng.normal(scale=0.4, size=(frames, J, 3)), root, fps, name="random")


def standing_rest(skeleton: str, frames: int = 3) -> Motion:
    """Zero rotations, standing at the origin: the root set so the waist is at x = z = 0 and the lowest foot
    joint as high above y = 0 as mmd60's."""
    sk = get_skeleton(skeleton)
    rest = sk.rest_joints()
    lowest = min(rest[sk.index(j), 1] for j in ("left_ankle", "right_ankle", "left_foot", "right_foot"))
    waist = 0.5 * (rest[sk.index("pelvis")] + rest[sk.index("spine1")])
    root = np.tile([-waist[0], CLEARANCE - lowest, -waist[2]], (frames, 1))
    return Motion.from_smpl(skeleton, np.zeros((frames, sk.num_joints, 3)), root, 30.0, name="rest")


def keys_by_bone(vmd) -> dict[str, list]:
    out: dict[str, list] = {}
    for k in vmd.bones:
        out.setdefault(k.name, []).append(k)
    return out


# --------------------------------------------------------------------------------------------------
# Conventions
# --------------------------------------------------------------------------------------------------
def test_z_flip_of_a_quaternion_is_S_R_S():
    torch.manual_seed(0)
    q = roma.random_unitquat(50, dtype=torch.float64).numpy()  # (x, y, z, w)
    R = roma.unitquat_to_rotmat(torch.as_tensor(q)).numpy()
    R_mmd = roma.unitquat_to_rotmat(torch.as_tensor(z_flip_quaternion(q))).numpy()
    np.testing.assert_allclose(R_mmd, S @ R @ S, atol=1e-12)
    np.testing.assert_allclose(z_flip_quaternion(z_flip_quaternion(q)), q)  # its own inverse
    p = np.random.default_rng(1).normal(size=(50, 3))  # rotate-then-flip == flip-then-rotate-in-MMD
    np.testing.assert_allclose((S @ (R @ p[..., None]))[..., 0], (R_mmd @ (S @ p[..., None]))[..., 0], atol=1e-12)
    # By hand: 90 degrees about +y turns +z to +x in pasdeux; in MMD (z negated) it turns -z to +x,
    # which is 90 degrees about -y: (0, sin 45, 0, cos 45) -> (0, -sin 45, 0, cos 45).
    h = math.sqrt(0.5)
    np.testing.assert_allclose(z_flip_quaternion([0.0, h, 0.0, h]), [0.0, -h, 0.0, h])


def test_arm_rest_rotation_lowers_each_arm_about_the_forward_axis():
    a = math.radians(30)
    np.testing.assert_allclose(arm_rest_rotation("left", 30) @ [1, 0, 0], [math.cos(a), -math.sin(a), 0], atol=1e-12)
    np.testing.assert_allclose(arm_rest_rotation("right", 30) @ [-1, 0, 0], [-math.cos(a), -math.sin(a), 0],
                               atol=1e-12)
    np.testing.assert_allclose(S @ arm_rest_rotation("left", 30) @ S, arm_rest_rotation("left", 30))  # same in MMD
    rest_t, rest_a = mmd_rest_positions(0.0), mmd_rest_positions(30.0)
    for name in ("左腕", "左肩", "右肩", "下半身", "頭", "左足首"):  # the pivot and everything off the arm chain stay
        np.testing.assert_allclose(rest_a[name], rest_t[name])
    for s, down in (("左", -30.0), ("右", 30.0)):  # the arm's heading in the frontal (x, y) plane turns down 30
        t_pose, a_pose = rest_t[f"{s}手首"] - rest_t[f"{s}腕"], rest_a[f"{s}手首"] - rest_a[f"{s}腕"]
        turn = math.degrees(math.atan2(a_pose[1], a_pose[0]) - math.atan2(t_pose[1], t_pose[0]))
        assert a_pose[1] < 0 and abs((turn + 180) % 360 - 180 - down) < 1e-9 and a_pose[2] == t_pose[2]


@pytest.mark.parametrize("angle", [0.0, 37.5])
def test_rest_pose_keys_identity_but_the_a_pose_arms_and_centre_zero(angle):
    vmd = motion_to_vmd(standing_rest("smpl24"), RetargetConfig(arm_rest_angle_deg=angle, floor_height=0.0))
    keys = keys_by_bone(vmd)
    assert set(keys) == {"センター"} | {b.name for b in BODY_BONES}  # no fingers on smpl24
    assert all(len(k) == 3 for k in keys.values())
    s, c = math.sin(math.radians(angle) / 2), math.cos(math.radians(angle) / 2)
    for name, ks in keys.items():
        want = {"左腕": (0, 0, s, c), "右腕": (0, 0, -s, c)}.get(name, (0, 0, 0, 1))
        for k in ks:
            np.testing.assert_allclose(k.rotation, want, atol=1e-9, err_msg=name)
            np.testing.assert_allclose(k.position, (0, 0, 0), atol=1e-9, err_msg=name)  # centre 0 when standing
    # The key lifts the model's A-pose arm to horizontal, in MMD's own frame: 左腕 along +x, 右腕 along -x.
    a = math.radians(angle)
    for name, x in (("左腕", 1.0), ("右腕", -1.0)):
        R = roma.unitquat_to_rotmat(torch.tensor(keys[name][0].rotation, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(R @ [x * math.cos(a), -math.sin(a), 0.0], [x, 0.0, 0.0], atol=1e-9)
    # ... and FK of the keys on the A-pose model gives back the T-pose.
    fk = vmd_forward_kinematics(vmd, RetargetConfig(arm_rest_angle_deg=angle))
    rest = mmd_rest_positions(0.0)
    for name in MMD_BONES:
        np.testing.assert_allclose(fk[name][0], rest[name], atol=1e-9, err_msg=name)
    assert vmd.ik and vmd.ik[0].frame == 0 and vmd.ik[0].enabled == {n: False for n in IK_BONES}


def test_centre_stands_whatever_the_floor_when_estimated():
    lifted = standing_rest("smplx55")
    lifted.root[:, 1] -= 0.9  # a dataset whose floor is at y = -0.9 m
    m = Motion.from_smpl("smplx55", lifted.rotations, lifted.root, 30.0)
    for config, want_y in ((RetargetConfig(), 0.0), (RetargetConfig(floor_height=0.0), -0.9 * UNITS),
                           (RetargetConfig(floor_height=-1.0), 0.1 * UNITS)):
        centre = [k.position for k in motion_to_vmd(m, config).bones if k.name == "センター"]
        np.testing.assert_allclose(centre, [(0.0, want_y, 0.0)] * 3, atol=1e-9)


def test_centre_follows_the_root_in_mmd_units_with_z_negated():
    rng = np.random.default_rng(3)
    pose = np.repeat(rng.normal(scale=0.4, size=(1, 24, 3)), 10, axis=0)  # one pose (the pelvis turned) held
    root = rng.normal(scale=0.5, size=(10, 3))
    vmd = motion_to_vmd(Motion.from_smpl("smpl24", pose, root, 30.0), RetargetConfig(floor_height=0.0))
    centre = np.array([k.position for k in vmd.bones if k.name == "センター"])
    np.testing.assert_allclose(centre - centre[0], (root - root[0]) * [UNITS, UNITS, -UNITS], atol=1e-9)


def test_quaternions_stay_on_one_hemisphere_through_full_turns():
    pose = np.zeros((41, 24, 3))
    pose[:, 0, 1] = np.linspace(0, 4 * np.pi, 41)  # the pelvis turns round twice, 18 degrees a frame
    vmd = motion_to_vmd(Motion.from_smpl("smpl24", pose, np.zeros((41, 3)), 30.0))
    q = np.array([k.rotation for k in vmd.bones if k.name == "下半身"])
    assert q[0, 3] > 0 and (np.sum(q[1:] * q[:-1], axis=1) > np.cos(np.radians(18) / 2) - 1e-9).all()
    np.testing.assert_allclose(q[20], [0, 0, 0, -1], atol=1e-9)  # one full turn: -identity, not a jump to +1


# --------------------------------------------------------------------------------------------------
# MMD's forward kinematics of the keys against the SMPL joints
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("skeleton", ["smpl24", "smplx55"])
@pytest.mark.parametrize("angle", [0.0, 37.5])
def test_bone_directions_match_the_smpl_joints(skeleton, angle):
    m = random_motion(skeleton)
    config = RetargetConfig(arm_rest_angle_deg=angle)
    vmd = from_bytes(to_bytes(motion_to_vmd(m, config)))  # as the file holds them (float32)
    fk = vmd_forward_kinematics(vmd, config)
    errors = {mh: angle_deg(fk[mt] - fk[mh], smpl_point(m, st) - smpl_point(m, sh)).max()
              for mh, mt, sh, st in SEGMENTS}
    worst = max(errors, key=errors.get)
    # Measured: <= 0.0003 degrees (float32 keys; mmd60's rest is SMPL's T-pose to 1e-6 m).
    assert errors[worst] < 0.01, f"{worst}: {errors[worst]:.4f} degrees"
    if skeleton == "smplx55":  # the finger chains too
        for s, side in (("左", "left"), ("右", "right")):
            for mmd, smplx in (("人指", "index"), ("中指", "middle"), ("小指", "pinky")):
                for k in (1, 2):
                    d_mmd = fk[f"{s}{mmd}{'１２３'[k]}"] - fk[f"{s}{mmd}{'１２３'[k - 1]}"]
                    d_smpl = smpl_point(m, f"{side}_{smplx}{k + 1}") - smpl_point(m, f"{side}_{smplx}{k}")
                    assert angle_deg(d_mmd, d_smpl).max() < 0.01


def test_smplx_positions_match_the_mmd_mapping_up_to_the_spine_chord():
    """mmd60's rest is SMPL-X's T-pose mapped through SMPLX_TO_MMD, so every bone lands on the mapped
    SMPL-X joints (shifted by the floor) - except that MMD's waist -> 上半身2 is one rigid bone where
    SMPL-X's spine has three: when it bends its chord shortens, and 上半身2 with everything above it
    moves by exactly that length change along the spine."""
    m = random_motion("smplx55", frames=12, seed=5)
    config = RetargetConfig(arm_rest_angle_deg=37.5, floor_height=0.0)
    fk = vmd_forward_kinematics(motion_to_vmd(m, config), config)
    mapped = dict(zip(MMD_BONES, np.moveaxis(mmd_joints_from_smplx(m.joints), 1, 0)))
    lower = [n for n in MMD_BONES if n == "下半身" or n == "上半身" or "足" in n or "ひざ" in n or "つま先" in n]
    for name in lower:  # the waist and legs: exact
        np.testing.assert_allclose(fk[name], mapped[name], atol=1e-5, err_msg=name)  # mmd60 is rounded to 1e-6 m
    chest = fk["上半身2"] - mapped["上半身2"]
    for name in set(MMD_BONES) - set(lower):  # the upper body: rigidly with the chest
        np.testing.assert_allclose(fk[name] - mapped[name], chest, atol=1e-5, err_msg=name)
    rest = get_skeleton("smplx55").rest_joints()
    chord_rest = np.linalg.norm(rest[9] - 0.5 * (rest[0] + rest[3]))
    chord = np.linalg.norm(smpl_point(m, "spine3") - smpl_point(m, "waist"), axis=-1)
    np.testing.assert_allclose(np.linalg.norm(chest, axis=-1), np.abs(chord - chord_rest), atol=1e-5)
    assert np.abs(chord - chord_rest).max() < 0.05  # measured 3.2 cm for these wild random spines (0.4 rad a joint)


# --------------------------------------------------------------------------------------------------
# Bad input and the config
# --------------------------------------------------------------------------------------------------
def test_positions_only_and_nan_motions_are_input_errors():
    joints = np.zeros((4, 24, 3))
    with pytest.raises(InputError, match="x.npz: positions-only motion; VMD bone keys need joint rotations"):
        motion_to_vmd(Motion("smpl24", 30.0, joints), source="x.npz")
    with pytest.raises(InputError, match="mmd60 motion holds positions only"):
        motion_to_vmd(Motion("mmd60", 30.0, np.zeros((4, 60, 3)), name="m1_gt"))
    rot = np.zeros((4, 24, 3))
    rot[2, 5, 1] = np.nan
    with pytest.raises(InputError, match=r"dance: rotations holds 1 NaN"):
        motion_to_vmd(Motion("smpl24", 30.0, joints, rotations=rot, root=np.zeros((4, 3)), name="dance"))


@pytest.mark.parametrize("bad", [dict(arm_rest_angle_deg=-5), dict(arm_rest_angle_deg=90), dict(arm_rest_angle_deg=True),
                                 dict(arm_rest_angle_deg=float("nan")), dict(fps=0), dict(units_per_metre=-1),
                                 dict(model_name="初音ミク" * 3), dict(model_name="\u2603"), dict(disable_ik="no"),
                                 dict(floor_height=float("inf"))])
def test_config_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        RetargetConfig(**bad)


# --------------------------------------------------------------------------------------------------
# cli.py convert --to vmd
# --------------------------------------------------------------------------------------------------
def test_convert_to_vmd_reads_back_at_30_fps_with_ik_off(tmp_path):
    m = random_motion("smplx55", frames=9, fps=60.0, seed=7)
    src = save_npz(m, tmp_path / "dance.npz")
    out = run_cli("convert", src, "--to", "vmd", "--out", tmp_path / "dance.vmd", "--arm-angle", "30",
                  "--model-name", "初音ミク")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "dance.vmd")
    vmd = read_vmd(tmp_path / "dance.vmd")
    assert vmd.model_name == "初音ミク"
    keys = keys_by_bone(vmd)
    assert set(keys) == {"センター"} | {b.name for b in BODY_BONES + FINGER_BONES}
    assert all(sorted(k.frame for k in ks) == [0, 1, 2, 3, 4] for ks in keys.values())  # 9 frames at 60 fps
    assert len(vmd.ik) == 1 and vmd.ik[0].frame == 0 and vmd.ik[0].enabled == dict.fromkeys(IK_BONES, False)
    # Frame k of the file is the motion's frame 2k (float32 npz): FK on the 30-degree model agrees.
    fk = vmd_forward_kinematics(vmd, RetargetConfig(arm_rest_angle_deg=30))
    at30 = Motion.from_smpl("smplx55", m.rotations[::2], m.root[::2], 30.0)
    for mh, mt, sh, st in SEGMENTS:
        assert angle_deg(fk[mt] - fk[mh], smpl_point(at30, st) - smpl_point(at30, sh)).max() < 0.01


def test_convert_to_vmd_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    positions = tmp_path / "positions.npz"
    np.savez(positions, skeleton=np.str_("smpl24"), fps=np.float64(30), joints=np.zeros((4, 24, 3)))
    nan = tmp_path / "nan.npz"
    rot = np.zeros((4, 24, 3))
    rot[1, 2, 0] = np.nan
    np.savez(nan, skeleton=np.str_("smpl24"), fps=np.float64(30), joints=np.zeros((4, 24, 3)), rotations=rot,
             root=np.zeros((4, 3)))
    cases = [([positions, "--to", "vmd"], [str(positions), "need joint rotations", "cli.py dance"]),
             ([nan, "--to", "vmd"], [str(nan), "NaN"]),
             ([nan, "--to", "npz", "--arm-angle", "30"], ["--arm-angle only apply to --to vmd"]),
             ([nan, "--to", "vmd", "--arm-angle", "95"], ["arm_rest_angle_deg"])]
    for args, words in cases:
        rc = cli.main(["convert", *map(str, args), "--out", str(tmp_path / "out.vmd")])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("pasdeux: error: ") and err.count("\n") == 1, err
        assert all(w in err for w in words), err
    assert sorted(tmp_path.iterdir()) == sorted([positions, nan])

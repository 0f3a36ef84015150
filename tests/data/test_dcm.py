"""DCM: the mmd60 skeleton, SMPL-X -> MMD mapping, motion/camera JSON, layout (units and the camera
convention: tests/data/test_camera.py)."""

from __future__ import annotations

import json
from math import pi
from pathlib import Path

import numpy as np
import pytest

from data.camera import CameraTrack
from data.datasets.dcm import (MMD_BONES, SMPLX_TO_MMD, DCMReader, load_dcm_motion, mmd_joints_from_smplx,
                               read_camera_json, read_motion_json, write_camera_json, write_motion_json)
from data.errors import InputError
from data.skeleton import ASSETS, get_skeleton

SMPLX = get_skeleton("smplx55")


def _bone(name: str) -> int:
    return MMD_BONES.index(name)


# --------------------------------------------------------------------------------------------------
# Skeleton and mapping
# --------------------------------------------------------------------------------------------------
def test_mmd60_skeleton_file():
    sk = get_skeleton("mmd60")
    spec = json.loads((ASSETS / "mmd60_skeleton.json").read_text(encoding="utf-8"))
    assert sk.num_joints == 60 and sk.joint_names == MMD_BONES
    assert len(spec["joints_en"]) == 60 and len(set(spec["joints_en"])) == 60
    assert spec["joints_en"][_bone("左腕捩")] == "left_arm_twist"
    # DCM's order, spot-checked against dancecamera3d.md 1.3
    assert MMD_BONES[:8] == ("下半身", "上半身", "上半身2", "首", "頭", "両目", "左目", "右目")
    assert MMD_BONES[8:16] == ("左足", "左ひざ", "左足首", "左つま先", "右足", "右ひざ", "右足首", "右つま先")
    assert MMD_BONES[16:23] == ("左肩P", "左肩", "左腕", "左ひじ", "左手首", "左腕捩", "左手捩")
    assert MMD_BONES[23] == "左親指０" and MMD_BONES[37] == "左小指３" and MMD_BONES[38] == "右肩P"
    assert MMD_BONES[59] == "右小指３"
    parent = {sk.joint_names[j]: (sk.joint_names[p] if p >= 0 else None) for j, p in enumerate(sk.parents)}
    assert parent["下半身"] is None and parent["上半身"] == "下半身" and parent["左足"] == "下半身"
    assert parent["左肩P"] == "上半身2" and parent["左腕捩"] == "左腕" and parent["左手捩"] == "左ひじ"
    assert parent["左手首"] == "左ひじ" and parent["左人指１"] == "左手首" and parent["右小指３"] == "右小指２"
    rest = sk.rest_joints()
    assert rest[:, 1].min() >= 0.0  # standing on the floor, y up
    assert 1.4 < rest[:, 1].max() < 1.9  # human height, metres
    for j, name in enumerate(MMD_BONES):
        if name.startswith("左"):
            assert rest[j, 0] > 0.02, name  # the body's left is +x
            assert np.allclose(rest[j] * [-1, 1, 1], rest[MMD_BONES.index("右" + name[1:])], atol=0.02)


def test_mapping_weights_and_order():
    assert [name for name, _ in SMPLX_TO_MMD] == list(MMD_BONES)
    for name, weights in SMPLX_TO_MMD:
        assert abs(sum(w for _, w in weights) - 1.0) < 1e-12, name
        for joint, _ in weights:
            SMPLX.index(joint)  # every joint exists
        if name.startswith("左"):
            assert all(j.startswith("left_") for j, _ in weights), name
        if name.startswith("右"):
            assert all(j.startswith("right_") for j, _ in weights), name


def test_mapping_on_a_t_pose():
    rest = SMPLX.rest_joints()  # (55, 3) T-pose
    T = np.stack([rest, rest + [1.0, 0.0, -2.0]])  # (2, 55, 3)
    mmd = mmd_joints_from_smplx(T)
    assert mmd.shape == (2, 60, 3)
    np.testing.assert_allclose(mmd[1], mmd[0] + [1.0, 0.0, -2.0], atol=1e-12)  # commutes with translation
    m = mmd[0]
    j = SMPLX.index
    # hand-computed positions
    np.testing.assert_allclose(m[_bone("下半身")], (rest[j("pelvis")] + rest[j("spine1")]) / 2)
    np.testing.assert_allclose(m[_bone("上半身")], m[_bone("下半身")])
    np.testing.assert_allclose(m[_bone("左腕捩")], (rest[j("left_shoulder")] + rest[j("left_elbow")]) / 2)
    np.testing.assert_allclose(m[_bone("右手捩")], (rest[j("right_elbow")] + rest[j("right_wrist")]) / 2)
    np.testing.assert_allclose(m[_bone("左人指１")], rest[j("left_index1")])
    np.testing.assert_allclose(m[_bone("右親指０")], rest[j("right_thumb1")])
    np.testing.assert_allclose(m[_bone("両目")], (rest[j("left_eye_smplhf")] + rest[j("right_eye_smplhf")]) / 2)
    # anatomy
    for name in MMD_BONES:
        if name.startswith("左"):
            assert m[_bone(name), 0] > 0, name
        elif name.startswith("右"):
            assert m[_bone(name), 0] < 0, name
    y = lambda n: m[_bone(n), 1]  # noqa: E731
    assert y("頭") > y("首") > y("上半身2") > y("上半身") > y("左足") > y("左ひざ") > y("左足首")
    assert m[_bone("左手首"), 0] > m[_bone("左ひじ"), 0] > m[_bone("左腕"), 0] > m[_bone("左肩"), 0]
    assert m[_bone("左つま先"), 2] > m[_bone("左足首"), 2]  # toes point forward (+z)
    assert m[_bone("両目"), 2] > m[_bone("頭"), 2]
    # the shipped rest skeleton is this mapping, moved as a whole
    shift = get_skeleton("mmd60").rest_joints() - m
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-5)
    with pytest.raises(ValueError):
        mmd_joints_from_smplx(np.zeros((2, 24, 3)))


# --------------------------------------------------------------------------------------------------
# Motion JSON
# --------------------------------------------------------------------------------------------------
def _positions(T: int) -> np.ndarray:
    b = np.arange(60, dtype=np.float64)
    return np.stack([np.stack([b, np.full(60, 10.0 + f), -b / 2], axis=1) for f in range(T)])  # (T, 60, 3)


def test_hand_made_two_frame_motion(tmp_path, files):
    pos = _positions(2)
    records = files.dcm_transform_records(pos)[::-1]  # stored out of order: FrameTime decides
    path = files.write_json(tmp_path / "m3_1_gt.json", {"BoneKeyFrameNumber": 2, "BoneKeyFrameTransformRecord": records})
    got = read_motion_json(path)
    assert got.shape == (2, 60, 3)
    np.testing.assert_array_equal(got, pos)
    assert got[1, 7].tolist() == [7.0, 11.0, -3.5]  # bone 7 (右目), frame 1, by hand
    m = load_dcm_motion(path)
    assert (m.skeleton, m.fps, m.name, m.rotations) == ("mmd60", 30.0, "m3_1_gt", None)
    np.testing.assert_allclose(m.joints[1, 7], [0.56, 0.88, -0.28])  # x 0.08 m per unit


def test_frame_count_comes_from_bone_key_frame_number(tmp_path, files):
    pos = _positions(3)
    path = files.write_json(tmp_path / "m.json", {"BoneKeyFrameNumber": 2,
                                            "BoneKeyFrameTransformRecord": files.dcm_transform_records(pos)})
    np.testing.assert_array_equal(read_motion_json(path), pos[:2])


def test_motion_writer_round_trip(tmp_path):
    pos = np.random.default_rng(0).normal(size=(4, 60, 3)) * 10
    path = write_motion_json(pos, tmp_path / "m0_gt.json")
    np.testing.assert_allclose(read_motion_json(path), pos)
    transform = json.loads(path.read_text())["BoneKeyFrameTransformRecord"][2]["Transform"]
    assert transform[16 * 5 + 12: 16 * 5 + 15] == pos[2, 5].tolist()  # column-major translation slot
    assert transform[16 * 5 + 15] == 1.0 and transform[16 * 5] == 1.0


@pytest.mark.parametrize("data, match", [
    ({"BoneKeyFrameNumber": 1}, "BoneKeyFrameTransformRecord"),
    ({"BoneKeyFrameNumber": 1, "BoneKeyFrameTransformRecord": []}, "empty"),
    ({"BoneKeyFrameNumber": 3, "BoneKeyFrameTransformRecord": "R2"}, "only 2 records"),
    ({"BoneKeyFrameNumber": 0, "BoneKeyFrameTransformRecord": "R2"}, "positive"),
    ({"BoneKeyFrameNumber": 1, "BoneKeyFrameTransformRecord": [{"FrameTime": 0, "Transform": [0.0] * 959}]},
     "959"),
    ({"BoneKeyFrameNumber": 1, "BoneKeyFrameTransformRecord": [{"FrameTime": 0}]}, "Transform"),
    ({"BoneKeyFrameNumber": 1, "BoneKeyFrameTransformRecord": [{"Transform": [float("nan")] * 960}]}, "NaN"),
    ({"BoneKeyFrameNumber": 1, "BoneKeyFrameTransformRecord": [{"Transform": ["x"] * 960}]}, "numeric"),
    ([1, 2, 3], "not a DCM motion"),
])
def test_bad_motion_files(tmp_path, data, match, files):
    if isinstance(data, dict) and data.get("BoneKeyFrameTransformRecord") == "R2":
        data["BoneKeyFrameTransformRecord"] = files.dcm_transform_records(_positions(2))
    path = files.write_json(tmp_path / "m9_gt.json", data)
    with pytest.raises(InputError) as info:
        read_motion_json(path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)


def test_motion_not_json(tmp_path, files):
    path = files.write_text(tmp_path / "m9_gt.json", "BoneKeyFrameNumber = 3\n")
    with pytest.raises(InputError, match="not valid JSON"):
        load_dcm_motion(path)


# --------------------------------------------------------------------------------------------------
# Camera JSON
# --------------------------------------------------------------------------------------------------
CAMERA_2 = {
    "FrameTime": 2,
    "Distance": [-10.0, -20.0],
    "Position": [[1.0, 2.0, 3.0], [0.0, 10.0, 0.0]],
    "Rotation": [[0.0, pi / 2, 0.0], [0.0, 0.0, 0.0]],
    "Fov": [30.0, 45.5],
    "camera_eye": [[11.0, 2.0, -3.0], [0.0, 10.0, 20.0]],
    "camera_z": [[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
    "camera_y": [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]],
    "camera_x": [[0.0, 0.0, -1.0], [1.0, 0.0, 0.0]],
}


def test_hand_made_camera_file(tmp_path, files):
    path = files.write_json(tmp_path / "c3_1.json", CAMERA_2)
    cam = read_camera_json(path)
    assert cam.num_frames == 2 and cam.fps == 30.0 and cam.name == "c3_1"
    assert cam.interest.shape == (2, 3) and cam.fov.tolist() == [30.0, 45.5]
    np.testing.assert_array_equal(cam.extras["camera_eye"], CAMERA_2["camera_eye"])
    np.testing.assert_allclose(cam.polar, [[-10.0, 1.0, 2.0, 3.0, 0.0, pi / 2, 0.0, 30.0],
                                           [-20.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 45.5]])
    np.testing.assert_allclose(cam.eye(), CAMERA_2["camera_eye"], atol=1e-12)  # our convention = the file's
    np.testing.assert_allclose(cam.eye(metres=True), np.array(CAMERA_2["camera_eye"]) * 0.08, atol=1e-12)
    _, right, up, forward = cam.frame()
    np.testing.assert_allclose(forward, CAMERA_2["camera_z"], atol=1e-12)
    np.testing.assert_allclose(up, CAMERA_2["camera_y"], atol=1e-12)
    np.testing.assert_allclose(right, CAMERA_2["camera_x"], atol=1e-12)
    np.testing.assert_allclose(cam.centric[0], [0.0, pi / 2, 0.0, 30.0, 11.0, 2.0, -3.0], atol=1e-12)
    np.testing.assert_array_equal(cam.extras["camera_eye"], CAMERA_2["camera_eye"])

    back = CameraTrack.from_polar(cam.polar)
    np.testing.assert_array_equal(back.polar, cam.polar)


def test_camera_keyframe_style_vectors(tmp_path, files):
    data = {k: CAMERA_2[k] for k in ("FrameTime", "Distance", "Rotation", "Fov")}
    data["Position"] = [{"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 0.0, "y": 10.0, "z": 0.0}]
    np.testing.assert_array_equal(read_camera_json(files.write_json(tmp_path / "c.json", data)).interest,
                                  CAMERA_2["Position"])


def test_camera_writer_round_trip(tmp_path):
    cam = CameraTrack.from_polar(np.array([[-30.0, 1.0, 12.0, -4.0, 0.1, 0.7, -0.2, 25.0],
                                           [-31.0, 1.5, 11.0, -3.0, 0.2, 0.8, 0.3, 26.0]]))
    path = write_camera_json(cam, tmp_path / "c0.json")
    back = read_camera_json(path)
    np.testing.assert_allclose(back.polar, cam.polar)
    np.testing.assert_allclose(back.extras["camera_eye"], cam.eye())
    assert json.loads(path.read_text())["FrameTime"] == 2


def _broken(**changes) -> dict:
    data = json.loads(json.dumps(CAMERA_2))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


@pytest.mark.parametrize("data, match", [
    (_broken(Fov=None), "'Fov'"),
    (_broken(Distance=None, Rotation=None), "'Distance', 'Rotation'"),
    (_broken(Fov=[30.0]), "disagree"),
    (_broken(FrameTime=3), "FrameTime"),
    (_broken(Position=[[1.0, 2.0], [3.0, 4.0]]), "Position' has shape (2, 2)"),
    (_broken(Rotation=[[0.0, float("nan"), 0.0], [0.0, 0.0, 0.0]]), "NaN"),
    (_broken(Fov=[30.0, 0.0]), "Fov"),
    (_broken(camera_eye=[[0.0, 0.0, 0.0]]), "disagree"),
    (_broken(FrameTime=0, Distance=[], Position=[], Rotation=[], Fov=[], camera_eye=None, camera_x=None,
             camera_y=None, camera_z=None), "shape"),
    ([CAMERA_2], "not a DCM camera"),
])
def test_bad_camera_files(tmp_path, data, match, files):
    path = files.write_json(tmp_path / "c1.json", data)
    with pytest.raises(InputError) as info:
        read_camera_json(path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)


def _result_file(**changes) -> dict:
    """A DanceCamera3D result file: the eye, the axes and the fov of CAMERA_2, nothing else."""
    data = {k: CAMERA_2[k] for k in ("camera_eye", "camera_x", "camera_y", "camera_z", "Fov")}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("fov", [CAMERA_2["Fov"], [[f] for f in CAMERA_2["Fov"]]], ids=["(N,)", "(N, 1)"])
def test_result_camera_file(tmp_path, fov, files):
    cam = read_camera_json(files.write_json(tmp_path / "c3_1.json", _result_file(Fov=fov)))
    assert cam.num_frames == 2 and cam.fps == 30.0 and cam.name == "c3_1"
    assert cam.fov.tolist() == CAMERA_2["Fov"]
    for got, key in zip(cam.frame(), ("camera_eye", "camera_x", "camera_y", "camera_z")):
        np.testing.assert_allclose(got, CAMERA_2[key], atol=1e-12)
        np.testing.assert_array_equal(cam.extras[key], CAMERA_2[key])


@pytest.mark.parametrize("data, match", [
    (_result_file(camera_x=None), "no 'camera_x': not a DanceCamera3D result camera file"),
    (_result_file(camera_x=[[0.0, 0.0, -2.0], [1.0, 0.0, 0.0]]), "not a right-handed orthonormal frame"),
    (_result_file(Fov=[30.0]), "disagree"),
    (_result_file(Fov=[[30.0, 1.0], [45.5, 1.0]]), "'Fov' has shape (2, 2)"),
    (_result_file(camera_eye=[[0.0, float("inf"), 0.0], [0.0, 0.0, 0.0]]), "NaN/infinite"),
])
def test_bad_result_camera_files(tmp_path, data, match, files):
    path = files.write_json(tmp_path / "c1.json", data)
    with pytest.raises(InputError) as info:
        read_camera_json(path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)


# --------------------------------------------------------------------------------------------------
# The dataset layout
# --------------------------------------------------------------------------------------------------
def _dcm_root(files, tmp_path: Path) -> Path:
    root = tmp_path / "DCM_data"
    data = root / "amc_data_split_by_categories"
    files.make_dcm_piece(data / "Train", "66_0", "C", frames=3, camera_frames=2)
    files.make_dcm_piece(data / "Train", "66_1", "C", frames=2)
    files.make_dcm_piece(data / "Train", "28", "K", frames=2)  # a song that was not cut
    files.make_dcm_piece(data / "Validation", "5_2", "C", frames=2)
    files.make_dcm_piece(data / "Test", "9_1", "K", frames=2)
    files.make_dcm_piece(data / "Test", "9_0", "K", frames=2, motion=False)  # incomplete
    files.make_dcm_piece(data / "Test", "10_3", None, frames=2)  # no audio
    files.write_json(root / "split" / "train.json", ["C_66_0", "C_66_1", "K_28"])
    files.write_json(root / "split" / "validation.json", ["C_5_2"])
    files.write_json(root / "split" / "music_categories.json", {"Chinese": [5, 66], "Korean": [9, 10, 28]})
    files.write_json(root / "split" / "long2short.json", {"66": [[0, 2], [2, 3]], "28": []})
    return root


def test_dataset_listing(tmp_path, files):
    ds = DCMReader(_dcm_root(files, tmp_path))
    assert ds.sequences("train") == ["28", "66_0", "66_1"]  # by song, then piece
    assert ds.sequences("val") == ["5_2"] and ds.sequences("validation") == ["5_2"]
    assert ds.sequences("test") == ["9_1", "10_3"]
    assert ds.sequences() == ["28", "66_0", "66_1", "5_2", "9_1", "10_3"]
    assert ds.incomplete() == ["9_0"]
    p = ds.piece("66_1")
    assert (p.song, p.piece, p.genre, p.split, p.key, p.genre_name) == (66, 1, "C", "train", "C_66_1", "Chinese")
    q = ds.piece("28")
    assert (q.piece, q.key, q.genre_name) == (None, "K_28", "Korean")
    assert ds.piece("10_3").genre is None
    with pytest.raises(InputError, match="9_0"):
        ds.piece("9_0")


def test_dataset_files_and_loading(tmp_path, files):
    root = _dcm_root(files, tmp_path)
    ds = DCMReader(root)
    split = root / "amc_data_split_by_categories"
    assert ds.audio_path("66_0") == split / "Train" / "Audio" / "a66_0_C.wav"
    assert ds.audio_path("28") == split / "Train" / "Audio" / "a28_K.wav"
    assert ds.camera_path("5_2") == split / "Validation" / "CameraCentric" / "c5_2.json"
    assert ds.motion_path("9_1") == split / "Test" / "Simplified_MotionGlobalTransform" / "m9_1_gt.json"
    with pytest.raises(InputError, match="a10_3"):
        ds.audio_path("10_3")
    motion, camera = ds.load("66_0")  # motion 3 frames, camera 2: cropped to 2
    assert motion.num_frames == camera.num_frames == 2
    assert motion.music == str(split / "Train" / "Audio" / "a66_0_C.wav")
    expected = np.arange(3 * 60 * 3, dtype=np.float64).reshape(3, 60, 3)[:2] / 100.0 * 0.08
    np.testing.assert_allclose(motion.joints, expected)
    assert ds.load_motion("66_0").num_frames == 3


def test_split_metadata(tmp_path, files):
    root = _dcm_root(files, tmp_path)
    ds = DCMReader(root)
    assert ds.split_keys("train") == ["C_66_0", "C_66_1", "K_28"]
    assert ds.split_keys("val") == ["C_5_2"]
    assert ds.split_keys("test") is None  # absent: tolerated
    assert ds.music_categories() == {"Chinese": [5, 66], "Korean": [9, 10, 28]}
    assert ds.long2short() == {66: [(0, 2), (2, 3)], 28: []}
    files.write_json(root / "split" / "test.json", {"C_1": 1})
    with pytest.raises(InputError, match="test.json"):
        ds.split_keys("test")
    files.write_json(root / "split" / "test.json", ["C_1", "66_0"])
    with pytest.raises(InputError, match="test.json"):
        ds.split_keys("test")


def test_dataset_roots(tmp_path, files):
    root = _dcm_root(files, tmp_path)
    inner = DCMReader(root / "amc_data_split_by_categories")  # the inner folder works too
    assert inner.sequences("val") == ["5_2"] and inner.split_keys("val") == ["C_5_2"]
    with pytest.raises(InputError) as info:
        DCMReader(tmp_path / "nowhere")
    assert "nowhere" in str(info.value) and "EULA" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="amc_data_split_by_categories"):
        DCMReader(tmp_path / "empty")
    # a missing split folder: that split fails, "all" uses what is there
    import shutil
    shutil.rmtree(root / "amc_data_split_by_categories" / "Validation")
    ds = DCMReader(root)
    with pytest.raises(InputError, match="Validation"):
        ds.sequences("val")
    assert ds.sequences() == ["28", "66_0", "66_1", "9_1", "10_3"]

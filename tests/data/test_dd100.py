"""DD100 reader: SMPL-X npy dicts (and refusing unsafe ones), split rule, pairing, cropping, music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.datasets.dd100 import DD100Reader, load_dd100_motion, parse_duet_name, split_of
from data.errors import InputError
from data.formats import load_motion
from data.motion import Motion
from data.skeleton import get_skeleton


# --------------------------------------------------------------------------------------------------
# One motion file
# --------------------------------------------------------------------------------------------------
def test_global_orient_takes_joint_0(tmp_path, files):
    payload = files.dd100_payload(t=6, seed=1)
    m = load_dd100_motion(files.write_dd100_npy(tmp_path / "Tango_05_1_01.npy", payload))
    assert (m.skeleton, m.fps, m.num_frames, m.name) == ("smplx55", 30.0, 6, "Tango_05_1_01")
    poses = payload["poses"].astype(np.float64).reshape(6, 55, 3)
    np.testing.assert_allclose(m.rotations[:, 0], payload["global_orient"], atol=1e-7)
    assert np.abs(poses[:, 0] - payload["global_orient"]).max() > 0.1  # they really differ
    np.testing.assert_allclose(m.rotations[:, 1:], poses[:, 1:], atol=1e-7)
    np.testing.assert_allclose(m.root, payload["transl"], atol=1e-7)
    expected = poses.copy()
    expected[:, 0] = payload["global_orient"]
    ref = Motion.from_smpl("smplx55", expected, payload["transl"].astype(np.float64), fps=30)
    np.testing.assert_allclose(m.joints, ref.joints, atol=1e-9)
    assert m.extras["betas"].shape == (6, 16) and m.extras["gender"] == "female"


def test_without_global_orient_poses_give_joint_0(tmp_path, files):
    payload = files.dd100_payload(t=4, with_orient=False, gender=None)
    m = load_dd100_motion(files.write_dd100_npy(tmp_path / "a.npy", payload))
    np.testing.assert_allclose(m.rotations[:, 0], payload["poses"][:, :3], atol=1e-7)
    assert "gender" not in m.extras


def test_zero_pose_hand_computed(tmp_path, files):
    payload = {"poses": np.zeros((2, 165)), "transl": np.array([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0]]),
               "meta": {"gender": np.array("male")}}
    m = load_dd100_motion(files.write_dd100_npy(tmp_path / "a.npy", payload))
    rest = get_skeleton("smplx55").rest_joints()
    np.testing.assert_allclose(m.joints[0], rest + [0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(m.joints[1], rest + [0.0, 1.0, 0.0], atol=1e-12)
    assert m.extras == {"gender": "male"}
    # and through the format dispatch
    np.testing.assert_allclose(load_motion(tmp_path / "a.npy").joints, m.joints)


def _assert_error(path: Path, match: str) -> None:
    with pytest.raises(InputError) as info:
        load_dd100_motion(path)
    assert str(path) in str(info.value) and match in str(info.value), str(info.value)


def test_forbidden_global_is_refused(tmp_path, files):
    marker = tmp_path / "marker"
    payload = files.dd100_payload()
    payload["betas"] = files.SystemPayload(f"touch '{marker}'")
    _assert_error(files.write_dd100_npy(tmp_path / "evil_01.npy", payload), "system")
    payload["betas"] = files.OpenPayload(str(marker))
    _assert_error(files.write_dd100_npy(tmp_path / "evil_00.npy", payload), "refus")
    assert not marker.exists()


@pytest.mark.parametrize("drop", ["poses", "transl"])
def test_missing_key(tmp_path, drop, files):
    payload = files.dd100_payload()
    del payload[drop]
    _assert_error(files.write_dd100_npy(tmp_path / "a.npy", payload), drop)


@pytest.mark.parametrize("key, value, match", [
    ("poses", np.zeros((6, 156)), "poses has shape (6, 156)"),
    ("transl", np.zeros((5, 3)), "transl has shape (5, 3)"),
    ("global_orient", np.zeros((6, 4)), "global_orient has shape (6, 4)"),
    ("betas", np.zeros((6, 5)), "betas has shape (6, 5)"),
])
def test_wrong_shapes(tmp_path, key, value, match, files):
    payload = files.dd100_payload(t=6)
    payload[key] = value
    _assert_error(files.write_dd100_npy(tmp_path / "a.npy", payload), match)


@pytest.mark.parametrize("key", ["poses", "transl", "global_orient"])
def test_nan(tmp_path, key, files):
    payload = files.dd100_payload(t=6)
    payload[key][3, 2] = np.nan
    _assert_error(files.write_dd100_npy(tmp_path / "a.npy", payload), "NaN")


def test_not_a_dict_and_not_npy(tmp_path, files):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros((3, 164)))
    _assert_error(plain, "not Duolando's (T, 165) joint positions")
    np.save(plain, np.array(["a", "b"]))
    _assert_error(plain, "ndarray")
    _assert_error(files.write_text(tmp_path / "text.npy", "poses, transl\n"), "not an .npy")


def test_duolando_joint_position_files_read_as_positions(tmp_path):
    """Duolando's pos3d / result files: (T, 165) joint positions, read as they are (scored beside ours)."""
    joints = np.random.default_rng(0).normal(size=(7, 55, 3))
    np.save(tmp_path / "Tango_05_1_00.npy", joints.reshape(7, 165).astype(np.float32))
    m = load_motion(tmp_path / "Tango_05_1_00.npy")
    assert (m.skeleton, m.fps, m.num_frames, m.rotations) == ("smplx55", 30.0, 7, None)
    np.testing.assert_allclose(m.joints, joints, atol=1e-6)
    bad = joints.reshape(7, 165).copy()
    bad[2, 5] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    _assert_error(tmp_path / "bad.npy", "NaN")


# --------------------------------------------------------------------------------------------------
# Names and split
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, split", [
    ("Tango_05_1", "test"), ("Tango_04_1", "train"), ("Tango_10_2", "test"), ("Rumba_00_1", "test"),
    ("Rumba_11_1", "train"), ("Ballet_09_1", "test"), ("Ballet_10_1", "test"), ("Ballet_05_1", "train"),
    ("Ballet_15_2", "train"), ("Tango_05_1_00", "test"), ("Ballet_03_1_01", "train"),
])
def test_split_rule(name, split):
    assert split_of(name) == split
    assert DD100Reader.split(name) == split


def test_parse_duet_name():
    d = parse_duet_name("ChaCha_07_2")
    assert (d.name, d.genre, d.choreo, d.take, d.split) == ("ChaCha_07_2", "ChaCha", 7, "2", "train")
    for bad in ("Tango_5", "Tango_x_1", "Tango_05_1_00_1", "_05_1"):
        with pytest.raises(ValueError):
            parse_duet_name(bad)


# --------------------------------------------------------------------------------------------------
# The dataset layout
# --------------------------------------------------------------------------------------------------
def _make(files, root: Path, folder: str, name: str, role: str, t: int, x: float) -> None:
    files.write_dd100_npy(root / "motion" / "smplx" / folder / f"{name}_{role}.npy", files.dd100_payload(t=t, seed=t, x=x))


def test_pairing_split_and_cropping(tmp_path, files):
    root = tmp_path / "dd100"
    _make(files, root, "all", "Tango_05_1", "01", t=12, x=+1.0)  # leader, longer
    _make(files, root, "all", "Tango_05_1", "00", t=9, x=-1.0)  # follower
    _make(files, root, "all", "Ballet_03_1", "01", t=5, x=+1.0)
    _make(files, root, "all", "Ballet_03_1", "00", t=5, x=-1.0)
    _make(files, root, "all", "Rumba_07_2", "01", t=5, x=+1.0)  # partner missing
    files.write_bytes(root / "music" / "mp3" / "all" / "Tango_05_1.mp3", b"ID3")
    files.write_bytes(root / "music" / "mp3" / "all" / "Ballet_03_1.wav", b"RIFF")

    ds = DD100Reader(root)
    assert ds.duets() == ["Ballet_03_1", "Tango_05_1"]
    assert ds.duets("test") == ["Tango_05_1"] and ds.duets("train") == ["Ballet_03_1"]
    assert ds.unpaired() == ["Rumba_07_2_01"]

    leader, follower = ds.load_pair("Tango_05_1")
    assert leader.num_frames == follower.num_frames == 9
    assert leader.name == "Tango_05_1_01" and follower.name == "Tango_05_1_00"
    assert leader.root[:, 0].mean() > 0.5 and follower.root[:, 0].mean() < -0.5  # _01 leads, _00 follows
    assert leader.extras["betas"].shape == (9, 16)
    full = load_dd100_motion(root / "motion" / "smplx" / "all" / "Tango_05_1_01.npy")
    np.testing.assert_allclose(leader.joints, full.joints[:9])
    assert leader.music == follower.music == str(root / "music" / "mp3" / "all" / "Tango_05_1.mp3")
    assert ds.music_path("Ballet_03_1") == root / "music" / "mp3" / "all" / "Ballet_03_1.wav"

    with pytest.raises(InputError, match="Rumba_07_2_00.npy"):
        ds.load_pair("Rumba_07_2")
    with pytest.raises(InputError, match="Rumba_07_2.mp3"):
        ds.music_path("Rumba_07_2")


def test_train_test_folders_without_all(tmp_path, files):
    root = tmp_path / "dd100"
    for role, x in (("00", -1.0), ("01", 1.0)):
        _make(files, root, "test", "Waltz_10_1", role, t=4, x=x)
        _make(files, root, "train", "Waltz_12_1", role, t=4, x=x)
    files.write_bytes(root / "music" / "mp3" / "test" / "Waltz_10_1.mp3", b"ID3")
    ds = DD100Reader(root)
    assert ds.duets() == ["Waltz_10_1", "Waltz_12_1"]
    assert ds.duets("test") == ["Waltz_10_1"]
    assert ds.motion_path("Waltz_12_1", "leader") == root / "motion" / "smplx" / "train" / "Waltz_12_1_01.npy"
    assert ds.music_path("Waltz_10_1") == root / "music" / "mp3" / "test" / "Waltz_10_1.mp3"


def test_bad_layouts(tmp_path, files):
    with pytest.raises(InputError, match="DD100 folder not found"):
        DD100Reader(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="motion/smplx"):
        DD100Reader(tmp_path / "empty")
    root = tmp_path / "dd100"
    files.write_dd100_npy(root / "motion" / "smplx" / "all" / "notes_01.npy", files.dd100_payload())
    with pytest.raises(InputError, match="notes_01.npy"):
        DD100Reader(root).duets()
    (root / "motion" / "smplx" / "all" / "notes_01.npy").unlink()
    files.write_dd100_npy(root / "motion" / "smplx" / "all" / "Tango_05_1_02.npy", files.dd100_payload())
    with pytest.raises(InputError, match="_02"):
        DD100Reader(root).duets()

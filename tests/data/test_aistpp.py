"""AIST++ reader: motion pickles (and refusing unsafe ones), names, BPM, splits, ignore list, CLI."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.datasets.aistpp import (AISTPPReader, SequenceName, load_aistpp_motion, music_bpm,
                                  parse_sequence_name, save_aistpp_pkl)
from data.errors import InputError
from data.fk import forward_kinematics_np
from data.io import load_pickle
from data.formats import load_motion
from data.motion import Motion
from data.skeleton import get_skeleton

REPO = Path(__file__).resolve().parents[2]
SEQ = "gBR_sBM_cAll_d04_mBR0_ch01"


# --------------------------------------------------------------------------------------------------
# Names and tempo
# --------------------------------------------------------------------------------------------------
def test_parse_sequence_name_fields():
    info = parse_sequence_name(SEQ)
    assert info == SequenceName(genre="BR", situation="basic", camera="All", dancer=4, music_id="mBR0", choreo=1)
    assert info.bpm == 80.0 and info.genre_name == "Break" and info.name == SEQ

    adv = parse_sequence_name("gHO_sFM_c07_d15_mHO5_ch21")
    assert (adv.genre, adv.situation, adv.camera, adv.dancer, adv.music_id, adv.choreo) == \
        ("HO", "advanced", "07", 15, "mHO5", 21)
    assert adv.bpm == 135.0  # House: 110 + 5 * 5
    assert adv.name == "gHO_sFM_c07_d15_mHO5_ch21"


@pytest.mark.parametrize("music_id, bpm", [("mBR0", 80), ("mBR5", 130), ("mKR2", 100), ("mJB3", 110),
                                           ("mHO0", 110), ("mHO1", 115), ("mHO5", 135)])
def test_music_bpm(music_id, bpm):
    assert music_bpm(music_id) == bpm


@pytest.mark.parametrize("bad", ["gBR_sBM_cAll_d04_mBR0", "gXX_sBM_cAll_d04_mBR0_ch01", "gBR_sZZ_cAll_d04_mBR0_ch01",
                                 "gBR_sBM_cAll_d4_mBR0_ch01", "motion", "gBR_sBM_cAll_d04_mBR0_ch01.pkl"])
def test_parse_sequence_name_rejects(bad):
    with pytest.raises(ValueError):
        parse_sequence_name(bad)


def test_music_bpm_rejects_unknown():
    for bad in ("mXX1", "BR0", "mBR"):
        with pytest.raises(ValueError):
            music_bpm(bad)


# --------------------------------------------------------------------------------------------------
# One motion file
# --------------------------------------------------------------------------------------------------
def test_zero_pose_hand_computed(tmp_path, files):
    # Zero rotations: FK puts every joint at its rest position; root = smpl_trans / smpl_scaling.
    s = 95.0
    payload = {"smpl_poses": np.zeros((3, 72), np.float32),
               "smpl_trans": np.tile(np.array([[1.0, 2.0, 3.0]]) * s, (3, 1)).astype(np.float32),
               "smpl_scaling": np.array([s], np.float32), "smpl_loss": 0.5}
    path = files.write_pickle(tmp_path / f"{SEQ}.pkl", payload, protocol=2)
    m = load_aistpp_motion(path)
    assert (m.skeleton, m.fps, m.music, m.name, m.num_frames) == ("smpl24", 60.0, "mBR0", SEQ, 3)
    np.testing.assert_allclose(m.root, [[1.0, 2.0, 3.0]] * 3, atol=1e-6)
    rest = get_skeleton("smpl24").rest_joints()
    np.testing.assert_allclose(m.joints[1], rest + [1.0, 2.0, 3.0], atol=1e-6)
    # pelvis at root_rest + transl, left hip at +x (the body's left)
    np.testing.assert_allclose(m.joints[0, 0], np.array([-0.00217368, -0.240789175, 0.028583793]) + [1, 2, 3],
                               atol=1e-6)
    assert m.joints[0, 1, 0] > m.joints[0, 0, 0]


def test_scaling_divides_translation(tmp_path, files):
    payload = files.aistpp_payload(n=2)
    payload["smpl_trans"] = np.array([[100.0, 200.0, -300.0], [50.0, 0.0, 25.0]], np.float32)
    payload["smpl_scaling"] = np.array([100.0], np.float32)
    m = load_aistpp_motion(files.write_pickle(tmp_path / "x.pkl", payload))
    np.testing.assert_allclose(m.root, [[1.0, 2.0, -3.0], [0.5, 0.0, 0.25]], atol=1e-7)
    assert m.music == ""  # the name does not parse, so no music id is guessed


def test_loaded_joints_equal_fk_of_the_file(tmp_path, files):
    payload = files.aistpp_payload(n=7, seed=3)
    path = files.write_pickle(tmp_path / f"{SEQ}.pkl", payload)
    m = load_aistpp_motion(path)
    rot = payload["smpl_poses"].astype(np.float64).reshape(7, 24, 3)
    root = payload["smpl_trans"].astype(np.float64) / float(payload["smpl_scaling"][0])
    np.testing.assert_allclose(m.rotations, rot)
    np.testing.assert_allclose(m.root, root)
    ref = Motion.from_smpl("smpl24", rot, root, fps=60)
    np.testing.assert_allclose(m.joints, ref.joints, atol=1e-9)
    np.testing.assert_allclose(m.joints, forward_kinematics_np(get_skeleton("smpl24"), rot, root), atol=1e-9)
    # the rotations matter: a posed body differs from the rest pose by far more than tolerance
    assert np.abs(m.joints - (get_skeleton("smpl24").rest_joints() + root[:, None])).max() > 0.05


def test_poses_stored_as_n_24_3_are_accepted(tmp_path, files):
    payload = files.aistpp_payload(n=3)
    flat = payload["smpl_poses"].copy()
    payload["smpl_poses"] = flat.reshape(3, 24, 3)
    m = load_aistpp_motion(files.write_pickle(tmp_path / "a.pkl", payload))
    np.testing.assert_allclose(m.rotations.reshape(3, 72), flat, atol=1e-7)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    rot = rng.normal(size=(9, 24, 3)) * 0.4
    root = rng.normal(size=(9, 3))
    motion = Motion.from_smpl("smpl24", rot, root, fps=60, name=SEQ)
    out = tmp_path / "out" / f"{SEQ}.pkl"
    assert save_aistpp_pkl(motion, out) == out
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary left behind

    raw = load_pickle(out)  # our own output passes the restricted unpickler
    assert set(raw) == {"smpl_poses", "smpl_trans", "smpl_scaling", "smpl_loss"}
    assert raw["smpl_poses"].shape == (9, 72) and raw["smpl_poses"].dtype == np.float32
    assert raw["smpl_trans"].shape == (9, 3) and raw["smpl_trans"].dtype == np.float32
    np.testing.assert_array_equal(raw["smpl_scaling"], [1.0])
    assert raw["smpl_loss"] == 0.0
    np.testing.assert_allclose(raw["smpl_poses"], rot.reshape(9, 72), atol=1e-6)

    back = load_aistpp_motion(out)
    assert (back.skeleton, back.fps, back.music, back.name) == ("smpl24", 60.0, "mBR0", SEQ)
    np.testing.assert_allclose(back.rotations, rot, atol=1e-6)
    np.testing.assert_allclose(back.root, root, atol=1e-6)
    np.testing.assert_allclose(back.joints, motion.joints, atol=1e-5)
    # and through the format dispatch
    np.testing.assert_allclose(load_motion(out).joints, back.joints)


def test_save_rejects_other_skeletons(tmp_path):
    smplx = Motion.from_smpl("smplx55", np.zeros((2, 55, 3)), np.zeros((2, 3)), fps=30, name="duet")
    with pytest.raises(InputError, match=r"smpl24\) motion, not smplx55 \(duet\)") as info:
        save_aistpp_pkl(smplx, tmp_path / "a.pkl")
    assert str(info.value).startswith(str(tmp_path / "a.pkl"))  # names the file it will not write
    positions = Motion(skeleton="smpl24", fps=60, joints=np.zeros((2, 24, 3)))
    with pytest.raises(InputError, match="positions-only"):
        save_aistpp_pkl(positions, tmp_path / "b.pkl")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------
def _assert_input_error_names(path: Path, match: str | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        load_aistpp_motion(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    if match:
        assert match in str(info.value)
    return info.value


def test_pickle_that_runs_a_command_is_refused(tmp_path, files):
    marker = tmp_path / "pwned"
    evil = {"smpl_poses": np.zeros((2, 72)), "smpl_trans": files.SystemPayload(f"touch '{marker}'"),
            "smpl_scaling": np.ones(1)}
    path = files.write_pickle(tmp_path / "evil.pkl", evil)
    err = _assert_input_error_names(path, "refus")
    assert "system" in str(err)
    assert not marker.exists()


def test_pickle_payload_is_live_and_still_refused(tmp_path, files):
    # Control: plain pickle really would run this payload (so the refusal above is meaningful) ...
    control = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(files.OpenPayload(str(control)))).close()
    assert control.exists()
    # ... and the reader refuses it before anything runs.
    marker = tmp_path / "marker"
    path = files.write_pickle(tmp_path / f"{SEQ}.pkl", {"smpl_poses": files.OpenPayload(str(marker))})
    _assert_input_error_names(path, "refus")
    assert not marker.exists()


def test_text_file_named_pkl(tmp_path, files):
    path = files.write_text(tmp_path / "notes.pkl", "hello, this is not a pickle\n")
    _assert_input_error_names(path, "text file")


@pytest.mark.parametrize("drop", ["smpl_poses", "smpl_trans", "smpl_scaling"])
def test_missing_key(tmp_path, drop, files):
    payload = files.aistpp_payload()
    del payload[drop]
    _assert_input_error_names(files.write_pickle(tmp_path / "m.pkl", payload), drop)


@pytest.mark.parametrize("key, value, match", [
    ("smpl_poses", np.zeros((5, 70)), "smpl_poses has shape (5, 70)"),
    ("smpl_poses", np.zeros((0, 72)), "smpl_poses has shape (0, 72)"),
    ("smpl_trans", np.zeros((4, 3)), "smpl_trans has shape (4, 3)"),
    ("smpl_trans", np.zeros((5, 2)), "smpl_trans has shape (5, 2)"),
    ("smpl_scaling", np.array([1.0, 2.0]), "smpl_scaling has shape (2,)"),
    ("smpl_scaling", np.array([0.0]), "positive"),
])
def test_wrong_shapes_and_values(tmp_path, key, value, match, files):
    payload = files.aistpp_payload(n=5)
    payload[key] = value
    _assert_input_error_names(files.write_pickle(tmp_path / "m.pkl", payload), match)


@pytest.mark.parametrize("key", ["smpl_poses", "smpl_trans"])
def test_nan_in_motion(tmp_path, key, files):
    payload = files.aistpp_payload(n=5)
    payload[key] = payload[key].copy()
    payload[key][2, 1] = np.nan
    _assert_input_error_names(files.write_pickle(tmp_path / "m.pkl", payload), "NaN")


def test_not_a_dict(tmp_path, files):
    _assert_input_error_names(files.write_pickle(tmp_path / "m.pkl", [1, 2, 3]), "list")


# --------------------------------------------------------------------------------------------------
# The dataset layout
# --------------------------------------------------------------------------------------------------
NAMES = ["gBR_sBM_cAll_d04_mBR0_ch01", "gBR_sBM_cAll_d05_mBR0_ch02", "gHO_sFM_cAll_d15_mHO5_ch21",
         "gKR_sBM_cAll_d28_mKR2_ch02", "gPO_sFM_cAll_d10_mPO1_ch03", "gJB_sBM_cAll_d08_mJB3_ch01"]


def _root(files, tmp_path, **kw) -> Path:
    splits = kw.pop("splits", {
        # trailing spaces, a blank line and no final newline, as real copies have
        "train": f"{NAMES[2]}  \n{NAMES[0]}\n\n{NAMES[4]}\t\n{NAMES[5]}",
        "val": f"{NAMES[1]}\n",
        "test": f"{NAMES[3]} ",
    })
    ignore = kw.pop("ignore_text", f"{NAMES[4]}   \n{NAMES[1]}")  # no final newline either
    return files.make_aistpp_root(tmp_path / "aist", NAMES, splits=splits, ignore_text=ignore, **kw)


def test_splits_and_ignore_list(tmp_path, files):
    ds = AISTPPReader(_root(files, tmp_path))
    assert ds.ignored == {NAMES[4], NAMES[1]}
    assert ds.sequences("train") == [NAMES[2], NAMES[0], NAMES[5]]  # file order kept, ignored dropped
    assert ds.sequences("val") == [] and ds.sequences("validation") == []
    assert ds.sequences("test") == [NAMES[3]]
    assert ds.sequences("all") == sorted(set(NAMES) - {NAMES[1], NAMES[4]})
    assert len(ds) == 4
    with pytest.raises(ValueError):
        ds.sequences("dev")


def test_load_and_music(tmp_path, files):
    ds = AISTPPReader(_root(files, tmp_path, musics=("mBR0", "mHO5")))
    m = ds.load(NAMES[2])
    assert m.music == "mHO5" and m.fps == 60 and m.name == NAMES[2] and m.num_frames == 4 + 2
    assert ds.info(NAMES[2]).bpm == 135.0
    assert ds.music_path(NAMES[0]) == tmp_path / "aist" / "all_musics" / "mBR0.wav"
    with pytest.raises(InputError) as info:
        ds.music_path(NAMES[3])  # mKR2 was not downloaded
    assert "mKR2.wav" in str(info.value) and "AIST Dance DB" in str(info.value)


def test_music_dir_override(tmp_path, files):
    music = tmp_path / "songs"
    music.mkdir()
    (music / "mKR2.mp3").write_bytes(b"ID3")
    ds = AISTPPReader(_root(files, tmp_path), music_dir=music)
    assert ds.music_path(NAMES[3]) == music / "mKR2.mp3"


def test_missing_folder_and_files(tmp_path, files):
    with pytest.raises(InputError) as info:
        AISTPPReader(tmp_path / "nowhere")
    assert "nowhere" in str(info.value) and "aistplusplus" in str(info.value)

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="motions"):
        AISTPPReader(tmp_path / "empty")

    root = _root(files, tmp_path, splits={"train": NAMES[0]})
    ds = AISTPPReader(root)
    with pytest.raises(InputError) as info:
        ds.sequences("test")
    assert str(root / "splits" / "crossmodal_test.txt") in str(info.value)

    (root / "ignore_list.txt").unlink()
    with pytest.raises(InputError, match="ignore_list.txt"):
        AISTPPReader(root).sequences("train")


def test_split_naming_a_missing_motion(tmp_path, files):
    root = _root(files, tmp_path, splits={"train": f"{NAMES[0]}\ngBR_sBM_cAll_d06_mBR0_ch09\n"})
    with pytest.raises(InputError, match="gBR_sBM_cAll_d06_mBR0_ch09"):
        AISTPPReader(root).sequences("train")


# --------------------------------------------------------------------------------------------------
# Through the CLI: one line on stderr, exit 2, nothing written
# --------------------------------------------------------------------------------------------------
def _bad_aistpp(files, tmp_path: Path, marker: Path) -> Path:
    return files.write_pickle(tmp_path / "bad.pkl", {"smpl_poses": files.SystemPayload(f"touch '{marker}'")})


def _bad_text(files, tmp_path: Path, marker: Path) -> Path:
    return files.write_text(tmp_path / "bad.pkl", "just text\n")


def _bad_dd100(files, tmp_path: Path, marker: Path) -> Path:
    payload = files.dd100_payload()
    payload["transl"] = files.OpenPayload(str(marker))
    return files.write_dd100_npy(tmp_path / "bad.npy", payload)


@pytest.mark.parametrize("make_bad", [_bad_aistpp, _bad_text, _bad_dd100])
def test_cli_convert_bad_input(tmp_path, make_bad, files):
    marker = tmp_path / "marker"
    bad = make_bad(files, tmp_path, marker)
    out = tmp_path / "out" / "x.npz"
    proc = subprocess.run([sys.executable, "cli.py", "convert", str(bad), "--to", "npz", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0]
    assert not out.exists() and not marker.exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_cli_convert_good_pkl(tmp_path, files):
    src = files.write_pickle(tmp_path / f"{SEQ}.pkl", files.aistpp_payload(n=3))
    out = tmp_path / "x.npz"
    proc = subprocess.run([sys.executable, "cli.py", "convert", str(src), "--to", "npz", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(load_motion(out).joints, load_aistpp_motion(src).joints, atol=1e-5)

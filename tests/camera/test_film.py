"""`cli.py camera` as a user runs it: every frame filmed, files MMD and the metrics read, any dance
format, one-line errors and nothing written on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from camera.vmd import read_vmd, vmd_to_track
from data.camera import load_camera_npz
from data.datasets.dcm import read_camera_json, write_motion_json
from data.formats import save_motion
from tests.gpt.test_dance import song  # noqa: F401  (a 3-second click track fixture)
from tests.test_cli import run_cli
from tests.tokenizer.conftest import toy_motion


def test_camera_films_every_frame_and_writes_what_mmd_reads(camera_checkpoint, song, tmp_path):  # noqa: F811
    dance = toy_motion(3, 150, "smpl24", 60.0)  # 2.5 s of SMPL at 60 fps, as `cli.py dance` writes it
    save_motion(dance, tmp_path / "dance.npz", "npz")
    out = tmp_path / "out"
    r = run_cli("camera", "--ckpt", camera_checkpoint, "--dance", tmp_path / "dance.npz", "--music", song,
                "--out", out, "--steps", "3", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["camera.json", "camera.mp4", "camera.npz", "camera.vmd",
                                                     "dance.vmd"]
    track, joints = load_camera_npz(out / "camera.npz")
    assert track.num_frames == joints.shape[0] == 75  # 30 fps, every frame
    assert np.all(np.isfinite(track.polar)) and np.all(track.distance < 0)
    per_frame = read_camera_json(out / "camera.json")
    np.testing.assert_allclose(per_frame.polar, track.polar, atol=1e-4)
    vmd = read_vmd(out / "camera.vmd")
    assert vmd.model_name == "カメラ・照明" and 2 <= len(vmd.cameras) <= 75
    assert all(isinstance(k.view_angle, int) for k in vmd.cameras)
    sparse = vmd_to_track(vmd)
    assert sparse.num_frames == 75
    eye_err = np.abs(sparse.frame()[0] - track.frame()[0]).max()
    assert eye_err < 1.0, eye_err  # MMD units (8 cm): the keyframe fit's bound, not a per-frame copy
    bones = read_vmd(out / "dance.vmd")
    assert {"センター", "左腕", "右ひざ"} <= {k.name for k in bones.bones}
    assert max(k.frame for k in bones.bones) == 74
    assert "keys" in r.stderr and "per minute" in r.stderr


def test_a_dcm_dance_json_is_filmed_without_a_dance_vmd(camera_checkpoint, song, tmp_path):  # noqa: F811
    from tests.camera.conftest import toy_dance

    write_motion_json(toy_dance(60, 1), tmp_path / "m1_gt.json")
    r = run_cli("camera", "--ckpt", camera_checkpoint, "--dance", tmp_path / "m1_gt.json", "--music", song,
                "--out", tmp_path / "o", "--formats", "vmd", "npz", "--steps", "2", "--cache-dir", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["camera.npz", "camera.vmd"]
    assert "joint positions only" in r.stderr
    assert load_camera_npz(tmp_path / "o" / "camera.npz")[0].num_frames == 60


@pytest.mark.parametrize("case", ["nan dance", "song shorter", "positions-only smpl", "not a camera checkpoint",
                                  "bad aspect"])
def test_bad_input_is_one_line_and_writes_nothing(case, camera_checkpoint, song, tmp_path):  # noqa: F811
    from data.motion import Motion

    dance = toy_motion(5, 60, "smpl24", 30.0)
    ckpt, expect, extra = camera_checkpoint, "", []
    if case == "nan dance":
        dance.joints[10, 3, 1] = np.nan
        expect = "NaN"
    elif case == "song shorter":
        dance = toy_motion(5, 150, "smpl24", 30.0)  # 5 s against a 3-s song
        expect = "shorter than the dance"
    elif case == "positions-only smpl":
        dance = Motion("smpl24", 30.0, dance.joints)
        expect = "positions only"
    elif case == "bad aspect":
        extra, expect = ["--aspect", "16:0"], "--aspect"
    else:
        (tmp_path / "x.ckpt").write_bytes(b"not a checkpoint")
        ckpt, expect = tmp_path / "x.ckpt", "not a loadable checkpoint"
    save_motion(dance, tmp_path / "dance.npz", "npz")
    out = tmp_path / "out"
    r = run_cli("camera", "--ckpt", ckpt, "--dance", tmp_path / "dance.npz", "--music", song, "--out", out,
                "--cache-dir", tmp_path / "cache", *extra)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pasdeux: error:") and expect in lines[0], r.stderr
    assert not out.exists()

"""What `cli.py evaluate` reads: motion and duet folders, camera folders of npz and json files."""

import json

import numpy as np
import pytest

from data.camera import CameraTrack, save_camera_npz
from data.errors import InputError
from metrics.inputs import CameraWithDancer, camera_items, camera_key, check_items, duet_items, solo_items


def test_camera_key():
    assert camera_key("c66_6") == "66_6" and camera_key("c28") == "28"
    assert camera_key("66_6") == "66_6" and camera_key("cam1") == "cam1"


def test_camera_folder_reads_npz_and_camera_json(tmp_path, synth):
    dancer = synth.beat_dance(0, seconds=1, fps=30)[0].joints
    cam = synth.orbit_camera(dancer, 0)
    track = CameraTrack.from_polar(cam)
    save_camera_npz(track, tmp_path / "c3_1.npz", joints=dancer, skeleton="smpl24")
    eye, right, up, fwd = track.frame()
    (tmp_path / "c4.json").write_text(json.dumps({"camera_eye": eye.tolist(), "camera_x": right.tolist(),
                                                  "camera_y": up.tolist(), "camera_z": fwd.tolist(),
                                                  "Fov": cam[:, 7].tolist()}))
    (tmp_path / "notes.json").write_text("{}")  # not a camera name: ignored
    (tmp_path / "readme.txt").write_text("")
    items, kind = camera_items(tmp_path, "test")
    assert kind == "folder" and [i.name for i in items] == ["3_1", "4"]
    first, second = (i.load() for i in items)
    assert isinstance(first, CameraWithDancer) and first.joints.shape == dancer.shape
    np.testing.assert_array_equal(first.track.polar, cam)
    assert second.joints is None
    for a, b in zip(second.track.frame(), (eye, right, up, fwd)):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_motion_and_duet_folders(tmp_path, synth):
    synth.write_solo_corpus(tmp_path / "solo", range(2), seconds=1)
    items, kind = solo_items(tmp_path / "solo", "test")
    assert kind == "folder" and [i.name for i in items] == ["dance000", "dance001"]
    assert items[0].load().num_frames == 60
    synth.write_duet_corpus(tmp_path / "duet", range(2), seconds=1)
    items, _ = duet_items(tmp_path / "duet", "test")
    assert [i.name for i in items] == ["duet000", "duet001"] and len(items[0].files) == 2
    follower, leader = items[0].load()
    assert follower.name == "dance000" and leader.name == "dance500"
    (tmp_path / "duet" / "duet001_00.npz").unlink()
    with pytest.raises(InputError, match="1 duet\\(s\\) lack a follower _00 or leader _01 file, first 'duet001'"):
        duet_items(tmp_path / "duet", "test")
    with pytest.raises(InputError, match="motion folder not found"):
        solo_items(tmp_path / "nope", "test")


def test_check_items_needs_two():
    with pytest.raises(InputError, match="found 1 generated cameras; FID and Div need at least 2"):
        check_items([object()], "x", "generated cameras")
    check_items([object(), object()], "x", "generated cameras")

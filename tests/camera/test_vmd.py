"""The VMD codec: round trips, the byte layout MMD reads, names, interpolation bytes, bad files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from camera.vmd import (CAMERA_MODEL_NAME, LINEAR, BoneKey, CameraKey, Curve, IKKey, LightKey, MorphKey, ShadowKey,
                        Vmd, bone_interpolation, from_bytes, parse_bone_interpolation, read_vmd, to_bytes, track_to_vmd,
                        vmd_to_track, write_vmd)
from data.camera import CameraTrack
from data.errors import InputError


def camera_file(n: int = 3) -> Vmd:
    keys = [CameraKey(frame=10 * i, distance=-45.0 + i, interest=(0.5 * i, 10.0, -1.0), rotation=(0.1, 2 * np.pi * i, 0.0),
                      view_angle=30 + i, curves=(Curve(10, 20, 110, 117),) + (LINEAR,) * 5) for i in range(n)]
    return Vmd(model_name=CAMERA_MODEL_NAME, cameras=keys)


def test_a_camera_file_has_the_size_and_bytes_mmd_reads(tmp_path):
    vmd = camera_file(3)
    data = to_bytes(vmd)
    assert len(data) == 74 + 61 * 3 == vmd.nbytes()  # header + six counts + keys, as MMD's camera exports
    assert data[:25] == b"Vocaloid Motion Data 0002" and data[25:30] == b"\0" * 5
    assert data[30:50].rstrip(b"\0").decode("cp932") == "カメラ・照明"
    assert struct.unpack_from("<II", data, 50) == (0, 0)  # bone and morph counts
    assert struct.unpack_from("<I", data, 58) == (3,)  # camera count
    key0 = data[62:62 + 61]
    assert struct.unpack_from("<I", key0, 56) == (30,)  # the view angle as the integer MMD reads, not f32 bits
    assert key0[60] == 0  # perspective on
    assert key0[32:36] == bytes([10, 110, 20, 117])  # interest x's curve as (x1, x2, y1, y2)
    assert struct.unpack_from("<III", data, 62 + 3 * 61) == (0, 0, 0)  # light, shadow and IK counts present
    back = read_vmd(write_vmd(vmd, tmp_path / "camera.vmd"))
    assert back.model_name == CAMERA_MODEL_NAME and len(back.cameras) == 3
    for a, b in zip(vmd.cameras, back.cameras):
        assert (a.frame, a.view_angle, a.perspective, a.curves) == (b.frame, b.view_angle, b.perspective, b.curves)
        np.testing.assert_allclose([a.distance, *a.interest, *a.rotation], [b.distance, *b.interest, *b.rotation],
                                   rtol=1e-6)  # float32; a 4 pi rotation stays 4 pi (never wrapped)


def test_bones_with_japanese_names_and_every_section_round_trip(tmp_path):
    vmd = Vmd(model_name="初音ミク",
              bones=[BoneKey("センター", 0, (0.0, 1.5, -0.25), (0.0, 0.0, 0.0, 1.0)),
                     BoneKey("左足ＩＫ", 5, (1.0, 0.0, 2.0), (0.0, 0.70710677, 0.0, 0.70710677),
                             (Curve(1, 2, 3, 4), Curve(5, 6, 7, 8), Curve(9, 10, 11, 12), Curve(13, 14, 15, 16)))],
              morphs=[MorphKey("あ", 3, 0.5)], lights=[LightKey(0, (0.6, 0.6, 0.6), (-0.5, -1.0, 0.5))],
              shadows=[ShadowKey(0, 1, 8875.0)], ik=[IKKey(0, True, {"左足ＩＫ": True, "右足ＩＫ": False})])
    path = write_vmd(vmd, tmp_path / "dance.vmd")
    assert path.stat().st_size == vmd.nbytes() == 74 + 2 * 111 + 23 + 28 + 9 + 9 + 2 * 21
    back = read_vmd(path)
    assert [b.name for b in back.bones] == ["センター", "左足ＩＫ"] and back.model_name == "初音ミク"
    assert back.bones[1].curves == vmd.bones[1].curves and back.bones[1].frame == 5
    np.testing.assert_allclose(back.bones[1].rotation, vmd.bones[1].rotation, rtol=1e-6)
    assert back.morphs[0].name == "あ" and back.shadows[0].mode == 1
    assert back.ik[0].enabled == {"左足ＩＫ": True, "右足ＩＫ": False} and back.ik[0].show


def test_bone_interpolation_has_all_four_rows_and_reads_each_channel_from_its_row():
    curves = (Curve(1, 2, 3, 4), Curve(5, 6, 7, 8), Curve(9, 10, 11, 12), Curve(13, 14, 15, 16))
    raw = bone_interpolation(curves)
    assert len(raw) == 64
    assert list(raw[:16]) == [1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 4, 8, 12, 16]  # x1 | y1 | x2 | y2
    for k in range(1, 4):
        assert raw[16 * k:16 * k + 16 - k] == raw[k:16]  # rows shifted left by k
    flagged = bytearray(raw)
    flagged[2:4] = b"\0\0"  # MMD's flags in row 0 must not change Z's or R's curve
    assert parse_bone_interpolation(bytes(flagged)) == curves


def test_curve_weights():
    u = np.linspace(0, 1, 11)
    np.testing.assert_allclose(Curve(0, 0, 0, 0).weight(u), u, atol=1e-9)  # all-zero: x = y = t^3, linear
    np.testing.assert_allclose(Curve(20, 20, 107, 107).weight(u), u, atol=1e-9)  # control points on the diagonal
    ease = Curve(127, 0, 127, 0).weight(np.array([0.25, 0.5]))  # slow start: behind the diagonal
    assert (ease < [0.25, 0.5]).all() and Curve(0, 0, 127, 127).weight(np.array([1.0]))[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="0..127"):
        Curve(128, 0, 0, 0)


def test_older_and_shorter_files_read():
    data = to_bytes(camera_file(2))
    cut = data[:62 + 2 * 61]  # MMD-era readers stop after cameras: later sections are optional
    assert len(from_bytes(cut).cameras) == 2
    v1 = b"Vocaloid Motion Data file".ljust(30, b"\0") + b"model".ljust(10, b"\0") + struct.pack("<I", 0)
    assert from_bytes(v1).model_name == "model"


def test_bad_files_and_values_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not a VMD file"):
        from_bytes(b"RIFF" + b"\0" * 60, tmp_path / "x.vmd")
    data = to_bytes(camera_file(2))
    with pytest.raises(InputError, match="2 camera keys"):
        from_bytes(data[:62 + 61], tmp_path / "x.vmd")
    with pytest.raises(ValueError, match="Shift-JIS"):
        to_bytes(Vmd(bones=[BoneKey("a very long bone name", 0)]))
    with pytest.raises(ValueError, match="view angle"):
        to_bytes(Vmd(cameras=[CameraKey(0, -10.0, (0, 0, 0), (0, 0, 0), view_angle=0)]))
    target = tmp_path / "keep.vmd"
    write_vmd(camera_file(1), target)
    before = target.read_bytes()
    with pytest.raises(ValueError):
        write_vmd(Vmd(cameras=[CameraKey(-1, -10.0, (0, 0, 0), (0, 0, 0))]), target)
    assert target.read_bytes() == before  # nothing half-written


def test_a_per_frame_track_round_trips_through_vmd(tmp_path):
    T = 40
    t = np.arange(T) / 30.0
    track = CameraTrack(distance=-40 + 2 * np.sin(t), interest=np.stack([np.sin(t), 10 + t, np.cos(t)], 1),
                        rotation=np.stack([0.1 * t, 3.0 * t, 0 * t], 1), fov=np.full(T, 30.0))  # ry spins past 2 pi
    vmd = track_to_vmd(track)
    assert vmd.model_name == CAMERA_MODEL_NAME and len(vmd.cameras) == T
    back = vmd_to_track(read_vmd(write_vmd(vmd, tmp_path / "c.vmd")))
    np.testing.assert_allclose(back.polar, track.polar, rtol=1e-6, atol=1e-5)


def test_sparse_keys_interpolate_per_channel_along_the_chosen_keys_curve():
    slow = Curve(127, 0, 127, 0)  # eases in
    keys = [CameraKey(0, -10.0, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 30),
            CameraKey(10, -20.0, (10.0, 0.0, 0.0), (0.0, 1.0, 0.0), 40, curves=(slow,) + (LINEAR,) * 5),
            CameraKey(11, -5.0, (0.0, 5.0, 0.0), (0.0, 0.0, 0.0), 20)]  # one frame later: a cut
    later = vmd_to_track(Vmd(cameras=keys))
    earlier = vmd_to_track(Vmd(cameras=keys), curve_from="earlier")
    assert later.num_frames == 12
    np.testing.assert_allclose(later.interest[5, 0], 10.0 * slow.weight(np.array([0.5]))[0])  # key 10's curve
    np.testing.assert_allclose(earlier.interest[5, 0], 5.0, atol=1e-6)  # key 0's (linear) curve
    np.testing.assert_allclose(later.distance[5], -15.0, atol=1e-6)  # distance has its own (linear) curve
    np.testing.assert_allclose(later.fov[5], 35.0, atol=1e-6)
    assert later.interest[10, 0] == 10.0 and later.interest[11, 1] == 5.0  # the cut: no frame in between

"""Synthetic camera tracks: cuts exactly on downbeats, integer fov, the four shot kinds, framing that keeps
the pelvis in DCM's frustum, and determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from data.camera import MMD_UNIT_M, CameraTrack, dcm_to_metres, mmd_to_dcm
from data.synth.camera import (SHOT_KINDS, bone_visibility, downbeat_frames, generate_camera, pelvis_in_view_share,
                               plan_shots)
from data.synth.music import synth_song
from data.synth.write_dcm import dance_joints_dcm

FPS = 30.0


@pytest.fixture(scope="module")
def song():
    _, truth = synth_song("HO", seed=2, duration=40.0)
    return truth


def _travelling_dancer(T: int, seed: int = 0) -> np.ndarray:
    """(T, 60, 3) MMD bones in DCM units: a made-up dancer that bends, turns round and crosses the floor."""
    r = np.random.default_rng(seed)
    rot = gaussian_filter1d(r.normal(size=(T, 55, 3)), 4, axis=0) * 1.2
    t = np.arange(T) / FPS
    rot[:, 0] = np.stack([0.1 * np.sin(t), 0.8 * t, np.zeros(T)], axis=1)  # keeps turning: 0.8 rad/s
    transl = np.stack([1.5 * np.sin(t / 4), 1.1 + 0.05 * np.sin(2 * np.pi * t), 1.2 * np.sin(t / 7)], axis=1)
    return dance_joints_dcm(rot, transl)


@pytest.fixture(scope="module")
def dancer(song):
    return _travelling_dancer(int(song.duration * FPS))


@pytest.fixture(scope="module")
def camera(song, dancer):
    return generate_camera(song, dancer, np.random.default_rng(4), fps=FPS)


def test_cuts_fall_exactly_on_downbeats(song, camera):
    T = camera.num_frames
    downbeats = set(np.round(song.downbeat_times * FPS).astype(int).tolist())
    assert len(camera.cut_frames) >= 4
    assert set(camera.cut_frames.tolist()) <= downbeats
    assert len(camera.cut_frames) < len([f for f in downbeats if 0 < f < T])  # not every downbeat
    # shots tile the track, last a bar or more and at most four bars (the last may take a remainder)
    bounds = camera.shot_bounds
    assert bounds[0, 0] == 0 and bounds[-1, 1] == T and (bounds[1:, 0] == bounds[:-1, 1]).all()
    bar = 4 * 60.0 / song.bpm * FPS
    lengths = bounds[:, 1] - bounds[:, 0]
    assert lengths.min() >= 30 and lengths[:-1].max() <= 4 * bar + 1
    # a section change always cuts
    for start, _, _ in song.sections[1:]:
        f = int(round(start * FPS))
        if 30 <= f <= T - 30:
            assert f in camera.cut_frames
    # the parameters jump at cuts, and only there (within a shot they glide)
    polar = camera.track.polar
    jump = np.abs(np.diff(polar, axis=0)).max(axis=1)
    inside = np.ones(T - 1, dtype=bool)
    inside[camera.cut_frames - 1] = False
    assert jump[inside].max() < jump[~inside].min() + 5.0  # gliding steps are small next to cuts
    assert camera.to_json()["cut_frames"] == camera.cut_frames.tolist()


def test_fov_is_integer_and_constant_within_a_shot(camera):
    fov = camera.track.fov
    np.testing.assert_array_equal(fov, np.round(fov))
    assert 15 <= fov.min() and fov.max() <= 60
    for a, b in camera.shot_bounds:
        assert len(set(fov[a:b].tolist())) == 1


def test_shot_kinds_move_as_named(song, dancer):
    seen = set()
    for seed in range(6):
        cam = generate_camera(song, dancer, np.random.default_rng(seed))
        tr = cam.track
        for (a, b), kind in zip(cam.shot_bounds, cam.shot_kinds):
            seen.add(kind)
            yaw, dist, P = tr.rotation[a:b, 1], np.abs(tr.distance[a:b]), tr.interest[a:b]
            if kind == "orbit":
                assert abs(yaw[-1] - yaw[0]) > 0.3 and np.all(np.diff(yaw) * np.sign(yaw[-1] - yaw[0]) >= -1e-12)
                assert np.ptp(dist) < 1e-9
            elif kind == "dolly":
                assert max(dist[0], dist[-1]) / min(dist[0], dist[-1]) == pytest.approx(1.25 / 0.85, rel=1e-6)
                assert np.ptp(yaw) < 1e-9
            elif kind == "static":
                assert np.ptp(P, axis=0).max() < 1e-9 and np.ptp(yaw) < 1e-9 and np.ptp(dist) < 1e-9
            else:  # track: the interest point follows the dancer
                assert kind == "track" and np.ptp(P, axis=0).max() > 0.5
    assert seen == set(SHOT_KINDS)


def test_interest_point_follows_the_dancer(camera, dancer):
    eye, _, _, forward = camera.track.frame()
    interest = mmd_to_dcm(camera.track.interest)  # DCM frame, MMD units
    # the eye is |d| behind the interest point along the view axis
    np.testing.assert_allclose(eye + np.abs(camera.track.distance)[:, None] * forward, interest, atol=1e-9)
    centre = dcm_to_metres(dancer[:, [0, 2]].mean(axis=1))
    moving = np.array([k != "static" for k in camera.shot_kinds])[camera.shot_index()]
    err = np.linalg.norm((dcm_to_metres(interest) - centre)[:, [0, 2]], axis=1)[moving]  # across the floor
    assert np.median(err) < 0.15 and err.max() < 0.5  # metres
    # vertically the head sits in the upper half of the frame, inside it
    v = dancer[:, 4] - eye  # 頭
    _, _, up, _ = camera.track.frame()
    head_y = np.einsum("tc,tc->t", v, up) / np.einsum("tc,tc->t", v, forward)
    head_y /= np.tan(np.radians(camera.track.fov) / 2)  # -1 bottom edge .. 1 top edge
    assert 0.3 < np.median(head_y) < 0.9 and np.mean(np.abs(head_y) < 1) > 0.95
    height = dcm_to_metres(eye[:, 1]) - dcm_to_metres(interest[:, 1])
    assert height.max() < 2.0 and np.abs(camera.track.distance).max() * MMD_UNIT_M < 15.0


def test_pelvis_stays_in_view(song, dancer):
    square, wide = [], []
    for seed in range(4):
        cam = generate_camera(song, dancer, np.random.default_rng(seed))
        square.append(pelvis_in_view_share(cam.track, dancer))
        wide.append(pelvis_in_view_share(cam.track, dancer, aspect=16 / 9))
    assert min(square) >= 0.95 and min(wide) >= 0.95
    assert all(w >= s for s, w in zip(square, wide))  # a 16:9 frame sees at least what the square one does
    # the test can fail: aim the camera 20 m to the side and the dancer is gone
    right = cam.track.frame()[1]  # DCM frame; the interest point is in MMD's (z negated)
    off = CameraTrack(distance=cam.track.distance, interest=cam.track.interest + 250.0 * mmd_to_dcm(right),
                      rotation=cam.track.rotation, fov=cam.track.fov)
    assert pelvis_in_view_share(off, dancer) < 0.05
    # most of the body is in frame too (the framing is not a close-up of the waist)
    assert bone_visibility(cam.track, dancer).mean() > 0.7


def test_plan_shots_is_louder_shorter(song):
    T = int(song.duration * FPS)
    bar = 4 * 60.0 / song.bpm * FPS
    loud, quiet = [], []
    for seed in range(20):
        for a, b in plan_shots(song, T, np.random.default_rng(seed), FPS)[:-1]:
            e = float(song.energy_at(a / FPS))
            (loud if e > 0.7 else quiet if e < 0.45 else []).append((b - a) / bar)
    assert loud and quiet
    assert np.mean(loud) < np.mean(quiet)
    assert downbeat_frames(song, T, FPS)[0] >= 0


def test_camera_is_deterministic(song, dancer):
    a = generate_camera(song, dancer, np.random.default_rng(9))
    b = generate_camera(song, dancer, np.random.default_rng(9))
    c = generate_camera(song, dancer, np.random.default_rng(10))
    np.testing.assert_array_equal(a.track.polar, b.track.polar)
    assert a.shot_kinds == b.shot_kinds
    assert not np.array_equal(a.track.polar, c.track.polar)


def test_bad_joints_are_refused(song):
    with pytest.raises(ValueError, match="60, 3"):
        generate_camera(song, np.zeros((10, 55, 3)), np.random.default_rng(0))


def test_camera_on_a_solo_dance(song):
    from data.synth.solo import DancerStyle, generate_dance

    rng = np.random.default_rng(1)
    dance = generate_dance(song, rng, DancerStyle.sample(rng), skeleton="smplx55", fps=FPS)
    joints = dance_joints_dcm(dance.rotations, dance.root)
    cam = generate_camera(song, joints, rng)
    assert cam.num_frames == len(joints)
    assert pelvis_in_view_share(cam.track, joints) >= 0.95
    assert pelvis_in_view_share(cam.track, joints, aspect=16 / 9) >= 0.95

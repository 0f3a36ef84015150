"""The camera model's features: the same geometry as data.camera, exact round trips, spins kept,
visibility as data.camera's frustum test, and a turn of the scene that changes only directions."""

import numpy as np
import pytest
import torch

from camera.representation import (Normalizer, angular_margins, camera_features, dance_features, features_to_frame,
                                   features_to_track, polar_to_frame, rotation_matrix, yaw_rotate)
from data.camera import DEFAULT_ASPECT, camera_frame, camera_rotation_matrix, visibility_mask
from tests.camera.conftest import orbit_track, toy_dance


def test_rotation_and_frame_match_data_camera():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-4, 4, (50, 3))
    assert np.allclose(rotation_matrix(torch.tensor(angles)).numpy(), camera_rotation_matrix(angles), atol=1e-12)
    polar = np.concatenate([rng.uniform(-60, -5, (50, 1)), rng.normal(0, 10, (50, 3)), angles, np.full((50, 1), 30.0)], 1)
    eye, forward, up, fov = (a.numpy() for a in polar_to_frame(torch.tensor(polar)))
    e2, _, u2, f2 = camera_frame(polar[:, 0], polar[:, 1:4], polar[:, 4:7])
    assert np.allclose(eye, e2) and np.allclose(forward, f2) and np.allclose(up, u2) and np.all(fov == 30.0)


def test_features_round_trip_to_the_same_camera_with_the_interest_point_on_the_dancer():
    joints = toy_dance(120, 1)
    track = orbit_track(joints, 1)
    x = camera_features(torch.tensor(track.polar)[None], torch.tensor(joints)[None])[0]  # (T, 10)
    assert x.shape == (120, 10)
    back = features_to_track(x, joints)
    for a, b in zip(back.frame(), track.frame()):
        assert np.allclose(a, b, atol=1e-9)
    assert np.allclose(back.fov, track.fov)
    # the orbit camera looks at the waist, so the interest point lands on it
    assert np.allclose(back.interest, track.interest, atol=1e-9)
    assert np.allclose(back.distance, track.distance, atol=1e-9) and np.all(back.distance < 0)


def test_a_spin_of_several_turns_keeps_its_turns():
    joints = toy_dance(300, 0)
    track = orbit_track(joints, 0)
    track.rotation[:, 1] = np.linspace(0, 6 * np.pi, 300)  # three turns of yaw
    x = camera_features(torch.tensor(track.polar)[None], torch.tensor(joints)[None])[0]
    back = features_to_track(x, joints)
    assert back.rotation[-1, 1] - back.rotation[0, 1] == pytest.approx(6 * np.pi, abs=1e-6)
    assert np.abs(np.diff(back.rotation, axis=0)).max() < 0.1  # no 2 pi jumps


def test_angular_margins_agree_with_the_frustum_test_square_and_16x9():
    rng = np.random.default_rng(3)
    joints = toy_dance(60, 2)
    track = orbit_track(joints, 2)
    track.interest += rng.normal(0, 6.0, track.interest.shape)  # joints leave the frame now and then
    track.fov[:] = rng.uniform(8, 30, len(track.fov))
    eye, right, up, forward = track.frame()
    x = camera_features(torch.tensor(track.polar)[None], torch.tensor(joints)[None])
    e, f, u, r, fov = features_to_frame(x, torch.tensor(joints)[None])
    assert np.allclose(r[0].numpy(), right, atol=1e-9)
    for aspect in (None, DEFAULT_ASPECT):
        inside = (angular_margins(torch.tensor(joints)[None], e, f, u, r, fov, aspect) <= 1e-12).all(-1)[0].numpy()
        ref = visibility_mask(joints, eye, right, up, forward, track.fov, aspect)
        assert 0.05 < ref.mean() < 0.98  # both kinds of joint are there
        assert (inside == ref).mean() > 0.999


def test_turning_the_scene_changes_only_directions():
    joints = torch.tensor(toy_dance(40, 0))[None]
    track = orbit_track(joints[0].numpy(), 0)
    x = camera_features(torch.tensor(track.polar)[None], joints)
    xr, jr = yaw_rotate(x, joints, torch.tensor([1.1], dtype=torch.float64))
    assert torch.allclose(xr[..., :3].norm(dim=-1), x[..., :3].norm(dim=-1))  # eye distance from the anchor
    assert torch.allclose(xr[..., 4], x[..., 4]) and torch.allclose(xr[..., 9], x[..., 9])  # heights, fov
    # the camera sees the same joints
    m = angular_margins(joints, *features_to_frame(x, joints), 16 / 9)
    mr = angular_margins(jr, *features_to_frame(xr, jr), 16 / 9)
    assert torch.allclose(m, mr, atol=1e-9)
    # the relative camera and pose are those of the turned world scene
    assert torch.allclose(camera_features(torch.tensor(features_to_track(xr[0], jr[0]).polar)[None], jr), xr, atol=1e-8)
    d, dr = dance_features(joints), dance_features(jr)
    assert torch.allclose(d.view(1, 40, -1, 3).norm(dim=-1), dr.view(1, 40, -1, 3).norm(dim=-1))


def test_normalizer_scales_and_inverts():
    rng = np.random.default_rng(0)
    cam = torch.tensor(rng.normal(0, 20, (500, 10)))
    cam[:, 3:9] = torch.nn.functional.normalize(cam[:, 3:9], dim=-1)
    dance = torch.tensor(rng.normal(0, 5, (500, 183)))
    music = torch.tensor(rng.normal(3, 2, (500, 35)))
    n = Normalizer(183, 35)
    assert not bool(n.fitted)
    n.fit(cam, dance, music)
    assert bool(n.fitted)
    z = n.camera(cam.float())
    assert torch.allclose(n.camera_back(z), cam.float(), atol=1e-4)
    assert torch.allclose(z[:, 3:9], cam[:, 3:9].float())  # unit vectors stay
    assert z[:, :3].pow(2).mean().item() == pytest.approx(1.0, rel=0.05)
    assert torch.allclose(n.music(music.float()).mean(0), torch.zeros(35), atol=1e-4)
    assert n.camera_scale[0] == n.camera_scale[2]  # x and z share a scale: a turn commutes with it

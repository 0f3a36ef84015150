"""Camera metrics: a camera looking away, kinetic and shot features, DMR and LCD (the convention and the
frustum test are data.camera's: tests/data/test_camera.py)."""

import numpy as np
import pytest

from data.camera import CameraTrack, dcm_to_metres, visibility_mask
from metrics.camera import camera_kinetic_chunks, dancer_missing_rate, limbs_capture_difference, shot_features


def _axes(T: int):
    """A camera at the origin looking down -z with y up (DCM's rotation 0)."""
    z = np.zeros((T, 3))
    right, up, fwd = z.copy(), z.copy(), z.copy()
    right[:, 0], up[:, 1], fwd[:, 2] = 1.0, 1.0, -1.0
    return z, right, up, fwd


def test_camera_looking_away_from_the_dancer(synth):
    dancer = synth.beat_dance(0, seconds=4, fps=30)[0].joints
    toward = synth.orbit_camera(dancer, 0)
    away = synth.orbit_camera(dancer, 0, look_away=True)
    masks = []
    for cam in (toward, away):
        eye, right, up, fwd = CameraTrack.from_polar(cam).frame()
        masks.append(visibility_mask(dancer, dcm_to_metres(eye), right, up, fwd, cam[:, 7]))
    assert dancer_missing_rate([masks[0]]) == 0.0 and masks[0].all()
    assert dancer_missing_rate([masks[1]]) == 1.0
    assert limbs_capture_difference([masks[1]], [masks[0]]) == 1.0


def test_camera_kinetic_features_hand_values():
    T = 150
    eye, right, up, fwd = _axes(T)
    eye = eye.copy()
    eye[:, 0] = 0.6 * np.arange(T) / 30.0  # 0.6 units/s along x
    fov = 30.0 + 3.0 * np.arange(T) / 30.0  # widening 3 deg/s
    k = camera_kinetic_chunks(eye, fwd, up, right, fov)
    assert k.shape == (2, 10)  # two 75-frame chunks
    np.testing.assert_allclose(k[:, 0], 0.36)  # E_v(eye) = |v|²
    np.testing.assert_allclose(k[:, [1, 2, 3, 4, 5, 6, 7, 9]], 0.0, atol=1e-9)
    np.testing.assert_allclose(k[:, 8], 9.0)  # E_v(fov) = (3 deg/s)²
    assert camera_kinetic_chunks(eye[:74], fwd[:74], up[:74], right[:74], fov[:74]).shape == (0, 10)


def test_shot_features_hand_values():
    eye, right, up, fwd = _axes(3)
    corners = np.array([[0.5, 0.5, -1], [-0.5, 0.5, -1], [0.5, -0.5, -1], [-0.5, -0.5, -1], [0.0, 0.0, 2.0]])
    joints = np.repeat(corners[None], 3, axis=0)  # a 1 x 1 square at depth 1, one joint behind
    fov = np.full(3, 90.0)  # tan(45) = 1: the square frame spans [-1, 1]²
    mask = visibility_mask(joints, eye, right, up, fwd, fov)
    assert mask[0].tolist() == [True] * 4 + [False]
    f = shot_features(joints, eye, right, up, fwd, fov, mask)
    assert f.shape == (2, 2)  # the last frame is dropped
    np.testing.assert_allclose(f, [[0.25, 1.0]] * 2)
    wide = shot_features(joints, eye, right, up, fwd, fov, mask, aspect=16 / 9)
    np.testing.assert_allclose(wide[:, 0], 0.25 * 9 / 16)
    half = mask.copy()
    half[:, [1, 3]] = False  # only the right-hand column visible: zero-width box
    np.testing.assert_allclose(shot_features(joints, eye, right, up, fwd, fov, half), 0.0)


def test_dmr_and_lcd_hand_values():
    gt = [np.ones((4, 3), bool), np.ones((2, 3), bool)]
    pred = [np.array([[1, 1, 1], [0, 0, 0], [1, 0, 1], [0, 0, 0]], bool), np.ones((2, 3), bool)]
    assert dancer_missing_rate(pred) == pytest.approx(2 / 6)
    # per-frame differing shares 0, 1, 1/3, 1, 0, 0 over 6 frames
    assert limbs_capture_difference(pred, gt) == pytest.approx((1 + 1 / 3 + 1) / 6)

"""data.camera: units and handedness, the camera convention and its inverse, the frustum test, the camera npz."""

from __future__ import annotations

from math import pi

import numpy as np
import pytest

from data.camera import (DEFAULT_ASPECT, MMD_DEFAULT_DISTANCE, MMD_UNIT_M, CameraTrack, camera_frame,
                         camera_rotation_angles, camera_rotation_matrix, dcm_to_metres, load_camera_npz,
                         metres_to_dcm, metres_to_mmd, mmd_to_metres, save_camera_npz, visibility_mask)
from data.errors import InputError


# --------------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------------
def test_unit_conversions():
    assert MMD_UNIT_M == 0.08
    np.testing.assert_allclose(dcm_to_metres([12.5, 25.0, -12.5]), [1.0, 2.0, -1.0])
    np.testing.assert_allclose(metres_to_dcm(dcm_to_metres([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(mmd_to_metres([1.0, 2.0, 3.0]), [0.08, 0.16, -0.24])  # MMD is left-handed
    np.testing.assert_allclose(metres_to_mmd([0.08, 0.16, -0.24]), [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------------------------------
# The camera convention
# --------------------------------------------------------------------------------------------------
def test_camera_convention_hand_computed():
    # 1) yaw 90 deg: R = R_y(90), R e_z = (1, 0, 0). Interest (1, 2, 3) in MMD -> (1, 2, -3) in DCM's frame.
    eye, right, up, forward = camera_frame(np.array([-10.0]), np.array([[1.0, 2.0, 3.0]]),
                                           np.array([[0.0, pi / 2, 0.0]]))
    np.testing.assert_allclose(eye, [[11.0, 2.0, -3.0]], atol=1e-12)
    np.testing.assert_allclose(forward, [[-1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(up, [[0.0, 1.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(right, [[0.0, 0.0, -1.0]], atol=1e-12)

    # 2) rx = rz = 90 deg: R = R_z(-90) R_x(90). R_x(90) e_z = (0, -1, 0); R_z(-90) (0, -1, 0) = (-1, 0, 0).
    #    The other order (R_x R_z) would give R e_z = (0, -1, 0), so this pins the order down.
    eye, right, up, forward = camera_frame(np.array([5.0]), np.zeros((1, 3)), np.array([[pi / 2, 0.0, pi / 2]]))
    np.testing.assert_allclose(eye, [[-5.0, 0.0, 0.0]], atol=1e-12)  # |d|: the sign of d is ignored
    np.testing.assert_allclose(forward, [[1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(up, [[0.0, 0.0, 1.0]], atol=1e-12)  # R_x(90) e_y = e_z, kept by R_z
    np.testing.assert_allclose(right, [[0.0, -1.0, 0.0]], atol=1e-12)  # R_z(-90) e_x = -e_y

    # 3) MMD's default camera: interest (0, 10, 0), distance -45, no rotation: 45 units in front of
    #    the model (+z in DCM's frame), looking back along -z at it.
    eye, _, up, forward = camera_frame(np.array([-45.0]), np.array([[0.0, 10.0, 0.0]]), np.zeros((1, 3)))
    np.testing.assert_allclose(eye, [[0.0, 10.0, 45.0]], atol=1e-12)
    np.testing.assert_allclose(forward, [[0.0, 0.0, -1.0]], atol=1e-12)


def test_camera_looks_at_its_interest_point():
    rng = np.random.default_rng(1)
    n = 50
    d, P, r = -rng.random(n) * 50, rng.normal(size=(n, 3)) * 10, rng.normal(size=(n, 3)) * 2
    eye, right, up, forward = camera_frame(d, P, r)
    np.testing.assert_allclose(eye + np.abs(d)[:, None] * forward, P * [1, 1, -1], atol=1e-9)
    np.testing.assert_allclose(np.cross(right, up), -forward, atol=1e-12)  # right-handed, looking down -z
    np.testing.assert_allclose(np.linalg.norm(up, axis=1), 1.0)


def test_track_frame_is_the_convention():
    polar = np.array([[-10.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 30.0]])
    eye, right, up, fwd = CameraTrack.from_polar(polar).frame()
    np.testing.assert_allclose(eye[0], [1.0, 2.0, -3.0 + 10.0])  # (Px, Py, -Pz) + |d| e_z
    np.testing.assert_allclose(fwd[0], [0, 0, -1]) and np.testing.assert_allclose(right[0], [1, 0, 0])
    ref = camera_frame(polar[:, 0], polar[:, 1:4], polar[:, 4:7])
    for a, b in zip((eye, right, up, fwd), ref):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------------
# The inverse: angles from a rotation, a track from an eye and axes
# --------------------------------------------------------------------------------------------------
def _random_angles(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) angles covering rx, ry in (-pi, pi) and rz in (-pi/2, pi/2), where they are unique."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-pi, pi, n), rng.uniform(-pi, pi, n), rng.uniform(-pi / 2, pi / 2, n)], axis=1)


def _wrapped(a: np.ndarray) -> np.ndarray:
    return (a + pi) % (2 * pi) - pi


def test_rotation_angles_invert_the_rotation_matrix():
    angles = _random_angles(500)
    back = camera_rotation_angles(camera_rotation_matrix(angles))
    np.testing.assert_allclose(_wrapped(back - angles), 0.0, atol=1e-9)
    # beyond |rz| = pi/2 (and at the gimbal lock itself) other angles give the same rotation
    rng = np.random.default_rng(1)
    wide = np.stack([rng.uniform(-pi, pi, 200), rng.uniform(-pi, pi, 200), rng.uniform(-pi, pi, 200)], axis=1)
    wide[:4, 2] = [pi / 2, -pi / 2, pi / 2, -pi / 2]
    R = camera_rotation_matrix(wide)
    np.testing.assert_allclose(camera_rotation_matrix(camera_rotation_angles(R)), R, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_track_from_eye_and_axes_round_trips(seed):
    rng = np.random.default_rng(seed)
    n = 300
    angles = _random_angles(n, seed)
    if seed == 1:  # any rz, gimbal lock included
        angles[:, 2] = rng.uniform(-pi, pi, n)
        angles[:3, 2] = [pi / 2, -pi / 2, pi / 2]
    polar = np.concatenate([-rng.uniform(5, 60, (n, 1)), rng.normal(size=(n, 3)) * 20, angles,
                            rng.uniform(15, 60, (n, 1))], axis=1)
    given = CameraTrack.from_polar(polar)
    eye, right, up, forward = given.frame()
    track = CameraTrack.from_frame(eye, right, up, forward, given.fov, fps=25.0, name="c1")
    assert (track.fps, track.name, track.num_frames) == (25.0, "c1", n)
    for a, b in zip(track.frame(), (eye, right, up, forward)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(track.fov, given.fov)
    np.testing.assert_array_equal(track.distance, MMD_DEFAULT_DISTANCE)
    # the interest point is |d| along the view direction, in raw MMD coordinates
    interest_dcm = eye + abs(MMD_DEFAULT_DISTANCE) * forward
    np.testing.assert_allclose(track.interest, interest_dcm * [1, 1, -1], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(track.extras["camera_eye"], eye)
    np.testing.assert_array_equal(track.extras["camera_z"], forward)
    # angles are unwrapped over the frames: no step of 2 pi or more between neighbours
    assert np.abs(np.diff(track.rotation, axis=0)).max() <= pi + 1e-12
    if seed == 0:  # where the angles are unique they come back
        np.testing.assert_allclose(_wrapped(track.rotation - angles), 0.0, atol=1e-9)


def test_track_from_frame_takes_a_distance_and_rejects_non_rotations():
    eye, right, up, forward = CameraTrack.from_polar(np.array([[-30.0, 1.0, 12.0, -4.0, 0.1, 0.7, -0.2, 25.0]])).frame()
    near = CameraTrack.from_frame(eye, right, up, forward, [25.0], distance=-10.0)
    assert near.distance.tolist() == [-10.0]
    np.testing.assert_allclose(near.eye(), eye, atol=1e-12)
    with pytest.raises(ValueError, match="right-handed orthonormal"):
        CameraTrack.from_frame(eye, -right, up, forward, [25.0])  # mirrored
    with pytest.raises(ValueError, match="right-handed orthonormal"):
        CameraTrack.from_frame(eye, 2 * right, up, forward, [25.0])
    with pytest.raises(ValueError, match="like the fov"):
        CameraTrack.from_frame(eye, right, up, forward, [25.0, 26.0])


# --------------------------------------------------------------------------------------------------
# Visibility
# --------------------------------------------------------------------------------------------------
def _axes(T: int):
    """A camera at the origin looking down -z with y up (DCM's rotation 0)."""
    z = np.zeros((T, 3))
    right, up, fwd = z.copy(), z.copy(), z.copy()
    right[:, 0], up[:, 1], fwd[:, 2] = 1.0, 1.0, -1.0
    return z, right, up, fwd


def test_square_frustum_vs_real_aspect():
    eye, right, up, fwd = _axes(1)
    fov = np.array([60.0])  # half-angle 30 degrees
    joints = np.array([[[0.0, 0.0, -1.0],     # straight ahead
                        [0.7, 0.0, -1.0],     # 35 degrees right: outside a square 60-degree frame
                        [0.0, 0.7, -1.0],     # 35 degrees up: outside either
                        [0.0, 0.0, 1.0]]])    # behind the camera
    square = visibility_mask(joints, eye, right, up, fwd, fov)
    wide = visibility_mask(joints, eye, right, up, fwd, fov, aspect=DEFAULT_ASPECT)  # horizontal half-angle 45.7
    assert square[0].tolist() == [True, False, False, False]
    assert wide[0].tolist() == [True, True, False, False]


# --------------------------------------------------------------------------------------------------
# The camera npz
# --------------------------------------------------------------------------------------------------
def test_camera_npz_round_trip(tmp_path):
    track = CameraTrack.from_polar(np.array([[-30.0, 1.0, 12.0, -4.0, 0.1, 0.7, -0.2, 25.0],
                                             [-31.0, 1.5, 11.0, -3.0, 0.2, 0.8, 0.3, 26.0]]), fps=24.0)
    joints = np.random.default_rng(0).normal(size=(3, 60, 3))
    path = save_camera_npz(track, tmp_path / "7_1.npz", joints=joints, skeleton="mmd60")
    back, back_joints = load_camera_npz(path)
    np.testing.assert_array_equal(back.polar, track.polar)
    assert (back.fps, back.name, back.extras["skeleton"]) == (24.0, "7_1", "mmd60")
    np.testing.assert_array_equal(back_joints, joints)
    assert [p.name for p in tmp_path.iterdir()] == ["7_1.npz"]  # no temporary file left behind
    back, back_joints = load_camera_npz(save_camera_npz(track, tmp_path / "bare.npz"))
    assert back_joints is None and back.fps == 24.0 and "skeleton" not in back.extras


def test_camera_npz_validation(tmp_path):
    np.savez(tmp_path / "bad.npz", camera=np.zeros((10, 7)))
    with pytest.raises(InputError, match=r"expected \(N, 8\)"):
        load_camera_npz(tmp_path / "bad.npz")
    cam = np.zeros((10, 8))
    cam[:, 7] = 200.0
    np.savez(tmp_path / "fov.npz", camera=cam)
    with pytest.raises(InputError, match="fov"):
        load_camera_npz(tmp_path / "fov.npz")
    cam[:, 7] = 30.0
    np.savez(tmp_path / "joints.npz", camera=cam, joints=np.zeros((10, 60)))
    with pytest.raises(InputError, match=r"'joints' has shape \(10, 60\)"):
        load_camera_npz(tmp_path / "joints.npz")
    np.savez(tmp_path / "motion.npz", joints=np.zeros((10, 60, 3)))
    with pytest.raises(InputError, match="not a pasdeux camera npz") as info:
        load_camera_npz(tmp_path / "motion.npz")
    assert "\n" not in str(info.value)

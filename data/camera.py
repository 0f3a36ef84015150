"""pasdeux's one camera type, :class:`CameraTrack`, in MMD camera parameters, with its geometry.

A camera is what MikuMikuDance keys and what DCM (DanceCamera3D's dataset) stores as its "polar"
camera: per frame a distance, an interest point, three Euler angles and a vertical field of view, the
raw VMD values. Everything else (the eye and the view axes, what the camera sees) is computed from
them here, so the readers (:mod:`data.datasets.dcm`), the synthetic corpus (:mod:`data.synth.camera`),
the metrics (:mod:`metrics.camera`) and the camera models share one implementation.

Units and frames
----------------
MMD's coordinates are left-handed; DCM (after saba's ``MMDLookAtCamera``) works in MMD's frame with z
negated, a right-handed frame that has, for a model in its default orientation, x to the body's left,
y up and z forward: pasdeux's convention. So between DCM's frame and pasdeux's metres there is only a
scale, **1 MMD unit = 0.08 m** (:data:`MMD_UNIT_M`, :func:`dcm_to_metres`, :func:`metres_to_dcm`),
and between raw MMD / VMD values and DCM's frame only a z flip (:func:`mmd_to_dcm`, its own inverse).

The camera convention (column vectors, right-handed rotations ``R_a`` about axis ``a``)::

    R       = R_y(ry) . R_z(-rz) . R_x(rx)          roll is about -z
    eye     = (Px, Py, -Pz) + |d| . R e_z           the sign of d is ignored (MMD stores it negative)
    right   = R e_x,  up = R e_y,  forward = -R e_z  (DCM's camera_x, camera_y, camera_z)

:func:`camera_frame` computes it, :func:`camera_rotation_angles` inverts the rotation, and
:meth:`CameraTrack.from_frame` builds a track from an eye and axes alone (what DanceCamera3D's result
files hold).

Visibility
----------
:func:`visibility_mask` is DanceCamera3D's frustum test: joint j is visible in frame t when, with
``v = joint - eye``, the part of v in the (up, forward) plane is within half the vertical fov of
``forward`` *and* the part in the (right, forward) plane is within half the horizontal fov. The
reference uses the vertical fov for both (``aspect=None``: a square frustum); with ``aspect`` the
horizontal half-angle is ``atan(aspect · tan(fov/2))`` (:data:`DEFAULT_ASPECT` is the 16:9 frame).

The camera npz
--------------
:func:`save_camera_npz` writes and :func:`load_camera_npz` reads pasdeux's camera file::

    camera    (N, 8) float  the polar camera per frame [d, Px, Py, Pz, rx, ry, rz, fov]: raw VMD values
                            (MMD units, interest point in MMD's left-handed frame, radians, vertical
                            fov in degrees)
    fps       ()            frame rate (default 30, DCM's, when absent)
    joints    (T, J, 3)     optional: the dancer's joints, metres, pasdeux's frame (y up; DCM's frame
                            x 0.08 m per MMD unit), e.g. the 60 ``mmd60`` bones
    skeleton  ()            optional: the joints' skeleton name
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.errors import InputError, check_finite
from data.io import load_npz, save_npz_atomic

CAMERA_FPS = 30.0
"""pasdeux's camera frame rate: DCM's."""
MMD_UNIT_M = 0.08
"""Metres per MMD unit. MMD models are built at about 8 cm per unit (a 158 cm character is ~20 units)."""
MMD_DEFAULT_DISTANCE = -45.0
"""MMD's default camera distance (stored negative, as MMD does): 3.6 m in front of the interest point."""
DEFAULT_ASPECT = 16.0 / 9.0
"""The frame aspect (width / height) of a real video, for the non-square frustum."""

_MMD_TO_DCM = np.array([1.0, 1.0, -1.0])  # MMD left-handed <-> saba/DCM right-handed: negate z
_ROTATION_TOLERANCE = 1e-4  # how far given axes may be from a rotation (float32 files are ~1e-7 off)


# --------------------------------------------------------------------------------------------------
# Units and handedness
# --------------------------------------------------------------------------------------------------
def dcm_to_metres(points: np.ndarray) -> np.ndarray:
    """DCM positions (MMD units, saba's right-handed frame) -> pasdeux metres. Shape kept (..., 3)."""
    return np.asarray(points, dtype=np.float64) * MMD_UNIT_M


def metres_to_dcm(points: np.ndarray) -> np.ndarray:
    """pasdeux metres -> DCM positions (MMD units, saba's frame); inverse of :func:`dcm_to_metres`."""
    return np.asarray(points, dtype=np.float64) / MMD_UNIT_M


def mmd_to_dcm(points: np.ndarray) -> np.ndarray:
    """Raw MMD / VMD coordinates (left-handed) -> DCM's right-handed frame: z negated. Its own inverse."""
    return np.asarray(points, dtype=np.float64) * _MMD_TO_DCM


dcm_to_mmd = mmd_to_dcm


def mmd_to_metres(points: np.ndarray) -> np.ndarray:
    """Raw MMD / VMD coordinates -> pasdeux metres (z negated, then scaled)."""
    return dcm_to_metres(mmd_to_dcm(points))


def metres_to_mmd(points: np.ndarray) -> np.ndarray:
    """pasdeux metres -> raw MMD / VMD coordinates, for a VMD writer."""
    return dcm_to_mmd(metres_to_dcm(points))


# --------------------------------------------------------------------------------------------------
# Rotation, eye and axes
# --------------------------------------------------------------------------------------------------
def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(N,) angles -> (N, 3, 3) right-handed rotations about x (0), y (1) or z (2)."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def camera_rotation_matrix(rotation: np.ndarray) -> np.ndarray:
    """(..., 3) VMD camera angles (rx, ry, rz) radians -> (..., 3, 3) ``R_y(ry) R_z(-rz) R_x(rx)``."""
    r = np.asarray(rotation, dtype=np.float64)
    return _rot(1, r[..., 1]) @ _rot(2, -r[..., 2]) @ _rot(0, r[..., 0])


def camera_rotation_angles(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) VMD angles (rx, ry, rz): the inverse of :func:`camera_rotation_matrix`.

    With ``R = R_y(a) R_z(b) R_x(c)`` (``a = ry``, ``b = -rz``, ``c = rx``) the first column is
    ``(cos a cos b, sin b, -sin a cos b)``, which gives ``b`` in [-pi/2, pi/2] and ``a`` in (-pi, pi];
    ``c`` is then read from what is left, ``(R_y(a) R_z(b))^T R = R_x(c)``. Reading ``c`` from the
    remainder keeps the decomposition exact near ``|rz| = pi/2`` (gimbal lock), where ``a`` and ``c``
    are not separable and any error in ``a`` is absorbed by ``c``. Angles come back per frame, in
    (-pi, pi]; unwrap them for a continuous track.
    """
    R = np.asarray(R, dtype=np.float64)
    b = np.arctan2(R[..., 1, 0], np.hypot(R[..., 0, 0], R[..., 2, 0]))
    a = np.arctan2(-R[..., 2, 0], R[..., 0, 0])
    rest = np.swapaxes(_rot(1, a) @ _rot(2, b), -1, -2) @ R  # R_x(c), up to rounding
    c = np.arctan2(rest[..., 2, 1], rest[..., 1, 1])
    return np.stack([c, a, -b], axis=-1)


def camera_frame(distance: np.ndarray, interest: np.ndarray, rotation: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DCM's eye and axes from raw VMD values.

    Args:
        distance: (N,) VMD distance (its sign is ignored, as in DCM).
        interest: (N, 3) VMD interest point, raw MMD (left-handed) coordinates.
        rotation: (N, 3) VMD angles (rx, ry, rz), radians.

    Returns:
        ``eye, right, up, forward``, each (N, 3) in DCM's frame (MMD units); ``forward`` is DCM's
        ``camera_z``, ``up`` its ``camera_y``, ``right`` its ``camera_x``.
    """
    R = camera_rotation_matrix(rotation)  # (N, 3, 3)
    d = np.abs(np.asarray(distance, dtype=np.float64))[..., None]
    eye = mmd_to_dcm(interest) + d * R[..., :, 2]
    return eye, R[..., :, 0], R[..., :, 1], -R[..., :, 2]


# --------------------------------------------------------------------------------------------------
# Visibility (DanceCamera3D's frustum test)
# --------------------------------------------------------------------------------------------------
def _half_angle_cos(fov_deg: np.ndarray, aspect: float | None) -> tuple[np.ndarray, np.ndarray]:
    """cos of the vertical and horizontal half-fov angles (T,) each."""
    half = np.radians(np.asarray(fov_deg, dtype=np.float64)) * 0.5
    cos_v = np.cos(half)
    cos_h = cos_v if aspect is None else np.cos(np.arctan(aspect * np.tan(half)))
    return cos_v, cos_h


def visibility_mask(joints: np.ndarray, eye: np.ndarray, right: np.ndarray, up: np.ndarray,
                    forward: np.ndarray, fov_deg: np.ndarray, aspect: float | None = None) -> np.ndarray:
    """(T, J) bool: joint inside the camera's frustum. ``aspect=None`` is the reference square test.

    ``joints`` (T, J, 3) and ``eye`` (T, 3) in one frame and unit; axes (T, 3) unit vectors; fov (T,)
    vertical, degrees.
    """
    v = np.asarray(joints, dtype=np.float64) - eye[:, None, :]  # (T, J, 3)
    along = lambda axis: np.einsum("tjc,tc->tj", v, axis)  # noqa: E731
    vr, vu = along(right), along(up)  # (T, J) components
    v_yz = v - vr[..., None] * right[:, None, :]  # v without its horizontal component
    v_xz = v - vu[..., None] * up[:, None, :]  # v without its vertical component
    cos_v, cos_h = _half_angle_cos(fov_deg, aspect)
    # v_yz . forward = v . forward for orthonormal axes; written as the reference does
    ok_v = np.einsum("tjc,tc->tj", v_yz, forward) >= cos_v[:, None] * np.linalg.norm(v_yz, axis=-1)
    ok_h = np.einsum("tjc,tc->tj", v_xz, forward) >= cos_h[:, None] * np.linalg.norm(v_xz, axis=-1)
    return ok_v & ok_h


# --------------------------------------------------------------------------------------------------
# The camera type
# --------------------------------------------------------------------------------------------------
@dataclass
class CameraTrack:
    """A per-frame MMD camera: the raw VMD values DCM's "polar" format holds."""

    distance: np.ndarray
    """(N,) VMD distance (MMD stores it negative; only |d| matters)."""
    interest: np.ndarray
    """(N, 3) interest point, raw MMD (left-handed) coordinates, MMD units."""
    rotation: np.ndarray
    """(N, 3) angles (rx, ry, rz), radians, unwrapped."""
    fov: np.ndarray
    """(N,) vertical field of view, degrees."""
    fps: float = CAMERA_FPS
    name: str = ""
    extras: dict = field(default_factory=dict)
    """Anything else the file carried (e.g. the stored ``camera_eye``), kept for checks."""

    def __post_init__(self) -> None:
        self.distance = np.asarray(self.distance, dtype=np.float64).reshape(-1)
        N = self.distance.shape[0]
        self.interest = np.asarray(self.interest, dtype=np.float64)
        self.rotation = np.asarray(self.rotation, dtype=np.float64)
        self.fov = np.asarray(self.fov, dtype=np.float64).reshape(-1)
        if self.interest.shape != (N, 3) or self.rotation.shape != (N, 3) or self.fov.shape != (N,):
            raise ValueError(f"camera arrays disagree: distance {N}, interest {self.interest.shape}, "
                             f"rotation {self.rotation.shape}, fov {self.fov.shape}")

    @property
    def num_frames(self) -> int:
        return int(self.distance.shape[0])

    @property
    def polar(self) -> np.ndarray:
        """(N, 8) DCM's model format: [d, Px, Py, Pz, rx, ry, rz, fov]."""
        return np.concatenate([self.distance[:, None], self.interest, self.rotation, self.fov[:, None]], 1)

    @classmethod
    def from_polar(cls, polar: np.ndarray, fps: float = CAMERA_FPS, name: str = "") -> "CameraTrack":
        p = np.asarray(polar, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 8:
            raise ValueError(f"polar camera must be (N, 8), got {p.shape}")
        return cls(distance=p[:, 0], interest=p[:, 1:4], rotation=p[:, 4:7], fov=p[:, 7], fps=fps, name=name)

    @classmethod
    def from_frame(cls, eye: np.ndarray, right: np.ndarray, up: np.ndarray, forward: np.ndarray,
                   fov: np.ndarray, fps: float = CAMERA_FPS, name: str = "",
                   distance: float | np.ndarray = MMD_DEFAULT_DISTANCE) -> "CameraTrack":
        """The track whose :meth:`frame` is ``eye, right, up, forward``: the inverse of :meth:`frame`.

        ``eye`` (N, 3) in DCM's frame, MMD units (DCM's ``camera_eye``); the axes (N, 3) a right-handed
        orthonormal frame (DCM's ``camera_x``, ``camera_y``, ``camera_z``); ``fov`` (N,) degrees.
        The angles come from :func:`camera_rotation_angles`, unwrapped over the frames. An eye and axes
        do not fix the distance: every distance gives the same eye, axes and view, so the track takes
        ``distance`` (one value for every frame, by default MMD's own, so the camera orbits a point
        3.6 m ahead when opened in MMD, or one per frame) and puts the interest point that far along
        the view direction. The given eye and axes are kept in ``extras`` under DCM's names.

        Raises:
            ValueError: shapes disagree, or the axes are not a right-handed orthonormal frame.
        """
        eye, right, up, forward = (np.asarray(a, dtype=np.float64) for a in (eye, right, up, forward))
        fov = np.asarray(fov, dtype=np.float64).reshape(-1)
        N = fov.shape[0]
        if any(a.shape != (N, 3) for a in (eye, right, up, forward)):
            raise ValueError(f"eye and axes must be ({N}, 3) like the fov, got {eye.shape}, {right.shape}, "
                             f"{up.shape}, {forward.shape}")
        R = np.stack([right, up, -forward], axis=-1)  # (N, 3, 3), columns R e_x, R e_y, R e_z
        off = np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(3)).max(initial=0.0)
        if off > _ROTATION_TOLERANCE or (N and np.linalg.det(R).min() < 0):
            raise ValueError(f"camera axes are not a right-handed orthonormal frame (off by {off:.3g})")
        rotation = np.unwrap(camera_rotation_angles(R), axis=0)  # (N, 3)
        d = np.broadcast_to(np.asarray(distance, dtype=np.float64), (N,)).copy()
        # the interest point along the rebuilt view direction, so the eye comes back to rounding
        interest = dcm_to_mmd(eye - np.abs(d)[:, None] * camera_rotation_matrix(rotation)[..., :, 2])
        extras = {"camera_eye": eye, "camera_x": right, "camera_y": up, "camera_z": forward}
        return cls(distance=d, interest=interest, rotation=rotation, fov=fov, fps=fps, name=name, extras=extras)

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``eye, right, up, forward`` (N, 3) each, DCM frame, MMD units (see :func:`camera_frame`)."""
        return camera_frame(self.distance, self.interest, self.rotation)

    def eye(self, metres: bool = False) -> np.ndarray:
        """(N, 3) camera position in DCM's frame, MMD units, or pasdeux metres."""
        eye = self.frame()[0]
        return dcm_to_metres(eye) if metres else eye

    @property
    def centric(self) -> np.ndarray:
        """(N, 7) DCM's "centric" format: [rx, ry, rz, fov, eye_x, eye_y, eye_z]."""
        return np.concatenate([self.rotation, self.fov[:, None], self.eye()], 1)

    def slice(self, start: int, stop: int) -> "CameraTrack":
        return CameraTrack(self.distance[start:stop], self.interest[start:stop], self.rotation[start:stop],
                           self.fov[start:stop], fps=self.fps, name=self.name)


# --------------------------------------------------------------------------------------------------
# The camera npz
# --------------------------------------------------------------------------------------------------
def save_camera_npz(track: CameraTrack, path: str | os.PathLike, joints: np.ndarray | None = None,
                    skeleton: str | None = None) -> Path:
    """Write ``track`` (and the dancer's ``joints`` (T, J, 3) metres, when given) as a camera npz, atomically."""
    arrays: dict[str, np.ndarray] = {"camera": track.polar, "fps": np.float64(track.fps)}
    if joints is not None:
        j = np.asarray(joints, dtype=np.float64)
        if j.ndim != 3 or j.shape[2] != 3:
            raise ValueError(f"joints must be (T, J, 3), got {j.shape}")
        arrays["joints"] = j
    if skeleton is not None:
        arrays["skeleton"] = np.str_(skeleton)
    return save_npz_atomic(path, **arrays)


def load_camera_npz(path: str | os.PathLike) -> tuple[CameraTrack, np.ndarray | None]:
    """Read a camera npz (layout in the module docstring), validating every array.

    Returns the track (named after the file; a stored ``skeleton`` goes to its ``extras``) and the
    dancer's joints (T, J, 3) metres, or ``None`` when the file has none.
    """
    path = Path(path)
    z = load_npz(path)
    if "camera" not in z:
        raise InputError(path, "no 'camera' array: not a pasdeux camera npz",
                         "store the (N, 8) polar camera [d, Px, Py, Pz, rx, ry, rz, fov] as 'camera'")
    cam = np.asarray(z["camera"], dtype=np.float64)
    if cam.ndim != 2 or cam.shape[1] != 8 or cam.shape[0] < 2:
        raise InputError(path, f"'camera' has shape {cam.shape}, expected (N, 8) with N >= 2", "check the writer")
    check_finite(cam, path, "camera")
    if ((cam[:, 7] <= 0) | (cam[:, 7] >= 180)).any():
        raise InputError(path, "camera fov (column 7) outside (0, 180) degrees", "store the vertical fov in degrees")
    fps = float(z["fps"]) if "fps" in z else CAMERA_FPS
    if not fps > 0:
        raise InputError(path, f"fps is {fps}", "store the camera's frame rate")
    joints = None
    if "joints" in z:
        joints = np.asarray(z["joints"], dtype=np.float64)
        if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] < 2:
            raise InputError(path, f"'joints' has shape {joints.shape}, expected (T, J, 3)", "check the writer")
        check_finite(joints, path, "joints")
    track = CameraTrack.from_polar(cam, fps=fps, name=path.stem)
    if "skeleton" in z:
        track.extras["skeleton"] = str(z["skeleton"])
    return track, joints

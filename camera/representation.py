"""What the camera model sees and predicts: the dance and the camera in the dancer's frame, in torch.

DanceCamera3D learns the raw VMD values (distance, interest point, Euler angles, fov) min-max scaled
over the training set: a camera that spins past pi jumps by 2 pi in its own channels, an absolute
world position ties the model to where dancers stood in training, and a clipped range saturates
test data. Here a camera frame is 10 channels::

    eye - anchor   3   the eye relative to the dancer's waist on the floor (x, z; y stays absolute)
    forward        3   the view direction, a unit vector        } together a rotation (the "6-D"
    up             3   the camera's up, a unit vector           }  representation: no wrap-around)
    fov            1   the vertical field of view, degrees

and a dance frame is its 60 MMD bones relative to the same anchor (``pose``, 180 channels) plus the
anchor relative to the window's mean anchor (``travel``, 3): the pose says what the dancer does, the
travel how they cross the floor within the window (a static camera is a constant eye minus the travel).
The anchor is the waist (bone 0, 下半身) of the same frame, so it is the same in every window that
holds the frame: overlapping windows stitched by inpainting (:mod:`camera.diffusion`) agree frame for
frame. Rotating a whole scene about the vertical axis (:func:`yaw_rotate`) changes none of it but the
directions: the training augmentation.

Units are DCM's (MMD units, saba's right-handed frame; :mod:`data.camera`): ``eye`` and the joints
come in the camera's own frame and units. :class:`Normalizer` scales the channels for the network
with statistics of the training set, kept in the checkpoint.

Back to MMD (:func:`features_to_track`): forward and up are made orthonormal, the Euler angles are
read from the rotation (:func:`data.camera.camera_rotation_angles`) and unwrapped over the frames, and
the interest point is put on the dancer, ``distance`` along the view axis from the eye to the point
nearest the waist, so an MMD user who opens the file orbits the dancer, not empty space.
"""

from __future__ import annotations

import numpy as np
import roma
import torch
from torch import nn
from torch.nn import functional as F

from data.camera import CAMERA_FPS, CameraTrack

CAMERA_CHANNELS = 10
"""eye - anchor (3), forward (3), up (3), fov (1)."""
EYE, FORWARD, UP, FOV = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)
ANCHOR_BONE = 0
"""下半身 (the waist): the dancer's anchor on the floor."""
MIN_DISTANCE = 1.0
"""Shortest MMD distance from the eye to the interest point (MMD units): a camera inside the dancer
still gets an interest point in front of it."""


# --------------------------------------------------------------------------------------------------
# Camera geometry in torch (the same convention as data.camera, tested against it)
# --------------------------------------------------------------------------------------------------
def rotation_matrix(rotation: torch.Tensor) -> torch.Tensor:
    """(..., 3) VMD angles (rx, ry, rz) -> (..., 3, 3) ``R_y(ry) R_z(-rz) R_x(rx)`` (data.camera's)."""
    angles = torch.stack([rotation[..., 1], -rotation[..., 2], rotation[..., 0]], dim=-1)
    return roma.euler_to_rotmat("YZX", angles)  # intrinsic: R_y @ R_z @ R_x


def polar_to_frame(polar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(..., 8) DCM polar ``[d, Px, Py, Pz, rx, ry, rz, fov]`` -> eye, forward, up (..., 3) and fov (...,),
    DCM's frame and units (:func:`data.camera.camera_frame`)."""
    R = rotation_matrix(polar[..., 4:7])  # (..., 3, 3)
    interest = polar[..., 1:4] * polar.new_tensor([1.0, 1.0, -1.0])  # MMD left-handed -> DCM
    eye = interest + polar[..., :1].abs() * R[..., :, 2]
    return eye, -R[..., :, 2], R[..., :, 1], polar[..., 7]


def orthonormal(forward: torch.Tensor, up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gram-Schmidt on (..., 3) forward and up -> unit ``forward, up, right`` (right = forward x up,
    the camera's x axis in a right-handed frame whose z is -forward)."""
    f = F.normalize(forward, dim=-1, eps=1e-8)
    u = F.normalize(up - (up * f).sum(-1, keepdim=True) * f, dim=-1, eps=1e-8)
    return f, u, torch.linalg.cross(f, u)


# --------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------
def anchor_of(joints: torch.Tensor) -> torch.Tensor:
    """(..., T, 60, 3) joints -> (..., T, 3) the waist on the floor: (x, 0, z) of bone 0."""
    waist = joints[..., ANCHOR_BONE, :]
    return waist * waist.new_tensor([1.0, 0.0, 1.0])


def dance_features(joints: torch.Tensor) -> torch.Tensor:
    """(B, T, 60, 3) joints (DCM units) -> (B, T, 183): the pose about the anchor, then the travel."""
    anchor = anchor_of(joints)  # (B, T, 3)
    pose = (joints - anchor[..., None, :]).flatten(-2)  # (B, T, 180)
    travel = anchor - anchor.mean(dim=-2, keepdim=True)  # (B, T, 3)
    return torch.cat([pose, travel], dim=-1)


def camera_features(polar: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """(B, T, 8) DCM polar cameras and (B, T, 60, 3) joints -> (B, T, 10) camera features."""
    eye, forward, up, fov = polar_to_frame(polar)
    return torch.cat([eye - anchor_of(joints), forward, up, fov[..., None]], dim=-1)


def features_to_frame(x: torch.Tensor, joints: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, T, 10) camera features -> eye, forward, up, right (B, T, 3) and fov (B, T), DCM frame."""
    forward, up, right = orthonormal(x[..., FORWARD], x[..., UP])
    return x[..., EYE] + anchor_of(joints), forward, up, right, x[..., 9]


def yaw_rotate(x: torch.Tensor, joints: torch.Tensor, angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn whole scenes about the vertical axis through the origin by ``angle`` (B,) radians:
    camera features (B, T, 10) and joints (B, T, J, 3). Anchors turn with the joints, so the
    relative eye turns like a direction."""
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    R = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1).view(-1, 1, 3, 3)  # (B, 1, 3, 3)
    turn = lambda v: (R @ v.unsqueeze(-1)).squeeze(-1)  # noqa: E731  (B, T, 3)
    x = torch.cat([turn(x[..., EYE]), turn(x[..., FORWARD]), turn(x[..., UP]), x[..., FOV]], dim=-1)
    joints = (R[:, :, None] @ joints.unsqueeze(-1)).squeeze(-1)
    return x, joints


def features_to_track(x: np.ndarray | torch.Tensor, joints: np.ndarray | torch.Tensor,
                      fps: float = CAMERA_FPS, name: str = "") -> CameraTrack:
    """(T, 10) camera features of one dance (joints (T, 60, 3), DCM units) -> an MMD :class:`CameraTrack`.

    Built by :meth:`data.camera.CameraTrack.from_frame`: the angles are unwrapped over the frames, so a
    spin keeps its turns; the distance is the eye's
    distance along the view axis to the point nearest the waist (at least :data:`MIN_DISTANCE`),
    stored negative as MMD does; the fov stays fractional (the VMD writer rounds it).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    joints = torch.as_tensor(joints, dtype=torch.float64)
    eye, forward, up, right, fov = (a.numpy() for a in features_to_frame(x, joints))
    waist = joints[:, ANCHOR_BONE].numpy()
    distance = np.maximum(np.einsum("tc,tc->t", waist - eye, forward), MIN_DISTANCE)  # (T,)
    return CameraTrack.from_frame(eye, right, up, forward, np.clip(fov, 1.0, 179.0), fps=fps, name=name,
                                  distance=-distance)


def angular_margins(joints: torch.Tensor, eye: torch.Tensor, forward: torch.Tensor, up: torch.Tensor,
                    right: torch.Tensor, fov: torch.Tensor, aspect: float | None) -> torch.Tensor:
    """How far outside the frame each joint is, as angles: (B, T, J, 2) radians, horizontal then vertical.

    With ``v = joint - eye`` and its camera coordinates ``a = v.right``, ``b = v.up``, ``c = v.forward``,
    the joint is ``atan2(|a|, c)`` off the view axis horizontally and ``atan2(|b|, c)`` vertically; the
    margins subtract the half fovs (the horizontal one ``atan(aspect tan(fov/2))``, the vertical one for
    both when ``aspect`` is None: DanceCamera3D's square test). A joint is in view exactly when both
    margins are <= 0 (:func:`data.camera.visibility_mask`'s test; a joint behind the camera is more than
    90 degrees off). Angles, not DanceCamera3D's lengths, so the loss does not grow with the distance.
    """
    v = joints - eye[..., None, :]  # (B, T, J, 3)
    a = (v * right[..., None, :]).sum(-1)
    b = (v * up[..., None, :]).sum(-1)
    c = (v * forward[..., None, :]).sum(-1)
    half_v = torch.deg2rad(fov)[..., None] * 0.5  # (B, T, 1)
    half_h = half_v if aspect is None else torch.atan(aspect * torch.tan(half_v))
    return torch.stack([torch.atan2(a.abs(), c) - half_h, torch.atan2(b.abs(), c) - half_v], dim=-1)


# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------
class Normalizer(nn.Module):
    """Per-channel scaling of camera, dance and music features for the network, from training data.

    Positions (the eye, the pose, the travel) share one scale per group over x, y and z (and the
    horizontal means are zero) so a turn about the vertical axis commutes with the scaling; the eye's
    height and the fov have their own mean and scale; the axes are unit vectors and stay as they are;
    music channels are z-scored each. Buffers, so the statistics travel in the checkpoint.
    """

    def __init__(self, dance_channels: int, music_channels: int) -> None:
        super().__init__()
        self.register_buffer("camera_mean", torch.zeros(CAMERA_CHANNELS))
        self.register_buffer("camera_scale", torch.ones(CAMERA_CHANNELS))
        self.register_buffer("dance_mean", torch.zeros(dance_channels))
        self.register_buffer("dance_scale", torch.ones(dance_channels))
        self.register_buffer("music_mean", torch.zeros(music_channels))
        self.register_buffer("music_scale", torch.ones(music_channels))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, camera: torch.Tensor, dance: torch.Tensor, music: torch.Tensor) -> None:
        """Statistics from (N, 10) camera, (N, 183) dance and (N, F) music feature frames."""
        camera, dance, music = camera.double(), dance.double(), music.double()
        eye = camera[:, EYE]
        c_mean = torch.zeros(CAMERA_CHANNELS, dtype=torch.float64)
        c_scale = torch.ones(CAMERA_CHANNELS, dtype=torch.float64)
        c_mean[1] = eye[:, 1].mean()
        c_scale[EYE] = (eye - c_mean[EYE]).pow(2).mean().sqrt().clamp_min(1e-6)
        c_mean[9] = camera[:, 9].mean()
        c_scale[9] = camera[:, 9].std().clamp_min(1.0)  # degrees; a constant fov still scales sanely
        pose = dance[:, :-3].reshape(len(dance), -1, 3)
        d_mean = torch.zeros(dance.shape[1], dtype=torch.float64)
        pose_mean = pose.mean(dim=(0, 1)) * pose.new_tensor([0.0, 1.0, 0.0])  # heights only
        d_mean[:-3] = pose_mean.repeat(pose.shape[1])
        d_scale = torch.ones(dance.shape[1], dtype=torch.float64)
        d_scale[:-3] = (pose - pose_mean).pow(2).mean().sqrt().clamp_min(1e-6)
        d_scale[-3:] = dance[:, -3:].pow(2).mean().sqrt().clamp_min(1e-3)
        for buf, value in ((self.camera_mean, c_mean), (self.camera_scale, c_scale), (self.dance_mean, d_mean),
                           (self.dance_scale, d_scale), (self.music_mean, music.mean(0)),
                           (self.music_scale, music.std(0).clamp_min(1e-4))):
            buf.copy_(value.to(buf.dtype))
        self.fitted.fill_(True)

    def camera(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.camera_mean) / self.camera_scale

    def camera_back(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.camera_scale + self.camera_mean

    def dance(self, d: torch.Tensor) -> torch.Tensor:
        return (d - self.dance_mean) / self.dance_scale

    def music(self, m: torch.Tensor) -> torch.Tensor:
        return (m - self.music_mean) / self.music_scale


__all__ = ["CAMERA_CHANNELS", "EYE", "FORWARD", "UP", "FOV", "ANCHOR_BONE", "rotation_matrix", "polar_to_frame",
           "orthonormal", "anchor_of", "dance_features", "camera_features", "features_to_frame", "yaw_rotate",
           "features_to_track", "angular_margins", "Normalizer"]

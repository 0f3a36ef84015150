"""A trained camera model loaded from its checkpoint without Lightning, for ``cli.py camera``.

The checkpoint :class:`camera.lightning.CameraDiffusionStage` writes holds the network's config, the
diffusion settings, the music feature set, the fitted feature statistics and the weights (their
moving average when one was kept), so filming needs that file, a dance and its song::

    director = CameraDirector.from_checkpoint("demo_out/checkpoints/camera/last.ckpt")
    joints = dance_joints(load_motion("dance.npz"))              # (T, 60, 3) MMD bones, DCM units
    music = director.music_features("song.wav").features          # (T', F) at 30 fps
    track = director.film(joints, music, steps=20, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np
import torch

from camera.diffusion import DiffusionConfig
from camera.model import DANCE_CHANNELS, CameraDenoiser, CameraModelConfig
from camera.representation import Normalizer, features_to_track
from camera.sampling import film_features
from data.camera import CAMERA_FPS, CameraTrack, metres_to_dcm
from data.datasets.dcm import mmd_joints_from_smplx
from data.errors import InputError, check_finite
from data.motion import Motion, floor_height, resample, to_skeleton
from data.music import get_feature_set
from training.checkpoint import read_checkpoint, sub_state
from training.config import coerce_config

STAGE = "camera.lightning.CameraDiffusionStage"


def dance_joints(motion: Motion, source=None, floor: float | None = None) -> np.ndarray:
    """Any dance pasdeux reads -> (T, 60, 3) MMD bones in DCM units at 30 fps, standing on y = 0.

    ``mmd60`` (DCM) joints are used as they are; ``smplx55`` joints go through
    :func:`data.datasets.dcm.mmd_joints_from_smplx`; ``smpl24`` dances (AIST++, ``cli.py dance``) are
    put on SMPL-X first (:func:`data.motion.to_skeleton`, which needs their rotations). The floor
    (``floor``, metres, in the motion's frame; by default :func:`data.motion.floor_height` of the bones)
    is moved to y = 0, as the corpus the model learnt from stands; give the dance VMD's floor
    (:func:`camera.retarget.floor_plane`) so camera and dance meet in MMD.
    """
    check_finite(motion.joints, source, "the dance's joints")
    motion = resample(motion, CAMERA_FPS)
    if motion.skeleton == "smpl24":
        if motion.rotations is None:
            raise InputError(source, "an smpl24 dance with joint positions only cannot be put on the MMD skeleton",
                             "give the dance with its SMPL rotations (npz from `cli.py dance`, AIST++ pkl, BVH)")
        motion = to_skeleton(motion, "smplx55")
    if motion.skeleton == "smplx55":
        joints = mmd_joints_from_smplx(motion.joints)
    elif motion.skeleton == "mmd60":
        joints = np.asarray(motion.joints, dtype=np.float64)
    else:
        raise InputError(source, f"unknown skeleton {motion.skeleton!r}", "give an smpl24, smplx55 or mmd60 dance")
    joints = joints - np.array([0.0, floor_height(joints) if floor is None else float(floor), 0.0])
    return metres_to_dcm(joints)  # (T, 60, 3)


class CameraDirector(torch.nn.Module):
    """Dance + music -> a camera for every frame.

    Args:
        net: the denoiser (config and weights).
        norm: its fitted feature statistics.
        diffusion: the schedule and the default sampler settings.
        feature_set: the music feature set it was trained on.
    """

    def __init__(self, net: CameraDenoiser, norm: Normalizer, diffusion: DiffusionConfig, feature_set: str) -> None:
        super().__init__()
        self.net, self.norm, self.diffusion, self.feature_set = net.eval(), norm, diffusion, feature_set

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "CameraDirector":
        ckpt = read_checkpoint(path)
        hp = ckpt.get("hyper_parameters", {})
        if not isinstance(hp, Mapping) or not isinstance(hp.get("model"), Mapping) or "diffusion" not in hp:
            raise InputError(path, "not a camera checkpoint (no 'model' and 'diffusion' hyper-parameters)",
                             f"pass a checkpoint written by {STAGE} (`cli.py fit --config configs/quick/camera.yaml`)")
        state = ckpt["state_dict"]
        config = coerce_config(CameraModelConfig, hp["model"])
        net = CameraDenoiser(config)
        weights = sub_state(state, "ema.module.") or sub_state(state, "net.")
        net.load_state_dict(weights, strict=True)
        norm = Normalizer(DANCE_CHANNELS, config.music_channels)
        norm.load_state_dict(sub_state(state, "norm."), strict=True)
        if not bool(norm.fitted):
            raise InputError(path, "the checkpoint's feature statistics were never fitted",
                             "pass a checkpoint saved after training started")
        return cls(net, norm, coerce_config(DiffusionConfig, hp["diffusion"]), hp.get("feature_set") or "edge35")

    @property
    def device(self) -> torch.device:
        return self.norm.camera_mean.device

    def music_features(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        """The song's :class:`data.music.MusicFeatures` in the model's feature set at 30 fps."""
        from data.music import compute_features

        return compute_features(path, fps=CAMERA_FPS, feature_set=self.feature_set, cache_dir=cache_dir)

    @torch.no_grad()
    def film(self, joints: np.ndarray, music: np.ndarray, steps: int | None = None, guidance_dance: float | None = None,
             guidance_music: float | None = None, generator: torch.Generator | None = None, name: str = "",
             use_dance: bool = True,
             progress: Callable[[int, int], None] | None = None) -> CameraTrack:
        """The camera for every frame of one dance.

        Args:
            joints: (T, 60, 3) MMD bones, DCM units (:func:`dance_joints`).
            music: (T', F) music features, T' >= T (cropped to the dance).
            steps: DDIM steps (default the checkpoint's).
            guidance_dance, guidance_music: guidance weights (default the checkpoint's).
            use_dance: False: from the music alone (a baseline; see :func:`camera.sampling.film_features`).
        """
        T = int(joints.shape[0])
        F = get_feature_set(self.feature_set).dim
        if music.ndim != 2 or music.shape[1] != F or music.shape[0] < T:
            raise ValueError(f"music must be (>= {T}, {F}), got {tuple(music.shape)}")
        given = {"guidance_dance": guidance_dance, "guidance_music": guidance_music}
        config = replace(self.diffusion, **{k: v for k, v in given.items() if v is not None})
        j = torch.as_tensor(np.asarray(joints), dtype=torch.float32, device=self.device)[None]
        m = torch.as_tensor(np.asarray(music[:T]), dtype=torch.float32, device=self.device)[None]
        x = film_features(self.net, self.norm, j, m, config, steps=steps, generator=generator, progress=progress,
                          use_dance=use_dance)
        return features_to_track(x[0].cpu(), j[0].cpu(), fps=CAMERA_FPS, name=name)


__all__ = ["CameraDirector", "dance_joints"]

"""The camera diffusion's training stage.

:class:`CameraDiffusionStage` trains :class:`camera.model.CameraDenoiser` on DCM windows (camera,
dance, music; :class:`data.datamodules.CameraDataModule`): each window's camera and dance become the
dancer-relative features of :mod:`camera.representation`, the scene is turned about the vertical by a
random angle (training only: a camera that films from the left is as good as one from the right, and
the corpus is small), the camera is noised to a random step, and the network predicts it clean (as x0
or as v, :class:`camera.diffusion.DiffusionConfig`), with
the dance and the music dropped independently (classifier-free guidance). The loss is DanceCamera3D's
(``reference/dancecamera3d.md`` 3.4) in its weights: reconstruction, velocity and acceleration of x0,
plus the body-attention term, here angular and with the real frame's aspect: joints the true camera
sees must not fall outside the predicted frame. The statistics that scale the features are fitted on
the training split when a run starts and travel in the checkpoint; an exponential moving average of
the weights (what ``cli.py camera`` loads) is kept beside them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

from camera.diffusion import DiffusionConfig, cosine_alpha_bar, q_sample, to_x0
from camera.model import DANCE_CHANNELS, CameraDenoiser, CameraModelConfig
from camera.representation import (Normalizer, angular_margins, camera_features, dance_features, features_to_frame,
                                   yaw_rotate)
from data.camera import DEFAULT_ASPECT, dcm_to_metres
from data.errors import InputError, is_non_negative
from data.motion import Motion
from data.music import get_feature_set
from training.config import coerce_config
from training.optim import OptimizerConfig
from training.previews import Preview, clip_frames, evaluating, song_path, validation_sequences
from training.stage import Stage, StageName

PREVIEW_SEED = 0
"""The preview's sampling seed: every validation's preview draws the same noise, so they compare."""


@dataclass
class CameraLossConfig:
    """Loss weights and condition dropout (DanceCamera3D: 2 / 5 / 5 and 0.25 / 0.25)."""

    reconstruction: float = 2.0
    """MSE of the network's output against its target: the clean camera (normalised features), or v
    (:attr:`camera.diffusion.DiffusionConfig.prediction`)."""
    velocity: float = 5.0
    """MSE of its frame-to-frame differences."""
    acceleration: float = 5.0
    """MSE of its second differences."""
    visibility: float = 1.0
    """Mean angle (radians) by which joints the true camera sees fall outside the predicted frame."""
    aspect: float | None = DEFAULT_ASPECT
    """Frame width / height for the visibility term (None: DanceCamera3D's square frustum)."""
    drop_dance: float = 0.25
    """Probability a training sample's dance is replaced by the null condition."""
    drop_music: float = 0.25
    """Probability its music is (independently)."""

    def __post_init__(self) -> None:
        for name in ("reconstruction", "velocity", "acceleration", "visibility"):
            if not is_non_negative(getattr(self, name)):
                raise ValueError(f"CameraLossConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("drop_dance", "drop_music"):
            if not (is_non_negative(getattr(self, name)) and getattr(self, name) < 1):
                raise ValueError(f"CameraLossConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.aspect is not None and not (is_non_negative(self.aspect) and self.aspect > 0):
            raise ValueError(f"CameraLossConfig.aspect must be > 0 or None, got {self.aspect!r}")


class EMAUpdate:
    """``ema <- ema + (1 - decay) (param - ema)`` for :class:`AveragedModel`; a class, not torch's
    closure (``get_ema_multi_avg_fn``), so the stage pickles (``ddp_spawn`` sends it to the ranks)."""

    def __init__(self, decay: float) -> None:
        self.decay = float(decay)

    def __call__(self, averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged) -> None:
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay)


class CameraDiffusionStage(Stage):
    """Trains the camera denoiser.

    Args:
        model: network sizes; ``music_channels`` is filled in from ``feature_set``.
        diffusion: schedule and sampler settings (the sampler's are stored for ``cli.py camera``).
        loss: loss weights, the visibility aspect and the condition dropout.
        feature_set: the music feature set; must be the data module's.
        augment_yaw: turn each training scene about the vertical by a uniform random angle.
        ema_decay: decay of the weights' moving average (0: none; inference then uses the raw weights).
        optimizer: optimiser and schedule.
    """

    def __init__(self, model: CameraModelConfig | dict | None = None, diffusion: DiffusionConfig | dict | None = None,
                 loss: CameraLossConfig | dict | None = None, feature_set: str = "edge35", augment_yaw: bool = True,
                 ema_decay: float = 0.999, optimizer: OptimizerConfig | dict | None = None) -> None:
        super().__init__(optimizer)
        music_channels = get_feature_set(feature_set).dim
        self.model_config = coerce_config(CameraModelConfig, model)
        if self.model_config.music_channels != music_channels:
            self.model_config = replace(self.model_config, music_channels=music_channels)
        self.diffusion = coerce_config(DiffusionConfig, diffusion)
        self.loss_config = coerce_config(CameraLossConfig, loss)
        if not (is_non_negative(ema_decay) and ema_decay < 1):
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        self.feature_set = feature_set
        self.augment_yaw = bool(augment_yaw)
        self.net = CameraDenoiser(self.model_config)
        self.norm = Normalizer(DANCE_CHANNELS, music_channels)
        self.ema = None
        if ema_decay > 0:
            self.ema = AveragedModel(self.net, multi_avg_fn=EMAUpdate(ema_decay), use_buffers=True)
            self.ema.requires_grad_(False)
        self.register_buffer("alpha_bar", cosine_alpha_bar(self.diffusion.timesteps, self.diffusion.cosine_s).float(),
                             persistent=False)
        self.save_hyperparameters({"model": asdict(self.model_config), "diffusion": asdict(self.diffusion),
                                   "loss": asdict(self.loss_config), "feature_set": feature_set,
                                   "augment_yaw": self.augment_yaw, "ema_decay": ema_decay,
                                   "optimizer": asdict(self.optim_config)})

    # -- statistics ----------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        music = getattr(getattr(dm, "music", None), "feature_set", None)
        if music is not None and music != self.feature_set:
            raise InputError(None, f"the data module computes {music!r} music features, the camera model reads "
                                   f"{self.feature_set!r}", "set the same feature_set in model and data")
        if bool(self.norm.fitted):
            return  # resumed, or fine-tuned from a fitted checkpoint
        if dm is None or not hasattr(dm, "sequences"):
            raise InputError(None, "the camera stage fits its feature statistics on the data module's training "
                                   "sequences", "train with data.datamodules.CameraDataModule")
        cams, dances, musics = [], [], []
        for seq in dm.sequences(dm.splits["train"]):
            joints = torch.tensor(seq.joints, dtype=torch.float32)[None]  # (1, T, 60, 3)
            polar = torch.as_tensor(seq.track.polar, dtype=torch.float32)[None]
            cams.append(camera_features(polar, joints)[0])
            dances.append(dance_features(joints)[0])
            musics.append(torch.tensor(seq.music, dtype=torch.float32))
        self.norm.fit(torch.cat(cams), torch.cat(dances), torch.cat(musics))

    # -- the step ------------------------------------------------------------------------------------
    def denoiser(self, stage: StageName) -> CameraDenoiser:
        """The raw network in training, its moving average in validation and test (what inference uses)."""
        return self.net if stage == "train" or self.ema is None else self.ema.module

    def shared_step(self, batch, stage: StageName) -> torch.Tensor:
        polar, joints, music = batch["camera"], batch["joints"], batch["music"]  # (B,T,8) (B,T,60,3) (B,T,F)
        x = camera_features(polar, joints)  # (B, T, 10)
        B = x.shape[0]
        train = stage == "train"
        # validation and test draw the same noise every time, so their losses compare across checkpoints
        gen = None if train else torch.Generator().manual_seed(1234)
        rand = lambda *shape: torch.rand(*shape, generator=gen).to(x.device)  # noqa: E731
        if train and self.augment_yaw:
            x, joints = yaw_rotate(x, joints, rand(B) * 2 * math.pi)
        xn = self.norm.camera(x)
        dance = self.norm.dance(dance_features(joints))
        music = self.norm.music(music)
        t = torch.randint(0, self.diffusion.timesteps, (B,), generator=gen).to(x.device)
        noise = torch.randn(xn.shape, generator=gen).to(x.device)
        x_t = q_sample(xn, t, self.alpha_bar, noise)
        c = self.loss_config
        keep_dance, keep_music = rand(B) >= c.drop_dance, rand(B) >= c.drop_music
        out = self.denoiser(stage)(x_t, t, dance, music, keep_dance, keep_music)
        x0n = to_x0(out, x_t, t, self.alpha_bar, self.diffusion.prediction)
        if self.diffusion.prediction == "v":  # the output's own target: x0's error weighted by 1 + SNR
            ab = self.alpha_bar[t].view(-1, 1, 1)
            rec = F.mse_loss(out, ab.sqrt() * noise - (1 - ab).sqrt() * xn)
        else:
            rec = F.mse_loss(x0n, xn)
        vel = F.mse_loss(x0n.diff(dim=1), xn.diff(dim=1))
        acc = F.mse_loss(x0n.diff(n=2, dim=1), xn.diff(n=2, dim=1))
        x0 = self.norm.camera_back(x0n)
        with torch.no_grad():
            seen = (angular_margins(joints, *features_to_frame(x, joints), c.aspect) <= 0).all(-1)  # (B, T, J)
        margins = angular_margins(joints, *features_to_frame(x0, joints), c.aspect)
        vis = (F.relu(margins).sum(-1) * seen).sum() / seen.sum().clamp_min(1)
        loss = c.reconstruction * rec + c.velocity * vel + c.acceleration * acc + c.visibility * vis
        on_step = train
        log = dict(on_step=on_step, on_epoch=not on_step, batch_size=B, sync_dist=not on_step)
        self.log(f"{stage}/loss", loss, prog_bar=True, **log)
        for name, value in (("rec", rec), ("vel", vel), ("acc", acc), ("visibility", vis)):
            self.log(f"{stage}/{name}", value, **log)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.net)

    def preview(self, seconds: float, count: int = 1) -> list[Preview]:
        """For :class:`training.previews.Previews`: the first ``seconds`` of each of the first ``count``
        validation dances filmed by a camera sampled as ``cli.py camera`` samples one
        (:meth:`camera.pretrained.CameraDirector.film`, the moving average of the weights), rendered as
        that camera sees the dance (:func:`camera.render.render_camera_view`, 16:9)."""
        from camera.pretrained import CameraDirector
        from camera.render import render_camera_view

        out = []
        with evaluating(self):
            director = CameraDirector(self.denoiser("val"), self.norm, self.diffusion, self.feature_set)
            for seq in validation_sequences(self.trainer, count):
                n = clip_frames(seconds, seq.track.fps, seq.num_frames)
                track = director.film(seq.joints[:n], seq.music[:n], generator=torch.Generator().manual_seed(PREVIEW_SEED),
                                      name=seq.name)
                joints, song = dcm_to_metres(seq.joints[:n]), song_path(self.trainer, seq.name)
                title = f"{seq.name}: generated camera"

                def render(video, size, joints=joints, track=track, song=song, title=title):
                    return render_camera_view(joints, "mmd60", track, video, music=song, height=size, title=title,
                                              progress=False)

                out.append(Preview(f"camera_{seq.name}", [Motion(skeleton="mmd60", fps=track.fps, joints=joints)],
                                   music=song, title=title, render=render))
        return out


__all__ = ["CameraLossConfig", "CameraDiffusionStage", "EMAUpdate"]

"""The tokenizer training stages: :class:`TokenizerStage` (part-wise motion VQ-VAE) and
:class:`TranslationStage` (relative-translation VQ-VAE), each one LightningModule composing the plain
modules of :mod:`tokenizer.motion` / :mod:`tokenizer.translation`.

Train with ``python cli.py fit --config configs/quick/solo_tokenizer.yaml`` (YAML ``model:
class_path: tokenizer.lightning.TokenizerStage``). What the stages add to the modules:

* codebook sync under DDP: the plain module is built in :meth:`configure_model`, which Lightning runs
  after the process group exists (and on ``load_from_checkpoint``), so vector-quantize-pytorch turns
  its all-reduce on exactly when the world size is > 1;
* checkpoints hold the whole codebook state (EMA buffers are module buffers) plus the torch RNG state
  (:class:`training.stage.Stage`), which k-means init and dead-code re-seeding draw from, so a
  resumed run continues exactly;
* hyper-parameters are saved as plain dicts, so :mod:`tokenizer.pretrained` reads a checkpoint with
  ``torch.load(weights_only=True)`` and rebuilds the tokenizer without Lightning;
* one shared step for train / val / test logs ``{stage}/...``: every loss term, MPJPE (mm) overall
  and per part, the root error at the window's end (m, integrated from the same start), and per part
  the code perplexity: per batch in training (with the codes it used), over the whole split on
  val/test, with the number of codes the split never uses (dead codes).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import torch
from torch import nn

from data.geometry import integrate_root_velocity, turn_dancer
from data.motion import Motion
from tokenizer.evaluation import code_histogram, codebook_usage, mpjpe_mm, root_error_at
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig
from tokenizer.pretrained import Tokenizer
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig, follower_offset, follower_root
from training.dist import world_size
from training.config import coerce_config
from training.optim import OptimizerConfig
from training.previews import (BeatPlot, Preview, beat_frames, clip_frames, evaluating, shifted, song_path,
                               validation_sequences)
from training.stage import Stage, StageName

SIDE_OFFSET = (1.5, 0.0, 0.0)
"""Where a preview's reconstruction stands beside its source (metres)."""


class _CodebookStage(Stage):
    """What both tokenizer stages share: the module built in ``configure_model``, code usage logging."""

    def __init__(self, optimizer: OptimizerConfig | dict | None) -> None:
        super().__init__(optimizer)
        self._histograms: dict[str, torch.Tensor] = {}

    # -- what a subclass provides ---------------------------------------------------------------------
    @property
    def vq(self) -> nn.Module:
        """The plain module (with ``codebook_size``); built by :meth:`configure_model`."""
        raise NotImplementedError

    def build(self) -> None:
        """Build the plain module (its quantisers ask torch.distributed whether to sync)."""
        raise NotImplementedError

    def _forward(self, batch: dict) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                                             dict[str, torch.Tensor], int]:
        """``(indices per part, losses, metrics, batch size)`` of one batch."""
        raise NotImplementedError

    # -- Lightning hooks ------------------------------------------------------------------------------
    def configure_model(self) -> None:
        # Lightning calls this after the strategy has set up the process group and before the
        # optimiser is built; it may call it again (fit, then test): build once.
        if self.vq is None:
            self.build()

    def shared_step(self, batch: dict, stage: StageName) -> torch.Tensor:
        indices, losses, metrics, n = self._forward(batch)
        sync = stage != "train"  # val/test figures are averaged over ranks; training logs stay local
        self.log(f"{stage}/loss", losses["loss"], prog_bar=True, batch_size=n, sync_dist=sync)
        self.log_dict({f"{stage}/{k}": v.detach() for k, v in losses.items() if k != "loss"},
                      batch_size=n, sync_dist=sync)
        self.log_dict({f"{stage}/{k}": v for k, v in metrics.items()}, batch_size=n, sync_dist=sync,
                      prog_bar=False)
        for name, idx in indices.items():
            hist = code_histogram(idx, self.vq.codebook_size)
            if stage == "train":
                # Usage within this batch (the EMA counts are no guide: the library resets every
                # re-seeded dead code to exactly the threshold).
                usage = codebook_usage(hist)
                self.log_dict({f"train/{name}/batch_perplexity": usage["perplexity"],
                               f"train/{name}/batch_codes_used": usage["used"]}, on_step=True, on_epoch=False,
                              batch_size=n)
            else:
                self._histograms[name] = hist if name not in self._histograms else self._histograms[name] + hist
        return losses["loss"]

    def on_validation_epoch_start(self) -> None:
        self._histograms = {}

    def on_test_epoch_start(self) -> None:
        self._histograms = {}

    def on_validation_epoch_end(self) -> None:
        self._log_usage("val")

    def on_test_epoch_end(self) -> None:
        self._log_usage("test")

    def _log_usage(self, stage: StageName) -> None:
        for name, hist in self._histograms.items():
            hist = self.trainer.strategy.reduce(hist, reduce_op="sum") if world_size() > 1 else hist
            usage = codebook_usage(hist)
            self.log(f"{stage}/{name}/perplexity", usage["perplexity"], sync_dist=False)
            self.log(f"{stage}/{name}/unused_codes", usage["dead"], sync_dist=False)
        self._histograms = {}


# --------------------------------------------------------------------------------------------------
# Part-wise motion tokenizer
# --------------------------------------------------------------------------------------------------
def _dancer_batches(batch: dict) -> dict[str, torch.Tensor]:
    """Solo batches as they are; duet batches with leader and follower stacked along the batch
    (Duolando trains the motion VQ-VAE on every dancer as an independent sample)."""
    if "joints" in batch:
        return {k: batch[k] for k in ("joints", "rotations", "root_vel") if k in batch}
    if "leader_joints" in batch:
        out = {}
        for key in ("joints", "rotations", "root_vel"):
            if f"leader_{key}" in batch:
                out[key] = torch.cat([batch[f"leader_{key}"], batch[f"follower_{key}"]], dim=0)
        return out
    raise KeyError(f"batch has neither 'joints' (solo) nor 'leader_joints' (duet): {sorted(batch)}")


class TokenizerStage(_CodebookStage):
    """Trains :class:`~tokenizer.motion.MotionTokenizer` on solo or duet windows.

    Args:
        tokenizer: part set, part sizes, heads and loss weights.
        optimizer: optimiser and schedule.
        yaw_augmentation: training only: turn every window about the vertical by a uniform random angle
            within this many degrees either way (180: any facing; the joints, root velocity and root
            orientation turn together). 0: off, as Bailando and Duolando. The codes see world axes, so
            it is meant for a corpus whose held-out dancers face ways the training set rarely does
            (on the synthetic corpus, whose headings are alike in train and test, it does not help:
            see the README).
    """

    def __init__(self, tokenizer: MotionTokenizerConfig | None = None, optimizer: OptimizerConfig | None = None,
                 yaw_augmentation: float = 0.0) -> None:
        super().__init__(optimizer)
        self.config = coerce_config(MotionTokenizerConfig, tokenizer)
        if isinstance(yaw_augmentation, bool) or not (isinstance(yaw_augmentation, (int, float))
                                                      and 0.0 <= yaw_augmentation <= 180.0):
            raise ValueError(f"yaw_augmentation must be in [0, 180] degrees, got {yaw_augmentation!r}")
        self.yaw_augmentation = float(yaw_augmentation)
        self.save_hyperparameters({"tokenizer": asdict(self.config), "optimizer": asdict(self.optim_config),
                                   "yaw_augmentation": self.yaw_augmentation})
        self.tokenizer: MotionTokenizer | None = None  # built in configure_model

    @property
    def vq(self) -> MotionTokenizer | None:
        return self.tokenizer

    def build(self) -> None:
        self.tokenizer = MotionTokenizer(self.config)

    def _forward(self, batch: dict):
        d = _dancer_batches(batch)
        if self.config.rotations and "rotations" not in d:
            raise KeyError("the tokenizer decodes rotations but the batch has none: set the data module's "
                           "rotations: true, or the tokenizer's rotations: false")
        joints, root_vel, rotations = d["joints"], d["root_vel"], d.get("rotations")  # (B, T, J, 3), (B, T, 3), (B, T, J, 6)
        if self.training and self.yaw_augmentation > 0:
            # The global RNG (saved in checkpoints, so a resumed run draws the same angles).
            angle = (torch.rand(joints.shape[0]) * 2 - 1).to(joints) * math.radians(self.yaw_augmentation)
            joints, root_vel, rotations = turn_dancer(joints, root_vel, rotations, angle)
        recon, indices, losses = self.tokenizer(joints, rotations, root_vel)
        with torch.no_grad():
            metrics = {"mpjpe_mm": mpjpe_mm(recon["joints_rel"], joints)}
            for name, idx in self.tokenizer.spec.parts.items():
                metrics[f"{name}/mpjpe_mm"] = mpjpe_mm(recon["joints_rel"], joints, idx)
            if self.config.root:
                true_root = integrate_root_velocity(root_vel, torch.zeros_like(root_vel[:, 0]))
                metrics["root_err_end_m"] = root_error_at(recon["root"], true_root, -1)
        return indices, losses, metrics, joints.shape[0]

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        """Token indices of each window: ``{"indices": {part: (B, N)}, "name", "start"}`` (duet: leader
        windows first, then follower)."""
        d = _dancer_batches(batch)
        return {"indices": self.tokenizer.encode(d["joints"], d["root_vel"]), "name": batch.get("name"), "start": batch.get("start")}

    def preview(self, seconds: float, count: int = 1) -> list[Preview]:
        """For :class:`training.previews.Previews`: the first ``seconds`` of the first ``count``
        validation sequences (a duet's follower), each beside its reconstruction from tokens
        (:meth:`tokenizer.pretrained.Tokenizer.reconstruct`, 1.5 m to the side), with the
        reconstruction's beat plot when the data module has a music beat channel."""
        tok = Tokenizer.wrap(self.tokenizer)
        channel = getattr(getattr(getattr(self.trainer, "datamodule", None), "music", None), "beat_channel", None)
        out = []
        with evaluating(self):
            for seq in validation_sequences(self.trainer, count):
                dancer = seq.dancer if hasattr(seq, "dancer") else seq.follower
                n = clip_frames(seconds, tok.fps, seq.num_frames)
                source = Motion(skeleton=tok.skeleton, fps=tok.fps, joints=dancer.joints[:n], name=seq.name)
                rec = tok.reconstruct(source)
                beats = None if channel is None else BeatPlot(rec.joints, tok.fps, beat_frames(seq.music[:n], channel),
                                                              title=f"{seq.name} from tokens")
                out.append(Preview(f"tokenizer_{seq.name}", [source, shifted(rec, SIDE_OFFSET, "from tokens")],
                                   music=song_path(self.trainer, seq.name), beats=beats,
                                   title=f"{seq.name}: source (blue) | from tokens (red)"))
        return out


# --------------------------------------------------------------------------------------------------
# Relative translation
# --------------------------------------------------------------------------------------------------
class TranslationStage(_CodebookStage):
    """Trains :class:`~tokenizer.translation.RelativeTranslationVQVAE` on duet windows.

    Args:
        translation: frame (leader heading frame or world), scale and sizes.
        optimizer: optimiser and schedule.
    """

    def __init__(self, translation: TranslationConfig | None = None, optimizer: OptimizerConfig | None = None) -> None:
        super().__init__(optimizer)
        self.config = coerce_config(TranslationConfig, translation)
        self.save_hyperparameters({"translation": asdict(self.config), "optimizer": asdict(self.optim_config)})
        self.translation: RelativeTranslationVQVAE | None = None  # built in configure_model

    @property
    def vq(self) -> RelativeTranslationVQVAE | None:
        return self.translation

    def build(self) -> None:
        self.translation = RelativeTranslationVQVAE(self.config)

    def _forward(self, batch: dict):
        key = self.config.batch_key
        if key not in batch:
            raise KeyError(f"translation frame '{self.config.frame}' reads '{key}', which the batch lacks "
                           "(use the DuetDataModule)")
        offset = batch[key]  # (B, T, 3) metres
        recon, indices, losses = self.translation(offset)
        with torch.no_grad():
            err = (recon - offset).norm(dim=-1)  # (B, T)
            metrics = {"offset_err_mm": err.mean() * 1000.0, "offset_err_end_mm": err[:, -1].mean() * 1000.0}
        return {"translation": indices}, {f"translation/{k}" if k != "loss" else k: v for k, v in losses.items()}, \
            metrics, offset.shape[0]

    def predict_step(self, batch: dict, batch_idx: int) -> dict:
        return {"indices": self.translation.encode(batch[self.config.batch_key]), "name": batch.get("name"),
                "start": batch.get("start")}

    def preview(self, seconds: float, count: int = 1) -> list[Preview]:
        """For :class:`training.previews.Previews`: the first ``seconds`` of the first ``count``
        validation duets, the true leader and the true follower's pose placed where the follower's
        offset tokens put it (the follower part of ``tokenizer/demo.py``'s duet clip, pose untokenized)."""
        frame = self.config.frame
        out = []
        with evaluating(self):
            for seq in validation_sequences(self.trainer, count):
                n = clip_frames(seconds, self.config.fps, seq.num_frames)
                lj = torch.as_tensor(seq.leader.joints[:n], dtype=torch.float32, device=self.device)  # (T, J, 3)
                fj = torch.as_tensor(seq.follower.joints[:n], dtype=torch.float32, device=self.device)
                offset, heading = follower_offset(lj, fj[:, 0], frame)  # (T, 3) in the trained frame
                decoded = self.translation.decode(self.translation.encode(offset[None]), n)[0]
                pelvis = follower_root(lj[:, 0], decoded, frame, heading)  # (T, 3)
                placed = (fj - fj[:, :1] + pelvis[:, None]).double().cpu().numpy()
                leader = Motion(skeleton="smplx55", fps=self.config.fps, joints=seq.leader.joints[:n], name="leader")
                follower = Motion(skeleton="smplx55", fps=self.config.fps, joints=placed, name="placed by tokens")
                out.append(Preview(f"translation_{seq.name}", [leader, follower], music=song_path(self.trainer, seq.name),
                                   title=f"{seq.name}: leader (blue), follower placed by translation tokens (red)"))
        return out


__all__ = ["TokenizerStage", "TranslationStage"]

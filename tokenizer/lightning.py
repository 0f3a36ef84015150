"""The tokenizer training stages: :class:`TokenizerStage` (part-wise motion VQ-VAE) and
:class:`TranslationStage` (relative-translation VQ-VAE), each one LightningModule composing the plain
modules of :mod:`tokenizer.motion` / :mod:`tokenizer.translation`.

Train with ``python cli.py fit --config configs/quick/solo_tokenizer.yaml`` (YAML ``model:
class_path: tokenizer.lightning.TokenizerStage``). What the stages add to the modules:

* codebook sync under DDP: :meth:`configure_model` (run by Lightning after the process group exists)
  switches every quantiser's all-reduce on exactly when the world size is > 1;
* checkpoints hold the whole codebook state (EMA buffers are module buffers) plus the torch RNG state,
  which k-means init and dead-code re-seeding draw from, so a resumed run continues exactly;
* hyper-parameters are saved as plain dicts, so :mod:`tokenizer.pretrained` reads a checkpoint with
  ``torch.load(weights_only=True)`` and rebuilds the tokenizer without Lightning;
* one shared :meth:`_step` for train / val / test logs ``{stage}/...``: every loss term, MPJPE (mm)
  overall and per part, the root error at the window's end (m, integrated from the same start), and
  per part the code perplexity: per batch in training (with the codes it used), over the whole
  split on val/test, with the number of codes the split never uses (dead codes).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch import nn

from tokenizer.evaluation import code_histogram, codebook_usage, mpjpe_mm, root_error_at
from tokenizer.geometry import integrate_root_velocity, turn_dancer
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig
from tokenizer.translation import RelativeTranslationVQVAE, TranslationConfig
from tokenizer.vqvae import coerce_config, world_size

Stage = Literal["train", "val", "test"]
RNG_KEY = "pasdeux_rng"


@dataclass
class OptimizerConfig:
    """Optimiser and learning-rate schedule. Defaults: Bailando's VQ-VAE (Adam 3e-5, betas (0.5, 0.999),
    x0.1 at epochs 100 and 200)."""

    name: Literal["adam", "adamw"] = "adam"
    """``adam`` or ``adamw`` (decoupled weight decay)."""
    lr: float = 3e-5
    """Peak learning rate."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas."""
    weight_decay: float = 0.0
    """Weight decay (L2 for adam, decoupled for adamw)."""
    scheduler: Literal["none", "multistep", "cosine"] = "multistep"
    """``multistep``: x gamma at each milestone epoch; ``cosine``: cosine decay to
    ``min_lr_ratio`` x lr over the run's optimiser steps; ``none``: constant (after warm-up)."""
    milestones: list[int] = field(default_factory=lambda: [100, 200])
    """Epochs at which ``multistep`` multiplies the rate by ``gamma``."""
    gamma: float = 0.1
    """``multistep`` factor."""
    warmup_steps: int = 0
    """Linear warm-up from 0 over this many optimiser steps (any scheduler)."""
    min_lr_ratio: float = 0.0
    """``cosine``: final rate as a fraction of ``lr``."""

    def __post_init__(self) -> None:
        if self.name not in ("adam", "adamw"):
            raise ValueError(f"optimizer name must be adam or adamw, got {self.name!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        self.betas = tuple(self.betas)  # YAML gives a list
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if self.scheduler not in ("none", "multistep", "cosine"):
            raise ValueError(f"scheduler must be none, multistep or cosine, got {self.scheduler!r}")
        self.milestones = [int(m) for m in self.milestones]
        if self.milestones != sorted(self.milestones) or any(m < 1 for m in self.milestones):
            raise ValueError(f"milestones must be increasing positive epochs, got {self.milestones}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not (isinstance(self.warmup_steps, int) and self.warmup_steps >= 0):
            raise ValueError(f"warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0 or self.weight_decay < 0:
            raise ValueError("min_lr_ratio must be in [0, 1] and weight_decay >= 0")


def _plain(config: Any) -> dict:
    """A config dataclass as plain dicts/lists/tuples of numbers and strings (``weights_only``-safe)."""
    return asdict(config)


class _CodebookStage(pl.LightningModule):
    """What both tokenizer stages share: codebook sync, optimiser, RNG in checkpoints, code usage."""

    def __init__(self, optimizer: OptimizerConfig | dict | None) -> None:
        super().__init__()
        self.optim_config = coerce_config(OptimizerConfig, optimizer)
        self._histograms: dict[str, torch.Tensor] = {}

    # -- what a subclass provides ---------------------------------------------------------------------
    @property
    def vq(self) -> nn.Module:
        """The plain module with ``set_codebook_sync``, ``codebook_size``."""
        raise NotImplementedError

    def _forward(self, batch: dict) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor],
                                             dict[str, torch.Tensor], int]:
        """``(indices per part, losses, metrics, batch size)`` of one batch."""
        raise NotImplementedError

    # -- Lightning hooks ------------------------------------------------------------------------------
    def configure_model(self) -> None:
        # Lightning calls this after the strategy has set up the process group: the one moment the
        # world size is known and the optimiser is not built yet.
        self.vq.set_codebook_sync(world_size() > 1)

    def _step(self, batch: dict, stage: Stage) -> torch.Tensor:
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

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._histograms = {}

    def on_test_epoch_start(self) -> None:
        self._histograms = {}

    def on_validation_epoch_end(self) -> None:
        self._log_usage("val")

    def on_test_epoch_end(self) -> None:
        self._log_usage("test")

    def _log_usage(self, stage: Stage) -> None:
        for name, hist in self._histograms.items():
            hist = self.trainer.strategy.reduce(hist, reduce_op="sum") if world_size() > 1 else hist
            usage = codebook_usage(hist)
            self.log(f"{stage}/{name}/perplexity", usage["perplexity"], sync_dist=False)
            self.log(f"{stage}/{name}/unused_codes", usage["dead"], sync_dist=False)
        self._histograms = {}

    def configure_optimizers(self):
        c = self.optim_config
        opt_cls = torch.optim.AdamW if c.name == "adamw" else torch.optim.Adam
        optimizer = opt_cls(self.parameters(), lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches)) if c.scheduler == "cosine" else 1

        # One LambdaLR stepped per optimiser step: two LambdaLRs on one optimiser would overwrite each
        # other. Milestones are epochs (Bailando's), read from the live epoch counter.
        def factor(step: int) -> float:
            warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps > 0 else 1.0
            if c.scheduler == "multistep":
                return warm * c.gamma ** bisect.bisect_right(c.milestones, self.current_epoch)
            if c.scheduler == "cosine":
                progress = min(1.0, max(0, step - c.warmup_steps) / max(1, total - c.warmup_steps))
                return warm * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
            return warm

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # k-means init and dead-code re-seeding draw from torch's global RNG: keep its state so a
        # resumed run re-seeds the same codes as the uninterrupted one.
        state = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint[RNG_KEY] = state

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get(RNG_KEY)
        if state is None or self._trainer is None:  # inference loads leave the caller's RNG alone
            return
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


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
            it is meant for a corpus whose held-out dancers face ways the training set rarely does. On
            the quick duet corpus of 10 duets (headings alike in train and test) it did not help:
            held-out MPJPE 213 mm with 180 vs 203 mm without (2000 steps).
    """

    def __init__(self, tokenizer: MotionTokenizerConfig | None = None, optimizer: OptimizerConfig | None = None,
                 yaw_augmentation: float = 0.0) -> None:
        super().__init__(optimizer)
        self.config = coerce_config(MotionTokenizerConfig, tokenizer)
        if isinstance(yaw_augmentation, bool) or not (isinstance(yaw_augmentation, (int, float))
                                                      and 0.0 <= yaw_augmentation <= 180.0):
            raise ValueError(f"yaw_augmentation must be in [0, 180] degrees, got {yaw_augmentation!r}")
        self.yaw_augmentation = float(yaw_augmentation)
        self.save_hyperparameters({"tokenizer": _plain(self.config), "optimizer": _plain(self.optim_config),
                                   "yaw_augmentation": self.yaw_augmentation})
        self.tokenizer = MotionTokenizer(self.config)

    @property
    def vq(self) -> MotionTokenizer:
        return self.tokenizer

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
        self.save_hyperparameters({"translation": _plain(self.config), "optimizer": _plain(self.optim_config)})
        self.translation = RelativeTranslationVQVAE(self.config)

    @property
    def vq(self) -> RelativeTranslationVQVAE:
        return self.translation

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


__all__ = ["OptimizerConfig", "TokenizerStage", "TranslationStage"]

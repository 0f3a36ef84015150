"""The base of every training stage: one LightningModule per stage derives from :class:`Stage`.

What it gives a stage, so no stage writes it again:

* ``training_step`` / ``validation_step`` / ``test_step`` all call :meth:`Stage.shared_step` with the
  stage's name (``train`` / ``val`` / ``test``): one step function, keyed by stage;
* :meth:`configure_optimizers` from an :class:`~training.optim.OptimizerConfig` (warm-up and
  schedule stepped per optimiser step) over the parameters that require gradients;
* torch's global RNG state in every checkpoint and restored on resume (k-means init, dead-code
  re-seeding, augmentation and sampling draw from it), so a resumed run continues exactly; a load
  for inference (no trainer attached) leaves the caller's RNG alone.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch

from training.checkpoint import RNG_KEY, rng_state, set_rng_state
from training.config import coerce_config
from training.optim import OptimizerConfig, build_optimizer

StageName = Literal["train", "val", "test"]


class Stage(pl.LightningModule):
    """Optimiser, RNG-exact resume and one shared step for a training stage.

    Args:
        optimizer: optimiser and schedule (a dict from YAML or a checkpoint is coerced).
    """

    def __init__(self, optimizer: OptimizerConfig | dict | None) -> None:
        super().__init__()
        self.optim_config = coerce_config(OptimizerConfig, optimizer)

    def shared_step(self, batch: Any, stage: StageName) -> torch.Tensor:
        """The loss of one batch (logging ``{stage}/...``); what every subclass provides."""
        raise NotImplementedError

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.shared_step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.shared_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.shared_step(batch, "test")

    def configure_optimizers(self):
        c = self.optim_config
        # Only the cosine schedule needs the run's length (asking the trainer costs a dataloader pass).
        total = int(self.trainer.estimated_stepping_batches) if c.scheduler == "cosine" else 1
        # Frozen parts (a GPT's tokenizer, an RL stage's base) are not the optimiser's.
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer, scheduler = build_optimizer(trainable, c, total, lambda: self.current_epoch)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get(RNG_KEY)
        if state is None or self._trainer is None:  # inference loads leave the caller's RNG alone
            return
        set_rng_state(state)


__all__ = ["Stage", "StageName"]

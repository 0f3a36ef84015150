"""The base of every training stage: one LightningModule per stage derives from :class:`Stage`.

What it gives a stage, so no stage writes it again:

* ``training_step`` / ``validation_step`` / ``test_step`` all call :meth:`Stage.shared_step` with the
  stage's name (``train`` / ``val`` / ``test``): one step function, keyed by stage;
* :meth:`configure_optimizers` from an :class:`~training.optim.OptimizerConfig` (warm-up and
  schedule stepped per optimiser step) over the parameters that require gradients;
* torch's global RNG state in every checkpoint and restored on resume (k-means init, dead-code
  re-seeding, augmentation and sampling draw from it), each DDP rank's own, so a resumed run continues
  exactly; a load for inference (no trainer attached) leaves the caller's RNG alone;
* validation gives the RNG back: what a validation draws is not taken from the training's stream, so
  training does not depend on when (or whether) it validated. A run resumed from a checkpoint of a
  step it validated at does not validate again (Lightning skips that validation), and still continues
  exactly; a checkpoint written during a validation holds the RNG as the validation found it;
* the stage's class path in every checkpoint (``pasdeux_stage``), so ``cli.py fit --ckpt_path`` can
  tell another stage's checkpoint from this one's.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch

from training.checkpoint import RNG_KEY, STAGE_KEY, rng_state, set_rng_state
from training.config import coerce_config
from training.dist import gather_ranks, own_rank
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
        self._rng_before_validation: dict[str, Any] | None = None

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

    def on_validation_start(self) -> None:
        self._rng_before_validation = rng_state()

    def on_validation_end(self) -> None:
        if self._rng_before_validation is not None:
            set_rng_state(self._rng_before_validation)
            self._rng_before_validation = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # During a validation (ModelCheckpoint saves at its end, before on_validation_end) the training's
        # RNG is the state the validation started from.
        state = self._rng_before_validation
        # Every DDP rank's own: they part as soon as ranks draw differently (k-means on their own windows).
        checkpoint[RNG_KEY] = gather_ranks(rng_state() if state is None else state)
        checkpoint[STAGE_KEY] = stage_path(self)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get(RNG_KEY)
        if state is None or self._trainer is None:  # inference loads leave the caller's RNG alone
            return
        set_rng_state(own_rank(state))


def stage_path(stage: pl.LightningModule) -> str:
    """``module.Class`` of a stage, as a config's ``class_path`` names it."""
    return f"{type(stage).__module__}.{type(stage).__qualname__}"


__all__ = ["Stage", "StageName", "stage_path"]

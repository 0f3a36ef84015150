"""Fault tolerance on Lightning's side: checkpoints written atomically, and the ``--ckpt_path`` of a
``cli.py fit / validate / test / predict`` resolved and checked before the run starts.

What a resumed run gets back, and from where (see ``tests/training/test_resume.py``): weights and
buffers (the codebooks' EMA state among them), optimiser, schedule and loop progress (Lightning);
torch's RNG (:class:`training.stage.Stage`); the position in the training epoch
(:class:`data.datamodules.ResumableDataLoader`); a duet RL stage's replay memory (:mod:`duet.rl`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint

from data.errors import InputError
from data.io import atomic_output
from training.checkpoint import check_stage_checkpoint
from training.stage import stage_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, written to a hidden temporary file beside the target,
    synced to disk and renamed over it: a run killed while saving leaves the previous checkpoint whole.

    (Lightning's own pickles to memory, then lets fsspec write a temporary file in ``$TMPDIR`` and
    move it: a rename where ``$TMPDIR`` and the checkpoint folder share a filesystem, a copy onto the
    target, which a kill leaves cut short, where they do not.) The temporary name starts with a dot and
    so is never taken for ``last.ckpt`` by ``--ckpt_path last``. Remote paths (``s3://``...) are left to
    Lightning.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())


def use_atomic_checkpoints(trainer: pl.Trainer) -> None:
    """Give ``trainer`` an :class:`AtomicCheckpointIO` unless it was configured with another IO plugin."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()


SPECIAL_PATHS = ("best", "hpc")  # Lightning's other names (registry:...) are left to it too


def resolve_ckpt_path(trainer: pl.Trainer, model: pl.LightningModule, ckpt_path: str | os.PathLike | None,
                      resume: bool) -> str | None:
    """The checkpoint file a run starts from, checked: one :class:`InputError` line otherwise.

    ``last`` becomes the newest ``last*.ckpt`` of the trainer's checkpoint callbacks (as Lightning picks
    it), and is an error when there is none (Lightning would silently start a new run). A file must be
    a whole Lightning checkpoint of ``model``'s stage, and with ``resume`` (``fit``) hold the optimiser
    and loop state; see :func:`training.checkpoint.check_stage_checkpoint`.
    """
    if ckpt_path is None:
        return None
    path = str(ckpt_path)
    if path in SPECIAL_PATHS or path.startswith("registry") or "://" in path:
        return path
    if path == "last":
        path = _last_checkpoint(trainer)
    check_stage_checkpoint(path, stage_path(model), tuple(model.hparams), resume=resume)
    return path


def _last_checkpoint(trainer: pl.Trainer) -> str:
    candidates: set[str] = set()
    folders: list[str] = []
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint):
            candidates |= callback._find_last_checkpoints(trainer)
            if callback.dirpath is not None:
                folders.append(str(callback.dirpath))
    candidates |= {cb.ckpt_path for cb in trainer.callbacks if isinstance(cb, OnExceptionCheckpoint)}
    found = [p for p in candidates if p and Path(p).is_file()]
    if not found:
        where = ", ".join(dict.fromkeys(folders)) or "the trainer's checkpoint folder"
        raise InputError(None, f"--ckpt_path last: no last checkpoint in {where} to resume from",
                         "drop --ckpt_path to start a new run, or pass the checkpoint file to resume from")
    return max(found, key=lambda p: Path(p).stat().st_mtime)


__all__ = ["AtomicCheckpointIO", "use_atomic_checkpoints", "resolve_ckpt_path"]

"""Tiny in-memory motions and DataModules for the tokenizer tests (no files, no music decoding).

Motions are smooth SMPL poses (a few sinusoids per joint) with a travelling, turning root, put
through the built-in FK, so joints, 6D rotations and root velocity agree the way the real
DataModules' samples do. The datasets are the real ``data.datamodules`` Dataset classes over
preloaded sequences, so batches have exactly the production keys and shapes.

The ``toys`` fixture hands these builders to a test (``toys.tiny_stage("duet")``). The classes live
at this module's top level so ``ddp_spawn`` can pickle them by name into its worker processes.
"""

from __future__ import annotations

import types

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from data.datamodules import DancerArrays, DuetDataset, DuetSequence, SoloDataset, SoloSequence
from data.fk import convert_rotations
from data.motion import Motion
from data.skeleton import get_skeleton

from tokenizer.lightning import TokenizerStage, TranslationStage
from tokenizer.motion import MotionTokenizer, MotionTokenizerConfig
from tokenizer.translation import TranslationConfig
from tokenizer.vqvae import PartVQVAEConfig


def toy_motion(seed: int, frames: int, skeleton: str = "smpl24", fps: float = 60.0, offset=(0.0, 0.0, 0.0)) -> Motion:
    """A smooth SMPL motion: every joint swings as a sum of two sinusoids; the root walks and turns."""
    rng = np.random.default_rng(seed)
    J = get_skeleton(skeleton).num_joints
    t = np.arange(frames) / fps
    freqs = rng.uniform(0.3, 2.5, size=(2, J, 3))
    amps = rng.uniform(0.0, 0.4, size=(2, J, 3))
    phases = rng.uniform(0, 2 * np.pi, size=(2, J, 3))
    rot = sum(amps[k] * np.sin(2 * np.pi * freqs[k] * t[:, None, None] + phases[k]) for k in range(2))
    rot[:, 0, 1] += 0.6 * np.sin(2 * np.pi * 0.2 * t + seed)  # the body turns about y
    root = np.stack([0.4 * np.sin(2 * np.pi * 0.25 * t + seed), 0.02 * np.sin(2 * np.pi * 2 * t),
                     0.3 * t * rng.uniform(-1, 1)], axis=1) + np.asarray(offset)
    return Motion.from_smpl(skeleton, rot, root, fps, name=f"toy{seed}")


def dancer_arrays(motion: Motion) -> DancerArrays:
    six = convert_rotations(torch.from_numpy(motion.rotations), "axis_angle", "6d").numpy()
    return DancerArrays(motion.joints.astype(np.float32), six.astype(np.float32))


def solo_sequences(n: int, frames: int, seed: int = 0) -> list[SoloSequence]:
    return [SoloSequence(f"toy{seed + i}", dancer_arrays(toy_motion(seed + i, frames)),
                         np.zeros((frames, 4), np.float32)) for i in range(n)]


def duet_sequences(n: int, frames: int, seed: int = 0) -> list[DuetSequence]:
    out = []
    for i in range(n):
        leader = toy_motion(seed + i, frames, "smplx55", 30.0)
        follower = toy_motion(seed + 100 + i, frames, "smplx55", 30.0, offset=(0.8, 0.0, 0.5))
        out.append(DuetSequence(f"duet{seed + i}", dancer_arrays(leader), dancer_arrays(follower),
                                np.zeros((frames, 4), np.float32)))
    return out


def batch_of(dataset, n: int | None = None) -> dict:
    """The first ``n`` samples of a dataset collated into one batch."""
    loader = DataLoader(dataset, batch_size=n or len(dataset), shuffle=False)
    return next(iter(loader))


class ToyDataModule(pl.LightningDataModule):
    """Windows over toy sequences; ``task`` solo or duet; validation uses the training windows."""

    def __init__(self, task: str = "solo", sequences: int = 4, frames: int = 96, window: int = 32,
                 stride: int = 16, batch_size: int = 4, shuffle: bool = True, seed: int = 0) -> None:
        super().__init__()
        self.task, self.batch_size, self.shuffle = task, batch_size, shuffle
        if task == "solo":
            self.dataset = SoloDataset(solo_sequences(sequences, frames, seed), window, stride)
        else:
            self.dataset = DuetDataset(duet_sequences(sequences, frames, seed), window, stride)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=self.shuffle)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()


def tiny_part(**overrides) -> PartVQVAEConfig:
    """A part config small enough for a CPU step in milliseconds."""
    base = dict(width=16, depth=1, levels=3, code_dim=8, codebook_size=16, kmeans_iters=2, dead_code_threshold=1.0)
    base.update(overrides)
    return PartVQVAEConfig(**base)


def tiny_stage(task: str = "solo", lr: float = 3e-3, **part) -> TokenizerStage:
    levels = 3 if task == "solo" else 2
    return TokenizerStage(MotionTokenizerConfig(task, tiny_part(levels=levels, **part)),
                          {"lr": lr, "betas": (0.9, 0.999), "scheduler": "none"})


def tiny_translation_stage(frame: str = "leader") -> TranslationStage:
    return TranslationStage(TranslationConfig(frame=frame, part=tiny_part(levels=2)),
                            {"lr": 3e-3, "betas": (0.9, 0.999), "scheduler": "none"})


class CodebookDump(pl.Callback):
    """At the end of fit, each rank writes its codebook buffers, the codebook sync flag and the first
    training batch it saw to ``<folder>/rank<k>.pt`` (for the DDP test, compared in the parent)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.first_batch_sum: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first_batch_sum is None:
            self.first_batch_sum = float(batch["joints"].sum())

    def on_fit_end(self, trainer, pl_module) -> None:
        state = {k: v.detach().clone() for k, v in pl_module.state_dict().items() if "_codebook" in k}
        synced = [p.quantizer._codebook.use_ddp for p in pl_module.tokenizer.parts.values()]  # the library's decision
        torch.save({"codebook": state, "synced": synced, "world_size": trainer.world_size,
                    "first_batch_sum": self.first_batch_sum}, f"{self.folder}/rank{trainer.global_rank}.pt")


class StateDump(pl.Callback):
    """For the two-process DDP tests of any stage: each rank writes to ``<folder>/rank<k>.pt`` its
    stage's whole state dict when training starts (after DDP has broadcast rank 0's) and when it ends,
    the sum of batch ``key`` of the first batch it trained on, whether each codebook all-reduces
    (``use_ddp``, the library's decision), and what :meth:`extra` adds; the parent compares them."""

    def __init__(self, folder: str, key: str = "joints") -> None:
        self.folder, self.key = folder, key
        self.first_batch_sum: float | None = None
        self.start: dict[str, torch.Tensor] | None = None

    @staticmethod
    def state(pl_module) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}

    def extra(self, pl_module) -> dict:
        """More a subclass wants compared (plain data ``torch.load(weights_only=True)`` reads)."""
        return {}

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = self.state(pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first_batch_sum is None:
            self.first_batch_sum = float(batch[self.key].sum())

    def on_train_end(self, trainer, pl_module) -> None:
        synced = [bool(m.use_ddp) for m in pl_module.modules() if hasattr(m, "use_ddp")]
        torch.save({"start": self.start, "end": self.state(pl_module), "synced": synced,
                    "world_size": trainer.world_size, "first_batch_sum": self.first_batch_sum,
                    **self.extra(pl_module)}, f"{self.folder}/rank{trainer.global_rank}.pt")


def make_tokenizer(task: str, **part) -> MotionTokenizer:
    """A tiny plain tokenizer (seeded), solo at stride 8 or duet at stride 4."""
    torch.manual_seed(0)
    return MotionTokenizer(MotionTokenizerConfig(task, tiny_part(levels=3 if task == "solo" else 2, **part)))


@pytest.fixture(scope="session")
def toys() -> types.SimpleNamespace:
    """The toy motions, datasets and tiny stages above, for any test under tests/tokenizer."""
    return types.SimpleNamespace(
        toy_motion=toy_motion, dancer_arrays=dancer_arrays, solo_sequences=solo_sequences,
        duet_sequences=duet_sequences, batch_of=batch_of, ToyDataModule=ToyDataModule, tiny_part=tiny_part,
        tiny_stage=tiny_stage, tiny_translation_stage=tiny_translation_stage, CodebookDump=CodebookDump,
        StateDump=StateDump,
        make_tokenizer=make_tokenizer,
    )

"""The base stage: one shared step keyed by stage name, its optimiser, and the RNG in checkpoints."""

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from training.checkpoint import RNG_KEY, read_checkpoint
from training.stage import Stage


class Line(Stage):
    """y = w x, fitted by the shared step; records which stage names it saw."""

    def __init__(self, optimizer=None) -> None:
        super().__init__(optimizer)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen: list[str] = []

    def shared_step(self, batch, stage):
        self.seen.append(stage)
        x, y = batch
        loss = (self.w * x - y).square().mean()
        self.log(f"{stage}/loss", loss)
        return loss


def loader():
    x = torch.linspace(-1, 1, 8)
    return DataLoader(TensorDataset(x, 2 * x), batch_size=4)


def test_shared_step_per_stage_optimiser_and_rng_in_the_checkpoint(tmp_path):
    model = Line({"lr": 0.1, "betas": (0.9, 0.999), "scheduler": "none"})
    trainer = pl.Trainer(accelerator="cpu", max_steps=4, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(model, loader(), loader())
    trainer.test(model, loader(), verbose=False)
    assert set(model.seen) == {"train", "val", "test"}
    assert float(model.w.detach()) > 0.2  # the optimiser moved it towards 2
    path = tmp_path / "line.ckpt"
    trainer.save_checkpoint(path)
    saved = read_checkpoint(path)[RNG_KEY]["torch"]
    # Loading for inference (no trainer) leaves the caller's RNG alone...
    torch.manual_seed(123)
    expected = torch.rand(2)
    torch.manual_seed(123)
    Line.load_from_checkpoint(path)
    assert torch.equal(torch.rand(2), expected)
    # ...while a resuming stage restores the checkpoint's.
    model.on_load_checkpoint({RNG_KEY: {"torch": saved}})  # model has a trainer attached
    assert torch.equal(torch.get_rng_state(), saved)

"""Two CPU processes (gloo, ddp_spawn) train the camera stage: both ranks end with identical weights,
moving averages and feature statistics, although each saw different windows."""

import os

import lightning.pytorch as pl
import pytest
import torch

from tests.camera.conftest import TINY_MODEL, ToyCameraData, toy_camera_sequences


class StateDump(pl.Callback):
    """Each rank writes its stage's state and the first batch it saw."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.first = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.first is None:
            self.first = float(batch["camera"].sum())

    def on_train_end(self, trainer, module):
        torch.save({"state": {k: v.detach().cpu().clone() for k, v in module.state_dict().items()},
                    "first_batch_sum": self.first, "world_size": trainer.world_size},
                   os.path.join(self.folder, f"rank{trainer.global_rank}.pt"))


@pytest.mark.timeout(300)  # a missing loopback interface makes gloo hang silently
def test_two_process_fit_keeps_weights_averages_and_statistics_identical(tmp_path, monkeypatch):
    from camera.lightning import CameraDiffusionStage

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    pl.seed_everything(0)
    stage = CameraDiffusionStage(model=TINY_MODEL, ema_decay=0.9, optimizer=dict(name="adamw", lr=3e-3,
                                                                                 scheduler="none"))
    before = stage.net.out[2].weight.detach().clone()  # what both ranks start from
    data = ToyCameraData(toy_camera_sequences(3, 90), batch_size=2)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=3, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=[StateDump(str(tmp_path))])
    trainer.fit(stage, datamodule=data)

    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["first_batch_sum"] != ranks[1]["first_batch_sum"]  # different windows per rank
    a, b = ranks[0]["state"], ranks[1]["state"]
    assert a.keys() == b.keys() and bool(a["norm.fitted"])
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the weights did train, and the average followed them
    assert not torch.equal(a["net.out.2.weight"], before)
    assert not torch.equal(a["ema.module.out.2.weight"], a["net.out.2.weight"])
    assert not os.environ.get("RANK")  # the parent is not a rank: the test really spawned

"""Every shipped YAML under configs/ parses with pasdeux's own command line and instantiates its
model, data module and trainer (``Trainer.fit`` is replaced by a stub: nothing trains, no data is read)."""

from pathlib import Path

import pytest
import yaml

from training.precision import default_precision

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def test_there_are_configs():
    names = {str(p.relative_to(ROOT / "configs")) for p in CONFIGS}
    assert {"solo/tokenizer.yaml", "duet/tokenizer.yaml", "duet/translation.yaml", "quick/solo_tokenizer.yaml",
            "quick/duet_tokenizer.yaml", "quick/duet_translation.yaml", "camera/diffusion.yaml",
            "quick/camera.yaml"} <= names


def trainer_accelerator(path):
    return yaml.safe_load(Path(path).read_text())["trainer"].get("accelerator")


def test_an_explicit_precision_is_kept(monkeypatch, tmp_path):
    import lightning.pytorch as pl

    import cli

    seen = {}
    monkeypatch.setattr(pl.Trainer, "fit", lambda trainer, *a, **k: seen.update(trainer=trainer))
    monkeypatch.chdir(tmp_path)
    config = ROOT / "configs" / "quick" / "duet_translation.yaml"
    assert cli.main(["fit", "--config", str(config), "--trainer.precision", "bf16-mixed"]) == 0
    assert seen["trainer"].precision == "bf16-mixed"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_config_parses_and_instantiates(path, monkeypatch, tmp_path):
    import lightning.pytorch as pl

    import cli

    seen = {}

    def fake_fit(trainer, model=None, train_dataloaders=None, val_dataloaders=None, datamodule=None, ckpt_path=None,
                 weights_only=None):
        seen.update(trainer=trainer, model=model, datamodule=datamodule)

    monkeypatch.setattr(pl.Trainer, "fit", fake_fit)
    monkeypatch.chdir(tmp_path)  # relative log/checkpoint folders land here, not in the repo
    assert cli.main(["fit", "--config", str(path)]) == 0
    model, datamodule, trainer = seen["model"], seen["datamodule"], seen["trainer"]
    assert isinstance(model, pl.LightningModule) and isinstance(datamodule, pl.LightningDataModule)
    assert isinstance(trainer, pl.Trainer)
    # No shipped config fixes the precision: the CLI picks it for the hardware.
    assert trainer.precision == default_precision(trainer_accelerator(path))
    # Tokenizer stages: the part set, frame rate and stride agree with the data module.
    if type(model).__name__ == "TokenizerStage":
        cfg = model.config
        assert datamodule.window.fps == cfg.fps
        assert datamodule.window.frame_multiple % cfg.stride == 0 and datamodule.window.length % cfg.stride == 0
        assert cfg.token_rate == 7.5
        assert datamodule.rotations or not cfg.rotations
    if type(model).__name__ == "TranslationStage":
        assert model.config.stride == 4 and datamodule.window.length % model.config.stride == 0
    # GPT stages: the tokenizer is read when training starts; the music look-ahead fits the data's margin
    # (8 frames per token at 60 fps), and 30 tokens fit the window.
    if type(model).__name__ == "SoloGPTStage":
        assert model.tokenizer is None and model.tokens_from == "sequence"
        assert datamodule.window.music_margin >= model.config.music_margin
        assert datamodule.window.length % 8 == 0 and datamodule.window.stride % 8 == 0
        assert datamodule.window.effective_eval_stride % 8 == 0
    # The duet GPT: 4 frames per token at 30 fps; the music margin covers its encoder's reach.
    if type(model).__name__ == "DuetGPTStage":
        assert model.tokenizer is None and model.translation is None
        assert datamodule.window.music_margin >= model.config.music_margin
        assert datamodule.window.length % 4 == 0 and datamodule.window.stride % 4 == 0
    # The camera: 30 fps windows the model's tokens divide, the data's music features.
    if type(model).__name__ == "CameraDiffusionStage":
        assert datamodule.window.length == model.model_config.window
        assert model.model_config.window % model.model_config.frames_per_token == 0
        assert datamodule.music.feature_set == model.feature_set and datamodule.window.fps == 30.0
    if type(model).__name__ == "DuetRLStage":
        assert model.gpt is None and model.rl.replay_size >= model.rl.replay_batch
        assert datamodule.splits["train"] == "train"  # rollouts on training duets only


def _rising_val_loss_module():
    """A tiny LightningModule whose val/loss rises at every validation: the best checkpoint is the
    first one, the last is the newest."""
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).square().mean()

        def validation_step(self, batch, batch_idx):
            self.log("val/loss", float(self.global_step))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self):
            return DataLoader(TensorDataset(torch.randn(64, 2)), batch_size=4)

        def val_dataloader(self):
            return DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=4)

    return Module()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_last_checkpoint_is_the_newest_not_the_best(path, monkeypatch, tmp_path):
    """`last.ckpt` is what a user resumes from: it must hold the final step even when val/loss got worse
    (Lightning 2.6's `save_last` on a monitored callback only copies the best file)."""
    import lightning.pytorch as pl
    import torch

    import cli

    seen = {}
    real_fit = pl.Trainer.fit
    monkeypatch.setattr(pl.Trainer, "fit", lambda trainer, *a, **k: seen.update(trainer=trainer))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fit", "--config", str(path)]) == 0
    callbacks = seen["trainer"].checkpoint_callbacks
    folders = {cb.dirpath for cb in callbacks}
    assert len(folders) == 1, f"checkpoints go to one folder, got {folders}"
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=6, val_check_interval=2, check_val_every_n_epoch=None,
                         callbacks=callbacks, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=1)
    real_fit(trainer, _rising_val_loss_module())
    folder = Path(folders.pop())
    last = torch.load(folder / "last.ckpt", weights_only=False)
    assert last["global_step"] == 6
    monitored = [cb for cb in callbacks if cb.monitor]
    if monitored:  # the best-on-validation file is kept beside it, from the first validation
        best = sorted(folder.glob("best-*.ckpt"))
        assert len(best) == 1 and torch.load(best[0], weights_only=False)["global_step"] == 2


def test_paper_configs_logging_to_wandb_make_previews_and_quick_configs_do_not():
    """Preview videos and beat plots (training.previews.Previews) in every paper config that logs to wandb
    and trains a stage with a ``preview`` (the RL stages have none yet); none in the quick configs, which
    must stay fast."""
    for path in CONFIGS:
        rel = path.relative_to(ROOT / "configs")
        trainer = yaml.safe_load(path.read_text())["trainer"]
        previews = [c for c in trainer.get("callbacks") or [] if c["class_path"] == "training.previews.Previews"]
        wandb = trainer.get("logger", {}).get("class_path", "").endswith("WandbLogger")
        expected = rel.parts[0] != "quick" and wandb and rel.name != "rl.yaml"
        assert len(previews) == int(expected), rel

"""Every shipped YAML under configs/ parses with pasdeux's own command line and instantiates its
model, data module and trainer (``Trainer.fit`` is replaced by a stub: nothing trains, no data is read)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))


def test_there_are_configs():
    names = {str(p.relative_to(ROOT / "configs")) for p in CONFIGS}
    assert {"solo/tokenizer.yaml", "duet/tokenizer.yaml", "duet/translation.yaml", "quick/solo_tokenizer.yaml",
            "quick/duet_tokenizer.yaml", "quick/duet_translation.yaml"} <= names


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
    # Tokenizer stages: the part set, frame rate and stride agree with the data module.
    if hasattr(model, "tokenizer"):
        cfg = model.config
        assert datamodule.window.fps == cfg.fps
        assert datamodule.window.frame_multiple % cfg.stride == 0 and datamodule.window.length % cfg.stride == 0
        assert cfg.token_rate == 7.5
        assert datamodule.rotations or not cfg.rotations
    if hasattr(model, "translation"):
        assert model.config.stride == 4 and datamodule.window.length % model.config.stride == 0

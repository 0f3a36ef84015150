"""The Previews callback: videos and beat plots written under the log folder (CSV) or logged to wandb at
the global step, every n-th validation and never in the sanity check; a failing preview costs one
warning and training goes on; a stage without ``preview`` is warned about once."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import numpy as np
import pytest
from lightning.pytorch.loggers import CSVLogger

from data.render import probe_media
from tests.tokenizer.conftest import ToyDataModule, tiny_stage, toy_motion
from tokenizer.lightning import TokenizerStage
from training.previews import BeatPlot, Preview, Previews, clip_frames, validation_sequences

SMALL = dict(seconds=0.5, size=64)  # 30 frames at 60 fps, a 64-pixel video: fractions of a second to render


def write_song(path: Path, seconds: float = 2.0) -> Path:
    import soundfile

    sr = 22050
    t = np.arange(int(sr * seconds)) / sr
    soundfile.write(path, 0.2 * np.sin(2 * np.pi * 220 * t), sr)
    return path


class BeatData(ToyDataModule):
    """Two toy solo sequences with a beat every 15 frames on music channel 0 and a song from a reader, as a
    pasdeux data module gives them."""

    def __init__(self, song: Path | None = None) -> None:
        super().__init__("solo", sequences=2, frames=64, window=32, stride=16, batch_size=4)
        self.music = SimpleNamespace(beat_channel=0)
        for s in self.dataset.sequences:
            s.music[::15, 0] = 1.0
        self.reader = SimpleNamespace(music_path=lambda name: song)


def fit(tmp_path: Path, stage: pl.LightningModule, data, callbacks, logger=None, max_steps: int = 3,
        sanity: int = 0) -> pl.Trainer:
    """``max_steps`` training steps, validating after every one."""
    pl.seed_everything(0)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, logger=logger if logger else False,
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=tmp_path, callbacks=callbacks, val_check_interval=1,
                         check_val_every_n_epoch=None, num_sanity_val_steps=sanity, limit_val_batches=1)
    trainer.fit(stage, datamodule=data)
    return trainer


@pytest.mark.parametrize("kwargs, words", [
    (dict(every_n_validations=0), "every_n_validations must be an integer >= 1"),
    (dict(every_n_validations=1.5), "every_n_validations must be an integer >= 1"),
    (dict(every_n_validations=True), "every_n_validations must be an integer >= 1"),
    (dict(seconds=0), "seconds must be a positive number"),
    (dict(seconds=float("nan")), "seconds must be a positive number"),
    (dict(seconds="8"), "seconds must be a positive number"),
    (dict(max_items=0), "max_items must be an integer >= 1"),
    (dict(size=10), "size must be a video height in pixels"),
])
def test_arguments_are_checked(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Previews(**kwargs)


def test_preview_and_helpers_check_their_input():
    with pytest.raises(ValueError, match="one or two motions"):
        Preview("x", [])
    m = toy_motion(0, 10)
    assert Preview("a b/c", m).stem == "a_b_c" and len(Preview("a", m).motions) == 1
    assert clip_frames(8.0, 60.0, 1000, multiple=8) == 480
    assert clip_frames(1.0, 60.0, 1000, multiple=8) == 56 and clip_frames(8.0, 60.0, 100, multiple=8) == 96
    assert clip_frames(0.01, 60.0, 100, multiple=8) == 8
    with pytest.raises(ValueError, match="WindowedDataset"):
        validation_sequences(SimpleNamespace(val_dataloaders=SimpleNamespace(dataset=[1, 2])))


def test_csv_fit_writes_video_and_beat_plot_every_nth_validation(tmp_path):
    song = write_song(tmp_path / "song.wav")
    logger = CSVLogger(tmp_path / "logs", name="run")
    # The sanity check does not count: validations after steps 1, 2, 3; the 2nd renders.
    trainer = fit(tmp_path, tiny_stage("solo"), BeatData(song), [Previews(every_n_validations=2, **SMALL)], logger,
                  sanity=1)
    folder = Path(logger.log_dir) / "previews"
    assert sorted(p.name for p in folder.iterdir()) == ["step2_tokenizer_toy0.mp4", "step2_tokenizer_toy0.png"]
    info = probe_media(folder / "step2_tokenizer_toy0.mp4")
    assert info.video and info.audio and info.height == 64  # the song muxed in
    assert abs(info.duration - 0.5) < 0.1
    assert (folder / "step2_tokenizer_toy0.png").stat().st_size > 1000
    assert trainer.global_step == 3


def test_without_a_logger_previews_go_under_the_default_root_dir(tmp_path):
    fit(tmp_path, tiny_stage("solo"), BeatData(), [Previews(max_items=2, **SMALL)], max_steps=1)
    names = sorted(p.name for p in (tmp_path / "previews").iterdir())
    assert names == ["step1_tokenizer_toy0.mp4", "step1_tokenizer_toy0.png", "step1_tokenizer_toy1.mp4",
                     "step1_tokenizer_toy1.png"]


class FailingStage(TokenizerStage):
    def preview(self, seconds: float, count: int = 1):
        raise RuntimeError("no preview today\nsecond line")


class BadSongStage(TokenizerStage):
    def preview(self, seconds: float, count: int = 1):
        return [Preview("bad", toy_motion(0, 30), music="/nonexistent/song.wav"),
                Preview("good", toy_motion(1, 30), beats=BeatPlot(toy_motion(1, 30).joints, 60.0, np.array([5, 20])))]


def user_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "Previews" in str(w.message)]


def test_a_failing_preview_warns_once_per_validation_and_training_goes_on(tmp_path):
    stage = FailingStage(tiny_stage("solo").config, {"lr": 3e-3, "scheduler": "none"})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer = fit(tmp_path, stage, BeatData(), [Previews(**SMALL)], max_steps=2)
    lines = user_warnings(record)
    assert trainer.global_step == 2
    assert len(lines) == 2 and all("no preview today" in w and "\n" not in w and "training goes on" in w for w in lines)
    assert "step 1" in lines[0] and "step 2" in lines[1]


def test_an_item_that_fails_to_render_costs_one_warning_the_others_are_written(tmp_path):
    stage = BadSongStage(tiny_stage("solo").config, {"lr": 3e-3, "scheduler": "none"})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer = fit(tmp_path, stage, BeatData(), [Previews(max_items=2, **SMALL)], max_steps=1)
    lines = user_warnings(record)
    assert trainer.global_step == 1
    assert len(lines) == 1 and "'bad'" in lines[0] and "music file not found" in lines[0]
    assert sorted(p.name for p in (tmp_path / "previews").iterdir()) == ["step1_good.mp4", "step1_good.png"]


def test_a_stage_without_preview_is_warned_about_once_at_fit_start(tmp_path):
    from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit(tmp_path, BoringModel(), BoringDataModule(), [Previews(**SMALL)], max_steps=2)
    lines = user_warnings(record)
    assert len(lines) == 1 and "BoringModel has no preview" in lines[0]
    assert not (tmp_path / "previews").exists()


def test_wandb_logs_the_video_and_beat_plot_at_the_global_step(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    for key, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true",
                       "WANDB_CONSOLE": "off"}.items():
        monkeypatch.setenv(key, value)
    logger = WandbLogger(project="pasdeux-test", save_dir=str(tmp_path), offline=True)
    calls = []
    log = logger.experiment.log

    def recording_log(data, *args, **kwargs):
        calls.append((dict(data), args, kwargs))
        return log(data, *args, **kwargs)

    monkeypatch.setattr(logger.experiment, "log", recording_log)
    try:
        trainer = fit(tmp_path, tiny_stage("solo"), BeatData(), [Previews(**SMALL)], logger, max_steps=2)
        run_dir = Path(logger.experiment.dir)
    finally:
        wandb.finish()
    previews = [(data, args, kwargs) for data, args, kwargs in calls if "preview/tokenizer_toy0" in data]
    assert [data["trainer/global_step"] for data, _, _ in previews] == [1, 2] and trainer.global_step == 2
    for data, args, kwargs in previews:
        assert isinstance(data["preview/tokenizer_toy0"], wandb.Video)
        assert isinstance(data["beats/tokenizer_toy0"], wandb.Image)
        assert not args and "step" not in kwargs  # wandb's own step runs ahead of the global step
    assert len(list(run_dir.glob("media/videos/preview/*.mp4"))) == 2  # wandb copied the files into its run
    assert len(list(run_dir.glob("media/images/beats/*.png"))) == 2
    assert not (tmp_path / "previews").exists()  # nothing kept outside the run

"""The solo GPT stage's preview: a dance generated for the first validation song through the path
``cli.py dance`` takes (:meth:`gpt.pretrained.SoloDancer.dance`), with its beat plot against
the song's beat channel; the video and the plot land under the log folder."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from data.datamodules import SoloDataset
from data.render import probe_media
from gpt.lightning import PREVIEW_SAMPLING, PREVIEW_SEED, SoloGPTStage
from gpt.pretrained import SoloDancer
from tests.gpt.conftest import music_sequences
from training.previews import Previews


class Grab(pl.Callback):
    def __init__(self) -> None:
        self.previews = []

    def on_validation_end(self, trainer, pl_module) -> None:
        self.previews.append(pl_module.preview(1.0, 1))


def test_solo_preview_is_the_dance_cli_dance_generates_with_its_beat_plot(tokenizer_ckpt, tmp_path):
    torch.manual_seed(0)
    stage = SoloGPTStage(tokenizer_ckpt, dict(transformer=dict(n_layer=2, n_embd=32, n_head=4, window=4, dropout=0.0),
                                              music_context=1, genres=["BR", "PO"], frozen_layers=1),
                         feature_set="aist55", tokens_from="window",
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    seqs = music_sequences(2, 128)
    ds = SoloDataset(seqs, 64, 16, music_margin=8)
    grab, logger = Grab(), CSVLogger(tmp_path, name="gpt")
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         val_check_interval=1, check_val_every_n_epoch=None, num_sanity_val_steps=0,
                         limit_val_batches=1, callbacks=[grab, Previews(seconds=1.0, size=64)])
    trainer.fit(stage, DataLoader(ds, batch_size=4), DataLoader(ds, batch_size=4))
    assert stage.training  # modes back after the previews
    [preview] = grab.previews[-1]
    [motion] = preview.motions
    assert preview.name == f"dance_{seqs[0].name}" and motion.num_frames == 56  # 1 s at 60 fps, whole tokens
    # the beat plot: the dance against the song's beat channel (53: a beat every 15 frames)
    np.testing.assert_array_equal(preview.beats.music_beats, [0, 15, 30, 45])
    assert preview.beats.fps == 60.0 and preview.beats.joints is motion.joints
    # the dance `cli.py dance`'s path (SoloDancer.dance) gives with these weights, the sequence's genre, the
    # preview's seed (a dancer loaded from a checkpoint of them may differ by a token where two are nearly
    # tied: matrix products are not bit-identical across memory layouts)
    stage.eval()
    [dance] = SoloDancer(stage.gpt, stage.tokenizer, "aist55").dance(
        [seqs[0].music[:56]], PREVIEW_SAMPLING, genres=["BR"], generator=torch.Generator().manual_seed(PREVIEW_SEED))
    np.testing.assert_allclose(motion.joints, dance.motion.joints, atol=1e-6)
    folder = tmp_path / "gpt" / "version_0" / "previews"
    stem = f"step2_dance_{seqs[0].name}"
    assert (folder / f"{stem}.png").is_file()
    info = probe_media(folder / f"{stem}.mp4")
    assert info.video and not info.audio and info.height == 64

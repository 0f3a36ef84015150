"""The interaction GPT stage's preview: the first validation leader with a follower generated through the
path ``cli.py follow`` takes (:meth:`duet.pretrained.Follower.follow`), both in one video, and the
follower's beat plot against the song's beats and the leader's."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger

from data.motion import Motion
from data.render import probe_media
from duet.lightning import PREVIEW_SAMPLING, DuetGPTStage
from duet.pretrained import Follower
from gpt.lightning import PREVIEW_SEED
from tests.duet.conftest import ToyDuetData, duet_music_sequences, tiny_gpt_config
from training.previews import Previews


class Grab(pl.Callback):
    def __init__(self) -> None:
        self.previews = []

    def on_validation_end(self, trainer, pl_module) -> None:
        self.previews.append(pl_module.preview(1.0, 1))


def test_duet_preview_is_the_leader_with_the_follower_cli_follow_generates(duet_tokenizers, tmp_path):
    torch.manual_seed(0)
    stage = DuetGPTStage(*duet_tokenizers, gpt=tiny_gpt_config(),
                         optimizer={"lr": 3e-3, "betas": (0.9, 0.99), "scheduler": "none"})
    seqs = duet_music_sequences(2, 64)
    grab, logger = Grab(), CSVLogger(tmp_path, name="duet")
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         val_check_interval=1, check_val_every_n_epoch=None, num_sanity_val_steps=0,
                         limit_val_batches=1, callbacks=[grab, Previews(seconds=1.0, size=64)])
    trainer.fit(stage, datamodule=ToyDuetData(seqs, music_margin=12))
    assert stage.training and not stage.tokenizer.training  # modes back after the previews
    [preview] = grab.previews[-1]
    leader, follower = preview.motions
    assert preview.name == f"follower_{seqs[0].name}"
    assert leader.num_frames == follower.num_frames == 28 and follower.skeleton == "smplx55"  # 1 s at 30 fps, whole tokens
    np.testing.assert_allclose(leader.joints, seqs[0].leader.joints[:28], atol=1e-6)
    # the beat plot: the follower against the music's beat channel (a beat every 8 frames) and the leader
    np.testing.assert_array_equal(preview.beats.music_beats, [0, 8, 16, 24])
    assert preview.beats.joints is follower.joints and preview.beats.leader is leader.joints
    # the follower Follower.follow gives with these weights and the preview's seed
    stage.eval()
    [dance] = Follower(stage.gpt, stage.tokenizer, stage.translation, "aist55").follow(
        [Motion(skeleton="smplx55", fps=30.0, joints=seqs[0].leader.joints[:28])], [seqs[0].music[:28]],
        PREVIEW_SAMPLING, generator=torch.Generator().manual_seed(PREVIEW_SEED))
    np.testing.assert_allclose(follower.joints, dance.motion.joints, atol=1e-6)
    folder = tmp_path / "duet" / "version_0" / "previews"
    stem = f"step2_follower_{seqs[0].name}"
    assert (folder / f"{stem}.png").is_file()
    info = probe_media(folder / f"{stem}.mp4")
    assert info.video and info.height == 64

"""The tokenizer stages' previews: a validation window beside its reconstruction from tokens (the
motion tokenizer), the leader and the follower placed by the offset tokens (the translation VQ-VAE);
in eval mode, the stage's modes restored after."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.loggers import CSVLogger

from tokenizer.pretrained import Tokenizer
from training.previews import Previews


class Grab(pl.Callback):
    """At each validation's end, the stage's previews, asked for in training mode (as any caller might),
    and whether every submodule's mode came back as it was."""

    def __init__(self, seconds: float, count: int) -> None:
        self.seconds, self.count = seconds, count
        self.previews, self.modes_kept = [], []

    def on_validation_end(self, trainer, pl_module) -> None:
        pl_module.train()
        before = [m.training for m in pl_module.modules()]
        self.previews.append(pl_module.preview(self.seconds, self.count))
        self.modes_kept.append([m.training for m in pl_module.modules()] == before)


def fit(tmp_path, stage, data, callbacks, logger=None):
    pl.seed_everything(0)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=2, logger=logger or False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path,
                         callbacks=callbacks, val_check_interval=1, check_val_every_n_epoch=None,
                         num_sanity_val_steps=0, limit_val_batches=1)
    trainer.fit(stage, datamodule=data)
    return trainer


def test_tokenizer_preview_is_the_source_beside_its_reconstruction(tmp_path, toys):
    grab = Grab(seconds=0.5, count=2)
    logger = CSVLogger(tmp_path, name="tok")
    stage = toys.tiny_stage("solo")
    data = toys.ToyDataModule("solo", sequences=2, frames=64, window=32, stride=16)
    fit(tmp_path, stage, data, [grab, Previews(seconds=0.5, size=64)], logger)
    assert grab.modes_kept == [True, True]
    previews = grab.previews[-1]
    assert [p.name for p in previews] == ["tokenizer_toy0", "tokenizer_toy1"]
    first = previews[0]
    source, rec = first.motions
    seq = data.dataset.sequences[0]
    assert source.num_frames == rec.num_frames == 30 and source.fps == 60.0 and rec.skeleton == "smpl24"
    np.testing.assert_allclose(source.joints, seq.dancer.joints[:30], atol=1e-6)
    # the reconstruction is Tokenizer.reconstruct's, 1.5 m to the side
    expected = Tokenizer.wrap(stage.tokenizer.eval()).reconstruct(source)
    np.testing.assert_allclose(rec.joints, expected.joints + [1.5, 0.0, 0.0], atol=1e-5)
    assert first.beats is None and first.music is None  # the toy data module has no beat channel, no songs
    names = sorted(p.name for p in (tmp_path / "tok" / "version_0" / "previews").iterdir())
    assert names == ["step1_tokenizer_toy0.mp4", "step2_tokenizer_toy0.mp4"]


def test_translation_preview_places_the_true_follower_by_its_offset_tokens(tmp_path, toys):
    grab = Grab(seconds=1.0, count=1)
    data = toys.ToyDataModule("duet", sequences=2, frames=64, window=32, stride=16)
    fit(tmp_path, toys.tiny_translation_stage(), data, [grab])
    assert grab.modes_kept == [True, True]
    [preview] = grab.previews[-1]
    leader, follower = preview.motions
    seq = data.dataset.sequences[0]
    assert preview.name == "translation_duet0" and leader.num_frames == follower.num_frames == 30  # 1 s at 30 fps
    np.testing.assert_allclose(leader.joints, seq.leader.joints[:30], atol=1e-6)
    # the follower's own pose, only its pelvis from the tokens
    true_rel = seq.follower.joints[:30] - seq.follower.joints[:30, :1]
    np.testing.assert_allclose(follower.joints - follower.joints[:, :1], true_rel, atol=1e-5)
    assert np.isfinite(follower.joints).all()

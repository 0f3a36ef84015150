"""The Lightning stages: a tiny fit logs the figures, checkpoints rebuild the tokenizer without
Lightning, and a resumed run continues exactly."""

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from tokenizer.pretrained import Tokenizer, TranslationTokenizer
from training.checkpoint import clear_cache, read_checkpoint


def trainer(tmp_path: Path, max_steps: int = -1, max_epochs: int | None = None, callbacks=(), **kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", devices=1, max_steps=max_steps, max_epochs=max_epochs, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                      callbacks=list(callbacks), num_sanity_val_steps=0, **kw)


class LossRecorder(pl.Callback):
    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses[trainer.global_step] = float(outputs["loss"])


@pytest.fixture(scope="module")
def fitted_solo(tmp_path_factory, toys):
    """A tiny solo stage fitted for 6 steps with validation, and its checkpoint."""
    tmp = tmp_path_factory.mktemp("solo_fit")
    pl.seed_everything(0)
    stage, dm = toys.tiny_stage("solo"), toys.ToyDataModule("solo", sequences=3, frames=96, window=32, stride=16)
    ckpt = ModelCheckpoint(dirpath=tmp, filename="last", save_last=False)
    tr = trainer(tmp, max_steps=6, callbacks=[ckpt], val_check_interval=3, check_val_every_n_epoch=None)
    tr.fit(stage, datamodule=dm)
    return stage, dm, tr, Path(ckpt.best_model_path or tmp / "last.ckpt")


def test_fit_logs_losses_mpjpe_and_codebook_usage(fitted_solo):
    stage, dm, tr, _ = fitted_solo
    m = tr.callback_metrics
    for key in ("val/loss", "val/mpjpe_mm", "val/upper/mpjpe_mm", "val/lower/mpjpe_mm", "val/root_err_end_m",
                "val/upper/perplexity", "val/lower/unused_codes", "val/lower/root/rec", "val/upper/rot/rec",
                "train/loss"):
        assert key in m, key
    assert 1.0 <= float(m["val/upper/perplexity"]) <= 16.0
    assert 0 <= float(m["val/lower/unused_codes"]) < 16
    assert all(p.codebook_initted for p in stage.tokenizer.parts.values())


def test_checkpoint_is_weights_only_and_rebuilds_the_tokenizer(fitted_solo, toys):
    stage, dm, _, path = fitted_solo
    ckpt = read_checkpoint(path)  # torch.load(weights_only=True)
    assert ckpt["hyper_parameters"]["tokenizer"]["part"]["codebook_size"] == 16
    assert any(k.endswith("_codebook.cluster_size") for k in ckpt["state_dict"])
    assert any(k.endswith("_codebook.initted") for k in ckpt["state_dict"])
    clear_cache()
    fresh = Tokenizer.from_checkpoint(path)
    cached = Tokenizer.from_checkpoint(path)
    uncached = Tokenizer.from_checkpoint(path, cache=False)
    assert cached is not fresh and uncached is not fresh  # a new module per call (one read of the file)
    batch = toys.batch_of(dm.dataset, 4)
    stage.eval()
    expected = stage.tokenizer.encode(batch["joints"])
    for tok in (fresh, cached, uncached):
        got = tok.encode(batch["joints"])
        assert all(torch.equal(got[p], expected[p]) for p in expected)
    # Absolute joints give the same tokens: the pelvis is subtracted either way.
    absolute = batch["joints"] + torch.tensor([1.0, 0.5, -2.0])
    assert all(torch.equal(fresh.encode(absolute)[p], expected[p]) for p in expected)
    dec = fresh.decode({p: v[0] for p, v in expected.items()}, num_frames=30)
    assert dec["joints"].shape == (30, 24, 3) and dec["rotations"].shape == (30, 24, 3)


def test_predict_step_gives_the_tokens(fitted_solo, toys):
    stage, dm, _, _ = fitted_solo
    batch = toys.batch_of(dm.dataset, 3)
    stage.eval()
    out = stage.predict_step(batch, 0)
    expected = stage.tokenizer.encode(batch["joints"])
    assert all(torch.equal(out["indices"][p], expected[p]) for p in expected)
    assert list(out["name"]) == list(batch["name"])


def test_reconstruct_returns_an_exportable_motion(fitted_solo, toys):

    tok = Tokenizer.from_checkpoint(fitted_solo[3])
    motion = toys.toy_motion(7, 50)
    rec = tok.reconstruct(motion)
    assert rec.num_frames == 50 and rec.has_rotations and rec.skeleton == "smpl24"
    assert torch.allclose(torch.as_tensor(rec.joints[0, 0]), torch.as_tensor(motion.joints[0, 0]), atol=1e-5)


def test_decode_motion_in_chunks_equals_to_motion_of_decode(fitted_solo, toys):
    tok = Tokenizer.from_checkpoint(fitted_solo[3])
    idx = tok.encode(toys.toy_motion(8, 200))  # 25 tokens
    start = [0.2, 0.9, -0.4]
    whole = tok.to_motion(tok.decode(idx, root_start=start, num_frames=197, chunk=None), name="a", music="m")
    chunked = tok.decode_motion(idx, root_start=start, num_frames=197, name="a", music="m", chunk=4)
    assert (chunked.num_frames, chunked.name, chunked.music, chunked.fps) == (197, "a", "m", whole.fps)
    for key in ("joints", "rotations", "root"):
        np.testing.assert_allclose(getattr(chunked, key), getattr(whole, key), rtol=1e-5, atol=2e-5, err_msg=key)


def test_foreign_checkpoint_is_rejected(tmp_path, fitted_solo):
    from data.errors import InputError

    with pytest.raises(InputError, match="not found"):
        Tokenizer.from_checkpoint(tmp_path / "nope.ckpt")
    with pytest.raises(InputError, match="not a translation"):
        TranslationTokenizer.from_checkpoint(fitted_solo[3])


def test_resume_from_a_mid_run_checkpoint_is_exact(tmp_path, toys):
    """Two epochs straight vs. one epoch, checkpoint, resume: same codebooks, weights and losses.

    The toy codebook (16 codes, threshold 1) replaces dead codes from random encoder outputs every
    step, so the resumed run is only exact if the RNG state came back with the checkpoint.
    """
    def run(folder: Path, epochs: int, resume: str | None = None):
        pl.seed_everything(0)
        stage = toys.tiny_stage("solo")
        dm = toys.ToyDataModule("solo", sequences=4, frames=64, window=32, stride=8, batch_size=4, shuffle=True)
        rec = LossRecorder()
        ckpt = ModelCheckpoint(dirpath=folder, filename="epoch{epoch}", auto_insert_metric_name=False,
                               every_n_epochs=1, save_top_k=-1)
        tr = trainer(folder, max_epochs=epochs, callbacks=[rec, ckpt], limit_val_batches=0)
        tr.fit(stage, datamodule=dm, ckpt_path=resume)
        return stage, rec.losses

    straight, losses_a = run(tmp_path / "a", 2)
    mid = tmp_path / "a" / "epoch0.ckpt"
    assert mid.is_file()
    resumed, losses_b = run(tmp_path / "b", 2, resume=str(mid))
    steps_b = sorted(losses_b)
    assert steps_b and steps_b[0] == len(losses_a) // 2 + 1  # continued mid-run, not from scratch
    for step in steps_b:
        assert losses_b[step] == losses_a[step], step
    sa, sb = straight.state_dict(), resumed.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_translation_stage_fit_and_load(tmp_path, toys):
    pl.seed_everything(0)
    stage, dm = toys.tiny_translation_stage(), toys.ToyDataModule("duet", sequences=2, frames=48, window=24, stride=8)
    ckpt = ModelCheckpoint(dirpath=tmp_path, filename="last")
    tr = trainer(tmp_path, max_steps=3, callbacks=[ckpt], limit_val_batches=1)
    tr.fit(stage, datamodule=dm)
    assert "val/offset_err_mm" in tr.callback_metrics and "val/translation/perplexity" in tr.callback_metrics
    tok = TranslationTokenizer.from_checkpoint(tmp_path / "last.ckpt")
    offset = toys.batch_of(dm.dataset, 3)["follower_root_rel_local"]
    stage.eval()
    assert torch.equal(tok.encode(offset), stage.translation.encode(offset))
    assert tok.decode(tok.encode(offset[0])).shape == (24, 3)


def test_duet_stage_trains_on_both_dancers(tmp_path, toys):
    pl.seed_everything(0)
    stage, dm = toys.tiny_stage("duet"), toys.ToyDataModule("duet", sequences=2, frames=48, window=24, stride=8, batch_size=2)
    batch = toys.batch_of(dm.dataset, 2)
    stage.configure_model()
    indices, losses, metrics, n = stage._forward(batch)
    assert n == 4 and all(v.shape == (4, 6) for v in indices.values())  # 2 duets -> 4 dancer windows
    assert {"upper", "lower", "lhand", "rhand"} == set(indices)
    assert "lhand/mpjpe_mm" in metrics
    with pytest.raises(KeyError, match="rotations"):
        stage._forward({k: v for k, v in batch.items() if "rotations" not in k})


def test_pretrained_encodes_absolute_motion_with_root_velocity(tmp_path, toys):
    """A tokenizer trained with encode_root_velocity: the inference wrapper derives the velocity from
    absolute joints exactly as the DataModules do."""
    from tokenizer.lightning import TokenizerStage
    from tokenizer.motion import MotionTokenizerConfig

    torch.manual_seed(0)
    stage = TokenizerStage(MotionTokenizerConfig("solo", toys.tiny_part(), encode_root_velocity=True))
    stage.configure_model()
    dm = toys.ToyDataModule("solo", sequences=2, frames=64, window=32, stride=16)
    batch = toys.batch_of(dm.dataset)
    stage.train()
    stage._forward(batch)  # initialise normalisers and codebooks
    stage.eval()
    path = tmp_path / "erv.ckpt"
    torch.save({"hyper_parameters": dict(stage.hparams), "state_dict": stage.state_dict()}, path)
    tok = Tokenizer.from_checkpoint(path)
    from data.geometry import integrate_root_velocity

    root = integrate_root_velocity(batch["root_vel"], batch["root_start"])  # (B, T, 3)
    absolute = batch["joints"] + root[:, :, None]
    expected = stage.tokenizer.encode(batch["joints"], batch["root_vel"])
    got = tok.encode(absolute)
    assert all(torch.equal(got[p], expected[p]) for p in expected)
    # Velocity given explicitly with pelvis-relative joints: the same tokens.
    assert all(torch.equal(tok.encode(batch["joints"], batch["root_vel"])[p], expected[p]) for p in expected)


def test_yaw_augmentation_turns_training_windows_only(toys):
    from tokenizer.lightning import TokenizerStage
    from tokenizer.motion import MotionTokenizerConfig

    with pytest.raises(ValueError, match="yaw_augmentation"):
        TokenizerStage(MotionTokenizerConfig("solo", toys.tiny_part()), yaw_augmentation=270.0)
    torch.manual_seed(0)
    stage = TokenizerStage(MotionTokenizerConfig("solo", toys.tiny_part()), yaw_augmentation=180.0)
    stage.configure_model()
    assert stage.hparams["yaw_augmentation"] == 180.0
    batch = toys.batch_of(toys.ToyDataModule("solo", sequences=2, frames=64, window=32, stride=16).dataset)
    seen = []
    original = stage.tokenizer.forward
    stage.tokenizer.forward = lambda joints, *a: seen.append(joints) or original(joints, *a)
    stage.train()
    stage._forward(batch)
    stage.eval()
    stage._forward(batch)
    turned, plain = seen
    assert torch.equal(plain, batch["joints"])  # validation sees the data as it is
    assert not torch.allclose(turned, batch["joints"], atol=1e-3)
    # Turned about the vertical: heights and distances from the pelvis are kept.
    assert torch.allclose(turned[..., 1], batch["joints"][..., 1], atol=1e-6)
    assert torch.allclose(turned.norm(dim=-1), batch["joints"].norm(dim=-1), atol=1e-5)


def test_stages_build_their_quantisers_in_configure_model(tmp_path, toys):
    """The quantiser must be built after the process group exists (vector-quantize-pytorch decides its
    all-reduce then): nothing before ``configure_model``, once after it, and ``load_from_checkpoint``
    rebuilds it."""
    from tokenizer.lightning import TokenizerStage

    stage, translation = toys.tiny_stage("solo"), toys.tiny_translation_stage()
    assert stage.tokenizer is None and translation.translation is None
    assert not any(True for _ in stage.parameters())
    stage.configure_model()
    translation.configure_model()
    built = stage.tokenizer
    stage.configure_model()  # Lightning may call it again (fit, then test): the same module
    assert stage.tokenizer is built and translation.translation is not None
    assert not any(p.quantizer._codebook.use_ddp for p in built.parts.values())  # no process group
    path = tmp_path / "stage.ckpt"
    torch.save({"hyper_parameters": dict(stage.hparams), "state_dict": stage.state_dict(),
                "pytorch-lightning_version": pl.__version__}, path)
    loaded = TokenizerStage.load_from_checkpoint(path)
    assert loaded.tokenizer is not None
    for key, value in stage.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_from_checkpoint_gives_every_caller_its_own_module(fitted_solo):
    _, _, _, path = fitted_solo
    a, b = Tokenizer.from_checkpoint(path), Tokenizer.from_checkpoint(path)
    assert a is not b and not a.training
    a.train()
    next(a.parameters()).data.add_(1.0)
    assert not b.training  # one caller's mode or edits reach no other
    c = Tokenizer.from_checkpoint(path)
    assert all(torch.equal(x, y) for x, y in zip(b.state_dict().values(), c.state_dict().values()))

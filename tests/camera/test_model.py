"""The camera network, its training stage and whole-song filming."""

import numpy as np
import pytest
import torch

from camera.diffusion import DiffusionConfig
from camera.model import DANCE_CHANNELS, CameraDenoiser, CameraModelConfig
from camera.pretrained import CameraDirector, dance_joints
from camera.representation import Normalizer
from camera.sampling import film_features
from data.motion import Motion
from tests.camera.conftest import TINY_MODEL, toy_camera_sequences, toy_dance
from training.checkpoint import read_checkpoint


def _net(**kw) -> CameraDenoiser:
    torch.manual_seed(0)
    return CameraDenoiser(CameraModelConfig(**{**TINY_MODEL, **kw})).eval()


def _inputs(B: int, T: int, F: int = 35):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(B, T, 10, generator=g), torch.randint(0, 1000, (B,), generator=g),
            torch.randn(B, T, DANCE_CHANNELS, generator=g), torch.randn(B, T, F, generator=g))


def test_config_rejects_nonsense():
    for bad in (dict(n_embd=30, n_head=4), dict(window=31, frames_per_token=3), dict(dropout=1.0),
                dict(n_layer=0), dict(mlp_ratio=0)):
        with pytest.raises(ValueError):
            CameraModelConfig(**{**TINY_MODEL, **bad})


@pytest.mark.parametrize("frames_per_token", [1, 3])
def test_denoiser_shapes_and_that_dropped_conditions_are_ignored(frames_per_token):
    net = _net(frames_per_token=frames_per_token)
    x, t, d, m = _inputs(3, 30)
    yes, no = torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)
    out = net(x, t, d, m, yes, yes)
    assert out.shape == (3, 30, 10)
    # a dropped dance: its values no longer matter; a kept one does
    assert torch.allclose(net(x, t, d, m, no, yes), net(x, t, d * 5 + 1, m, no, yes), atol=1e-6)
    assert not torch.allclose(net(x, t, d, m, yes, yes), net(x, t, d * 5 + 1, m, yes, yes), atol=1e-4)
    assert torch.allclose(net(x, t, d, m, yes, no), net(x, t, d, m - 3, yes, no), atol=1e-6)


def test_guidance_is_the_documented_combination_in_one_batched_pass():
    net = _net()
    # give the FiLM layers weight so the time step and conditions reach every layer
    for layer in net.layers:
        torch.nn.init.normal_(layer.film.weight, std=0.05)
    x, t, d, m = _inputs(2, 30)
    yes, no = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool)
    f00, fd0, fdm = net(x, t, d, m, no, no), net(x, t, d, m, yes, no), net(x, t, d, m, yes, yes)
    assert torch.allclose(net.guided(x, t, d, m, 1.75, 1.0), f00 + 1.75 * (fd0 - f00) + (fdm - fd0), atol=1e-5)
    assert torch.allclose(net.guided(x, t, d, m, 1.0, 1.0), fdm, atol=1e-5)
    assert torch.allclose(net.guided(x, t, d, m, 0.0, 0.0), f00, atol=1e-5)


def _director():
    net = _net()
    norm = Normalizer(DANCE_CHANNELS, 35)
    seqs = toy_camera_sequences(2, 60)
    from camera.representation import camera_features, dance_features

    cams = [camera_features(torch.tensor(s.track.polar)[None].float(), torch.tensor(s.joints)[None])[0] for s in seqs]
    dances = [dance_features(torch.tensor(s.joints)[None])[0] for s in seqs]
    norm.fit(torch.cat(cams), torch.cat(dances), torch.cat([torch.tensor(s.music) for s in seqs]))
    return CameraDirector(net, norm, DiffusionConfig(sampling_steps=3), "edge35")


@pytest.mark.parametrize("frames", [7, 30, 31, 100])
def test_filming_covers_every_frame_and_is_reproducible(frames):
    director = _director()
    joints = toy_dance(frames, 0)
    music = np.zeros((frames + 5, 35), dtype=np.float32)
    a = director.film(joints, music, generator=torch.Generator().manual_seed(0))
    b = director.film(joints, music, generator=torch.Generator().manual_seed(0))
    assert a.num_frames == frames  # frames out = frames in, tail included
    assert np.all(np.isfinite(a.polar)) and np.array_equal(a.polar, b.polar)
    assert np.all(a.distance < 0)


def test_windows_in_groups_give_the_same_stitched_song_structure():
    director = _director()
    joints = torch.tensor(toy_dance(200, 1), dtype=torch.float32)[None]
    music = torch.zeros(1, 200, 35)
    calls = []
    x = film_features(director.net, director.norm, joints, music, director.diffusion, hop=15,
                      generator=torch.Generator().manual_seed(0), max_windows=4,
                      progress=lambda done, total: calls.append((done, total)))
    assert x.shape == (1, 200, 10) and torch.isfinite(x).all()
    # 200 frames, 30-frame windows every 15: 13 windows, 4 per group sharing one: 4 groups of 3 steps
    assert calls[-1] == (12, 12) and [c[0] for c in calls] == list(range(1, 13))


def test_the_stage_trains_and_its_checkpoint_films(camera_checkpoint):
    ckpt = read_checkpoint(camera_checkpoint)
    assert {"model", "diffusion", "loss", "feature_set"} <= set(ckpt["hyper_parameters"])
    state = ckpt["state_dict"]
    assert bool(state["norm.fitted"]) and any(k.startswith("ema.module.") for k in state)
    # the moving average moved away from the raw weights, and is what inference loads
    raw, avg = state["net.out.2.weight"], state["ema.module.out.2.weight"]
    assert not torch.equal(raw, avg)
    director = CameraDirector.from_checkpoint(camera_checkpoint)
    assert torch.equal(director.net.out[2].weight, avg)
    track = director.film(toy_dance(75, 2), np.zeros((75, 35), np.float32), generator=torch.Generator().manual_seed(0))
    assert track.num_frames == 75 and np.all(np.isfinite(track.polar))


def test_training_lowers_the_loss():
    import lightning.pytorch as pl

    from camera.lightning import CameraDiffusionStage
    from tests.camera.conftest import ToyCameraData

    torch.manual_seed(0)
    stage = CameraDiffusionStage(model=TINY_MODEL, ema_decay=0.0, optimizer=dict(name="adamw", lr=3e-3,
                                                                                 scheduler="none"))
    data = ToyCameraData(toy_camera_sequences(2, 60), batch_size=8)
    losses = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    pl.Trainer(max_steps=60, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, limit_val_batches=0, callbacks=[Record()]).fit(stage, datamodule=data)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])


def test_dance_joints_takes_any_skeleton_to_mmd_bones_on_the_floor():
    from data.skeleton import get_skeleton

    T = 12
    rng = np.random.default_rng(0)
    rot = rng.normal(0, 0.1, (T, 24, 3))
    root = np.zeros((T, 3)) + [0.0, 0.3, 0.0]
    smpl = Motion.from_smpl("smpl24", rot, root, fps=60.0)
    j = dance_joints(smpl)
    assert j.shape == (6, 60, 3)  # 60 -> 30 fps
    assert np.percentile(j[:, :, 1].min(axis=1), 5) == pytest.approx(0.0, abs=1e-9)
    mmd = Motion(skeleton="mmd60", fps=30.0, joints=get_skeleton("mmd60").rest_joints()[None].repeat(4, 0) + 1.0)
    assert dance_joints(mmd).shape == (4, 60, 3)
    from data.errors import InputError

    with pytest.raises(InputError, match="positions only"):
        dance_joints(Motion(skeleton="smpl24", fps=30.0, joints=smpl.joints[:4]))
    bad = smpl.joints.copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(InputError):
        dance_joints(Motion(skeleton="smpl24", fps=60.0, joints=bad, rotations=rot, root=root))


def test_the_moving_average_update():
    from camera.lightning import EMAUpdate

    avg, now = [torch.zeros(3), torch.full((2,), 4.0)], [torch.ones(3), torch.zeros(2)]
    EMAUpdate(0.9)(avg, now, 1)
    assert torch.allclose(avg[0], torch.full((3,), 0.1)) and torch.allclose(avg[1], torch.full((2,), 3.6))


def test_resume_from_a_mid_run_checkpoint_is_exact(tmp_path):
    """Two epochs straight vs one epoch, checkpoint, resume: the same weights, moving average and
    statistics (the step draws noise levels, noise, dropped conditions and scene turns from torch's
    RNG, so it is only exact if the RNG came back with the checkpoint)."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from camera.lightning import CameraDiffusionStage
    from tests.camera.conftest import ToyCameraData

    first_steps = []

    class FirstStep(pl.Callback):
        def on_train_start(self, trainer, module):
            first_steps.append(trainer.global_step)

    def run(folder, resume=None):
        pl.seed_everything(0)
        stage = CameraDiffusionStage(model=TINY_MODEL, ema_decay=0.9, optimizer=dict(name="adamw", lr=3e-3,
                                                                                     scheduler="none"))
        ckpt = ModelCheckpoint(dirpath=folder, filename="epoch{epoch}", auto_insert_metric_name=False,
                               every_n_epochs=1, save_top_k=-1)
        pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                   enable_model_summary=False, limit_val_batches=0, callbacks=[ckpt, FirstStep()],
                   default_root_dir=str(folder)).fit(stage, datamodule=ToyCameraData(toy_camera_sequences(2, 60)),
                                                     ckpt_path=resume)
        return stage.state_dict()

    straight = run(tmp_path / "a")
    resumed = run(tmp_path / "b", resume=str(tmp_path / "a" / "epoch0.ckpt"))
    assert first_steps[0] == 0 and first_steps[1] > 0  # the second run continued from the checkpoint
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key

"""The camera stage's preview: the first validation dance filmed by a camera sampled as ``cli.py camera``
samples one (:meth:`camera.pretrained.CameraDirector.film`), rendered through that camera, 16:9."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger

from camera.lightning import PREVIEW_SEED, CameraDiffusionStage
from camera.pretrained import CameraDirector
from camera.render import render_camera_view
from data.camera import dcm_to_metres
from data.render import probe_media
from tests.camera.conftest import TINY_MODEL, ToyCameraData, toy_camera_sequences
from training.previews import Previews


class Grab(pl.Callback):
    def __init__(self) -> None:
        self.previews = []

    def on_validation_end(self, trainer, pl_module) -> None:
        self.previews.append(pl_module.preview(1.0, 1))


def test_camera_preview_films_the_validation_dance_through_the_sampled_camera(tmp_path):
    torch.manual_seed(0)
    stage = CameraDiffusionStage(model=TINY_MODEL, diffusion=dict(sampling_steps=2), ema_decay=0.9,
                                 optimizer=dict(name="adamw", lr=3e-3, scheduler="none"))
    seqs = toy_camera_sequences(2, 60)
    grab, logger = Grab(), CSVLogger(tmp_path, name="camera")
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         val_check_interval=1, check_val_every_n_epoch=None, num_sanity_val_steps=0,
                         limit_val_batches=1, callbacks=[grab, Previews(seconds=1.0, size=64)])
    trainer.fit(stage, datamodule=ToyCameraData(seqs))
    assert stage.training and stage.ema.module.training == stage.net.training  # modes back after the previews
    [preview] = grab.previews[-1]
    assert preview.name == f"camera_{seqs[0].name}" and preview.beats is None and preview.render is not None
    [dance] = preview.motions
    np.testing.assert_allclose(dance.joints, dcm_to_metres(seqs[0].joints[:30]))  # 1 s at 30 fps
    folder = tmp_path / "camera" / "version_0" / "previews"
    assert sorted(p.name for p in folder.iterdir()) == [f"step1_camera_{seqs[0].name}.mp4",
                                                        f"step2_camera_{seqs[0].name}.mp4"]
    info = probe_media(folder / f"step2_camera_{seqs[0].name}.mp4")
    assert info.video and (info.width, info.height) == (114, 64)  # the camera's 16:9 frame
    # the video is render_camera_view's of CameraDirector.film's camera (moving-average weights, the preview's seed)
    stage.eval()
    director = CameraDirector(stage.ema.module, stage.norm, stage.diffusion, stage.feature_set)
    track = director.film(seqs[0].joints[:30], seqs[0].music[:30], generator=torch.Generator().manual_seed(PREVIEW_SEED))
    mine = render_camera_view(dance.joints, "mmd60", track, tmp_path / "mine.mp4", height=64,
                              title=f"{seqs[0].name}: generated camera", progress=False)
    assert np.array_equal(frames(mine), frames(folder / f"step2_camera_{seqs[0].name}.mp4"))


def frames(path) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])

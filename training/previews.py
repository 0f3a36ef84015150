"""Preview videos and beat-alignment plots while a stage trains: the :class:`Previews` callback.

At the end of a validation (every ``every_n_validations``-th; never the sanity check; rank zero only)
the callback asks the stage for its previews, ``stage.preview(seconds, count) -> list[Preview]``
(each stage knows what to show: a reconstruction from tokens, a dance generated for a validation song,
a follower for a validation leader, a camera track), renders each one's stick-figure mp4
(:func:`data.render.render_video`, or the stage's own renderer) and, when it carries one, its beat
plot (:func:`metrics.plots.beat_alignment_plot`), and then:

* with a :class:`lightning.pytorch.loggers.WandbLogger`: logs ``preview/<name>`` (``wandb.Video``) and
  ``beats/<name>`` (``wandb.Image``) at the trainer's global step. The step goes in as the
  ``trainer/global_step`` value, the x-axis Lightning's WandbLogger defines for every metric, not as
  ``log(..., step=)``: Lightning logs without ``step=``, so wandb's own step counter runs ahead of the
  global step, and wandb drops (with a warning) anything logged at a step below its counter;
* otherwise (CSVLogger, or no logger): writes ``<logger.log_dir or trainer.default_root_dir>/previews/
  step<N>_<name>.mp4`` and ``.png``, each atomically.

A preview never stops training: a stage whose ``preview`` raises, or an item that fails to render,
costs one warning line, and training goes on. A stage without a ``preview`` method gets one warning
when the fit starts and no previews.

What a stage's ``preview`` uses from here: :class:`Preview` and :class:`BeatPlot`, the first
validation sequences (:func:`validation_sequences`, with :func:`song_path` for their audio and
:func:`clip_frames` for a clip's length), :func:`beat_frames` (the music beats of a feature set's
beat channel), :func:`shifted` (a second dancer beside the first) and :func:`evaluating` (eval mode
under ``torch.no_grad``, the module's modes restored after).

Add it to a config's trainer callbacks::

    callbacks:
      - class_path: training.previews.Previews
        init_args: {every_n_validations: 10, seconds: 8.0, max_items: 1}
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

from data.motion import Motion


# --------------------------------------------------------------------------------------------------
# What a stage hands the callback
# --------------------------------------------------------------------------------------------------
@dataclass
class BeatPlot:
    """What :func:`metrics.plots.beat_alignment_plot` draws for one preview."""

    joints: np.ndarray
    """(T, J, 3) metres: the dancer whose kinematic beats are scored (a duet's follower)."""
    fps: float
    music_beats: np.ndarray
    """Music beats as frame indices at ``fps`` (:func:`beat_frames`)."""
    leader: np.ndarray | None = None
    """(T', J', 3) a duet's leader: a second panel with the beat echo (follower against leader)."""
    title: str = ""
    """The plot's headline (default the preview's title)."""


@dataclass
class Preview:
    """One preview of a stage: a video, and optionally a beat plot.

    Args:
        name: the key (``preview/<name>``, ``beats/<name>``) and file name part; keep it the same
            from one validation to the next, so the logger shows one preview evolving.
        motions: one or two dancers for :func:`data.render.render_video` (dancer 1 blue, 2 red).
        music: the song muxed into the video (its start is the motions' frame 0), or None.
        title: the caption on the video and the plot.
        beats: the beat plot's input, or None for no plot.
        render: instead of :func:`data.render.render_video`: ``render(out, size)`` writes the video
            ``out`` (an .mp4 path, atomically) ``size`` pixels high and returns it (the camera stage
            films its dance through its camera).
    """

    name: str
    motions: Sequence[Motion] = field(default_factory=list)
    music: str | Path | None = None
    title: str = ""
    beats: BeatPlot | None = None
    render: Callable[[Path, int], Path] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a preview needs a name, got {self.name!r}")
        self.motions = [self.motions] if isinstance(self.motions, Motion) else list(self.motions)
        if self.render is None and not 1 <= len(self.motions) <= 2:
            raise ValueError(f"preview {self.name!r}: one or two motions to render, got {len(self.motions)}")

    @property
    def stem(self) -> str:
        """The name as a file name part (anything but letters, digits, ``._-`` becomes ``_``)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name).strip("_") or "preview"


# --------------------------------------------------------------------------------------------------
# Helpers for a stage's ``preview``
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def evaluating(module: torch.nn.Module) -> Iterator[None]:
    """``module`` (and every submodule) in eval mode under ``torch.no_grad``; each submodule's own
    mode as it was afterwards (a frozen tokenizer inside a training stage stays in eval)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in modes:
            m.training = mode


def validation_sequences(trainer: pl.Trainer, count: int = 1) -> list:
    """The first ``count`` preloaded sequences of the trainer's validation dataset (a
    :class:`data.datamodules.WindowedDataset`: ``SoloSequence``, ``DuetSequence`` or ``CameraSequence``);
    the first validation window starts at frame 0 of the first."""
    loaders = trainer.val_dataloaders
    loader = loaders[0] if isinstance(loaders, (list, tuple)) and loaders else loaders
    dataset = getattr(loader, "dataset", None)
    sequences = getattr(dataset, "sequences", None)
    if not sequences:
        raise ValueError(f"previews read the validation sequences of a pasdeux dataset (data.datamodules."
                         f"WindowedDataset); this validation loader's dataset is {type(dataset).__name__}")
    return list(sequences[:count])


def song_path(trainer: pl.Trainer, name: str) -> Path | None:
    """The audio file of sequence ``name`` from the data module's reader (``music_path``: AIST++, DD100;
    ``audio_path``: DCM), or None when the data module has no reader or the file is not there."""
    reader = getattr(getattr(trainer, "datamodule", None), "reader", None)
    for method in ("music_path", "audio_path"):
        if callable(getattr(reader, method, None)):
            path = getattr(reader, method)(name)
            return Path(path) if path is not None and Path(path).is_file() else None
    return None


def clip_frames(seconds: float, fps: float, available: int, multiple: int = 1) -> int:
    """Frames of a ``seconds`` clip at ``fps``, at most ``available``, rounded down to a multiple of
    ``multiple`` (a token stride), at least one multiple."""
    n = min(int(round(seconds * fps)), int(available))
    return max(multiple, n // multiple * multiple)


def beat_frames(music: np.ndarray, channel: int | None) -> np.ndarray:
    """Frame indices of the music beats: the frames whose one-hot beat ``channel`` is set (empty
    without a channel)."""
    if channel is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.asarray(music)[:, channel] > 0.5)


def shifted(motion: Motion, offset: Sequence[float], name: str | None = None) -> Motion:
    """``motion`` moved by ``offset`` metres (joints and root), e.g. to stand beside another."""
    offset = np.asarray(offset, dtype=np.float64)
    root = None if motion.root is None else motion.root + offset
    return replace(motion, joints=motion.joints + offset, root=root, name=motion.name if name is None else name)


# --------------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class Previews(pl.Callback):
    """Preview videos and beat plots of the stage's own output at the end of validations.

    Args:
        every_n_validations: render at every n-th validation of the fit (the n-th, 2n-th, ...; the
            sanity check does not count). 1: every validation.
        seconds: length of each preview clip (from the start of the validation sequence).
        max_items: previews per validation at most (the first validation sequences, one each).
        size: video height in pixels (width 4/3 of it; a camera view in its frame's aspect).
    """

    def __init__(self, every_n_validations: int = 1, seconds: float = 8.0, max_items: int = 1, size: int = 256) -> None:
        super().__init__()
        if not (_is_int(every_n_validations) and every_n_validations >= 1):
            raise ValueError(f"Previews: every_n_validations must be an integer >= 1 (1: every validation), "
                             f"got {every_n_validations!r}")
        if isinstance(seconds, bool) or not (isinstance(seconds, (int, float)) and math.isfinite(seconds)
                                             and seconds > 0):
            raise ValueError(f"Previews: seconds must be a positive number of seconds per clip, got {seconds!r}")
        if not (_is_int(max_items) and max_items >= 1):
            raise ValueError(f"Previews: max_items must be an integer >= 1 (previews per validation), got {max_items!r}")
        if not (_is_int(size) and 64 <= size <= 2160):
            raise ValueError(f"Previews: size must be a video height in pixels, 64 .. 2160, got {size!r}")
        self.every_n_validations = int(every_n_validations)
        self.seconds = float(seconds)
        self.max_items = int(max_items)
        self.size = int(size)
        self._validations = 0

    @staticmethod
    def _preview_method(pl_module: pl.LightningModule):
        method = getattr(pl_module, "preview", None)
        return method if callable(method) else None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validations = 0
        if self._preview_method(pl_module) is None:
            rank_zero_warn(f"Previews: {type(pl_module).__name__} has no preview(seconds, count) method; this run "
                           "logs no preview videos or beat plots")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._validations += 1
        if self._validations % self.every_n_validations or not trainer.is_global_zero:
            return
        method = self._preview_method(pl_module)
        if method is None:
            return
        step = int(trainer.global_step)
        try:
            items = list(method(self.seconds, self.max_items))[:self.max_items]
        except Exception as e:  # a preview must never stop training
            rank_zero_warn(f"Previews: step {step}: {type(pl_module).__name__}.preview failed ({_one_line(e)}); "
                           "training goes on without it")
            return
        for item in items:
            try:
                self.publish(trainer, item, step)
            except Exception as e:
                rank_zero_warn(f"Previews: step {step}: preview {getattr(item, 'name', item)!r} failed "
                               f"({_one_line(e)}); training goes on without it")

    # -- rendering and logging -----------------------------------------------------------------------
    def render(self, item: Preview, folder: Path, stem: str) -> tuple[Path, Path | None]:
        """``<folder>/<stem>.mp4`` and, with beats, ``<stem>.png`` (each written atomically)."""
        from data.render import render_video

        video = folder / f"{stem}.mp4"
        if item.render is not None:
            video = Path(item.render(video, self.size))
        else:
            video = render_video(item.motions, video, music=item.music, size=self.size, title=item.title,
                                 progress=False)
        plot = None
        if item.beats is not None:
            from metrics.plots import beat_alignment_plot

            b = item.beats
            plot = beat_alignment_plot(b.joints, b.fps, np.asarray(b.music_beats), folder / f"{stem}.png",
                                       title=b.title or item.title or item.name, leader=b.leader)
        return video, plot

    def publish(self, trainer: pl.Trainer, item: Preview, step: int) -> None:
        """Render ``item`` and log it to the run's WandbLoggers, or write it under the log folder."""
        from lightning.pytorch.loggers import WandbLogger

        loggers = list(trainer.loggers)
        wandb_loggers = [lg for lg in loggers if isinstance(lg, WandbLogger)]
        others = [lg for lg in loggers if not isinstance(lg, WandbLogger)]
        with contextlib.ExitStack() as stack:
            if others or not wandb_loggers:  # files to keep
                root = next((lg.log_dir for lg in others if getattr(lg, "log_dir", None)), None)
                folder, stem = Path(root or trainer.default_root_dir) / "previews", f"step{step}_{item.stem}"
            else:  # wandb copies the media into its run: render to a folder that goes afterwards
                folder, stem = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="previews"))), item.stem
            video, plot = self.render(item, folder, stem)
            if wandb_loggers:
                import wandb

                payload: dict[str, Any] = {f"preview/{item.name}": wandb.Video(str(video), format="mp4")}
                if plot is not None:
                    payload[f"beats/{item.name}"] = wandb.Image(str(plot))
                payload["trainer/global_step"] = step  # the x-axis; see the module docstring
                for lg in wandb_loggers:
                    lg.experiment.log(payload)


__all__ = ["BeatPlot", "Preview", "Previews", "beat_frames", "clip_frames", "evaluating", "shifted", "song_path",
           "validation_sequences"]

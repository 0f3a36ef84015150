"""Windowed training samples for the three jobs, over real or synthetic corpora (same code).

Three LightningDataModules read a dataset root through the readers in :mod:`data.datasets` (the
synthetic corpus writes the same layouts, so nothing here knows which one it is reading):

==================  ==========  =========  ======  ======  ===============================================
DataModule          layout      skeleton   fps     window  train stride (reference)
==================  ==========  =========  ======  ======  ===============================================
``SoloDataModule``   AIST++     smpl24      60     240     8 frames (Bailando VQ-VAE step 2 and GPT)
``DuetDataModule``   DD100      smplx55     30     240     4 frames (Duolando ``move``)
``CameraDataModule`` DCM        mmd60       30     150     15 frames (DanceCamera3D: 5 s windows, 0.5 s)
==================  ==========  =========  ======  ======  ===============================================

Everything is loaded into memory at :meth:`setup` (AIST++ is ~1.1M frames: ~300 MB of float32
positions) and a window index ``(sequence, start, stop)`` is built over it; a sample is cut from
the arrays on access. Music features come from :func:`data.music.compute_features` at the motion
fps, once per song (AIST++ dancers share songs; the on-disk cache keeps them across runs), so music
row ``i`` is motion frame ``i``. Motion and music are cropped to the shorter of the two and windows
lie where both are complete.

Motion in a sample (Bailando's root handling):

* ``joints`` (T, J, 3): joint positions minus the pelvis of the same frame (the pelvis slot is 0);
* ``root_vel`` (T, 3): ``v_t = p_{t+1} - p_t`` of the pelvis, the last frame repeating ``v_{T-2}``;
  computed inside the window, so a sample is self-contained;
* ``root_start`` (3,): the pelvis at the window's first frame;
* ``rotations`` (T, J, 6): local joint rotations as 6D (first two matrix columns), when kept.

:func:`data.geometry.absolute_joints` inverts this exactly (``root_vel``'s last frame is never used). Keys of
each task's sample are listed on :class:`SoloDataset`, :class:`DuetDataset` and
:class:`CameraDataset`; batches are the same keys with a leading batch axis, ``name`` a list of
str and ``start`` an int64 tensor.

No normalisation happens here (Duolando's finger scaling, DCM's min-max scalers): those belong to
the stage that learns from the numbers.

Training windows come in a new seeded order every epoch, each DDP rank its share
(:class:`EpochSampler`), through a loader whose position Lightning keeps in every checkpoint
(:class:`ResumableDataLoader`): a run resumed from a mid-epoch checkpoint trains on the rest of that
epoch's windows, in the same order, with the same augmentation draws (:class:`WindowKey`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Iterator, Literal, Mapping, NamedTuple, Sequence, TypeVar

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from data import music as music_lib
from data.camera import CameraTrack
from data.datasets.aistpp import AISTPP_FPS, AISTPPReader
from data.datasets.aistpp import SPLITS as AISTPP_SPLITS
from data.datasets.dcm import DCM_FPS, NUM_BONES, DCMReader, read_motion_json
from data.datasets.dd100 import DD100_FPS, DD100Reader
from data.datasets.dd100 import SPLITS as DD100_SPLITS
from data.errors import InputError, is_int
from data.fk import convert_rotations
from data.geometry import heading_angle, root_relative, root_velocity, to_heading_frame
from data.motion import Motion
from data.skeleton import get_skeleton


EvalMode = Literal["windows", "whole"]
EVAL_MODES = ("windows", "whole")


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowConfig:
    """How sequences are cut into samples."""

    length: int
    """Frames per window (240 = 4 s at 60 fps for solo, 8 s at 30 fps for duet; 150 for camera)."""
    stride: int
    """Frames between the starts of consecutive training windows (8 solo, 4 duet, 15 camera)."""
    fps: float
    """Motion frame rate the dataset must have; music features are computed at this rate."""
    eval_mode: EvalMode = "windows"
    """Validation / test samples: ``windows`` (fixed length, ``eval_stride`` apart) or ``whole``
    (one sample per sequence, cropped to a multiple of ``frame_multiple``; batch size 1)."""
    eval_stride: int | None = None
    """Frames between validation / test windows; ``None`` means ``length`` (no overlap)."""
    frame_multiple: int = 1
    """Whole sequences are cropped to a multiple of this (the tokenizer's temporal stride: 8 at
    60 fps, 4 at 30 fps), and ``length`` must be one too."""
    music_margin: int = 0
    """Frames of music before and after each sample's motion (``music`` is then ``(T + 2 margin, F)``):
    the look-ahead a music encoder reads. Zeros where the song has none (its start and end)."""

    def __post_init__(self) -> None:
        for name in ("length", "stride", "frame_multiple"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"window {name} must be a positive integer, got {value!r}")
        if not is_int(self.music_margin) or self.music_margin < 0:
            raise ValueError(f"music_margin must be an integer >= 0, got {self.music_margin!r}")
        if self.eval_stride is not None and (not is_int(self.eval_stride) or self.eval_stride < 1):
            raise ValueError(f"eval_stride must be a positive integer or None, got {self.eval_stride!r}")
        if self.eval_mode not in EVAL_MODES:
            raise ValueError(f"eval_mode must be one of {EVAL_MODES}, got {self.eval_mode!r}")
        if self.length % self.frame_multiple:
            raise ValueError(f"window length {self.length} is not a multiple of frame_multiple "
                             f"{self.frame_multiple}: the tokenizer would see a ragged last step")
        if isinstance(self.fps, bool) or not (isinstance(self.fps, (int, float)) and self.fps > 0):
            raise ValueError(f"fps must be positive, got {self.fps!r}")
        if not (float(self.fps) * music_lib.HOP_LENGTH).is_integer():
            raise ValueError(f"fps {self.fps} gives no integer audio sample rate (fps x "
                             f"{music_lib.HOP_LENGTH}); music could not be frame-aligned")

    @property
    def effective_eval_stride(self) -> int:
        return self.length if self.eval_stride is None else self.eval_stride


@dataclass(frozen=True)
class MusicConfig:
    """Which music features go with the motion, and where they are cached."""

    feature_set: str
    """A name in :data:`data.music.FEATURE_SETS` (bailando438, aist55, duolando54, edge35)."""
    cache_dir: str | None = None
    """Feature cache folder; ``None`` uses ``$PASDEUX_CACHE`` or ``~/.cache/pasdeux/features``."""

    def __post_init__(self) -> None:
        if self.feature_set not in music_lib.FEATURE_SETS:
            raise ValueError(f"unknown music feature set {self.feature_set!r}; choose one of "
                             f"{', '.join(sorted(music_lib.FEATURE_SETS))}")
        if self.cache_dir is not None and not isinstance(self.cache_dir, (str, os.PathLike)):
            raise ValueError(f"cache_dir must be a path or None, got {self.cache_dir!r}")

    @property
    def dim(self) -> int:
        """F, channels per music frame."""
        return music_lib.FEATURE_SETS[self.feature_set].dim

    @property
    def beat_channel(self) -> int:
        return music_lib.FEATURE_SETS[self.feature_set].beat_channel


@dataclass(frozen=True)
class LoaderConfig:
    """DataLoader settings. ``pin_memory`` follows CUDA availability; workers persist when > 0."""

    batch_size: int = 32
    """Training windows per batch."""
    eval_batch_size: int | None = None
    """Validation / test batch size; ``None``: ``batch_size`` for windows, 1 for whole sequences."""
    num_workers: int = 0
    """DataLoader worker processes (0 loads in the main process)."""
    drop_last: bool = False
    """Drop the last incomplete training batch."""

    def __post_init__(self) -> None:
        if not is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.eval_batch_size is not None and (not is_int(self.eval_batch_size) or self.eval_batch_size < 1):
            raise ValueError(f"eval_batch_size must be a positive integer or None, got {self.eval_batch_size!r}")
        if not is_int(self.num_workers) or self.num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {self.num_workers!r}")
        if not isinstance(self.drop_last, bool):
            raise ValueError(f"drop_last must be true or false, got {self.drop_last!r}")

    @property
    def pin_memory(self) -> bool:
        # Pinning only helps host-to-GPU copies; on a CPU-only machine it warns and costs memory.
        return torch.cuda.is_available()

    @property
    def persistent_workers(self) -> bool:
        # Re-forking workers every epoch re-copies the preloaded corpus' page tables; keep them.
        return self.num_workers > 0


# --------------------------------------------------------------------------------------------------
# Window index
# --------------------------------------------------------------------------------------------------
def window_starts(num_frames: int, length: int, stride: int) -> np.ndarray:
    """Start frames of the full windows of ``length`` frames, ``stride`` apart, in ``num_frames``.

    ``(num_frames - length) // stride + 1`` windows when the sequence is long enough, none otherwise:
    a partial last window is dropped, as every reference does.
    """
    if num_frames < length:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, num_frames - length + 1, stride, dtype=np.int64)


def build_window_index(lengths: Sequence[int], length: int | None, stride: int = 1,
                       frame_multiple: int = 1) -> np.ndarray:
    """``(N, 3)`` int64 rows ``(sequence, start, stop)`` over sequences of the given frame counts.

    ``length=None`` gives one row per sequence, ``stop`` cropped down to a multiple of
    ``frame_multiple`` (sequences shorter than that give none).
    """
    rows: list[np.ndarray] = []
    for s, n in enumerate(lengths):
        if length is None:
            stop = int(n) - int(n) % frame_multiple
            starts = np.zeros(1 if stop > 0 else 0, dtype=np.int64)
            stops = np.full_like(starts, stop)
        else:
            starts = window_starts(int(n), length, stride)
            stops = starts + length
        rows.append(np.stack([np.full_like(starts, s), starts, stops], axis=1))  # (n_s, 3)
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, 3), dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# Training order: seeded per epoch, sharded across ranks, resumable mid-epoch
# --------------------------------------------------------------------------------------------------
class WindowKey(NamedTuple):
    """A training window as the sampler hands it to the dataset: its index and where its random draws
    come from (``numpy.random.default_rng([seed, epoch, index])``), so augmentation depends on the run's
    seed, the epoch and the window only, not on which worker cuts it or whether the run was resumed."""

    index: int
    seed: int
    epoch: int

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, self.index])


def run_seed() -> int:
    """The run's seed: ``seed_everything``'s (Lightning keeps it in ``PL_GLOBAL_SEED``), else 0, as the
    DistributedSampler Lightning would inject takes it."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class EpochSampler(DistributedSampler):
    """The training windows in a new order every epoch, a function of ``(seed, epoch)`` only, this rank's
    share of it, each as a :class:`WindowKey`.

    It is torch's :class:`~torch.utils.data.DistributedSampler` (``randperm`` from a generator seeded
    with ``seed + epoch``, padded to a multiple of the ranks, dealt round-robin), so Lightning leaves it
    in place under DDP (it only swaps in its own for other samplers) and calls :meth:`set_epoch` at each
    epoch; with one process it is a seeded shuffle of every window. Lightning leaving it in place
    means it must know the ranks itself: ``num_replicas`` / ``rank`` default to the process group's
    (one process when there is none). ``skip`` drops the first windows of this rank's share for one
    pass: what :class:`ResumableDataLoader` sets to continue an epoch.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0) -> None:
        grouped = torch.distributed.is_available() and torch.distributed.is_initialized()
        if num_replicas is None:
            num_replicas = torch.distributed.get_world_size() if grouped else 1
        if rank is None:
            rank = torch.distributed.get_rank() if grouped else 0
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.skip = 0

    def __iter__(self) -> Iterator[WindowKey]:
        skip, self.skip = self.skip, 0
        indices = list(super().__iter__())[skip:]
        return iter([WindowKey(int(i), int(self.seed), int(self.epoch)) for i in indices])


class ResumableDataLoader(DataLoader):
    """A training DataLoader over an :class:`EpochSampler` that knows how far into its epoch it is.

    Lightning treats a loader with ``state_dict`` / ``load_state_dict`` as stateful: it saves
    :meth:`state_dict` in every checkpoint (``loops.fit_loop.state_dict.combined_loader``) and hands it
    to :meth:`load_state_dict` before a resumed run's first batch. The state is the pass's epoch, the
    batches handed to the training loop so far (counted as they are handed over, not as workers
    prefetch them) and the sampler's seed, so a run resumed from a mid-epoch checkpoint trains on the
    rest of that epoch's windows in the same order; one resumed at an epoch's end starts the next.

    Each pass starts at its first batch, after Lightning has set the epoch, and its workers' base seed
    comes from this loader's own generator, seeded per epoch: starting a pass draws nothing from torch's
    global RNG, which a resumed run restores to the checkpoint's state (a plain DataLoader draws a seed
    from it for every pass).
    """

    def __init__(self, dataset: Dataset, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(dataset, *args, **kwargs)
        self._epoch: int | None = None  # epoch of the current (or last) pass
        self._batches = 0  # batches that pass has handed out
        self._resume: tuple[int, int] | None = None  # (epoch, batches) from load_state_dict

    def __iter__(self) -> Iterator:
        return self._pass()

    def _pass(self) -> Iterator:
        sampler = self.sampler
        epoch = int(getattr(sampler, "epoch", 0))
        done = 0
        if self._resume is not None:
            resume_epoch, resume_batches = self._resume
            self._resume = None
            if resume_epoch == epoch and isinstance(sampler, EpochSampler):
                done = resume_batches
                sampler.skip = done * int(self.batch_size or 1)
        self.generator.manual_seed(int(np.random.SeedSequence([int(getattr(sampler, "seed", 0)), epoch])
                                       .generate_state(1, np.uint64)[0]))
        self._epoch, self._batches = epoch, done
        for batch in super().__iter__():
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        sampler = self.sampler
        return {"epoch": int(getattr(sampler, "epoch", 0) if self._epoch is None else self._epoch),
                "batches": int(self._batches), "seed": int(getattr(sampler, "seed", 0)),
                "num_replicas": int(getattr(sampler, "num_replicas", 1)), "windows": len(self.dataset),
                "batch_size": int(self.batch_size or 1)}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        sampler = self.sampler
        here = self.state_dict()
        changed = [k for k in ("num_replicas", "windows", "batch_size") if k in state and int(state[k]) != here[k]]
        if changed:
            rank_zero_warn(f"resuming with a different {', '.join(changed)} than the checkpoint's run "
                           f"({', '.join(f'{k} {state[k]} -> {here[k]}' for k in changed)}): the resumed epoch "
                           "skips as many batches as were trained, but not the same windows")
        if isinstance(sampler, EpochSampler):
            sampler.seed = int(state.get("seed", sampler.seed))
            sampler.set_epoch(int(state["epoch"]))  # a pass started before Lightning sets the epoch uses it
        self._resume = (int(state["epoch"]), int(state["batches"]))


# --------------------------------------------------------------------------------------------------
# In-memory sequences (float32, frame-aligned, cropped to motion/music overlap)
# --------------------------------------------------------------------------------------------------
@dataclass
class DancerArrays:
    """One dancer's preloaded motion."""

    joints: np.ndarray
    """(T, J, 3) float32 absolute joint positions, metres."""
    rotations: np.ndarray | None = None
    """(T, J, 6) float32 local rotations as 6D, or ``None`` (positions-only source, or not kept)."""

    def crop(self, n: int) -> "DancerArrays":
        return DancerArrays(self.joints[:n], None if self.rotations is None else self.rotations[:n])


@dataclass
class SoloSequence:
    name: str
    dancer: DancerArrays
    music: np.ndarray
    """(T, F) float32 music features, row i = motion frame i (a view of the song's features)."""

    @property
    def num_frames(self) -> int:
        return int(self.dancer.joints.shape[0])


@dataclass
class DuetSequence:
    name: str
    leader: DancerArrays
    follower: DancerArrays
    music: np.ndarray
    """(T, F) float32."""

    @property
    def num_frames(self) -> int:
        return int(self.leader.joints.shape[0])


@dataclass
class CameraSequence:
    name: str
    track: CameraTrack
    """The camera (raw VMD values, float64), cropped to the dance and the song."""
    joints: np.ndarray
    """(T, 60, 3) float32 world positions of the 60 MMD bones, DCM units (MMD units, saba's frame)."""
    music: np.ndarray
    """(T, F) float32."""

    @property
    def num_frames(self) -> int:
        return self.track.num_frames


# --------------------------------------------------------------------------------------------------
# Datasets (plain torch; no Lightning)
# --------------------------------------------------------------------------------------------------
S = TypeVar("S", SoloSequence, DuetSequence, CameraSequence)
Sample = dict[str, object]


def _tensor(a: np.ndarray) -> torch.Tensor:
    # A copy: a sample must not alias the preloaded corpus (in-place edits would corrupt it).
    return torch.tensor(a, dtype=torch.float32)


def dancer_sample(dancer: DancerArrays, start: int, stop: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """Frames ``[start, stop)`` of one dancer as ``joints`` (root-relative), ``root_vel``,
    ``root_start`` and ``rotations`` (when present), keys prefixed by ``prefix``."""
    joints, root = root_relative(_tensor(dancer.joints[start:stop]))  # (T, J, 3), (T, 3)
    out = {f"{prefix}joints": joints, f"{prefix}root_vel": root_velocity(root),
           f"{prefix}root_start": root[0].clone()}
    if dancer.rotations is not None:
        out[f"{prefix}rotations"] = _tensor(dancer.rotations[start:stop])  # (T, J, 6)
    return out


class WindowedDataset(Dataset, Generic[S]):
    """Samples cut from preloaded sequences by a ``(sequence, start, stop)`` index.

    Args:
        sequences: the preloaded sequences.
        length: frames per window, or ``None`` for one sample per whole sequence.
        stride: frames between window starts.
        frame_multiple: whole sequences are cropped to a multiple of this.
        music_margin: frames of music each side of a sample's motion (see :class:`WindowConfig`).
    """

    def __init__(self, sequences: Sequence[S], length: int | None, stride: int = 1,
                 frame_multiple: int = 1, music_margin: int = 0) -> None:
        self.sequences = list(sequences)
        self.length = length
        self.music_margin = music_margin
        self.index = build_window_index([s.num_frames for s in self.sequences], length, stride,
                                        frame_multiple)  # (N, 3)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, key: int | WindowKey) -> Sample:
        """Window ``key``: an index (random draws, if the task makes any, from torch's global RNG), or
        a :class:`WindowKey` (what the training loader hands out: the draws from the key's own generator)."""
        rng = None
        if isinstance(key, WindowKey):
            key, rng = key.index, key.rng()
        s, start, stop = (int(v) for v in self.index[key])
        seq = self.sequences[s]
        return {**self.sample(seq, start, stop, rng), "name": seq.name, "start": start}

    def sample(self, seq: S, start: int, stop: int, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """The task's tensors for frames ``[start, stop)`` of ``seq`` (each task overrides this); random
        draws (augmentation) from ``rng``, or torch's global RNG when it is None."""
        raise NotImplementedError(f"{type(self).__name__} does not define sample()")

    def music(self, seq: S, start: int, stop: int) -> torch.Tensor:
        """Music frames ``[start - margin, stop + margin)`` ``(T + 2 margin, F)``, zeros outside the song."""
        return music_window(seq.music, start, stop, self.music_margin)

    @property
    def num_frames(self) -> int:
        """Frames covered by the sequences (after cropping to the music)."""
        return sum(s.num_frames for s in self.sequences)


def music_window(music: np.ndarray, start: int, stop: int, margin: int) -> torch.Tensor:
    """Frames ``[start - margin, stop + margin)`` of a song's ``(T, F)`` features, zeros outside the song:
    what every dataset's ``music`` is (and what an RL replay rebuilds a window's music from)."""
    lo, hi = max(0, start - margin), min(music.shape[0], stop + margin)
    out = np.zeros((stop - start + 2 * margin, music.shape[1]), dtype=np.float32)
    out[lo - (start - margin):hi - (start - margin)] = music[lo:hi]
    return torch.from_numpy(out)


class SoloDataset(WindowedDataset[SoloSequence]):
    """Solo samples. Keys and shapes (T frames, J = 24, F music channels), float32 unless noted:

    ``joints`` (T, J, 3) root-relative; ``root_vel`` (T, 3); ``root_start`` (3,);
    ``rotations`` (T, J, 6) when kept; ``music`` (T + 2 music_margin, F); ``name`` str; ``start`` int
    (frame); ``tempo`` float (1.0 unless tempo augmentation stretched the sample).

    Tempo augmentation (``tempo_range=(lo, hi)``, training): each sample plays dance and music together
    ``f`` times as fast, ``f`` log-uniform in the range (the window then reads ``f * T`` source frames,
    fewer where the sequence ends first), both resampled linearly in time, the music's beat one-hot
    (channel ``beat_channel``) moved to the stretched beat frames. A song's tempo is then no longer a
    label the model can learn its genre's moves by: held-out songs have tempi their genre's training
    songs lack (AIST++ and the synthetic corpus alike). In training the factor is drawn from the
    window's :class:`WindowKey` (the run's seed, the epoch, the window), so it is the same with any
    number of loader workers and after a resume.
    """

    def __init__(self, sequences: Sequence[SoloSequence], length: int | None, stride: int = 1,
                 frame_multiple: int = 1, music_margin: int = 0, tempo_range: tuple[float, float] | None = None,
                 beat_channel: int | None = None) -> None:
        super().__init__(sequences, length, stride, frame_multiple, music_margin)
        self.tempo_range = check_tempo_range(tempo_range)
        self.beat_channel = beat_channel

    def sample(self, seq: SoloSequence, start: int, stop: int, rng: np.random.Generator | None = None
               ) -> dict[str, torch.Tensor]:
        if self.tempo_range is None:
            return {**dancer_sample(seq.dancer, start, stop), "music": self.music(seq, start, stop), "tempo": 1.0}
        lo, hi = self.tempo_range
        u = torch.rand(()).item() if rng is None else float(rng.random())
        factor = float(np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * u))
        T, m = stop - start, self.music_margin
        factor = min(factor, (seq.num_frames - 1 - start) / max(T - 1, 1))  # do not read past the sequence
        src = start + np.arange(T) * factor  # (T,) source frame of each output frame
        dancer = DancerArrays(_lerp_frames(seq.dancer.joints, src),
                              None if seq.dancer.rotations is None else _lerp_frames(seq.dancer.rotations, src))
        music_t = start + np.arange(-m, T + m) * factor
        music = _lerp_frames(seq.music, music_t, outside=0.0)  # (T + 2m, F), zeros past the song as the margins
        if self.beat_channel is not None:
            beats = np.nonzero(seq.music[:, self.beat_channel] > 0.5)[0]
            music[:, self.beat_channel] = 0.0
            idx = np.round((beats - start) / factor).astype(np.int64) + m
            music[idx[(idx >= 0) & (idx < T + 2 * m)], self.beat_channel] = 1.0
        return {**dancer_sample(dancer, 0, T), "music": torch.from_numpy(music.astype(np.float32)), "tempo": factor}


def check_tempo_range(tempo_range) -> tuple[float, float] | None:
    """``(lo, hi)`` as floats, or None; a range must be positive and hold 1."""
    if tempo_range is None:
        return None
    lo, hi = (float(v) for v in tempo_range)
    if not 0 < lo <= 1 <= hi:
        raise ValueError(f"tempo_range must hold 1 and be positive (e.g. [0.8, 1.25]), got {tempo_range!r}")
    return lo, hi


def _lerp_frames(a: np.ndarray, t: np.ndarray, outside: float | None = None) -> np.ndarray:
    """Rows of ``a`` (T, ...) at fractional frame times ``t``, linear between frames; times outside
    ``[0, T - 1]`` get ``outside`` (or the edge row when None)."""
    T = a.shape[0]
    tc = np.clip(t, 0, T - 1)
    i0 = np.floor(tc).astype(np.int64)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (tc - i0).reshape(-1, *([1] * (a.ndim - 1)))
    out = (1 - w) * a[i0] + w * a[i1]
    if outside is not None:
        out[(t < 0) | (t > T - 1)] = outside
    return out.astype(np.float32)


class DuetDataset(WindowedDataset[DuetSequence]):
    """Duet samples (J = 55). Each dancer as in :class:`SoloDataset` with prefixes ``leader_`` and
    ``follower_`` (``leader_joints``, ``leader_root_vel``, ``leader_root_start``,
    ``leader_rotations``, and the same for the follower), plus:

    ``follower_root_rel`` (T, 3): follower pelvis minus leader pelvis, world axes;
    ``follower_root_rel_local`` (T, 3): the same vector in the leader's heading frame of that frame
    (x to the leader's left, y up, z where the leader faces; see :func:`data.geometry.heading_angle`);
    ``music`` (T, F); ``name``; ``start``.
    """

    def __init__(self, sequences: Sequence[DuetSequence], length: int | None, stride: int = 1,
                 frame_multiple: int = 1, music_margin: int = 0, skeleton: str = "smplx55") -> None:
        super().__init__(sequences, length, stride, frame_multiple, music_margin)
        sk = get_skeleton(skeleton)
        self.hips = (sk.index("left_hip"), sk.index("right_hip"))

    def sample(self, seq: DuetSequence, start: int, stop: int, rng: np.random.Generator | None = None
               ) -> dict[str, torch.Tensor]:
        out = {**dancer_sample(seq.leader, start, stop, "leader_"),
               **dancer_sample(seq.follower, start, stop, "follower_")}
        rel = _tensor(seq.follower.joints[start:stop, 0] - seq.leader.joints[start:stop, 0])  # (T, 3)
        # The hip-to-hip vector does not change when the pelvis is subtracted: relative joints do.
        heading = heading_angle(out["leader_joints"], *self.hips)  # (T,)
        out["follower_root_rel"] = rel
        out["follower_root_rel_local"] = to_heading_frame(rel, heading)
        out["music"] = self.music(seq, start, stop)
        return out


class CameraDataset(WindowedDataset[CameraSequence]):
    """Camera samples: ``camera`` (T, 8) DCM polar [d, Px, Py, Pz, rx, ry, rz, fov] (raw VMD values,
    :attr:`data.camera.CameraTrack.polar`); ``joints`` (T, 60, 3) absolute world positions in DCM
    units (the camera's frame and units, as DanceCamera3D feeds them); ``music`` (T, F); ``name``;
    ``start``."""

    def sample(self, seq: CameraSequence, start: int, stop: int, rng: np.random.Generator | None = None
               ) -> dict[str, torch.Tensor]:
        return {"camera": _tensor(seq.track.slice(start, stop).polar.astype(np.float32)),  # (T, 8)
                "joints": _tensor(seq.joints[start:stop]), "music": self.music(seq, start, stop)}


# --------------------------------------------------------------------------------------------------
# Loading from disk
# --------------------------------------------------------------------------------------------------
class SongFeatures:
    """Music features per song, computed once: every dancer of a song shares one ``(T, F)`` array.

    :func:`data.music.compute_features` caches on disk by audio content; this keeps the arrays in
    memory for the life of a DataModule, so a song is read and decoded once per run.
    """

    def __init__(self, fps: float, music: MusicConfig) -> None:
        self.fps = float(fps)
        self.music = music
        self._songs: dict[str, np.ndarray] = {}

    def __call__(self, path: str | os.PathLike) -> np.ndarray:
        key = str(Path(path).resolve())
        if key not in self._songs:
            result = music_lib.compute_features(path, fps=self.fps, feature_set=self.music.feature_set,
                                                cache_dir=self.music.cache_dir)
            features = np.ascontiguousarray(result.features, dtype=np.float32)  # (T, F)
            features.setflags(write=False)
            self._songs[key] = features
        return self._songs[key]

    def __len__(self) -> int:
        return len(self._songs)


def _check_fps(fps: float, expected: float, what: str) -> None:
    if abs(float(fps) - float(expected)) > 1e-6:
        raise InputError(what, f"motion is {fps:g} fps, the data module expects {expected:g}",
                         "resample the motion or use the DataModule made for this dataset")


def _dancer_arrays(motion: Motion, with_rotations: bool) -> DancerArrays:
    joints = motion.joints.astype(np.float32)  # (T, J, 3)
    rotations = None
    if with_rotations and motion.rotations is not None:
        with torch.no_grad():
            six = convert_rotations(torch.from_numpy(motion.rotations), "axis_angle", "6d")  # (T, J, 6)
        rotations = six.numpy().astype(np.float32)
    return DancerArrays(joints, rotations)


def load_solo_sequences(reader: AISTPPReader, names: Sequence[str], songs: SongFeatures, fps: float,
                        with_rotations: bool = True) -> list[SoloSequence]:
    """Load AIST++-layout sequences, each cropped to the frames its song covers."""
    out = []
    for name in names:
        motion = reader.load(name)
        _check_fps(motion.fps, fps, str(reader.motion_path(name)))
        features = songs(reader.music_path(name))  # (T_music, F)
        n = min(motion.num_frames, features.shape[0])
        out.append(SoloSequence(name, _dancer_arrays(motion, with_rotations).crop(n), features[:n]))
    return out


def load_duet_sequences(reader: DD100Reader, names: Sequence[str], songs: SongFeatures, fps: float,
                        with_rotations: bool = True) -> list[DuetSequence]:
    """Load DD100-layout duets (leader and follower cropped to the shorter, then to the song)."""
    out = []
    for name in names:
        leader, follower = reader.load_pair(name)  # already cropped to the shorter dancer
        _check_fps(leader.fps, fps, str(reader.motion_path(name, "leader")))
        features = songs(reader.music_path(name))
        n = min(leader.num_frames, features.shape[0])
        out.append(DuetSequence(name, _dancer_arrays(leader, with_rotations).crop(n),
                                _dancer_arrays(follower, with_rotations).crop(n), features[:n]))
    return out


def load_camera_sequences(reader: DCMReader, names: Sequence[str], songs: SongFeatures) -> list[CameraSequence]:
    """Load DCM-layout pieces, cropped to the shortest of dance, camera and song.

    Joints are read in DCM's own units (not the metres :meth:`DCMReader.load` gives) so they share
    units and frame with the camera's distance and interest point; ``data.camera.dcm_to_metres``
    converts.
    """
    out = []
    for name in names:
        joints = read_motion_json(reader.motion_path(name))  # (T, 60, 3) DCM units
        track = reader.load_camera(name)  # T' frames
        features = songs(reader.audio_path(name))
        n = min(joints.shape[0], track.num_frames, features.shape[0])
        out.append(CameraSequence(name, track.slice(0, n), joints[:n].astype(np.float32), features[:n]))
    return out


# --------------------------------------------------------------------------------------------------
# DataModules
# --------------------------------------------------------------------------------------------------
ROLES = ("train", "val", "test")
_STAGE_ROLES = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}


def _check_split(value: str, allowed: tuple[str, ...], what: str, dataset: str) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{what} {value!r} is not a {dataset} split; use one of {', '.join(allowed)}")
    return value.lower()


class _WindowedDataModule(pl.LightningDataModule):
    """Shared machinery: configs, per-split preloading, song cache, loaders. Subclasses say how to
    open the reader, list a split, find a song and load sequences."""

    dataset_name: str = ""
    dataset_class: type[WindowedDataset] = WindowedDataset

    def __init__(self, root: str | os.PathLike, window: WindowConfig, music: MusicConfig,
                 loader: LoaderConfig, splits: dict[str, str]) -> None:
        super().__init__()
        self.root = Path(root)
        self.window = window
        self.music = music
        self.loader = loader
        self.splits = splits
        if window.eval_mode == "whole" and (loader.eval_batch_size or 1) != 1:
            raise ValueError("eval_mode 'whole' gives variable-length samples: eval_batch_size must be "
                             f"1 or None, got {loader.eval_batch_size}")
        self.songs = SongFeatures(window.fps, music)
        self._reader = None
        self._sequences: dict[str, list] = {}  # split name -> preloaded sequences (val may equal test)
        self._datasets: dict[str, WindowedDataset] = {}  # role -> dataset

    # -- what each task's subclass provides -------------------------------------------------------
    def _open_reader(self):
        """The dataset reader over ``self.root``."""
        raise NotImplementedError(f"{type(self).__name__} does not define _open_reader()")

    def _names(self, split: str) -> list[str]:
        """Sequence names of a split, in the reader's order."""
        raise NotImplementedError(f"{type(self).__name__} does not define _names()")

    def _song_path(self, name: str) -> Path:
        """The audio file of a sequence."""
        raise NotImplementedError(f"{type(self).__name__} does not define _song_path()")

    def _load(self, names: list[str]) -> list:
        """Preload the named sequences (frame-aligned with their music)."""
        raise NotImplementedError(f"{type(self).__name__} does not define _load()")

    def _make_dataset(self, sequences: list, length: int | None, stride: int, train: bool = False) -> WindowedDataset:
        return self.dataset_class(sequences, length, stride, self.window.frame_multiple, self.window.music_margin)

    # -- facts later stages link to ----------------------------------------------------------------
    @property
    def fps(self) -> float:
        return self.window.fps

    @property
    def music_dim(self) -> int:
        """F: channels of the ``music`` tensors."""
        return self.music.dim

    # -- loading ------------------------------------------------------------------------------------
    @property
    def reader(self):
        if self._reader is None:
            self._reader = self._open_reader()
        return self._reader

    def prepare_data(self) -> None:
        """Compute (and cache on disk) the music features of every song in the configured splits.

        Lightning calls this on one process before :meth:`setup` runs on all of them, so DDP ranks
        read the cache instead of all decoding the same songs.
        """
        for split in dict.fromkeys(self.splits.values()):
            for name in self._names(split):
                self.songs(self._song_path(name))

    def setup(self, stage: str | None = None) -> None:
        for role in _STAGE_ROLES.get(stage, ROLES) if stage else ROLES:
            self.dataset(role)

    def sequences(self, split: str) -> list:
        """The preloaded sequences of a split (loaded on first use)."""
        if split not in self._sequences:
            self._sequences[split] = self._load(self._names(split))
        return self._sequences[split]

    def dataset(self, role: str) -> WindowedDataset:
        """The ``train``, ``val`` or ``test`` dataset, built on first use."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if role not in self._datasets:
            split = self.splits[role]
            sequences = self.sequences(split)
            w = self.window
            if role == "train":
                ds = self._make_dataset(sequences, w.length, w.stride, train=True)
                what = f"{w.length}-frame windows (stride {w.stride})"
            elif w.eval_mode == "windows":
                ds = self._make_dataset(sequences, w.length, w.effective_eval_stride)
                what = f"{w.length}-frame windows (stride {w.effective_eval_stride})"
            else:
                ds = self._make_dataset(sequences, None, 1)
                what = f"whole sequences (cropped to a multiple of {w.frame_multiple} frames)"
            if len(ds) == 0:
                longest = max((s.num_frames for s in sequences), default=0)
                raise InputError(self.root, f"{self.dataset_name} split '{split}' ({role}) gives no "
                                            f"{what}: {len(sequences)} sequence(s), the longest "
                                            f"{longest} frames with its music",
                                 "use a shorter window, another split, or a larger corpus")
            rank_zero_info(f"{type(self).__name__} {role} ({split}): {len(sequences)} sequences, "
                           f"{ds.num_frames} frames, {len(ds)} {what}")
            self._datasets[role] = ds
        return self._datasets[role]

    # -- loaders ------------------------------------------------------------------------------------
    def _loader(self, role: str) -> DataLoader:
        """Training: a :class:`ResumableDataLoader` over an :class:`EpochSampler` (seeded with the run's
        seed, sharded over the trainer's ranks); validation / test: in order. Neither draws from torch's
        global RNG when a pass starts."""
        ds = self.dataset(role)
        common = dict(num_workers=self.loader.num_workers, persistent_workers=self.loader.persistent_workers,
                      pin_memory=self.loader.pin_memory, generator=torch.Generator())
        if role == "train":
            trainer = self.trainer
            world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
            sampler = EpochSampler(ds, num_replicas=world, rank=rank, seed=run_seed())
            return ResumableDataLoader(ds, batch_size=self.loader.batch_size, sampler=sampler,
                                       drop_last=self.loader.drop_last, **common)
        if self.loader.eval_batch_size is not None:
            batch_size = self.loader.eval_batch_size
        else:
            batch_size = 1 if self.window.eval_mode == "whole" else self.loader.batch_size
        return DataLoader(ds, batch_size=batch_size, shuffle=False, **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")


class SoloDataModule(_WindowedDataModule):
    """Solo dance windows from an AIST++-layout folder (real AIST++ or ``cli.py synth``'s ``aistpp/``).

    SMPL-24 at 60 fps. Samples: see :class:`SoloDataset`.

    Args:
        root: AIST++ annotations folder (``motions/``, ``splits/``, ``ignore_list.txt``).
        music_dir: folder of ``<music_id>.wav``; default ``<root>/all_musics``.
        window: frames per training window (240 = 4 s, Bailando).
        stride: frames between training windows (8 for Bailando's VQ-VAE step 2 and GPT, 40 step 1).
        eval_mode: validation/test samples: "windows" (fixed length) or "whole" (whole sequences,
            batch size 1).
        eval_stride: frames between validation/test windows; default: the window length.
        frame_multiple: whole sequences are cropped to a multiple of this (token stride, 8 at 60 fps).
        feature_set: music feature set (bailando438, aist55, duolando54, edge35).
        cache_dir: music feature cache; default $PASDEUX_CACHE or ~/.cache/pasdeux/features.
        rotations: also emit 6D joint rotations (T, 24, 6).
        train_split: AIST++ split for training (train, val, test, all).
        val_split: AIST++ split for validation.
        test_split: AIST++ split for testing (Bailando evaluates on val + test: run both).
        batch_size: training windows per batch.
        eval_batch_size: validation/test batch size; default batch_size (1 for whole sequences).
        num_workers: DataLoader workers (persistent when > 0).
        drop_last: drop the last incomplete training batch.
        music_margin: frames of music each side of a sample's motion (a music encoder's look-ahead).
        tempo_range: training only: play each window's dance and music together faster or slower, by a
            factor log-uniform in ``[lo, hi]`` (e.g. [0.8, 1.25]); None: off. See :class:`SoloDataset`.
    """

    dataset_name = "AIST++"
    dataset_class = SoloDataset

    def __init__(self, root: str, music_dir: str | None = None, window: int = 240, stride: int = 8,
                 eval_mode: EvalMode = "windows", eval_stride: int | None = None, frame_multiple: int = 8,
                 feature_set: str = "bailando438", cache_dir: str | None = None, rotations: bool = True,
                 train_split: str = "train", val_split: str = "val", test_split: str = "test",
                 batch_size: int = 32, eval_batch_size: int | None = None, num_workers: int = 0,
                 drop_last: bool = False, music_margin: int = 0, tempo_range: list[float] | None = None) -> None:
        allowed = (*AISTPP_SPLITS, "all")
        splits = {"train": _check_split(train_split, allowed, "train_split", "AIST++"),
                  "val": _check_split(val_split, allowed, "val_split", "AIST++"),
                  "test": _check_split(test_split, allowed, "test_split", "AIST++")}
        super().__init__(root, WindowConfig(window, stride, AISTPP_FPS, eval_mode, eval_stride, frame_multiple,
                                            music_margin),
                         MusicConfig(feature_set, cache_dir),
                         LoaderConfig(batch_size, eval_batch_size, num_workers, drop_last), splits)
        self.music_dir = music_dir
        self.rotations = rotations
        self.num_joints = get_skeleton("smpl24").num_joints
        self.tempo_range = check_tempo_range(tempo_range)  # checked now, not at the first batch
        self.save_hyperparameters()

    def _make_dataset(self, sequences: list, length: int | None, stride: int, train: bool = False) -> SoloDataset:
        return SoloDataset(sequences, length, stride, self.window.frame_multiple, self.window.music_margin,
                           tempo_range=self.tempo_range if train else None, beat_channel=self.music.beat_channel)

    def _open_reader(self):
        return AISTPPReader(self.root, music_dir=self.music_dir)

    def _names(self, split: str) -> list[str]:
        return self.reader.sequences(split)

    def _song_path(self, name: str) -> Path:
        return self.reader.music_path(name)

    def _load(self, names: list[str]) -> list[SoloSequence]:
        return load_solo_sequences(self.reader, names, self.songs, self.fps, self.rotations)


class DuetDataModule(_WindowedDataModule):
    """Duet windows (leader + follower + music) from a DD100-layout folder (real or synthetic).

    SMPL-X 55 joints at 30 fps. Samples: see :class:`DuetDataset`. DD100 has only train and test
    splits (Duolando's rule, keyed on the choreography), so validation uses test by default, as
    Duolando does.

    Args:
        root: DD100 folder (``motion/smplx/{all,train,test}/``, ``music/mp3/...``).
        window: frames per training window (240 = 8 s, Duolando).
        stride: frames between training windows (4, Duolando's ``move``).
        eval_mode: validation/test samples: "windows" (fixed length) or "whole" (whole duets,
            batch size 1, as Duolando tests).
        eval_stride: frames between validation/test windows; default: the window length.
        frame_multiple: whole duets are cropped to a multiple of this (token stride, 4 at 30 fps).
        feature_set: music feature set (duolando54 is Duolando's; bailando438, aist55, edge35).
        cache_dir: music feature cache; default $PASDEUX_CACHE or ~/.cache/pasdeux/features.
        rotations: also emit 6D joint rotations (T, 55, 6) per dancer.
        train_split: DD100 split for training (train, test, all).
        val_split: DD100 split for validation.
        test_split: DD100 split for testing.
        batch_size: training windows per batch.
        eval_batch_size: validation/test batch size; default batch_size (1 for whole sequences).
        num_workers: DataLoader workers (persistent when > 0).
        drop_last: drop the last incomplete training batch.
        music_margin: frames of music each side of a sample's motion (a music encoder's look-ahead).
    """

    dataset_name = "DD100"
    dataset_class = DuetDataset

    def __init__(self, root: str, window: int = 240, stride: int = 4, eval_mode: EvalMode = "windows",
                 eval_stride: int | None = None, frame_multiple: int = 4, feature_set: str = "duolando54",
                 cache_dir: str | None = None, rotations: bool = True, train_split: str = "train",
                 val_split: str = "test", test_split: str = "test", batch_size: int = 32,
                 eval_batch_size: int | None = None, num_workers: int = 0, drop_last: bool = False,
                 music_margin: int = 0) -> None:
        allowed = (*DD100_SPLITS, "all")
        splits = {"train": _check_split(train_split, allowed, "train_split", "DD100"),
                  "val": _check_split(val_split, allowed, "val_split", "DD100"),
                  "test": _check_split(test_split, allowed, "test_split", "DD100")}
        super().__init__(root, WindowConfig(window, stride, DD100_FPS, eval_mode, eval_stride, frame_multiple,
                                            music_margin),
                         MusicConfig(feature_set, cache_dir),
                         LoaderConfig(batch_size, eval_batch_size, num_workers, drop_last), splits)
        self.rotations = rotations
        self.num_joints = get_skeleton("smplx55").num_joints
        self.save_hyperparameters()

    def _open_reader(self):
        return DD100Reader(self.root)

    def _names(self, split: str) -> list[str]:
        return self.reader.duets(split)

    def _song_path(self, name: str) -> Path:
        return self.reader.music_path(name)

    def _load(self, names: list[str]) -> list[DuetSequence]:
        return load_duet_sequences(self.reader, names, self.songs, self.fps, self.rotations)


class CameraDataModule(_WindowedDataModule):
    """Camera windows (camera + dance + music) from a DCM-layout folder (real or synthetic).

    30 fps; the dance is the 60 MMD bones. Samples: see :class:`CameraDataset`.

    Args:
        root: the DCM_data folder (``amc_data_split_by_categories/``, ``split/``) or the
            ``amc_data_split_by_categories`` folder itself.
        window: frames per training window (150 = 5 s, DanceCamera3D).
        stride: frames between training windows (15 = 0.5 s, DanceCamera3D).
        eval_mode: validation/test samples: "windows" (fixed length) or "whole" (whole pieces,
            batch size 1).
        eval_stride: frames between validation/test windows; default: the window length.
        frame_multiple: whole pieces are cropped to a multiple of this.
        feature_set: music feature set (edge35 is DanceCamera3D's non-Jukebox baseline;
            bailando438, aist55, duolando54).
        cache_dir: music feature cache; default $PASDEUX_CACHE or ~/.cache/pasdeux/features.
        train_split: DCM split for training (train, val, test, all).
        val_split: DCM split for validation.
        test_split: DCM split for testing.
        batch_size: training windows per batch.
        eval_batch_size: validation/test batch size; default batch_size (1 for whole sequences).
        num_workers: DataLoader workers (persistent when > 0).
        drop_last: drop the last incomplete training batch.
    """

    dataset_name = "DCM"
    dataset_class = CameraDataset

    def __init__(self, root: str, window: int = 150, stride: int = 15, eval_mode: EvalMode = "windows",
                 eval_stride: int | None = None, frame_multiple: int = 1, feature_set: str = "edge35",
                 cache_dir: str | None = None, train_split: str = "train", val_split: str = "val",
                 test_split: str = "test", batch_size: int = 32, eval_batch_size: int | None = None,
                 num_workers: int = 0, drop_last: bool = False) -> None:
        allowed = ("train", "val", "test", "all")
        splits = {"train": _check_split(train_split, allowed, "train_split", "DCM"),
                  "val": _check_split(val_split, allowed, "val_split", "DCM"),
                  "test": _check_split(test_split, allowed, "test_split", "DCM")}
        super().__init__(root, WindowConfig(window, stride, DCM_FPS, eval_mode, eval_stride, frame_multiple),
                         MusicConfig(feature_set, cache_dir),
                         LoaderConfig(batch_size, eval_batch_size, num_workers, drop_last), splits)
        self.num_joints = NUM_BONES
        self.save_hyperparameters()

    def _open_reader(self):
        return DCMReader(self.root)

    def _names(self, split: str) -> list[str]:
        return self.reader.sequences(split)

    def _song_path(self, name: str) -> Path:
        return self.reader.audio_path(name)

    def _load(self, names: list[str]) -> list[CameraSequence]:
        return load_camera_sequences(self.reader, names, self.songs)


__all__ = [
    "WindowConfig", "MusicConfig", "LoaderConfig",
    "window_starts", "build_window_index", "music_window",
    "WindowKey", "EpochSampler", "ResumableDataLoader", "run_seed",
    "DancerArrays", "SoloSequence", "DuetSequence", "CameraSequence",
    "WindowedDataset", "SoloDataset", "DuetDataset", "CameraDataset", "dancer_sample",
    "SongFeatures", "load_solo_sequences", "load_duet_sequences", "load_camera_sequences",
    "SoloDataModule", "DuetDataModule", "CameraDataModule",
]

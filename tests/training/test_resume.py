"""Fault tolerance. A training run SIGKILLed mid-epoch and resumed with ``cli.py fit --ckpt_path last``
ends with the same weights, optimiser, schedule and RNG state as a run that was never interrupted;
so does a stage whose training and validation both draw random numbers, in one process (with and
without loader workers, resumed from a step's and from a validation's checkpoint) and on two DDP
ranks. Checkpoints are written atomically, and a bad ``--ckpt_path`` is one line, exit status 2,
nothing written.

The CLI run is the quick solo tokenizer config shrunk to seconds (tiny part VQ-VAEs, 32-frame windows, a
three-sequence AIST++-layout corpus written here, 15 steps over two epochs), with a checkpoint every 5
training steps (``last.ckpt``) and a validation at the same steps. The killed run stops for its
SIGKILL right after step 5's checkpoint, half-way through epoch 0 with the next batch already
fetched; the resumed run must continue with that epoch's remaining windows in their order, then epoch
1's order, the same k-means / dead-code draws, and the validation it skips on resume (Lightning does
not repeat the validation of the step it resumes at) must not have moved the training RNG.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from training.stage import Stage

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "configs" / "quick" / "solo_tokenizer.yaml"
SAVE_EVERY = 5  # steps between checkpoints (and validations)
MAX_STEPS = 15
KILL_AFTER = 5  # mid-epoch: 39 windows in batches of 4 are 10 batches an epoch
AUDIO_SR = 22050
TRAIN = ("gBR_sBM_cAll_d04_mBR0_ch01", "gBR_sBM_cAll_d05_mBR0_ch02", "gPO_sBM_cAll_d01_mPO1_ch01")
VAL = ("gLO_sBM_cAll_d02_mLO2_ch01",)
TEST = ("gHO_sBM_cAll_d03_mHO3_ch01",)


class PauseAfterStep(pl.Callback):
    """The run to be killed: once step ``step``'s checkpoint is written and the next training batch
    fetched, write ``marker`` and wait for the SIGKILL."""

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            Path(self.marker).write_text(str(batch_idx))
            time.sleep(600)


def write_corpus(root: Path) -> Path:
    """An AIST++ folder: 130-frame smooth random motions (13 windows of 32 frames at stride 8 each)
    and 2.5 s click-track songs."""
    rng = np.random.default_rng(0)
    for music in ("mBR0", "mPO1", "mLO2", "mHO3"):
        t = np.arange(int(2.5 * AUDIO_SR)) / AUDIO_SR
        y = 0.15 * np.sin(2 * np.pi * 220.0 * t)
        for beat in np.arange(0.25, 2.45, 0.5):
            i = int(beat * AUDIO_SR)
            y[i:i + 600] += 0.8 * np.exp(-np.arange(600) / 90.0) * rng.standard_normal(600)[:len(y[i:i + 600])]
        (root / "all_musics").mkdir(parents=True, exist_ok=True)
        sf.write(root / "all_musics" / f"{music}.wav", y.astype(np.float32), AUDIO_SR)
    (root / "motions").mkdir()
    for name in (*TRAIN, *VAL, *TEST):
        poses = np.cumsum(rng.normal(size=(130, 72)) * 0.02, axis=0)
        trans = np.cumsum(rng.normal(size=(130, 3)) * 0.01, axis=0) + [0.0, 0.9, 0.0]
        payload = {"smpl_poses": poses.astype(np.float32), "smpl_trans": trans.astype(np.float32),
                   "smpl_scaling": np.ones(1, np.float32), "smpl_loss": 0.0}
        (root / "motions" / f"{name}.pkl").write_bytes(pickle.dumps(payload, protocol=2))
    (root / "splits").mkdir()
    for split, names in (("train", TRAIN), ("val", VAL), ("test", TEST)):
        (root / "splits" / f"crossmodal_{split}.txt").write_text("\n".join(names) + "\n")
    (root / "ignore_list.txt").write_text("")
    return root


def tiny_config(path: Path, corpus: Path, cache: Path, run: Path, callbacks: tuple = ()) -> Path:
    """configs/quick/solo_tokenizer.yaml at toy sizes, its outputs under ``run``."""
    config = yaml.safe_load(QUICK.read_text())
    model = config["model"]["init_args"]
    model["tokenizer"]["part"].update(width=16, depth=1, code_dim=8, codebook_size=16, kmeans_iters=2)
    model["optimizer"]["warmup_steps"] = 3
    config["data"]["init_args"].update(root=str(corpus), cache_dir=str(cache), feature_set="aist55", window=32,
                                       eval_stride=32, batch_size=4)
    config["trainer"].update(max_steps=MAX_STEPS, val_check_interval=SAVE_EVERY, limit_val_batches=1, logger=False,
                             enable_model_summary=False, default_root_dir=str(run))
    config["trainer"]["callbacks"] = [
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
         "init_args": {"dirpath": str(run / "checkpoints"), "every_n_train_steps": SAVE_EVERY, "save_last": True}},
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
         "init_args": {"dirpath": str(run / "checkpoints"), "filename": "best", "monitor": "val/loss"}},
        *callbacks,
    ]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def cli(*args, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def assert_same(a, b, where: str = "") -> None:
    """Nested checkpoint entries equal: tensors bit for bit (torch.equal), containers key by key."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype} {b}"
        if not torch.equal(a, b):
            pytest.fail(f"{where}: differs (max |a - b| {(a.double() - b.double()).abs().max().item():.3g})")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    return write_corpus(base / "aistpp"), base / "feature-cache"


def fit_here(*args: str) -> int:
    """``cli.main(["fit", ...])`` in this process (an interpreter start fewer), on one thread like the
    subprocesses."""
    import cli as pasdeux_cli

    threads, argv = torch.get_num_threads(), sys.argv
    torch.set_num_threads(1)
    sys.argv = [str(ROOT / "cli.py")]
    try:
        return pasdeux_cli.main(["fit", *map(str, args)])
    finally:
        torch.set_num_threads(threads)
        sys.argv = argv


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory):
    """The uninterrupted run: its folder (checkpoints/last.ckpt is step 15) and a folder for configs."""
    root, cache = corpus
    base = tmp_path_factory.mktemp("straight")
    run = base / "run"
    assert fit_here("--config", tiny_config(base / "straight.yaml", root, cache, run)) == 0
    return run


def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(corpus, straight, tmp_path):
    root, cache = corpus
    # The same config, killed right after step 5's checkpoint (the next batch already fetched) ...
    run = tmp_path / "interrupted"
    marker = tmp_path / "paused"
    pause = {"class_path": f"{__name__}.PauseAfterStep", "init_args": {"step": KILL_AFTER, "marker": str(marker)}}
    proc = cli("fit", "--config", tiny_config(tmp_path / "killed.yaml", root, cache, run, (pause,)))
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the run never reached its kill point"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    last = run / "checkpoints" / "last.ckpt"
    killed = torch.load(last, weights_only=True)
    assert killed["global_step"] == KILL_AFTER and killed["epoch"] == 0  # mid-epoch: 10 batches an epoch
    position = killed["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert (position["epoch"], position["batches"]) == (0, KILL_AFTER)
    assert int(marker.read_text()) == KILL_AFTER  # it stopped with batch 5 (0-based) fetched, not trained

    # ... and resumed with the plain config: `--ckpt_path last` finds last.ckpt.
    out = finish(cli("fit", "--config", tiny_config(tmp_path / "resumed.yaml", root, cache, run), "--ckpt_path", "last"))
    assert f"Restoring states from the checkpoint path at {last}" in out, out
    assert "not resumable" not in out  # Lightning's warning for a loader it cannot put back mid-epoch

    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(last, weights_only=True)
    assert a["global_step"] == b["global_step"] == MAX_STEPS and a["epoch"] == b["epoch"] == 1
    # every weight and buffer, the codebooks' EMA state (cluster sizes, running sums, the k-means flag) among them
    codebook = {k for k in a["state_dict"] if "_codebook." in k}
    assert {k.rsplit(".", 1)[1] for k in codebook} >= {"initted", "cluster_size", "embed_avg", "embed"}
    assert_same(a["state_dict"], b["state_dict"], "state_dict")
    assert_same(a["optimizer_states"], b["optimizer_states"], "optimizer_states")
    assert_same(a["lr_schedulers"], b["lr_schedulers"], "lr_schedulers")
    assert_same(a["pasdeux_rng"], b["pasdeux_rng"], "pasdeux_rng")
    assert_same(a["loops"]["fit_loop"]["state_dict"], b["loops"]["fit_loop"]["state_dict"], "loader position")
    assert a["pasdeux_stage"] == b["pasdeux_stage"] == "tokenizer.lightning.TokenizerStage"


# --------------------------------------------------------------------------------------------------
# The same in one process, for a stage whose training and validation both draw from torch's RNG
# --------------------------------------------------------------------------------------------------
class Killed(Exception):
    pass


class KillAfterStep(pl.Callback):
    """Stops the run (as a kill would) at the batch after step ``step``, the batch already fetched."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Killed


class Jittered(torch.utils.data.Dataset):
    """40 points of y = sum(x); a window's x is jittered by its WindowKey's generator."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(40, 4, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, key):
        from data.datamodules import WindowKey

        assert isinstance(key, WindowKey)  # the training sampler hands out keys
        x = self.x[key.index] + 0.1 * torch.from_numpy(key.rng().normal(size=4)).float()
        return x, self.x[key.index].sum(0, keepdim=True)


class Noisy(Stage):
    """Training adds noise to the inputs (and draws more on higher ranks, as k-means on a rank's own
    windows would), validation draws a random subset: all from torch's RNG."""

    def __init__(self) -> None:
        super().__init__({"lr": 3e-2, "betas": (0.9, 0.99), "scheduler": "cosine", "warmup_steps": 2})
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def shared_step(self, batch, stage):
        x, y = batch
        if stage == "train":
            x = x + 0.05 * torch.randn_like(x) + 0.0 * torch.rand(1 + self.global_rank).sum()
        else:
            keep = torch.rand(len(x)) < 0.7
            x, y = x[keep | ~keep.any()], y[keep | ~keep.any()]
        loss = (self.net(x) - y).square().mean()
        self.log(f"{stage}/loss", loss, batch_size=len(x), sync_dist=stage != "train")
        return loss


class SaveState(pl.Callback):
    """Each rank writes its stage's state dict to ``<folder>/rank<k>.pt`` when training ends."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_end(self, trainer, pl_module) -> None:
        torch.save({k: v.detach().clone() for k, v in pl_module.state_dict().items()},
                   f"{self.folder}/rank{trainer.global_rank}.pt")


class JitteredData(pl.LightningDataModule):
    def __init__(self, num_workers: int) -> None:
        super().__init__()
        self.ds, self.num_workers = Jittered(), num_workers

    def train_dataloader(self):
        from data.datamodules import EpochSampler, ResumableDataLoader, run_seed

        return ResumableDataLoader(self.ds, batch_size=4, sampler=EpochSampler(self.ds, seed=run_seed()),
                                   num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        from data.datamodules import EpochSampler

        # in order, and (like the pasdeux DataModules' loaders) drawing nothing from torch's RNG to start
        return torch.utils.data.DataLoader(self.ds, batch_size=8, sampler=EpochSampler(self.ds, shuffle=False),
                                           generator=torch.Generator())


def _fit(folder: Path, num_workers: int = 0, resume: str | None = None, kill_after: int | None = None,
         devices: int = 1, max_steps: int = 18) -> dict:
    from lightning.pytorch.callbacks import ModelCheckpoint

    folder.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(3, verbose=False)
    callbacks = [ModelCheckpoint(dirpath=folder, every_n_train_steps=4, save_last=True, save_top_k=-1),
                 ModelCheckpoint(dirpath=folder, filename="best", monitor="val/loss"), SaveState(str(folder))]
    if kill_after is not None:
        callbacks.append(KillAfterStep(kill_after))
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy="ddp_spawn" if devices > 1 else "auto",
                         max_steps=max_steps, val_check_interval=4, check_val_every_n_epoch=None, limit_val_batches=2,
                         num_sanity_val_steps=0, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=folder, callbacks=callbacks)
    trainer.fit(Noisy(), datamodule=JitteredData(num_workers), ckpt_path=resume)
    return torch.load(folder / "rank0.pt", weights_only=True)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_mid_epoch_and_from_a_validation_checkpoint_is_exact(tmp_path, num_workers):
    """10 batches an epoch, 18 steps; checkpoints every 4 steps (last.ckpt, at the batch's end) and at
    every validation (best.ckpt, at the validation's end), validations every 4 steps. Stopped after step
    6, the run resumes from step 4 (mid-epoch; Lightning does not repeat step 4's validation), and from
    best.ckpt (written during a validation): both end where the straight run does."""
    straight = _fit(tmp_path / "straight", num_workers)
    with pytest.raises(Killed):
        _fit(tmp_path / "killed", num_workers, kill_after=6)
    saved = {name: torch.load(tmp_path / "killed" / name, weights_only=True) for name in ("last.ckpt", "best.ckpt")}
    assert saved["last.ckpt"]["global_step"] == 4
    loader_state = saved["last.ckpt"]["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert loader_state["epoch"] == 0 and loader_state["batches"] == 4  # what step 4 had consumed, not the prefetch
    for name in ("last.ckpt", "best.ckpt"):
        resumed = _fit(tmp_path / f"from-{name}", num_workers, resume=str(tmp_path / "killed" / name))
        assert straight.keys() == resumed.keys()
        for key in straight:
            assert torch.equal(straight[key], resumed[key]), (name, key)


def test_ddp_ranks_resume_their_own_share_and_rng(tmp_path):
    """Two gloo processes: the step-8 checkpoint of a run (each rank 3 batches of its 20 windows into epoch 1,
    the ranks' RNGs apart) resumed to step 12 ends, on both ranks, where the run itself does."""
    straight = tmp_path / "straight"
    _fit(straight, devices=2, max_steps=12)
    ckpt = torch.load(straight / "epoch=1-step=8.ckpt", weights_only=True)  # 5 batches an epoch per rank
    assert [r["torch"].shape for r in ckpt["pasdeux_rng"]["ranks"]] == [torch.Size([5056])] * 2
    assert not torch.equal(*(r["torch"] for r in ckpt["pasdeux_rng"]["ranks"]))  # the ranks drew differently
    position = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert (position["epoch"], position["batches"], position["num_replicas"]) == (1, 3, 2)
    resumed = tmp_path / "resumed"
    _fit(resumed, devices=2, max_steps=12, resume=str(straight / "epoch=1-step=8.ckpt"))
    for rank in (0, 1):
        a, b = (torch.load(f / f"rank{rank}.pt", weights_only=True) for f in (straight, resumed))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), rank


def test_per_rank_state_in_a_checkpoint(monkeypatch, tmp_path):
    """What a DDP run keeps per rank (RNG, a duet RL stage's replay memory): each rank takes its own back;
    a run with another number of processes takes rank 0's; one process writes its state as it is."""
    from duet.rl import REPLAY_KEY, DuetRLStage
    from training import dist

    stage = DuetRLStage("never-read.ckpt", {"replay_size": 4, "replay_batch": 1})
    stage.memory.push({"rewards": torch.ones(3, 2), "name": ["a", "b", "c"], "first": torch.arange(3)})
    checkpoint: dict = {}
    stage.on_save_checkpoint(checkpoint)
    path = tmp_path / "rl.ckpt"
    torch.save(checkpoint, path)
    saved = torch.load(path, weights_only=True)  # a plain-data checkpoint
    assert "ranks" not in saved[REPLAY_KEY] and [i["name"] for i in saved[REPLAY_KEY]["items"]] == ["a", "b", "c"]
    again = DuetRLStage("never-read.ckpt", {"replay_size": 4, "replay_batch": 1})
    again.on_load_checkpoint(saved)
    assert [i["name"] for i in again.memory.items] == ["a", "b", "c"]

    two = {"next": 0, "ranks": [{"next": 0, "who": "rank0"}, {"next": 1, "who": "rank1"}], "who": "rank0"}
    monkeypatch.setattr(dist, "world_size", lambda: 2)
    monkeypatch.setattr(dist, "rank", lambda: 1)
    assert dist.own_rank(two) == {"next": 1, "who": "rank1"}
    monkeypatch.setattr(dist, "world_size", lambda: 4)
    assert dist.own_rank(two) == {"next": 0, "who": "rank0"}


# --------------------------------------------------------------------------------------------------
# The training order and its state, without a Trainer
# --------------------------------------------------------------------------------------------------
def _tempo_dataset():
    from data.datamodules import DancerArrays, SoloDataset, SoloSequence

    rng = np.random.default_rng(0)
    seqs = [SoloSequence(f"s{i}", DancerArrays(rng.normal(size=(60, 24, 3)).astype(np.float32)),
                         rng.normal(size=(60, 5)).astype(np.float32)) for i in range(3)]
    return SoloDataset(seqs, 16, 4, tempo_range=(0.8, 1.25))  # 3 x 12 windows, each stretched by a random tempo


def _keys(batches) -> list[tuple]:
    return [(n, int(s), round(float(t), 6)) for b in batches for n, s, t in zip(b["name"], b["start"], b["tempo"])]


def test_the_training_loader_resumes_its_epoch_and_shards_like_distributed_sampler():
    from torch.utils.data import DistributedSampler

    from data.datamodules import EpochSampler, ResumableDataLoader

    ds = _tempo_dataset()

    def loader(**kw):
        sampler = EpochSampler(ds, seed=7, **kw)
        return ResumableDataLoader(ds, batch_size=5, sampler=sampler), sampler

    whole, sampler = loader()
    sampler.set_epoch(1)
    epoch1 = list(whole)  # 36 windows: 8 batches, the last of 1
    assert len(epoch1) == len(whole) == 8 and whole.state_dict()["batches"] == 8
    sampler.set_epoch(2)
    assert _keys(list(whole)) != _keys(epoch1)  # a new order (and new tempi) every epoch
    # Three batches in, the state says so; a fresh loader given that state yields the other five, the same
    # windows with the same tempo draws (they come from each window's key, not from torch's RNG).
    first, sampler = loader()
    sampler.set_epoch(1)
    it = iter(first)
    head = [next(it) for _ in range(3)]
    state = first.state_dict()
    assert (state["epoch"], state["batches"], state["seed"]) == (1, 3, 7)
    torch.manual_seed(123)  # the resumed process's global RNG has nothing to do with it
    again, sampler = loader()
    again.load_state_dict(state)
    sampler.set_epoch(1)  # what Lightning does before the resumed epoch's first batch
    tail = list(again)
    assert _keys(head + tail) == _keys(epoch1)
    assert len(again) == 8  # the epoch's length is still the whole epoch's (Lightning counts the done batches)
    # An epoch-end state: the resumed run starts the next epoch from its start.
    done, sampler = loader()
    done.load_state_dict({**state, "batches": 8})
    sampler.set_epoch(2)
    assert len(list(done)) == 8
    # DDP: a DistributedSampler (Lightning keeps it instead of injecting its own), disjoint shares of the
    # same padded order, each resumable on its own.
    shares = []
    for rank in (0, 1):
        part, sampler = loader(num_replicas=2, rank=rank)
        assert isinstance(sampler, DistributedSampler)
        sampler.set_epoch(1)
        shares.append(_keys(list(part)))
    assert len(shares[0]) == len(shares[1]) == 18 and not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == sorted(_keys(epoch1))


def test_the_data_module_shards_by_the_trainers_ranks(monkeypatch):
    from types import SimpleNamespace

    from data import datamodules as dmod

    monkeypatch.setenv("PL_GLOBAL_SEED", "11")
    dm = dmod.SoloDataModule("unused", batch_size=4)
    train_set, val_set = _tempo_dataset(), _tempo_dataset()
    val_set.tempo_range = None  # as the data module builds it: augmentation in training only
    monkeypatch.setattr(dm, "dataset", lambda role: train_set if role == "train" else val_set)
    train = dm.train_dataloader()
    assert isinstance(train, dmod.ResumableDataLoader)
    assert (train.sampler.num_replicas, train.sampler.rank, train.sampler.seed) == (1, 0, 11)
    dm.trainer = SimpleNamespace(world_size=4, global_rank=3)
    train = dm.train_dataloader()
    assert (train.sampler.num_replicas, train.sampler.rank) == (4, 3) and len(train.sampler) == 9
    val = dm.val_dataloader()
    assert val.generator is not None  # in order, and starting a pass draws nothing from torch's RNG
    state = torch.get_rng_state()
    next(iter(val)), next(iter(train))
    assert torch.equal(torch.get_rng_state(), state)


# --------------------------------------------------------------------------------------------------
# Atomic checkpoints
# --------------------------------------------------------------------------------------------------
class Stall:
    """Pickling this writes ``marker`` and waits to be killed: a save interrupted half-way."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        Path(self.marker).write_text("saving")
        time.sleep(600)
        return (str, ("",))


def _save_and_stall(path: str, marker: str, atomic: bool) -> None:
    from training.resume import AtomicCheckpointIO

    checkpoint = {"state_dict": {"w": torch.zeros(1000)}, "stall": Stall(marker)}
    if atomic:
        AtomicCheckpointIO().save_checkpoint(checkpoint, path)
    else:
        torch.save(checkpoint, path)


@pytest.mark.parametrize("atomic", [True, False])
def test_a_kill_while_saving_leaves_the_previous_checkpoint_whole(tmp_path, atomic):
    import multiprocessing

    from training.resume import AtomicCheckpointIO

    last = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.arange(4.0)}, "global_step": 5}, last)
    marker = tmp_path / "saving"
    child = multiprocessing.get_context("fork").Process(target=_save_and_stall, args=(str(last), str(marker), atomic))
    child.start()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    if not atomic:  # the control: a plain torch.save to the target has already cut the good file
        assert last.stat().st_size == 0
        return
    good = torch.load(last, weights_only=True)
    assert good["global_step"] == 5 and torch.equal(good["state_dict"]["w"], torch.arange(4.0))
    # what the kill left is a hidden temporary, which `--ckpt_path last` never takes for a last.ckpt
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [last.name, marker.name]


def test_cli_runs_write_checkpoints_atomically(corpus, tmp_path, monkeypatch):
    import cli as pasdeux_cli
    from training.resume import AtomicCheckpointIO

    seen = {}
    monkeypatch.setattr(pl.Trainer, "fit", lambda trainer, *a, **k: seen.update(trainer=trainer, ckpt=k.get("ckpt_path")))
    monkeypatch.setattr(sys, "argv", [str(ROOT / "cli.py")])
    root, cache = corpus
    assert pasdeux_cli.main(["fit", "--config", str(tiny_config(tmp_path / "c.yaml", root, cache, tmp_path / "run"))]) == 0
    assert isinstance(seen["trainer"].strategy.checkpoint_io, AtomicCheckpointIO) and seen["ckpt"] is None


# --------------------------------------------------------------------------------------------------
# --ckpt_path: an explicit file resumes; a bad one is one line, exit status 2, nothing written
# --------------------------------------------------------------------------------------------------
def test_an_explicit_checkpoint_file_resumes(corpus, straight, tmp_path):
    """LightningCLI would re-read a checkpoint's hyper-parameters as the model's arguments, which a
    pasdeux stage's are not (its built configs): pasdeux's CLI resumes from the file with the YAML."""
    root, cache = corpus
    config = yaml.safe_load(tiny_config(tmp_path / "c.yaml", root, cache, tmp_path / "run").read_text())
    config["trainer"]["max_steps"] = MAX_STEPS + SAVE_EVERY
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert fit_here("--config", tmp_path / "c.yaml", "--ckpt_path", straight / "checkpoints" / "last.ckpt") == 0
    resumed = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == MAX_STEPS + SAVE_EVERY


@pytest.fixture(scope="module")
def camera_checkpoint(tmp_path_factory) -> Path:
    """A real checkpoint of another stage: the camera diffusion at toy size, one step."""
    from camera.lightning import CameraDiffusionStage
    from tests.camera.conftest import TINY_MODEL, ToyCameraData, toy_camera_sequences

    path = tmp_path_factory.mktemp("camera") / "camera.ckpt"
    pl.seed_everything(0, verbose=False)
    stage = CameraDiffusionStage(model=TINY_MODEL, optimizer=dict(name="adamw", lr=1e-3, scheduler="none"))
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(stage, datamodule=ToyCameraData(toy_camera_sequences(2, 40)))
    trainer.save_checkpoint(path)
    return path


@pytest.mark.parametrize("case", ["truncated", "text", "motion pickle", "another stage", "no last"])
def test_a_bad_ckpt_path_is_one_line_and_writes_nothing(case, corpus, straight, camera_checkpoint, tmp_path, capfd):
    root, cache = corpus
    run = tmp_path / "run"
    config = tiny_config(tmp_path / "c.yaml", root, cache, run)
    bad = tmp_path / "given.ckpt"
    expect = {"truncated": "truncated checkpoint", "text": "not a loadable checkpoint",
              "motion pickle": "not a loadable checkpoint", "another stage":
              "a checkpoint of camera.lightning.CameraDiffusionStage, not of tokenizer.lightning.TokenizerStage",
              "no last": f"--ckpt_path last: no last checkpoint in {run / 'checkpoints'}"}[case]
    if case == "truncated":  # the first half of a real checkpoint
        whole = (straight / "checkpoints" / "last.ckpt").read_bytes()
        bad.write_bytes(whole[:len(whole) // 2])
    elif case == "text":
        bad.write_text("model: tokenizer\n")
    elif case == "motion pickle":
        bad.write_bytes((root / "motions" / f"{TRAIN[0]}.pkl").read_bytes())
    elif case == "another stage":
        bad.write_bytes(camera_checkpoint.read_bytes())
    capfd.readouterr()
    code = fit_here("--config", config, "--ckpt_path", "last" if case == "no last" else bad)
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("pasdeux: error:")]
    assert code == 2 and len(errors) == 1, err
    assert expect in errors[0] and "Traceback" not in err
    if case != "no last":
        assert str(bad) in errors[0]
    assert "; " in errors[0]  # ... and the fix
    assert not run.exists()  # no checkpoint folder, no config.yaml, no logs

"""DataModules: window counts, sample layout, music alignment, root round trip, configs, loaders, CLI.

The corpora are tiny AIST++ / DD100 / DCM folders written here in the real layouts (click-track
songs, motions of known length), so every count below is computed by hand in its comment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from data import datamodules as dmod
from data import music
from data.datamodules import (CameraDataModule, DancerArrays, DuetDataModule, DuetDataset, LoaderConfig,
                              MusicConfig, SoloDataModule, WindowConfig, build_window_index, window_starts)
from data.datasets.aistpp import AISTPPReader
from data.datasets.dcm import DCMReader
from data.errors import InputError
from data.geometry import absolute_joints, heading_angle, rotate_about_y, to_heading_frame
from data.fk import convert_rotations
from data.skeleton import get_skeleton

AUDIO_SR = 22050  # not fps * 512: every song is resampled on load, as real files are
SONG_S = 6.0  # 6 s -> 1 + 6 * 30720 // 512 = 361 feature rows at 60 fps
DUET_SONG_S = 9.0  # 9 s -> 1 + 9 * 15360 // 512 = 271 rows at 30 fps
DCM_SONG_S = 7.0  # 7 s -> 211 rows at 30 fps
FIRST_CLICK_S = 0.25

# AIST++ corpus: name -> frames. JUMP's pelvis steps forward on every click of mBR0 (120 BPM).
JUMP = "gBR_sBM_cAll_d04_mBR0_ch01"
SOLO_TRAIN = {JUMP: 300, "gBR_sBM_cAll_d05_mBR0_ch02": 280, "gPO_sBM_cAll_d01_mPO1_ch01": 250}
SOLO_IGNORED = "gBR_sBM_cAll_d06_mBR0_ch03"  # listed in train, dropped by ignore_list.txt
SOLO_VAL = {"gLO_sBM_cAll_d02_mLO2_ch01": 270}
SOLO_TEST = {"gHO_sBM_cAll_d03_mHO3_ch01": 400}  # longer than its song: cropped to 361
SOLO_BPM = {"mBR0": 120.0, "mPO1": 90.0, "mLO2": 100.0, "mHO3": 125.0}

# DD100: duet -> (leader frames, follower frames). Choreo 5 is test (5 % 5 == 0).
DUETS = {"Tango_01_1": (260, 270), "Waltz_02_1": (250, 250), "Tango_05_1": (300, 300)}

# DCM: (split folder, piece id, genre, motion frames, camera frames)
DCM_PIECES = [("Train", "1_1", "C", 200, 200), ("Train", "1_2", "C", 180, 180),
              ("Validation", "2", "K", 160, 160), ("Test", "3_1", "J", 170, 165)]


def click_track(duration: float, bpm: float, seed: int = 0) -> np.ndarray:
    """Two tones plus a decaying noise click on every beat from FIRST_CLICK_S; (N,) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration * AUDIO_SR))) / AUDIO_SR
    y = 0.15 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * np.sin(2 * np.pi * 330.0 * t)
    n = int(0.03 * AUDIO_SR)
    click = 0.8 * np.exp(-np.arange(n) / (0.004 * AUDIO_SR)) * rng.standard_normal(n)
    for bt in np.arange(FIRST_CLICK_S, duration - 0.05, 60.0 / bpm):
        i = int(round(bt * AUDIO_SR))
        m = min(n, len(y) - i)
        y[i:i + m] += click[:m]
    return y.astype(np.float32)


def aistpp_motion(n: int, seed: int, jump_frames: np.ndarray | None = None) -> dict:
    """An AIST++ motion dict; with ``jump_frames`` the pose is still and the pelvis moves 5 cm along
    x between frame c and c + 1 for every c in it (so root_vel[c] is the only non-zero velocity)."""
    rng = np.random.default_rng(seed)
    if jump_frames is None:
        poses = rng.normal(size=(n, 72)) * 0.3
        trans = np.cumsum(rng.normal(size=(n, 3)) * 0.01, axis=0) + [0.0, 0.9, 0.0]
    else:
        poses = np.zeros((n, 72))
        steps = (np.arange(n)[:, None] > jump_frames[None, :]).sum(1)  # clicks strictly before t
        trans = np.stack([0.05 * steps, np.full(n, 0.9), np.zeros(n)], axis=1)
    return {"smpl_poses": poses.astype(np.float32), "smpl_trans": trans.astype(np.float32),
            "smpl_scaling": np.array([1.0], np.float32), "smpl_loss": 0.0}


def jump_clicks(n: int) -> np.ndarray:
    """Motion frames (60 fps) of mBR0's clicks: 0.25 s + k * 0.5 s -> 15, 45, 75, ..."""
    return np.arange(int(FIRST_CLICK_S * 60), n, 30)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, files) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpus")
    # AIST++
    a = base / "aistpp"
    for music_id, bpm in SOLO_BPM.items():
        (a / "all_musics").mkdir(parents=True, exist_ok=True)
        sf.write(a / "all_musics" / f"{music_id}.wav", click_track(SONG_S, bpm, seed=len(music_id) + int(bpm)),
                 AUDIO_SR)
    everything = {**SOLO_TRAIN, SOLO_IGNORED: 120, **SOLO_VAL, **SOLO_TEST}
    for i, (name, n) in enumerate(everything.items()):
        payload = aistpp_motion(n, seed=i, jump_frames=jump_clicks(n) if name == JUMP else None)
        files.write_pickle(a / "motions" / f"{name}.pkl", payload, protocol=2)
    files.write_text(a / "splits" / "crossmodal_train.txt", "\n".join([*SOLO_TRAIN, SOLO_IGNORED]) + "\n")
    files.write_text(a / "splits" / "crossmodal_val.txt", "\n".join(SOLO_VAL) + "\n")
    files.write_text(a / "splits" / "crossmodal_test.txt", "\n".join(SOLO_TEST))
    files.write_text(a / "ignore_list.txt", SOLO_IGNORED + "\n")
    # DD100: the leader stands 1 m along x from the follower
    d = base / "dd100"
    for i, (name, (n_leader, n_follower)) in enumerate(DUETS.items()):
        files.write_dd100_npy(d / "motion" / "smplx" / "all" / f"{name}_01.npy", files.dd100_payload(n_leader, seed=2 * i, x=1.0))
        files.write_dd100_npy(d / "motion" / "smplx" / "all" / f"{name}_00.npy", files.dd100_payload(n_follower, seed=2 * i + 1))
        (d / "music" / "mp3" / "all").mkdir(parents=True, exist_ok=True)
        sf.write(d / "music" / "mp3" / "all" / f"{name}.wav", click_track(DUET_SONG_S, 100 + 10 * i, seed=i),
                 AUDIO_SR)
    # DCM
    c = base / "dcm"
    for i, (split, pid, genre, frames, cam_frames) in enumerate(DCM_PIECES):
        folder = c / "amc_data_split_by_categories" / split
        files.make_dcm_piece(folder, pid, genre, frames, camera_frames=cam_frames)
        # the fixture helper writes a placeholder wav; replace it with a real song
        sf.write(folder / "Audio" / f"a{pid}_{genre}.wav", click_track(DCM_SONG_S, 110 + 7 * i, seed=i), AUDIO_SR)
    return {"aistpp": a, "dd100": d, "dcm": c, "cache": base / "feature-cache"}


@pytest.fixture(autouse=True)
def _no_home_cache(tmp_path, monkeypatch):
    # Nothing a test does may touch ~/.cache; modules below pass the shared corpus cache explicitly.
    monkeypatch.setenv(music.ENV_CACHE, str(tmp_path / "env-cache"))


def solo(corpus, **kw) -> SoloDataModule:
    return SoloDataModule(str(corpus["aistpp"]), cache_dir=str(corpus["cache"]), **kw)


def duet(corpus, **kw) -> DuetDataModule:
    return DuetDataModule(str(corpus["dd100"]), cache_dir=str(corpus["cache"]), **kw)


def camera(corpus, **kw) -> CameraDataModule:
    return CameraDataModule(str(corpus["dcm"]), cache_dir=str(corpus["cache"]), **kw)


# --------------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------------
def test_window_starts_hand_counts():
    # 300 frames, windows of 240, stride 8: starts 0, 8, ..., 56 -> (300 - 240) // 8 + 1 = 8
    assert window_starts(300, 240, 8).tolist() == [0, 8, 16, 24, 32, 40, 48, 56]
    assert window_starts(240, 240, 8).tolist() == [0]  # exactly one full window
    assert window_starts(239, 240, 8).size == 0  # no partial windows
    assert window_starts(271, 240, 4).tolist() == list(range(0, 32, 4))  # (271 - 240) // 4 + 1 = 8
    idx = build_window_index([300, 100, 250], 240, 8)
    # sequence 1 is too short; sequence 2 gives (250 - 240) // 8 + 1 = 2
    assert idx.tolist() == [[0, s, s + 240] for s in range(0, 57, 8)] + [[2, 0, 240], [2, 8, 248]]
    whole = build_window_index([270, 5, 361], None, frame_multiple=8)
    assert whole.tolist() == [[0, 0, 264], [2, 0, 360]]  # 5 frames crop to nothing
    assert build_window_index([], 240, 8).shape == (0, 3)


# --------------------------------------------------------------------------------------------------
# The duet's heading frame
# --------------------------------------------------------------------------------------------------
def test_heading_frame_of_a_turned_leader():
    sk = get_skeleton("smplx55")
    rest = torch.tensor(sk.rest_joints(), dtype=torch.float32)  # (55, 3), faces +z
    # The template's hips are not exactly level front to back: the rest heading is ~2 degrees.
    rest_heading = heading_angle(rest)
    assert abs(rest_heading.item()) < 0.05
    T = 12
    yaw = torch.linspace(-3.0, 3.0, T)  # the leader turns on the spot over the clip
    place = torch.tensor([2.0, 0.0, -1.0])
    leader = rotate_about_y(rest - rest[0], (yaw - rest_heading)[:, None]) + rest[0] + place  # (T, 55, 3)
    offset_local = torch.tensor([0.5, 0.0, 1.0])  # half a metre to the leader's left, 1 m ahead
    follower = rest + (leader[:, 0] + rotate_about_y(offset_local, yaw) - rest[0])[:, None]
    torch.testing.assert_close(heading_angle(leader), yaw, rtol=0, atol=1e-5)

    seq = dmod.DuetSequence("turn", DancerArrays(leader.numpy()), DancerArrays(follower.numpy()),
                            np.zeros((T, 4), np.float32))
    sample = DuetDataset([seq], length=T)[0]
    assert set(sample) == {"leader_joints", "leader_root_vel", "leader_root_start", "follower_joints",
                           "follower_root_vel", "follower_root_start", "follower_root_rel",
                           "follower_root_rel_local", "music", "name", "start"}
    torch.testing.assert_close(sample["follower_root_rel"], follower[:, 0] - leader[:, 0])
    torch.testing.assert_close(sample["follower_root_rel_local"], offset_local.expand(T, 3), rtol=0, atol=1e-5)
    back = rotate_about_y(to_heading_frame(sample["follower_root_rel"], yaw), yaw)
    torch.testing.assert_close(back, sample["follower_root_rel"], rtol=0, atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: WindowConfig(0, 8, 60), "length must be a positive integer"),
    (lambda: WindowConfig(True, 8, 60), "length must be a positive integer"),
    (lambda: WindowConfig(240, -1, 60), "stride must be a positive integer"),
    (lambda: WindowConfig(240, 8, 60, eval_stride=0), "eval_stride"),
    (lambda: WindowConfig(240, 8, 60, eval_mode="all"), "eval_mode must be one of"),
    (lambda: WindowConfig(250, 8, 60, frame_multiple=8), "not a multiple of frame_multiple"),
    (lambda: WindowConfig(240, 8, 0), "fps must be positive"),
    (lambda: WindowConfig(240, 8, 29.97), "no integer audio sample rate"),
    (lambda: MusicConfig("jukebox"), "unknown music feature set 'jukebox'"),
    (lambda: LoaderConfig(batch_size=0), "batch_size must be a positive integer"),
    (lambda: LoaderConfig(eval_batch_size=0), "eval_batch_size"),
    (lambda: LoaderConfig(num_workers=-1), "num_workers must be a non-negative integer"),
    (lambda: SoloDataModule("x", window=100), "not a multiple of frame_multiple 8"),
    (lambda: SoloDataModule("x", eval_mode="whole", eval_batch_size=4), "eval_batch_size must be 1"),
    (lambda: DuetDataModule("x", val_split="val"), "'val' is not a DD100 split; use one of train, test, all"),
    (lambda: CameraDataModule("x", train_split="Training"), "not a DCM split"),
])
def test_config_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_valid_configs_and_derived_values():
    w = WindowConfig(240, 8, 60.0, frame_multiple=8)
    assert w.effective_eval_stride == 240
    assert WindowConfig(150, 15, 30, eval_stride=30).effective_eval_stride == 30
    assert MusicConfig("duolando54").dim == 54 and MusicConfig("edge35").beat_channel == 34
    lc = LoaderConfig(num_workers=2)
    assert lc.persistent_workers and not LoaderConfig().persistent_workers
    assert lc.pin_memory == torch.cuda.is_available()


# --------------------------------------------------------------------------------------------------
# Solo
# --------------------------------------------------------------------------------------------------
def test_solo_counts_shapes_and_source_round_trip(corpus):
    dm = solo(corpus, feature_set="aist55")
    dm.setup()
    train, val, test = (dm.dataset(r) for r in ("train", "val", "test"))
    # train: (300-240)//8+1 = 8, (280-240)//8+1 = 6, (250-240)//8+1 = 2; the ignored one is gone
    assert len(train) == 16
    assert [s.name for s in train.sequences] == list(SOLO_TRAIN)
    # val 270 frames, eval windows 240 apart: 1; test 400 frames cropped to its song's 361 rows: 1
    assert len(val) == 1 and len(test) == 1
    assert dm.sequences("test")[0].num_frames == 361
    assert dm.music_dim == 55 and dm.num_joints == 24 and dm.fps == 60.0

    sample = train[9]  # sequence 1, start 8
    assert sample["name"] == "gBR_sBM_cAll_d05_mBR0_ch02" and sample["start"] == 8
    shapes = {k: tuple(v.shape) for k, v in sample.items() if isinstance(v, torch.Tensor)}
    assert shapes == {"joints": (240, 24, 3), "root_vel": (240, 3), "root_start": (3,),
                      "rotations": (240, 24, 6), "music": (240, 55)}
    assert all(v.dtype == torch.float32 for k, v in sample.items() if isinstance(v, torch.Tensor))
    assert torch.equal(sample["joints"][:, 0], torch.zeros(240, 3))

    # Against the reader: the window is frames 8..248 of the motion, root and rotations included.
    motion = AISTPPReader(corpus["aistpp"]).load(sample["name"])
    expected = torch.tensor(motion.joints[8:248], dtype=torch.float32)
    back = absolute_joints(sample["joints"], sample["root_vel"], sample["root_start"])
    torch.testing.assert_close(back, expected, rtol=0, atol=1e-5)
    six = convert_rotations(torch.from_numpy(motion.rotations[8:248]), "axis_angle", "6d").float()
    torch.testing.assert_close(sample["rotations"], six)


def test_solo_whole_sequences_for_evaluation(corpus):
    dm = solo(corpus, feature_set="aist55", eval_mode="whole", rotations=False)
    dm.setup("validate")
    assert "train" not in dm._datasets  # validate loads only what it needs
    v = dm.dataset("val")
    assert len(v) == 1 and v[0]["joints"].shape == (264, 24, 3)  # 270 cropped to a multiple of 8
    assert "rotations" not in v[0]
    assert dm.dataset("test")[0]["music"].shape == (360, 55)  # 361 -> 360
    loader = dm.val_dataloader()
    assert loader.batch_size == 1


def test_music_motion_alignment(corpus):
    # Windows of 64 frames every 7: starts are not multiples of the 30-frame beat period, so music
    # cut from the wrong offset (or at the wrong fps) cannot line up with the pelvis jumps by chance.
    dm = solo(corpus, window=64, stride=7, feature_set="aist55", rotations=False)
    ds = dm.dataset("train")
    path = AISTPPReader(corpus["aistpp"]).music_path(JUMP)
    song = music.compute_features(path, 60, "aist55", cache_dir=corpus["cache"]).features
    checked = 0
    for i in range(len(ds)):
        s = ds[i]
        if s["name"] != JUMP:
            continue
        start = s["start"]
        # the music of a window is the song's rows start..start+64, row for frame
        assert torch.equal(s["music"], torch.from_numpy(song[start:start + 64]))
        jumps = torch.nonzero(s["root_vel"][:-1].norm(dim=-1) > 0.01).flatten()
        expected = [c - start for c in jump_clicks(300) if start <= c < start + 63]
        assert jumps.tolist() == expected  # the pelvis jumps on the click frames, in window time
        beats = torch.nonzero(s["music"][:, 53] > 0.5).flatten()  # librosa's beats (channel 53)
        for b in beats.tolist():
            if 2 <= b <= 60:
                assert min(abs(b - j) for j in jumps.tolist()) <= 2, (start, b, jumps.tolist())
                checked += 1
    assert checked >= 40


def test_song_features_computed_once_per_song(corpus, monkeypatch):
    calls: list[str] = []
    real = music.compute_features

    def counted(path, *args, **kwargs):
        calls.append(Path(path).stem)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dmod.music_lib, "compute_features", counted)
    dm = solo(corpus, feature_set="aist55", rotations=False)
    dm.setup("fit")
    # three train dancers on two songs (two dance to mBR0), one val dancer
    assert sorted(calls) == ["mBR0", "mLO2", "mPO1"]
    seqs = dm.sequences("train")
    assert np.shares_memory(seqs[0].music, seqs[1].music)  # one array for both mBR0 dancers
    dm.prepare_data()  # knows every song already
    assert sorted(calls) == ["mBR0", "mHO3", "mLO2", "mPO1"]


def test_split_without_windows_is_a_clear_error(corpus):
    dm = solo(corpus, window=400, feature_set="aist55")
    with pytest.raises(InputError, match=r"split 'train' \(train\) gives no 400-frame windows.*longest 300"):
        dm.setup("fit")


# --------------------------------------------------------------------------------------------------
# Duet
# --------------------------------------------------------------------------------------------------
def test_duet_counts_and_layout(corpus):
    dm = duet(corpus)
    dm.setup()
    # train: Tango_01_1 cropped to the shorter dancer 260 -> (260-240)//4+1 = 6; Waltz_02_1 250 -> 3
    assert len(dm.dataset("train")) == 9
    # val = test (DD100 has no val): Tango_05_1, 300 frames cropped to its song's 271: 1 window
    assert len(dm.dataset("val")) == 1 and len(dm.dataset("test")) == 1
    assert dm.sequences("test")[0].num_frames == 271
    assert dm.dataset("val").sequences[0] is dm.dataset("test").sequences[0]  # loaded once

    s = dm.dataset("train")[7]  # Waltz_02_1, start 4
    assert (s["name"], s["start"]) == ("Waltz_02_1", 4)
    for role in ("leader", "follower"):
        assert s[f"{role}_joints"].shape == (240, 55, 3) and s[f"{role}_rotations"].shape == (240, 55, 6)
        assert s[f"{role}_root_vel"].shape == (240, 3) and s[f"{role}_root_start"].shape == (3,)
    assert s["music"].shape == (240, 54) and s["music"].dtype == torch.float32
    leader = absolute_joints(s["leader_joints"], s["leader_root_vel"], s["leader_root_start"])
    follower = absolute_joints(s["follower_joints"], s["follower_root_vel"], s["follower_root_start"])
    torch.testing.assert_close(s["follower_root_rel"], follower[:, 0] - leader[:, 0], rtol=0, atol=1e-5)
    assert s["follower_root_rel"][:, 0].mean().item() == pytest.approx(-1.0, abs=0.1)  # leader 1 m along +x
    heading = heading_angle(leader)
    torch.testing.assert_close(rotate_about_y(s["follower_root_rel_local"], heading), s["follower_root_rel"],
                               rtol=0, atol=1e-5)

    whole = duet(corpus, eval_mode="whole")
    assert whole.dataset("test")[0]["leader_joints"].shape == (268, 55, 3)  # 271 -> multiple of 4


# --------------------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------------------
def test_camera_counts_and_layout(corpus):
    dm = camera(corpus)
    dm.setup()
    # train: 200 -> (200-150)//15+1 = 4, 180 -> 3; val 160 -> 1; test: camera 165 < motion 170 -> 1
    assert [len(dm.dataset(r)) for r in ("train", "val", "test")] == [7, 1, 1]
    assert dm.sequences("test")[0].num_frames == 165
    s = dm.dataset("train")[5]  # piece 1_2, start 15
    assert (s["name"], s["start"]) == ("1_2", 15)
    assert {k: tuple(v.shape) for k, v in s.items() if isinstance(v, torch.Tensor)} == {
        "camera": (150, 8), "joints": (150, 60, 3), "music": (150, 35)}
    # joints in DCM units, exactly as the fixture wrote them (arange / 100), window frames 15..165
    pos = np.arange(180 * 60 * 3, dtype=np.float64).reshape(180, 60, 3) / 100.0
    np.testing.assert_array_equal(s["joints"].numpy(), pos[15:165].astype(np.float32))
    polar = DCMReader(corpus["dcm"]).load_camera("1_2").polar
    np.testing.assert_array_equal(s["camera"].numpy(), polar[15:165].astype(np.float32))


# --------------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_batches(corpus, num_workers):
    dm = solo(corpus, feature_set="aist55", batch_size=5, num_workers=num_workers)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.num_workers == num_workers and loader.persistent_workers == (num_workers > 0)
    assert loader.pin_memory == torch.cuda.is_available()
    batches = list(loader)
    assert [b["joints"].shape[0] for b in batches] == [5, 5, 5, 1]  # 16 windows
    b = batches[0]
    assert b["joints"].shape == (5, 240, 24, 3) and b["music"].shape == (5, 240, 55)
    assert b["rotations"].shape == (5, 240, 24, 6) and b["root_start"].shape == (5, 3)
    assert b["start"].dtype == torch.int64 and len(b["name"]) == 5
    seen = sorted((n, int(st)) for x in batches for n, st in zip(x["name"], x["start"]))
    assert seen == sorted((s.name, int(st)) for s, st in
                          ((dm.dataset("train").sequences[i], st) for i, st, _ in dm.dataset("train").index))
    val = next(iter(dm.val_dataloader()))
    assert val["joints"].shape == (1, 240, 24, 3)


# --------------------------------------------------------------------------------------------------
# LightningCLI
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name,key,init,expected", [
    # (300-240)//16+1 = 4, (280-240)//16+1 = 3, (250-240)//16+1 = 1
    ("SoloDataModule", "aistpp", {"feature_set": "aist55", "stride": 16, "rotations": False}, 8),
    ("DuetDataModule", "dd100", {"stride": 8}, 5),  # (260-240)//8+1 = 3, (250-240)//8+1 = 2
    ("CameraDataModule", "dcm", {"stride": 30}, 4),  # (200-150)//30+1 = 2, (180-150)//30+1 = 2
])
def test_lightning_cli_instantiates_from_class_path(corpus, tmp_path, monkeypatch, class_name, key, init,
                                                   expected):
    from lightning.pytorch.cli import LightningCLI

    monkeypatch.setattr("sys.argv", ["cli.py"])  # pytest's own arguments are not the CLI's

    cli = LightningCLI(
        args={
            "model": {"class_path": "lightning.pytorch.demos.boring_classes.BoringModel"},
            "data": {"class_path": f"data.datamodules.{class_name}",
                     "init_args": {"root": str(corpus[key]), "cache_dir": str(corpus["cache"]),
                                   "batch_size": 4, **init}},
            "seed_everything": 0,
            "trainer": {"accelerator": "cpu", "devices": 1, "logger": False, "enable_checkpointing": False,
                        "enable_progress_bar": False, "default_root_dir": str(tmp_path)},
        },
        subclass_mode_model=True, subclass_mode_data=True, run=False, save_config_callback=None,
    )
    dm = cli.datamodule
    assert type(dm).__name__ == class_name and dm.loader.batch_size == 4
    assert dm.hparams["stride"] == init["stride"]
    dm.setup("fit")
    assert len(dm.train_dataloader().dataset) == expected


def test_music_margin_gives_neighbouring_frames_and_zeros_past_the_song():
    T = 20
    music = np.arange(T, dtype=np.float32)[:, None] + 1.0  # row i holds i + 1 (0 means padding)
    seq = dmod.SoloSequence("s", DancerArrays(np.zeros((T, 24, 3), np.float32)), music)
    ds = dmod.SoloDataset([seq], length=8, stride=4, music_margin=3)
    by_start = {int(ds[i]["start"]): ds[i]["music"][:, 0] for i in range(len(ds))}
    assert by_start[0].tolist() == [0, 0, 0] + list(range(1, 12))  # 3 frames before the song: zeros
    assert by_start[4].tolist() == list(range(2, 16))  # frames 1 .. 14, real neighbours
    assert by_start[12].tolist() == list(range(10, 21)) + [0, 0, 0]  # 3 past its end
    assert dmod.SoloDataset([seq], length=8, stride=4)[0]["music"].shape == (8, 1)
    with pytest.raises(ValueError, match="music_margin"):
        dmod.WindowConfig(8, 4, 60.0, music_margin=-1)


def test_tempo_augmentation_stretches_dance_and_beats_together():
    T = 200
    joints = np.zeros((T, 24, 3), np.float32)
    joints[:, :, 0] = (np.arange(T) * 0.01)[:, None]  # the whole body walks 1 cm per frame along x
    music = np.zeros((T, 55), np.float32)
    music[:, 0] = np.arange(T)  # a ramp: stretched, its slope is the tempo factor
    music[::20, 53] = 1.0  # a beat every 20 frames
    seq = dmod.SoloSequence("s", DancerArrays(joints), music)
    ds = dmod.SoloDataset([seq], length=40, stride=40, music_margin=4, tempo_range=(0.8, 1.25), beat_channel=53)
    torch.manual_seed(0)
    factors = []
    for _ in range(6):
        x = ds[1]  # window at frame 40
        f = float(x["tempo"])
        factors.append(f)
        assert 0.8 <= f <= 1.25
        torch.testing.assert_close(x["root_vel"][:-1, 0], torch.full((39,), 0.01 * f), rtol=1e-4, atol=1e-6)
        ramp = x["music"][:, 0]
        torch.testing.assert_close(ramp[5:44] - ramp[4:43], torch.full((39,), f), rtol=1e-4, atol=1e-4)
        beats = torch.nonzero(x["music"][:, 53]).flatten().tolist()  # source beats 40, 60, 80: at 0, 20/f, 40/f
        assert beats == [4 + round(k * 20 / f) for k in range(3) if 4 + round(k * 20 / f) < 48]
    assert len(set(factors)) == 6  # a new factor per sample
    assert float(dmod.SoloDataset([seq], length=40, stride=40)[1]["tempo"]) == 1.0
    with pytest.raises(ValueError, match="tempo_range"):
        dmod.SoloDataset([seq], length=40, tempo_range=(1.1, 1.3))

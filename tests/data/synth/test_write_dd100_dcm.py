"""The DD100 and DCM writers: what they write is what the readers load, splits follow the songs, the
ground-truth sidecars agree with the files, and a seed gives the same bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data.camera import metres_to_dcm
from data.datasets.dcm import DCMReader, read_motion_json
from data.datasets.dd100 import DD100Reader, load_dd100_motion, split_of
from data.fk import forward_kinematics_np
from data.skeleton import get_skeleton
from data.synth.camera import pelvis_in_view_share
from data.synth.duet import CONTACT_TOLERANCE_M
from data.synth.music import synth_song
from data.synth.write_dcm import (PIECE_MAX_FRAMES, PIECE_MIN_FRAMES, dance_and_camera, piece_ranges,
                                  write_dcm_corpus)
from data.synth.write_dd100 import DD100_AUDIO_SR, assign_names, duet_for, duet_genre, write_dd100_corpus

SK = get_skeleton("smplx55")
# (genre, split): Ballet (JB) has its own split rule in DD100; PO twice so a second take appears
SONGS = [("PO", "train"), ("JB", "train"), ("PO", "test"), ("JB", "val"), ("PO", "train")]


@pytest.fixture(scope="module")
def songs():
    out = []
    for i, (genre, split) in enumerate(SONGS):
        audio, truth = synth_song(genre, seed=100 + i, duration=9.0)
        truth.split = split
        truth.name = f"song{i}"
        out.append((audio, truth))
    return out


@pytest.fixture(scope="module")
def dd100_root(songs, tmp_path_factory):
    root = tmp_path_factory.mktemp("dd100")
    stats = write_dd100_corpus(root, songs, np.random.default_rng(0), preset=None)
    return root, stats


@pytest.fixture(scope="module")
def dcm_root(songs, tmp_path_factory):
    root = tmp_path_factory.mktemp("dcm")
    stats = write_dcm_corpus(root, songs, np.random.default_rng(0), preset=None)
    return root, stats


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------
# DD100
# --------------------------------------------------------------------------------------------------
def test_names_follow_the_split_rule():
    class T:
        def __init__(self, genre, split):
            self.genre, self.split = genre, split

    truths = [T(g, s) for g, s in SONGS + [("JB", "test"), ("JB", "test"), ("KR", "train")]]
    jobs = assign_names(truths)
    for job in jobs:
        want = "test" if truths[job.song_index].split in ("test", "val") else "train"
        assert split_of(job.name) == job.split == want
        assert "_" not in job.name.split("_")[0]
    # Ballet has two test choreographies (9, 10): of its three held-out songs the third is skipped
    ballet_test = [j for j in jobs if j.name.startswith("Ballet") and j.split == "test"]
    assert sorted({int(j.name.split("_")[1]) for j in ballet_test}) == [9, 10]
    assert len({j.song_index for j in ballet_test}) == 2
    assert len({j.song_index for j in jobs}) == len(truths) - 1
    # every third song is danced twice; a count caps the duets, second takes included
    assert [j.take for j in jobs].count(2) == len(truths[:-1]) // 3
    capped = assign_names(truths, count=4)
    assert [(j.name, j.take) for j in capped] == [(j.name, j.take) for j in jobs[:4]]
    # one song, one choreography: takes of a song share it, songs never do
    by_choreo = {}
    for j in jobs:
        by_choreo.setdefault(j.name.rsplit("_", 1)[0], set()).add(j.song_index)
    assert all(len(v) == 1 for v in by_choreo.values())
    assert duet_genre("JB") == "Ballet" and duet_genre("PO") != duet_genre("KR")


def test_dd100_files_load_as_pairs(dd100_root, songs):
    root, stats = dd100_root
    ds = DD100Reader(root)
    names = ds.duets()
    assert len(names) == stats["duets"] >= len(songs) and ds.unpaired() == []
    assert ds.duets("train") and ds.duets("test")
    assert stats["train"] == len(ds.duets("train")) and stats["test"] == len(ds.duets("test"))
    index = json.loads((root / "groundtruth" / "index.json").read_text())
    assert sorted(d["name"] for d in index["duets"]) == names
    takes = [n for n in names if n.endswith("_2")]
    assert takes, "some choreographies are danced twice"
    for name in names:
        leader, follower = ds.load_pair(name)
        truth = json.loads((root / "groundtruth" / f"{name}.json").read_text())
        song = songs[[t.name for _, t in songs].index(truth["song"]["name"])][1]
        assert (leader.skeleton, leader.fps) == ("smplx55", 30.0)
        assert leader.num_frames == follower.num_frames == pytest.approx(song.duration * 30, abs=2)
        assert leader.extras["gender"] == "male" and follower.extras["gender"] == "female"
        assert leader.extras["betas"].shape == (leader.num_frames, 10)
        assert split_of(name) == truth["split"] == ("test" if song.split in ("test", "val") else "train")
        assert truth["song"]["genre"] == song.genre and truth["duet_genre"] == duet_genre(song.genre)
        # music: the song at 24 kHz, as long as the song
        music = Path(leader.music)
        assert music.suffix in (".mp3", ".wav") and music.stem == name
        y, sr = sf.read(music)
        assert sr == DD100_AUDIO_SR and abs(len(y) / sr - song.duration) < 0.2
        # hands really meet where the sidecar says they do (FK from the files as read)
        jl = forward_kinematics_np(SK, leader.rotations, leader.root)
        jf = forward_kinematics_np(SK, follower.rotations, follower.root)
        for ph in truth["duet"]["phrases"]:
            frames = [f for f in truth["duet"]["contact_frames"] if ph["start"] <= f < ph["stop"]]
            if frames:
                lw, fw = SK.index(ph["hands"][0]), SK.index(ph["hands"][1])
                dist = np.linalg.norm(jl[frames, lw] - jf[frames, fw], axis=1)
                assert dist.max() < CONTACT_TOLERANCE_M + 1e-3  # float32 on disk
        # the dict is exactly DD100's: global_orient is poses[:, :3]
        from data.io import load_npy

        raw = load_npy(ds.motion_path(name, "00"))
        assert raw["poses"].shape == (leader.num_frames, 165) and raw["poses"].dtype == np.float32
        np.testing.assert_array_equal(raw["global_orient"], raw["poses"][:, :3])
        assert raw["meta"] == {"gender": "female"}


def test_dd100_files_hold_the_generated_duet(dd100_root, songs):
    """Round trip: regenerate a duet from the seeds in its sidecar; the files hold it (float32)."""
    root, _ = dd100_root
    ds = DD100Reader(root)
    for name in ds.duets()[:2]:
        side = json.loads((root / "groundtruth" / f"{name}.json").read_text())
        truth = next(t for _, t in songs if t.name == side["song"]["name"])
        duet = duet_for(truth, side["choreography_seed"], side["performance_seed"])
        leader, follower = ds.load_pair(name)
        for motion, rot, transl in ((leader, duet.leader_rotations, duet.leader_root),
                                    (follower, duet.follower_rotations, duet.follower_root)):
            np.testing.assert_allclose(motion.rotations, rot, atol=1e-5)
            np.testing.assert_allclose(motion.root, transl, atol=1e-5)
            np.testing.assert_allclose(motion.joints, forward_kinematics_np(SK, rot, transl), atol=1e-4)
        assert side["duet"]["contact_frames"] == duet.contact_frames().tolist()


def test_second_take_is_the_same_choreography(dd100_root):
    root, _ = dd100_root
    ds = DD100Reader(root)
    take2 = next(n for n in ds.duets() if n.endswith("_2"))
    take1 = take2[:-1] + "1"
    t1 = json.loads((root / "groundtruth" / f"{take1}.json").read_text())["duet"]
    t2 = json.loads((root / "groundtruth" / f"{take2}.json").read_text())["duet"]
    assert [p["response"] for p in t1["phrases"]] == [p["response"] for p in t2["phrases"]]
    assert [p["formation"] for p in t1["phrases"]] == [p["formation"] for p in t2["phrases"]]
    assert t1["leader_moves"] == t2["leader_moves"]
    a, b = load_dd100_motion(ds.motion_path(take1, "01")), load_dd100_motion(ds.motion_path(take2, "01"))
    assert not np.allclose(a.rotations, b.rotations)  # danced by someone else


# --------------------------------------------------------------------------------------------------
# DCM
# --------------------------------------------------------------------------------------------------
def test_dcm_files_load_and_round_trip(dcm_root, songs):
    root, stats = dcm_root
    ds = DCMReader(root)
    assert set(ds.sequences("train")) and set(ds.sequences("val")) and set(ds.sequences("test"))
    assert len(ds.sequences()) == sum(stats["pieces"].values()) == len(songs)  # short songs stay whole
    assert ds.incomplete() == []
    for split in ("train", "val", "test"):
        assert sorted(ds.split_keys(split)) == sorted(p.key for p in ds.pieces(split))
    cats = ds.music_categories()
    assert sorted(i for v in cats.values() for i in v) == list(range(len(songs)))
    for piece in ds.pieces():
        _, song = songs[piece.song]
        assert piece.split == song.split and piece.genre in "CJKE"
        assert piece.song in cats[piece.genre_name]
        motion, camera = ds.load(piece.id)
        truth = json.loads((root / "groundtruth" / f"{piece.key}.json").read_text())
        song_truth = json.loads((root / "groundtruth" / "songs" / f"{piece.song}.json").read_text())
        assert motion.joints.shape == (camera.num_frames, 60, 3)
        assert camera.num_frames == pytest.approx(song.duration * 30, abs=2)
        # camera: the stored eye and axes are the ones the raw MMD parameters give (DCM's convention),
        # the fov is an integer, one per shot as the sidecar says
        full = ds.load_camera(piece.id)
        eye, right, up, forward = full.frame()
        for key, value in (("camera_eye", eye), ("camera_x", right), ("camera_y", up), ("camera_z", forward)):
            np.testing.assert_allclose(full.extras[key], value, atol=1e-9)
        np.testing.assert_array_equal(full.fov, np.round(full.fov))
        for shot in truth["shots"]:
            assert set(full.fov[shot["start"]:shot["stop"]].tolist()) == {float(shot["fov"])}
        assert (np.asarray(full.distance) < 0).all()  # MMD stores the distance negative
        # motion: metres on the floor, DCM units on disk
        m_dcm = read_motion_json(ds.motion_path(piece.id))
        np.testing.assert_allclose(metres_to_dcm(motion.joints), m_dcm, atol=1e-9)
        assert abs(np.percentile(motion.joints[:, :, 1].min(axis=1), 5)) < 1e-3  # standing on y = 0
        assert 1.3 < motion.joints[:, 4, 1].max() < 2.2  # the head (頭) at human height, metres
        # sidecars: cuts on downbeats, the camera keeps the pelvis in view
        assert set(truth["camera_cut_frames"]) <= set(truth["downbeat_frames"])
        assert truth["downbeat_frames"] == sorted(set(np.round(np.asarray(truth["downbeat_times"]) * 30)
                                                       .astype(int).tolist()))
        assert pelvis_in_view_share(camera, m_dcm) == pytest.approx(truth["pelvis_in_view_square"], abs=1e-4)
        assert truth["pelvis_in_view_square"] >= 0.95
        assert [s["kind"] for s in truth["shots"]] == [s["kind"] for s in song_truth["camera"]["shots"]]
        # audio: the piece's span of the song
        y, sr = sf.read(ds.audio_path(piece.id))
        assert sr == song.sr and abs(len(y) / sr - camera.num_frames / 30) < 0.05
    assert stats["pelvis_in_view_square"] >= 0.95 and stats["pelvis_in_view_16x9"] >= stats["pelvis_in_view_square"]


def test_dcm_files_hold_the_generated_dance_and_camera(dcm_root, songs):
    """Round trip: regenerate a song's dance and camera from the seed in its sidecar; the files hold them."""
    root, _ = dcm_root
    ds = DCMReader(root)
    for piece in ds.pieces()[:2]:
        side = json.loads((root / "groundtruth" / "songs" / f"{piece.song}.json").read_text())
        _, joints, camera = dance_and_camera(songs[piece.song][1], side["seed"])
        np.testing.assert_allclose(read_motion_json(ds.motion_path(piece.id)), joints, atol=1e-4)  # DCM units
        loaded = ds.load_camera(piece.id)
        np.testing.assert_allclose(loaded.polar, camera.track.polar, rtol=0, atol=1e-12)
        assert side["camera"]["cut_frames"] == camera.cut_frames.tolist()


def test_long_songs_are_cut_into_pieces_at_camera_cuts():
    rng = np.random.default_rng(0)
    T = 3000  # 100 s
    cuts = np.arange(60, T, 64)
    ranges = piece_ranges(T, cuts, rng)
    assert ranges[0][0] == 0 and ranges[-1][1] == T - 1
    for (a, b), (c, _) in zip(ranges, ranges[1:]):
        assert b == c and b in cuts  # shared boundary frame, at a camera cut
    for a, b in ranges:
        assert PIECE_MIN_FRAMES <= b - a <= PIECE_MAX_FRAMES
    assert piece_ranges(900, cuts, rng) == [(0, 899)]


def test_a_long_song_is_written_in_pieces(tmp_path):
    audio, truth = synth_song("KR", seed=5, duration=40.0)  # 1200 frames > 35 s
    truth.split = "test"
    root = tmp_path / "dcm"
    stats = write_dcm_corpus(root, [(audio, truth)], np.random.default_rng(1), preset=None)
    ds = DCMReader(root)
    assert ds.sequences("test") == ["0_0", "0_1"] and stats["pieces"] == {"train": 0, "val": 0, "test": 2}
    (a0, b0), (a1, b1) = ds.long2short()[0]
    assert a0 == 0 and b0 == a1 and b1 == 1199  # inclusive ranges sharing the boundary frame
    song_side = json.loads((root / "groundtruth" / "songs" / "0.json").read_text())
    assert b0 in song_side["camera"]["cut_frames"]
    assert ds.split_keys("test") == ["C_0_0", "C_0_1"] and ds.music_categories() == {"Chinese": [0]}
    second = json.loads((root / "groundtruth" / "C_0_1.json").read_text())
    assert second["song_frames"] == [a1, b1]
    beats = truth.beat_times[(truth.beat_times >= a1 / 30) & (truth.beat_times < (b1 + 1) / 30)] - a1 / 30
    np.testing.assert_allclose(second["beat_times"], beats, atol=1e-6)
    assert second["camera_cut_frames"] == [c - a1 for c in song_side["camera"]["cut_frames"] if a1 < c <= b1]
    for pid, (a, b) in (("0_0", (a0, b0)), ("0_1", (a1, b1))):
        motion, camera = ds.load(pid)
        assert motion.num_frames == camera.num_frames == b - a + 1
        y, sr = sf.read(ds.audio_path(pid))
        assert abs(len(y) - (b - a + 1) / 30 * sr) <= 1


def test_writers_are_deterministic(songs, tmp_path, dd100_root, dcm_root):
    sub = songs[:2]
    for writer, (first_root, _) in ((write_dd100_corpus, dd100_root), (write_dcm_corpus, dcm_root)):
        a, b, c = (tmp_path / f"{writer.__name__}_{x}" for x in "abc")
        writer(a, sub, np.random.default_rng(3), preset=None)
        writer(b, sub, np.random.default_rng(3), preset=None)
        writer(c, sub, np.random.default_rng(4), preset=None)
        da, db, dc = _digest(a), _digest(b), _digest(c)
        assert da == db
        assert set(da) == set(dc) and da != dc

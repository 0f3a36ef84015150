"""The synthetic AIST++ corpus: the real reader reads it, splits are by song, FK of every pickle equals
the generator's joints, sidecars hold the truth, the same seed writes the same bytes, and the CLI runs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import data.synth.corpus as corpus
from data.datasets.aistpp import AISTPPReader, parse_sequence_name
from data.errors import InputError
from data.synth.corpus import PRESETS, build_sequence, build_song, plan_corpus, synth_corpus
from data.synth.music import SongTruth

ROOT = Path(__file__).resolve().parents[3]
TINY = replace(PRESETS["test"], name="tiny", genres=("BR", "JB"), song_duration=6.0, basic_duration=3.0)


@pytest.fixture(scope="module")
def aistpp_only():
    """Skip the DD100 / DCM writers: they have their own tests; this module is about AIST++."""
    mp = pytest.MonkeyPatch()
    mp.setattr(corpus, "_optional_writer", lambda module, func: None)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def built(tmp_path_factory, aistpp_only):
    out = tmp_path_factory.mktemp("synth")
    report = synth_corpus(out, TINY, seed=3, log=lambda line: None)
    return out, report


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_report(built):
    out, report = built
    root = out / "aistpp"
    assert {p.name for p in root.iterdir()} == {"motions", "splits", "all_musics", "ignore_list.txt", "groundtruth"}
    songs, seqs = plan_corpus(TINY, 3)
    assert len(songs) == 6 and len(seqs) == 6 * 2 + 1
    assert report["aistpp"]["songs"] == 6 and report["aistpp"]["sequences"] == 13
    assert report["aistpp"]["files"] == len(_hashes(root)) and report["aistpp"]["bytes"] > 0
    frames = sum(round(q.duration * 60) for q in seqs)
    assert report["aistpp"]["motion_hours"] == pytest.approx(frames / 60 / 3600)
    assert not (out / ".aistpp.partial").exists()
    for q in seqs:
        info = parse_sequence_name(q.name)  # AIST++'s own naming
        assert info.music_id == q.song.music_id and info.genre == q.song.genre and info.camera == "All"
        assert info.situation == ("basic" if q.situation == "BM" else "advanced")
        assert info.bpm == q.song.bpm


def test_the_aistpp_reader_reads_everything_and_fk_matches_the_generator(built):
    out, _ = built
    ds = AISTPPReader(out / "aistpp")
    songs, seqs = plan_corpus(TINY, 3)
    by_split = {s: ds.sequences(s) for s in ("train", "val", "test")}
    assert all(by_split.values())
    # split by song: every music id lives in exactly one split
    music_split = {}
    for split, names in by_split.items():
        for n in names:
            assert music_split.setdefault(ds.info(n).music_id, split) == split
    # the deliberately corrupted sequence is listed in the train split and filtered by the ignore list
    ignored = [q.name for q in seqs if q.ignored]
    assert len(ignored) == 1 and ds.ignored == frozenset(ignored)
    assert ignored[0] in (out / "aistpp/splits/crossmodal_train.txt").read_text().split()
    assert ignored[0] not in by_split["train"] and len(ds) == len(seqs) - 1
    truths = {}
    for q in seqs:
        motion = ds.load(q.name)
        assert motion.fps == 60.0 and motion.music == q.song.music_id
        if q.song.music_id not in truths:
            truths[q.song.music_id] = build_song(q.song, TINY)[1]
        dance = build_sequence(q, truths[q.song.music_id], 3)
        assert motion.num_frames == dance.num_frames == round(q.duration * 60)
        assert np.abs(motion.joints - dance.joints).max() < 1e-5
        assert ds.music_path(q.name).is_file()


def test_sidecars_hold_the_truth(built):
    import soundfile as sf

    out, _ = built
    root = out / "aistpp"
    songs, seqs = plan_corpus(TINY, 3)
    for sp in songs:
        truth = SongTruth.from_json((root / "groundtruth/music" / f"{sp.music_id}.json").read_text())
        assert truth.music_id == sp.music_id and truth.split == sp.split and truth.bpm == sp.bpm
        audio, sr = sf.read(str(root / "all_musics" / f"{sp.music_id}.wav"), dtype="float32")
        assert sr == TINY.sr and audio.shape[0] == round(TINY.song_duration * sr)
        mem_audio, mem_truth = build_song(sp, TINY)
        np.testing.assert_allclose(audio, mem_audio, atol=1.0 / 32768 + 1e-7)  # 16-bit PCM
        np.testing.assert_allclose(truth.beat_times, mem_truth.beat_times, atol=1e-6)
    for q in seqs:
        gt = json.loads((root / "groundtruth/motions" / f"{q.name}.json").read_text())
        assert gt["music_id"] == q.song.music_id and gt["ignored"] == q.ignored
        assert gt["choreography"] == ("basic" if q.situation == "BM" else "advanced")
        assert len(gt["move_labels"]) == len(gt["beat_frames"]) > 0
        assert all(lab.startswith(q.song.genre + ".") for lab in gt["move_labels"])
        assert set(gt["style"]) >= {"amplitude", "timing_jitter", "joint_bias", "seed"}
    manifest = json.loads((root / "groundtruth/manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["preset"]["name"] == "tiny"
    assert sum(len(v) for v in manifest["songs"].values()) == len(songs)


def test_same_seed_same_bytes_other_seed_other_bytes(built, tmp_path, aistpp_only):
    out, _ = built
    synth_corpus(tmp_path / "again", TINY, seed=3, log=lambda line: None)
    assert _hashes(tmp_path / "again" / "aistpp") == _hashes(out / "aistpp")
    small = replace(TINY, genres=("BR",))
    synth_corpus(tmp_path / "other", small, seed=4, log=lambda line: None)
    synth_corpus(tmp_path / "same", small, seed=3, log=lambda line: None)
    h4, h3 = _hashes(tmp_path / "other" / "aistpp"), _hashes(tmp_path / "same" / "aistpp")
    wav = "all_musics/" + plan_corpus(small, 3)[0][0].music_id + ".wav"
    assert h4[wav] != h3[wav]


def test_worker_processes_write_the_same_bytes(built, tmp_path, aistpp_only):
    out, _ = built
    synth_corpus(tmp_path, replace(TINY, workers=2), seed=3, log=lambda line: None)
    assert _hashes(tmp_path / "aistpp") == _hashes(out / "aistpp")


def test_replaces_a_synthetic_corpus_but_refuses_other_data(tmp_path, aistpp_only):
    small = replace(TINY, genres=("JB",), songs_per_genre=3)
    synth_corpus(tmp_path, small, seed=0, log=lambda line: None)
    stale = tmp_path / "aistpp" / "motions" / "gJB_sFM_cAll_d30_mJB9_ch09.pkl"
    stale.write_bytes(b"left over from an earlier run")
    synth_corpus(tmp_path, small, seed=0, log=lambda line: None)
    assert not stale.exists()  # the old synthetic corpus was replaced as a whole
    real = tmp_path / "real"
    (real / "aistpp" / "motions").mkdir(parents=True)
    with pytest.raises(InputError, match="not a pasdeux synthetic corpus"):
        synth_corpus(real, small, seed=0, log=lambda line: None)
    assert list((real / "aistpp" / "motions").iterdir()) == []


def test_presets():
    for name in ("quick", "full", "test"):
        PRESETS[name].validate()
    quick = PRESETS["quick"]
    assert len(quick.genres) >= 6 and quick.songs_per_genre >= 3
    with pytest.raises(ValueError, match="songs_per_genre"):
        replace(quick, songs_per_genre=7).validate()
    with pytest.raises(ValueError, match="unknown synth preset"):
        corpus.get_preset("huge")


def test_cli_synth(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "synth", "--out", str(tmp_path), "--preset",
                           "test", "--seed", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "aistpp" in proc.stdout and "MB" in proc.stdout and "h of motion" in proc.stdout
    ds = AISTPPReader(tmp_path / "aistpp")
    assert len(ds) == len(plan_corpus(PRESETS["test"], 1)[1]) - 1

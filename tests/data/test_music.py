"""Tests for data/music.py: feature sets, frame alignment, beats, formats, cache, bad input, CLI.

Audio is synthesised here: a click track at a known tempo over a sustained tone, a few seconds long.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data import music
from data.errors import InputError
from data.music import FEATURE_SETS

REPO = Path(__file__).resolve().parents[2]
FILE_SR = 22050  # deliberately not fps * 512, so every load resamples
BPM = 120.0
FIRST_BEAT_S = 0.25


def click_track(duration: float, sr: int = FILE_SR, bpm: float = BPM,
                first: float = FIRST_BEAT_S, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tone plus a decaying noise click on every beat; returns (y (N,) float32, beat times)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration * sr))) / sr
    y = 0.15 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * np.sin(2 * np.pi * 330.0 * t)
    beat_times = np.arange(first, duration - 0.05, 60.0 / bpm)
    n = int(0.03 * sr)
    click = 0.8 * np.exp(-np.arange(n) / (0.004 * sr)) * rng.standard_normal(n)
    for bt in beat_times:
        i = int(round(bt * sr))
        m = min(n, len(y) - i)
        y[i:i + m] += click[:m]
    return y.astype(np.float32), beat_times


def f_measure(detected: np.ndarray, truth: np.ndarray, tolerance: int) -> float:
    """Beat F-measure with one-to-one matching within ``tolerance`` frames."""
    unused = list(truth)
    hits = 0
    for d in detected:
        if not unused:
            break
        j = int(np.argmin([abs(d - t) for t in unused]))
        if abs(d - unused[j]) <= tolerance:
            hits += 1
            unused.pop(j)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(detected), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("audio")
    y, _ = click_track(6.0)
    sf.write(d / "click.wav", y, FILE_SR, subtype="FLOAT")  # lossless: compares with in-memory y
    y4, _ = click_track(4.0, seed=1)
    sf.write(d / "short.wav", y4, FILE_SR, subtype="PCM_16")
    return d


@pytest.fixture(autouse=True)
def _no_home_cache(tmp_path, monkeypatch):
    # Nothing a test does may touch ~/.cache: the default cache goes to the test's own folder.
    monkeypatch.setenv(music.ENV_CACHE, str(tmp_path / "env-cache"))


# --------------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------------
def test_feature_set_layouts():
    assert {k: v.dim for k, v in FEATURE_SETS.items()} == {
        "bailando438": 438, "aist55": 55, "duolando54": 54, "edge35": 35}
    b = FEATURE_SETS["bailando438"].channels
    assert [(k, s.start, s.stop) for k, s in b.items()] == [
        ("mfcc", 0, 20), ("mfcc_delta", 20, 40), ("chroma_cqt", 40, 52), ("onset", 52, 53),
        ("beat", 53, 54), ("tempogram", 54, 438)]
    assert FEATURE_SETS["aist55"].channels["tempogram"] == slice(54, 55)
    assert "tempogram" not in FEATURE_SETS["duolando54"].channels
    e = FEATURE_SETS["edge35"].channels
    assert [(k, s.start, s.stop) for k, s in e.items()] == [
        ("onset", 0, 1), ("mfcc", 1, 21), ("chroma_cens", 21, 33), ("onset_peak", 33, 34),
        ("beat", 34, 35)]
    assert [FEATURE_SETS[k].beat_channel for k in ("bailando438", "aist55", "duolando54", "edge35")] \
        == [53, 53, 53, 34]
    assert music.sample_rate_for(60) == 30720 and music.sample_rate_for(30) == 15360
    assert music.sample_rate_for(7.5) == 3840
    assert music._n_octaves(30720) == 7 and music._n_octaves(15360) == 7
    assert music._n_octaves(3840) == 5  # Bailando's 7.5 fps extraction


def test_unknown_set_and_bad_fps_are_input_errors(audio_dir):
    with pytest.raises(InputError, match="unknown music feature set"):
        music.compute_features(audio_dir / "short.wav", 60, "nope", use_cache=False)
    with pytest.raises(InputError, match="non-integer sample rate"):
        music.sample_rate_for(29.97)


# --------------------------------------------------------------------------------------------------
# Shapes, alignment, beats
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fps", [60, 30])
def test_shapes_alignment_and_beat_channel(audio_dir, tmp_path, fps):
    path = audio_dir / "short.wav"
    duration = sf.info(path).frames / FILE_SR
    full = music.compute_features(path, fps, "bailando438", cache_dir=tmp_path)
    for name, spec in FEATURE_SETS.items():
        res = full if name == "bailando438" else music.compute_features(path, fps, name,
                                                                        cache_dir=tmp_path)
        T = res.features.shape[0]
        assert res.features.shape == (T, spec.dim) and res.features.dtype == np.float32
        assert abs(T - round(duration * fps)) <= 1, (name, T, duration * fps)
        assert np.isfinite(res.features).all()
        assert res.beats.dtype == np.int64 and np.all(np.diff(res.beats) > 0)
        assert res.beats.size > 0 and res.beats.min() >= 0 and res.beats.max() < T
        # The beat column is exactly the one-hot of the returned beats.
        assert np.array_equal(np.flatnonzero(res.features[:, spec.beat_channel]), res.beats)
        np.testing.assert_allclose(res.beat_times, res.beats / fps)
        assert res.fps == fps and res.feature_set == name
        assert res.duration == pytest.approx(duration, abs=1e-6)
        if spec.pipeline == "bailando":
            # aist55 and duolando54 are prefixes of the 438-d vector, channel for channel.
            np.testing.assert_array_equal(res.features, full.features[:, :spec.dim])
    # Chroma bins are normalised per frame (max 1) and onset strength is non-negative.
    assert np.allclose(full.features[:, 40:52].max(axis=1), 1.0, atol=1e-5)
    assert (full.features[:, 52] >= 0).all()


@pytest.mark.parametrize("fps,feature_set", [(60, "bailando438"), (30, "duolando54"),
                                             (30, "edge35"), (60, "edge35")])
def test_beats_of_120_bpm_click_track(audio_dir, fps, feature_set):
    y, beat_times = click_track(6.0)
    res = music.features_from_waveform(y, FILE_SR, fps, feature_set)
    truth = np.round(beat_times * fps).astype(int)
    assert f_measure(res.beats, truth, tolerance=2) >= 0.9, (res.beats, truth)
    assert res.tempo == pytest.approx(BPM, rel=0.05)
    assert abs(np.median(np.diff(res.beats)) - fps * 60 / BPM) <= 1


def test_matches_straightforward_librosa_pipeline(audio_dir):
    """The shared-STFT / single-HPSS / fast-median path gives the reference script's numbers."""
    import librosa

    sr = 15360
    y, _ = music.load_audio(audio_dir / "short.wav", sr=sr)
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr), ref=np.max)
    mfcc = librosa.feature.mfcc(S=mel_db)
    harmonic = librosa.effects.harmonic(y)
    percussive = librosa.effects.percussive(y)
    chroma = librosa.feature.chroma_cqt(y=harmonic, sr=sr, n_octaves=7)
    onset = librosa.onset.onset_strength(y=percussive, sr=sr, aggregate=np.median)
    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=sr)
    _, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr)
    one_hot = np.zeros_like(onset)
    one_hot[beats] = 1
    ref = np.concatenate([mfcc, librosa.feature.delta(mfcc, width=3), chroma, onset[None],
                          one_hot[None], tempogram]).T  # (T, 438)
    ours = music.features_from_waveform(y, sr, 30, "bailando438")
    np.testing.assert_allclose(ours.features, ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(ours.beats, beats)

    env = librosa.onset.onset_strength(y=y, sr=sr)
    peaks = librosa.onset.onset_detect(onset_envelope=env, sr=sr)
    _, ebeats = librosa.beat.beat_track(onset_envelope=env, sr=sr, tightness=100,
                                        start_bpm=librosa.feature.tempo(onset_envelope=env, sr=sr)[0])
    ref = np.concatenate([env[None], librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20),
                          librosa.feature.chroma_cens(y=y, sr=sr, n_chroma=12),
                          np.isin(np.arange(env.size), peaks)[None],
                          np.isin(np.arange(env.size), ebeats)[None]]).T  # (T, 35)
    ours = music.features_from_waveform(y, sr, 30, "edge35")
    np.testing.assert_allclose(ours.features, ref, rtol=1e-5, atol=1e-4)


def melody(duration: float, sr: int = FILE_SR, seed: int = 0) -> np.ndarray:
    """A click track under a tune that changes note every 0.4 s, a little sharp of A440 tuning, so
    chroma, its tuning estimate and the onsets all vary along the song."""
    rng = np.random.default_rng(seed)
    y, _ = click_track(duration, sr=sr, seed=seed)
    t = np.arange(y.size) / sr
    notes = 220.0 * 2 ** ((rng.integers(0, 24, size=int(duration / 0.4) + 1) + 0.2) / 12)
    y += 0.2 * np.sin(2 * np.pi * np.cumsum(notes[(t / 0.4).astype(int)]) / sr)
    return y.astype(np.float32)


@pytest.mark.parametrize("feature_set,fps", [("bailando438", 60), ("edge35", 30)])
def test_chunked_features_equal_the_whole_song(monkeypatch, feature_set, fps):
    """Chunks with context give the whole-song values: many chunks here, one in the other tests."""
    y = melody(16.0, seed=3)
    monkeypatch.setattr(music, "CHUNK_FRAMES", 10 ** 6)
    whole = music.features_from_waveform(y, FILE_SR, fps, feature_set)
    monkeypatch.setattr(music, "CHUNK_FRAMES", 100)  # 10 chunks at 60 fps, 5 at 30
    monkeypatch.setattr(music, "AUDIO_BLOCK", 3001)  # the spool re-read in odd-sized blocks
    chunked = music.features_from_waveform(y, FILE_SR, fps, feature_set)
    assert chunked.features.shape == whole.features.shape and whole.num_frames > 4 * 100
    np.testing.assert_allclose(chunked.features, whole.features, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(chunked.beats, whole.beats)
    assert chunked.tempo == whole.tempo


@pytest.mark.parametrize("n", [1, 511, 512, 70_000, 100_001])
def test_segments_tile_the_song_with_context(n):
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n).astype(np.float32)
    cuts = np.sort(rng.integers(0, n, size=7))
    blocks = [b for b in np.split(y, cuts)]  # uneven blocks, some empty
    segments = list(music._segments(iter(blocks), chunk=20, context=7))
    hop = music.HOP_LENGTH
    frames = 1 + n // hop
    assert [s.start for s in segments] == list(range(0, frames, 20))
    assert segments[-1].stop == frames and all(a.stop == b.start for a, b in zip(segments, segments[1:]))
    for s in segments:
        assert s.first == max(0, s.start - 7)
        end = n if s is segments[-1] else (s.stop + 7) * hop
        np.testing.assert_array_equal(s.samples, y[s.first * hop:end])
    np.testing.assert_array_equal(np.concatenate([s.own(s.samples) for s in segments]), y)


def test_streamed_file_equals_in_memory_waveform_across_blocks(tmp_path, monkeypatch):
    """A file read and resampled block by block gives the samples of a whole-file load."""
    y = melody(5.0, seed=4)
    path = tmp_path / "tune.wav"
    sf.write(path, np.stack([y, 0.5 * y], axis=1), FILE_SR, subtype="FLOAT")
    whole = music._resample(0.75 * y, FILE_SR, 15360)
    monkeypatch.setattr(music, "AUDIO_BLOCK", 777)
    stream = music._AudioStream(path, 15360)
    streamed = np.concatenate(list(stream))
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-6)
    assert stream.native_sr == FILE_SR and stream.duration == pytest.approx(5.0, abs=1 / FILE_SR)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("length", [3, 31, 200])
def test_fast_median_filter_equals_scipy(axis, length):
    from scipy.ndimage import median_filter

    rng = np.random.default_rng(length)
    S = rng.random((40, length) if axis == 1 else (length, 40)).astype(np.float32)
    S[:, :2] = 0.0  # ties
    size = [1, 1]
    size[axis] = 31
    np.testing.assert_array_equal(music._median_filter_axis(S, axis, 31),
                                  median_filter(S, size=size, mode="reflect"))


def test_aist_tempo_from_name():
    assert music.aist_tempo_from_name("mBR0") == 80
    assert music.aist_tempo_from_name("mJB5") == 130
    assert music.aist_tempo_from_name("mHO2") == 120
    assert music.aist_tempo_from_name("song") is None
    assert music.aist_tempo_from_name("mBR10") is None


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"),
                                         ("mp3", "MPEG_LAYER_III")])
def test_every_format_loads(tmp_path, fmt, subtype):
    y, _ = click_track(3.0, sr=44100)
    stereo = np.stack([y, 0.5 * y], axis=1)  # (N, 2): downmix is the channel mean
    path = tmp_path / f"song.{fmt}"
    sf.write(path, stereo, 44100, format=fmt.upper(), subtype=subtype)
    loaded, sr = music.load_audio(path, sr=15360)
    assert sr == 15360 and loaded.dtype == np.float32 and loaded.ndim == 1
    # mp3 encoders add padding at the start; allow 0.1 s.
    assert abs(loaded.size / sr - 3.0) < 0.1
    # The mean of the channels is 0.75 * y; the loud clicks survive any codec at about that level.
    assert 0.45 < np.abs(loaded).max() / (0.75 * np.abs(y).max()) < 1.4
    res = music.compute_features(path, 30, "duolando54", use_cache=False)
    assert res.features.shape[1] == 54 and abs(res.features.shape[0] - round(res.duration * 30)) <= 1


def test_ffmpeg_fallback_for_formats_libsndfile_cannot_read(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    y, _ = click_track(2.0)
    wav = tmp_path / "src.wav"
    sf.write(wav, y, FILE_SR)
    m4a = tmp_path / "song.m4a"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", "aac",
                    str(m4a)], check=True, capture_output=True)
    with pytest.raises(sf.LibsndfileError):
        sf.read(m4a)  # so the fallback is what is being tested
    loaded, sr = music.load_audio(m4a, sr=FILE_SR)
    assert sr == FILE_SR and abs(loaded.size / sr - 2.0) < 0.1 and np.abs(loaded).max() > 0.3


def test_in_memory_waveform_equals_file(audio_dir, tmp_path):
    y, _ = click_track(6.0)
    from_file = music.compute_features(audio_dir / "click.wav", 60, "bailando438",
                                       cache_dir=tmp_path)
    in_memory = music.features_from_waveform(np.stack([y, y]), FILE_SR, 60, "bailando438")
    np.testing.assert_array_equal(in_memory.features, from_file.features)
    np.testing.assert_array_equal(in_memory.beats, from_file.beats)
    assert in_memory.source is None and from_file.source == str(audio_dir / "click.wav")


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------
def _bad_files(d: Path) -> dict[str, Path]:
    files = {"missing": d / "missing.wav"}
    files["text"] = d / "notes.wav"
    files["text"].write_text("this is not audio\n" * 50)
    files["empty_bytes"] = d / "empty.flac"
    files["empty_bytes"].write_bytes(b"")
    files["zero_length"] = d / "zero.wav"
    sf.write(files["zero_length"], np.zeros(0, np.float32), FILE_SR)
    files["silent"] = d / "silent.wav"
    sf.write(files["silent"], np.zeros(FILE_SR * 2, np.float32), FILE_SR)
    files["near_silent"] = d / "hiss.flac"
    sf.write(files["near_silent"],
             1e-5 * np.random.default_rng(0).standard_normal(FILE_SR * 2), FILE_SR, subtype="PCM_24")
    files["nan"] = d / "nan.wav"
    bad = click_track(2.0)[0]
    bad[100] = np.nan
    sf.write(files["nan"], bad, FILE_SR, subtype="FLOAT")
    files["too_short"] = d / "blip.wav"
    sf.write(files["too_short"], click_track(0.2)[0], FILE_SR)
    files["folder"] = d / "folder.wav"
    files["folder"].mkdir()
    return files


@pytest.mark.parametrize("kind,match", [
    ("missing", "not found"), ("text", "not a readable audio file"),
    ("empty_bytes", "not a readable audio file"), ("zero_length", "zero length"),
    ("silent", "silent"), ("near_silent", "silent"), ("nan", "NaN"), ("too_short", "at least"),
    ("folder", "folder")])
def test_bad_input_raises_input_error_naming_the_file(tmp_path, kind, match):
    path = _bad_files(tmp_path)[kind]
    for call in (lambda: music.load_audio(path, sr=15360),
                 lambda: music.compute_features(path, 30, "duolando54", cache_dir=tmp_path / "c")):
        with pytest.raises(InputError, match=match) as err:
            call()
        message = str(err.value)
        assert str(path) in message and "\n" not in message and ";" in message  # names file and fix
    assert not any((tmp_path / "c").glob("*.npz"))  # nothing cached for bad input


def test_bad_waveform_in_memory():
    with pytest.raises(InputError, match="silent"):
        music.features_from_waveform(np.zeros(FILE_SR), FILE_SR, 30, "edge35", source="gen")
    with pytest.raises(InputError, match="shape"):
        music.features_from_waveform(np.zeros((1, 2, FILE_SR)), FILE_SR, 30, "edge35")


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def counted(monkeypatch):
    """Count calls into the feature computation that compute_features makes on a cache miss."""
    calls = []
    real = music._features_from_blocks

    def counting(*args, **kwargs):
        calls.append((args[1:], kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(music, "_features_from_blocks", counting)
    return calls


def test_cache_hit_miss_and_corruption(audio_dir, tmp_path, counted):
    src = tmp_path / "song.wav"
    src.write_bytes((audio_dir / "short.wav").read_bytes())
    cache = tmp_path / "cache"

    first = music.compute_features(src, 30, "duolando54", cache_dir=cache)
    assert len(counted) == 1 and len(list(cache.glob("*.npz"))) == 1
    again = music.compute_features(src, 30, "duolando54", cache_dir=cache)
    assert len(counted) == 1  # hit: not recomputed
    np.testing.assert_array_equal(again.features, first.features)
    np.testing.assert_array_equal(again.beats, first.beats)
    assert again.tempo == first.tempo and again.duration == first.duration
    assert again.source == str(src)

    # Content, not name, is the key: a copy elsewhere hits too.
    copy = tmp_path / "other" / "renamed.wav"
    copy.parent.mkdir()
    copy.write_bytes(src.read_bytes())
    music.compute_features(copy, 30, "duolando54", cache_dir=cache)
    assert len(counted) == 1

    # Any changed setting misses.
    music.compute_features(src, 60, "duolando54", cache_dir=cache)
    assert len(counted) == 2
    music.compute_features(src, 30, "aist55", cache_dir=cache)
    assert len(counted) == 3
    # Changed audio content misses.
    y, _ = click_track(4.0, seed=7)
    sf.write(src, y, FILE_SR, subtype="PCM_16")
    changed = music.compute_features(src, 30, "duolando54", cache_dir=cache)
    assert len(counted) == 4 and not np.array_equal(changed.features, first.features)
    assert len(list(cache.glob("*.npz"))) == 4

    # A corrupt cache file is ignored, recomputed and rewritten.
    entry = next(cache.glob("duolando54-30fps-*.npz"))
    for junk in (b"garbage", entry.read_bytes()[:200]):
        for e in cache.glob("duolando54-30fps-*.npz"):
            e.write_bytes(junk)
        res = music.compute_features(src, 30, "duolando54", cache_dir=cache)
        np.testing.assert_array_equal(res.features, changed.features)
    assert len(counted) == 6
    music.compute_features(src, 30, "duolando54", cache_dir=cache)
    assert len(counted) == 6  # the rewritten entry is good again

    # use_cache=False always computes and writes nothing new.
    before = sorted(cache.iterdir())
    music.compute_features(src, 30, "duolando54", cache_dir=cache, use_cache=False)
    assert len(counted) == 7 and sorted(cache.iterdir()) == before
    assert not list(cache.glob(".*"))  # no temporary files left behind


def test_cache_hit_needs_no_librosa(audio_dir, tmp_path):
    """A hit is a hash and an npz read: a fresh process answers it without importing librosa."""
    cache = tmp_path / "cache"
    music.compute_features(audio_dir / "short.wav", 30, "edge35", cache_dir=cache)
    code = ("import sys; from data import music; "
            f"r = music.compute_features({str(audio_dir / 'short.wav')!r}, 30, 'edge35', "
            f"cache_dir={str(cache)!r}); "
            "print(r.features.shape[1], 'librosa' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["35", "False"]


def test_cache_location_from_environment(audio_dir, tmp_path, monkeypatch, counted):
    env_cache = tmp_path / "from-env"
    monkeypatch.setenv(music.ENV_CACHE, str(env_cache))
    music.compute_features(audio_dir / "short.wav", 30, "duolando54")
    assert len(list(env_cache.glob("duolando54-30fps-*.npz"))) == 1
    music.compute_features(audio_dir / "short.wav", 30, "duolando54")
    assert len(counted) == 1
    monkeypatch.delenv(music.ENV_CACHE)
    assert music.feature_cache_dir() == Path("~/.cache/pasdeux/features").expanduser()
    assert music.feature_cache_dir(tmp_path) == tmp_path


# --------------------------------------------------------------------------------------------------
# write_feature_files and the CLI
# --------------------------------------------------------------------------------------------------
def test_write_feature_files_refuses_duplicate_stems(audio_dir, tmp_path, counted):
    other = tmp_path / "x" / "short.flac"
    other.parent.mkdir()
    sf.write(other, click_track(2.0)[0], FILE_SR)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="same name stem") as err:
        music.write_feature_files([audio_dir / "short.wav", other], out, 30, "duolando54",
                                  cache_dir=tmp_path / "c")
    assert str(other) in str(err.value)
    assert not counted and not out.exists()  # refused before any work or output


def test_write_feature_files_writes_nothing_when_one_song_is_bad(audio_dir, tmp_path):
    bad = tmp_path / "silent.wav"
    sf.write(bad, np.zeros(FILE_SR), FILE_SR)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="silent"):
        music.write_feature_files([audio_dir / "short.wav", bad], out, 30, "duolando54",
                                  cache_dir=tmp_path / "c")
    assert not out.exists() or not any(out.iterdir())


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "cli.py"), "features", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_cli_features_end_to_end(audio_dir, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes((audio_dir / "short.wav").read_bytes())
    sf.write(b, click_track(3.0, seed=3)[0], FILE_SR)
    out, cache = tmp_path / "feats", tmp_path / "cache"

    proc = _run_cli(str(a), str(b), "--fps", "60", "--set", "bailando438", "--out", str(out),
                    "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.npz", "b.npz"]
    assert proc.stdout.split() == [str(out / "a.npz"), str(out / "b.npz")]
    for name, duration in (("a", 4.0), ("b", 3.0)):
        with np.load(out / f"{name}.npz", allow_pickle=False) as z:
            assert {"features", "beats", "fps", "beat_times", "feature_set"} <= set(z.files)
            T = z["features"].shape[0]
            assert z["features"].shape == (T, 438) and z["features"].dtype == np.float32
            assert abs(T - duration * 60) <= 1
            assert float(z["fps"]) == 60.0 and str(z["feature_set"]) == "bailando438"
            assert np.array_equal(np.flatnonzero(z["features"][:, 53]), z["beats"])
            np.testing.assert_allclose(z["beat_times"], z["beats"] / 60.0)

    # One bad song among good ones: exit 2, one line naming it, no npz at all.
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    out2 = tmp_path / "feats2"
    proc = _run_cli(str(a), str(bad), str(b), "--fps", "60", "--set", "bailando438", "--out",
                    str(out2), "--cache-dir", str(cache))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0] and lines[0].startswith("pasdeux: error:")
    assert not list(out2.glob("**/*.npz")) and not list(out2.glob("**/.*"))


def test_a_processes_first_feature_computation_holds_the_numba_cache_lock(tmp_path, monkeypatch):
    # librosa's numba cache written by two processes at once crashed one (SIGSEGV) on a fresh install
    from data import music

    monkeypatch.setattr(music.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(music, "_NUMBA_WARM", set())
    probe = ("import fcntl, sys\nf = open(sys.argv[1])\ntry:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "    print('free')\nexcept OSError:\n    print('held')\n")

    def other_process_sees() -> str:
        [lock] = tmp_path.glob("pasdeux-numba-*.lock")
        return subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True).stdout.strip()

    with pytest.raises(RuntimeError):
        with music.numba_first_use("aist55"):
            raise RuntimeError("failed first computation")
    assert "aist55" not in music._NUMBA_WARM  # a failed first use is not a warm cache
    with music.numba_first_use("aist55"):
        assert other_process_sees() == "held"
    assert other_process_sees() == "free"  # released
    with music.numba_first_use("aist55"):  # warm now: no lock
        assert other_process_sees() == "free"
    with music.numba_first_use("edge35"):  # another feature set's first use locks again
        assert other_process_sees() == "held"

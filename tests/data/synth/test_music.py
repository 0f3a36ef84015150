"""Synthetic songs: deterministic, exact beat grid in AIST tempi, sections whose energy is audible,
genres that differ, and beats that librosa finds."""

from __future__ import annotations

import numpy as np
import pytest

from data.datasets.aistpp import music_bpm
from metrics.corpus_checks import beat_f_measure, librosa_beats
from data.synth.music import DEFAULT_SR, GENRES, SongTruth, bpm_of, digit_for_bpm, synth_song


@pytest.fixture(scope="module")
def song() -> tuple[np.ndarray, SongTruth]:
    return synth_song("HO", seed=3, duration=20.0)


def test_same_seed_same_song_other_seed_other_song(song):
    audio, truth = song
    again, truth2 = synth_song("HO", seed=3, duration=20.0)
    assert np.array_equal(audio, again)
    assert truth.to_json() == truth2.to_json()
    other, _ = synth_song("HO", seed=4, duration=20.0)
    assert not np.array_equal(audio, other)


def test_length_rate_and_level(song):
    audio, truth = song
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.shape[0] == round(20.0 * DEFAULT_SR) and truth.sr == DEFAULT_SR >= 22050
    assert truth.duration == pytest.approx(20.0)
    assert 0.5 < np.abs(audio).max() <= 0.9  # normalised, not clipped
    a22, t22 = synth_song("BR", seed=1, duration=5.0, sr=22050)
    assert a22.shape[0] == round(5.0 * 22050) and t22.sr == 22050
    with pytest.raises(ValueError, match="below"):
        synth_song("BR", seed=1, duration=5.0, sr=16000)
    with pytest.raises(ValueError, match="unknown genre"):
        synth_song("XX", seed=1, duration=5.0)


def test_beats_are_an_exact_grid_in_an_aist_tempo(song):
    _, truth = song
    assert truth.genre == "HO"
    # the name is the AIST music id and encodes the tempo as AIST++ does (House: 110 + 5 d)
    assert truth.name == truth.music_id and music_bpm(truth.name) == truth.bpm
    assert truth.bpm in {bpm_of("HO", d) for d in GENRES["HO"].digits}
    np.testing.assert_allclose(np.diff(truth.beat_times), 60.0 / truth.bpm, atol=1e-9)
    assert 0.0 < truth.beat_times[0] < 60.0 / truth.bpm and truth.beat_times[-1] < truth.duration
    assert len(truth.beat_times) == int((truth.duration - truth.beat_times[0]) // (60.0 / truth.bpm)) + 1
    np.testing.assert_array_equal(truth.downbeat_times, truth.beat_times[::4])
    # a tempo given explicitly is honoured, and one off the AIST grid gets a non-AIST name
    _, t = synth_song("KR", seed=2, duration=6.0, bpm=97.0)
    assert t.bpm == 97.0 and t.music_id == "" and digit_for_bpm("KR", 97.0) is None
    np.testing.assert_allclose(np.diff(t.beat_times), 60.0 / 97.0, atol=1e-9)


def test_sections_tile_the_song_on_downbeats_and_their_energy_is_audible(song):
    audio, truth = song
    starts = [s for s, _, _ in truth.sections]
    ends = [e for _, e, _ in truth.sections]
    assert starts[0] == 0.0 and ends[-1] == pytest.approx(truth.duration)
    assert all(abs(e - s) < 1e-9 for e, s in zip(ends[:-1], starts[1:]))
    for s in starts[1:]:
        assert np.min(np.abs(truth.downbeat_times - s)) < 1e-9  # boundaries on downbeats
    assert len(truth.section_labels) == len(truth.sections) and truth.section_labels[0] == "intro"
    energies = np.array([e for _, _, e in truth.sections])
    assert energies.min() >= 0 and energies.max() <= 1 and energies.max() - energies.min() > 0.3
    # energy_at is piecewise constant over the sections
    mids = np.array([(s + e) / 2 for s, e, _ in truth.sections])
    np.testing.assert_allclose(truth.energy_at(mids), energies)
    # the loudest section is louder (RMS) than the quietest one
    hi, lo = int(np.argmax(energies)), int(np.argmin(energies))

    def rms(k: int) -> float:
        s, e, _ = truth.sections[k]
        seg = audio[int(s * truth.sr): int(e * truth.sr)]
        return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))

    assert rms(hi) > 1.3 * rms(lo)


def test_truth_json_round_trip(song):
    _, truth = song
    back = SongTruth.from_json(truth.to_json())
    np.testing.assert_allclose(back.beat_times, truth.beat_times, atol=1e-6)
    np.testing.assert_allclose(back.downbeat_times, truth.downbeat_times, atol=1e-6)
    assert back.bpm == truth.bpm and back.genre == truth.genre and back.sr == truth.sr
    assert [s[2] for s in back.sections] == pytest.approx([s[2] for s in truth.sections], abs=1e-4)
    assert SongTruth.from_json(truth.to_dict()).name == truth.name


def test_genres_differ_in_tempo_range_drums_and_timbre():
    assert len(GENRES) >= 6
    assert set(GENRES) <= {"BR", "PO", "LO", "MH", "LH", "HO", "WA", "KR", "JS", "JB"}
    assert len({g.bpm_range for g in GENRES.values()}) >= 6
    assert len({(g.kick, g.snare, g.hats) for g in GENRES.values()}) == len(GENRES)
    assert len({(g.kit, g.bass_wave, g.chord_wave, g.chord_style) for g in GENRES.values()}) == len(GENRES)
    for g in GENRES.values():
        assert len(g.digits) >= 6 and len(set(g.digits)) == len(g.digits)  # one AIST music id per song
        for pat in (g.kick, g.snare, g.hats, g.open_hats, g.perc):
            assert len(pat) == 16
        # every beat carries a kick or a snare-like hit: the pulse never disappears
        assert all(g.kick[k] != "." or g.snare[k] != "." for k in (0, 4, 8, 12))
    # the same seed in two genres sounds different (spectral centroid)
    a, t = synth_song("KR", seed=5, duration=6.0, bpm=100.0)
    b, _ = synth_song("WA", seed=5, duration=6.0, bpm=100.0)

    def centroid(x: np.ndarray) -> float:
        mag = np.abs(np.fft.rfft(x.astype(np.float64)))
        f = np.fft.rfftfreq(x.size, 1.0 / t.sr)
        return float((mag * f).sum() / mag.sum())

    assert abs(centroid(a) - centroid(b)) > 200.0


def test_beat_f_measure_definition():
    ref = np.arange(10) * 0.5 + 0.25
    assert beat_f_measure(ref, ref) == 1.0
    assert beat_f_measure(ref, ref + 0.06) == 1.0  # inside +-70 ms
    assert beat_f_measure(ref, ref + 0.1) == 0.0
    assert beat_f_measure(ref, ref[::2]) == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # half tempo
    assert beat_f_measure(ref, np.sort(np.r_[ref, ref + 0.25])) == pytest.approx(2 * 0.5 / 1.5)  # double
    assert beat_f_measure(ref, []) == 0.0
    assert beat_f_measure(ref, ref, min_time=2.0) == 1.0


@pytest.mark.parametrize("genre", ["KR", "WA"])
def test_librosa_finds_the_beats(genre):
    audio, truth = synth_song(genre, seed=11, duration=12.0)
    est, tempo = librosa_beats(audio, truth.sr)
    assert beat_f_measure(truth.beat_times, est) >= 0.9
    assert abs(tempo - truth.bpm) / truth.bpm < 0.05

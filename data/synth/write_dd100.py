"""Write the synthetic duets in DD100's own layout, so :class:`data.datasets.dd100.DD100Reader` reads them.

Layout (Duolando's release, see ``data/datasets/dd100.py``)::

    <root>/motion/smplx/all/<GENRE>_<CHOREO>_<TAKE>_00.npy     follower (np.save of a dict)
    <root>/motion/smplx/all/<GENRE>_<CHOREO>_<TAKE>_01.npy     leader
    <root>/music/mp3/all/<GENRE>_<CHOREO>_<TAKE>.mp3           the duet's music (24 kHz MP3)
    <root>/groundtruth/<GENRE>_<CHOREO>_<TAKE>.json            what the duet contains, exactly
    <root>/groundtruth/index.json                              every duet: song, genres, split, take

Each motion dict holds ``poses`` (T, 165) SMPL-X axis-angle (55 joints in SMPL-X order, fingers
included), ``global_orient`` (T, 3) = ``poses[:, :3]``, ``transl`` (T, 3), ``betas`` (T, 10) (zeros:
the built-in rest skeleton is the mean shape) and ``meta = {"gender": ...}`` ("female" for the
follower, "male" for the leader, as in DD100), all at 30 fps, float32.

Names. DD100's genres are dance styles; each synthetic music genre (AIST++'s ten) maps to one duet
style (:data:`DUET_GENRES`; no ``_`` in a name). The split is DD100's rule on the choreography index
(test when ``choreo % 5 == 0``, Ballet when ``choreo in {9, 10}``), so choreography indices are
*assigned* from each song's split: a held-out song (``test`` or ``val`` in the song's truth) gets a
test index, a training song a train index. One song is one choreography; some get a second take
(the same choreography -- the same moves, responses, formations -- danced by other dancers: new
styles and timing jitter), as DD100 recorded many duets twice.

How many duets and how long comes from the preset (``dd100_pairs``, ``dd100_duration``); songs are
chosen round-robin over genres with every fifth a held-out one (:func:`data.synth.subset.select_songs`).

Music is the song resampled to 24 kHz (a rate MP3 supports; DD100's readers resample anyway, to
15360 Hz in Duolando's feature extraction).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from data.datasets.dd100 import DD100_FPS, parse_duet_name, split_of
from data.io import atomic_output
from data.synth.subset import select_songs, truncate_song
from data.synth.duet import generate_duet
from data.synth.solo import DancerStyle

DD100_AUDIO_SR = 24000
DUET_GENRES: dict[str, str] = {
    "BR": "Jive", "PO": "ChaCha", "LO": "Swing", "MH": "Rumba", "LH": "Modern",
    "HO": "Samba", "WA": "Disco", "KR": "Tango", "JS": "Jazz", "JB": "Ballet",
}
"""Synthetic music genre (AIST++ code) -> DD100-style duet genre."""
SECOND_TAKE_EVERY = 3
"""Every third song, in writing order, is danced a second time (take 2)."""


def duet_genre(music_genre: str) -> str:
    """The duet style of a music genre; an unknown code is used as it is (without ``_``)."""
    return DUET_GENRES.get(music_genre, music_genre.replace("_", ""))


def _choreo_indices(genre: str, limit: int = 1000) -> tuple[list[int], list[int]]:
    """(train, test) choreography indices for ``genre``, by the reader's own split rule."""
    train, test = [], []
    for i in range(1, limit):
        (test if split_of(f"{genre}_{i:02d}_1") == "test" else train).append(i)
    return train, test


@dataclass
class _DuetJob:
    name: str
    song_index: int
    take: int
    choreo_seed: int
    performance_seed: int
    split: str


def assign_names(truths: list, order: list[int] | None = None, count: int | None = None) -> list[_DuetJob]:
    """Duet names for the songs ``order`` (default: all, in turn), at most ``count`` duets.

    One song is one choreography; every third one is also danced a second time (take 2). A song
    whose truth says ``test`` or ``val`` becomes a test choreography, ``train`` (or no split) a train
    one. Ballet has only two test choreographies (9 and 10, by DD100's rule): further held-out Ballet
    songs are skipped (a choreography is one song), and the next songs fill the count.
    """
    jobs: list[_DuetJob] = []
    counters: dict[tuple[str, str], int] = {}
    order = list(range(len(truths))) if order is None else list(order)
    for i in order:
        if count is not None and len(jobs) >= count:
            break
        truth = truths[i]
        genre = duet_genre(truth.genre)
        split = "test" if getattr(truth, "split", "") in ("test", "val") else "train"
        train_ids, test_ids = _choreo_indices(genre)
        ids = test_ids if split == "test" else train_ids
        k = counters.get((genre, split), 0)
        if k >= len(ids):
            continue
        counters[(genre, split)] = k + 1
        choreo = ids[k]
        takes = [1]
        if len({j.song_index for j in jobs}) % SECOND_TAKE_EVERY == SECOND_TAKE_EVERY - 1:  # every third song
            takes.append(2)
        for take in takes:
            if count is not None and len(jobs) >= count:
                break
            name = f"{genre}_{choreo:02d}_{take}"
            assert split_of(name) == split, (name, split)  # the reader's rule agrees
            jobs.append(_DuetJob(name=name, song_index=i, take=take, choreo_seed=0, performance_seed=0,
                                 split=split))
    return jobs


def _motion_dict(rotations: np.ndarray, transl: np.ndarray, gender: str) -> dict:
    """DD100's SMPL-X dict for one dancer (float32, per-frame betas)."""
    T = len(rotations)
    poses = np.asarray(rotations, dtype=np.float32).reshape(T, 165)
    return {
        "poses": poses,
        "global_orient": poses[:, :3].copy(),
        "transl": np.asarray(transl, dtype=np.float32),
        "betas": np.zeros((T, 10), dtype=np.float32),
        "meta": {"gender": gender},
    }


def _save_npy_dict(path: Path, payload: dict) -> int:
    """``np.save`` of a dict (a pickled 0-d object array), as DD100 stores motions; atomic. Returns bytes."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, payload, allow_pickle=True)
    return path.stat().st_size


def _write_audio(path: Path, audio: np.ndarray, sr: int) -> tuple[int, str]:
    """The song at :data:`DD100_AUDIO_SR` as MP3 (WAV when this libsndfile cannot encode MP3)."""
    g = np.gcd(int(sr), DD100_AUDIO_SR)
    y = resample_poly(np.asarray(audio, dtype=np.float64), DD100_AUDIO_SR // g, int(sr) // g)
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    try:
        with atomic_output(path) as tmp:
            sf.write(tmp, y, DD100_AUDIO_SR, format="MP3")
        return path.stat().st_size, path.name
    except (sf.LibsndfileError, TypeError, ValueError):
        wav = path.with_suffix(".wav")
        with atomic_output(wav) as tmp:
            sf.write(tmp, y, DD100_AUDIO_SR, format="WAV", subtype="PCM_16")
        return wav.stat().st_size, wav.name


def _write_json(path: Path, obj) -> int:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")
    return path.stat().st_size


def duet_for(truth, choreo_seed: int, performance_seed: int):
    """The duet of one DD100 take, a pure function of its song and seeds (a ``DuetTruth``, 30 fps).

    The choreography (both dancers' moves, the responses, formations and contact plan) comes from
    ``choreo_seed``, shared by the takes of a song; the dancers (styles: amplitude, timing, posture)
    from ``performance_seed``, one per take.
    """
    perf = np.random.default_rng(performance_seed)
    leader_style, follower_style = DancerStyle.sample(perf), DancerStyle.sample(perf)
    return generate_duet(truth, np.random.default_rng(choreo_seed), leader_style, follower_style, fps=DD100_FPS)


def write_dd100_corpus(root: Path, songs: list, rng: np.random.Generator, preset) -> dict:
    """Write duets in DD100's layout under ``root``: one per selected song, some with a second take.

    Args:
        root: the DD100 folder to create (``motion/``, ``music/``, ``groundtruth/``).
        songs: ``[(audio float32 (N,), SongTruth)]``; the truth's ``split`` decides the duet's split.
        rng: the random source; every duet's seeds are drawn from it up front, in a fixed order.
        preset: a :class:`data.synth.corpus.SynthPreset`: ``dd100_pairs`` duets (leader + follower
            pairs, second takes included) of the first ``dd100_duration`` seconds of their songs.
            ``None`` writes every song, whole.

    Returns:
        counts and sizes: duets, train / test duets, frames, seconds, bytes, seconds taken.
    """
    t_start = time.perf_counter()
    root = Path(root)
    count = getattr(preset, "dd100_pairs", None)
    duration = getattr(preset, "dd100_duration", None)
    truths = [t for _, t in songs]
    order = select_songs(truths, None if count is None else len(truths), period=5, slots={1: ("test", "val")})
    jobs = assign_names(truths, order, count)
    # seeds: one choreography seed per song, one performance seed per take, drawn in a fixed order
    choreo_seeds = rng.integers(0, 2**63 - 1, size=len(songs))
    for job in jobs:
        job.choreo_seed = int(choreo_seeds[job.song_index])
        job.performance_seed = int(rng.integers(0, 2**63 - 1))

    motion_dir = root / "motion" / "smplx" / "all"
    music_dir = root / "music" / "mp3" / "all"
    gt_dir = root / "groundtruth"
    total_bytes = 0
    frames = 0
    index = []
    for job in jobs:
        audio, truth = truncate_song(*songs[job.song_index], duration)
        duet = duet_for(truth, job.choreo_seed, job.performance_seed)
        total_bytes += _save_npy_dict(motion_dir / f"{job.name}_00.npy",
                                      _motion_dict(duet.follower_rotations, duet.follower_root, "female"))
        total_bytes += _save_npy_dict(motion_dir / f"{job.name}_01.npy",
                                      _motion_dict(duet.leader_rotations, duet.leader_root, "male"))
        n_bytes, music_file = _write_audio(music_dir / f"{job.name}.mp3", audio, truth.sr)
        total_bytes += n_bytes
        frames += duet.num_frames
        parsed = parse_duet_name(job.name)
        sidecar = {
            "name": job.name,
            "duet_genre": parsed.genre,
            "choreography": parsed.choreo,
            "take": job.take,
            "split": job.split,
            "choreography_seed": job.choreo_seed,
            "performance_seed": job.performance_seed,
            "music_file": music_file,
            "music_sr": DD100_AUDIO_SR,
            "song": truth.to_dict(),
            "follower": "_00",
            "leader": "_01",
            "duet": duet.to_json(),
        }
        total_bytes += _write_json(gt_dir / f"{job.name}.json", sidecar)
        index.append({"name": job.name, "song": truth.name, "music_genre": truth.genre, "duet_genre": parsed.genre,
                      "choreography": parsed.choreo, "take": job.take, "split": job.split,
                      "frames": duet.num_frames,
                      "contact_share": round(float(duet.contact.mean()), 4),
                      "responses": [p.response for p in duet.phrases],
                      "formations": [p.formation for p in duet.phrases]})
    total_bytes += _write_json(gt_dir / "index.json", {"fps": DD100_FPS, "genres": DUET_GENRES, "duets": index})
    splits = [j.split for j in jobs]
    return {
        "pairs": len(jobs),  # leader + follower pairs (what cli.py synth prints)
        "duets": len(jobs),
        "train": splits.count("train"),
        "test": splits.count("test"),
        "files": 3 * len(jobs) + len(jobs) + 1,
        "frames": frames,
        "seconds": round(frames / DD100_FPS, 2),
        "bytes": total_bytes,
        "time_s": round(time.perf_counter() - t_start, 2),
    }

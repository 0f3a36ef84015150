"""Write synthetic dance + camera + music in DCM's layout, so :class:`data.datasets.dcm.DCMReader` reads them.

Layout (DanceCamera3D's preprocessed ``DCM_data``, see ``data/datasets/dcm.py``)::

    <root>/amc_data_split_by_categories/{Train,Validation,Test}/
        Audio/a{i}_{k}_{G}.wav                             (a{i}_{G}.wav for a song kept whole)
        CameraCentric/c{i}_{k}.json                        per-frame MMD camera, 30 fps
        Simplified_MotionGlobalTransform/m{i}_{k}_gt.json  60 MMD bones' global transforms, 30 fps
    <root>/split/{train,validation,test}.json              ["C_3_1", "K_4", ...]
    <root>/split/music_categories.json                     {"Chinese": [song ids], ...}
    <root>/split/long2short.json                           {"3": [[0, 612], [612, 1190]], "4": []}
    <root>/groundtruth/{G}_{i}[_{k}].json                  per piece: beats, downbeats, sections, moves,
                                                           camera cuts and shot kinds (piece frames)
    <root>/groundtruth/songs/{i}.json                      per song: the whole song's truth and camera

Song ``i`` is the i-th song given; its genre letter ``G`` (DCM's C, J, K, E) comes from the music
genre (:data:`DCM_GENRE_LETTERS`), so it is audible. The dance is a solo dance on the ``smplx55``
skeleton at 30 fps (:func:`data.synth.solo.generate_dance`), its joints mapped to the 60 MMD bones
with :func:`data.datasets.dcm.mmd_joints_from_smplx`, stood on the floor (y = 0) and written in DCM
units (:func:`data.camera.metres_to_dcm`). The camera is :func:`data.synth.camera.generate_camera`.

As in DCM, songs longer than 35 s are cut into pieces of 17-35 s, here at camera cuts (DCM cut at
camera keyframes), with inclusive frame ranges that share their boundary frame (``long2short.json``).
Unlike DCM, the split is drawn **by song** (the song truth's ``split``: train / val / test), so no
song has pieces on both sides.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from data.camera import metres_to_dcm
from data.datasets.dcm import (DCM_FPS, GENRES, MODALITIES, SPLIT_FOLDERS, SPLIT_JSON, mmd_joints_from_smplx,
                               write_camera_json, write_motion_json)
from data.io import atomic_output
from data.motion import floor_height
from data.synth.camera import bone_visibility, generate_camera
from data.synth.duet import smplx_joints, torch_single_thread
from data.synth.solo import DancerStyle, generate_dance
from data.synth.subset import select_songs, truncate_song

DCM_GENRE_LETTERS: dict[str, str] = {
    "PO": "K", "WA": "K", "HO": "J", "LO": "J", "JB": "C", "JS": "C", "KR": "C",
    "BR": "E", "MH": "E", "LH": "E",
}
"""Synthetic music genre (AIST++ code) -> DCM genre letter (C Chinese, J Japanese, K Korean, E English)."""
PIECE_MIN_FRAMES = 510  # 17 s: DCM's shortest piece
PIECE_MAX_FRAMES = 1050  # 35 s: DCM's longest piece; a song no longer than this stays whole
_MOTION_DECIMALS = 4  # DCM units (8 cm): 1e-4 is 8 um, far below any motion, and keeps the json lean


def genre_letter(music_genre: str) -> str:
    return DCM_GENRE_LETTERS.get(music_genre, "E")


def _song_split(truth, i: int) -> str:
    """The song's split (train / val / test); a song without one: every tenth val, every tenth test."""
    split = getattr(truth, "split", "")
    if split in ("train", "val", "test"):
        return split
    return {8: "val", 9: "test"}.get(i % 10, "train")


def piece_ranges(num_frames: int, cut_frames: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Inclusive ``[start, end]`` frame ranges of the pieces of a song (one range when it is short).

    Each piece is 17-35 s; boundaries are camera cuts where one fits, else any frame that fits;
    neighbouring pieces share their boundary frame, as DCM's ``long2short.json`` ranges do.
    """
    last = num_frames - 1
    if last <= PIECE_MAX_FRAMES:
        return [(0, last)]
    ranges = []
    s = 0
    cuts = np.asarray(cut_frames, dtype=np.int64)
    while last - s > PIECE_MAX_FRAMES:
        lo, hi = s + PIECE_MIN_FRAMES, min(s + PIECE_MAX_FRAMES, last - PIECE_MIN_FRAMES)
        ok = cuts[(cuts >= lo) & (cuts <= hi)]
        end = int(rng.choice(ok)) if len(ok) else int(rng.integers(lo, hi + 1)) if hi >= lo else s + PIECE_MAX_FRAMES
        ranges.append((s, end))
        s = end
    ranges.append((s, last))
    return ranges


@dataclass
class _Piece:
    song: int
    piece: int | None
    start: int
    end: int  # inclusive
    letter: str
    split: str

    @property
    def id(self) -> str:
        return f"{self.song}" if self.piece is None else f"{self.song}_{self.piece}"

    @property
    def key(self) -> str:
        return f"{self.letter}_{self.id}"


def _write_json(path: Path, obj) -> int:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")
    return path.stat().st_size


def _write_wav(path: Path, audio: np.ndarray, sr: int) -> int:
    with atomic_output(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0).astype(np.float32), int(sr), format="WAV", subtype="PCM_16")
    return path.stat().st_size


def dance_joints_dcm(rotations: np.ndarray, transl: np.ndarray) -> np.ndarray:
    """SMPL-X dance (T, 55, 3) axis-angle + (T, 3) transl -> (T, 60, 3) MMD bones in DCM units, floor at y = 0.

    The floor is the 5th percentile of each frame's lowest joint (robust to jumps), so the feet
    stand on y = 0 as in DCM's world.
    """
    joints = smplx_joints(rotations, transl)  # (T, 55, 3) metres
    joints = joints - np.array([0.0, floor_height(joints, 5.0), 0.0])
    return metres_to_dcm(mmd_joints_from_smplx(joints))  # (T, 60, 3)


def dance_and_camera(truth, seed: int):
    """The dance and camera of one DCM song, a pure function of ``(truth, seed)``.

    Returns ``(dance, joints, camera)``: the :class:`data.synth.solo.DanceTruth` (``smplx55``, 30 fps),
    its (T, 60, 3) MMD bones in DCM units on the floor, and its :class:`data.synth.camera.CameraTruth`.
    """
    rng = np.random.default_rng(seed)
    with torch_single_thread():  # the solo generator's FK: see data.synth.duet.torch_single_thread
        dance = generate_dance(truth, rng, DancerStyle.sample(rng), skeleton="smplx55", fps=DCM_FPS)
    joints = dance_joints_dcm(dance.rotations, dance.root)
    return dance, joints, generate_camera(truth, joints, rng, fps=DCM_FPS)


def _relative_times(times, start_s: float, end_s: float) -> list[float]:
    t = np.asarray(times, dtype=np.float64)
    t = t[(t >= start_s) & (t < end_s)] - start_s
    return [round(float(x), 6) for x in t]


def write_dcm_corpus(root: Path, songs: list, rng: np.random.Generator, preset) -> dict:
    """Write one dance + camera per song (cut into pieces when long) in DCM's layout under ``root``.

    Args:
        root: the ``DCM_data``-like folder to create.
        songs: ``[(audio float32 (N,), SongTruth)]``; the song's ``split`` decides its folder.
        rng: the random source; each song's seed is drawn from it up front, in song order.
        preset: a :class:`data.synth.corpus.SynthPreset`: ``dcm_dances`` songs (chosen round-robin over
            genres, the second a test song, the third a val song, then one of each every ten), each
            cut to ``dcm_duration`` seconds. ``None`` writes every song, whole.

    Returns:
        counts and sizes (songs, pieces per split, frames, seconds, bytes) and the camera's
        pelvis-in-view shares over all frames, with DCM's square frustum and with a 16:9 frame.
    """
    t_start = time.perf_counter()
    root = Path(root)
    data_root = root / "amc_data_split_by_categories"
    for folder in SPLIT_FOLDERS.values():  # every split folder exists, even an empty one
        for sub in MODALITIES:
            (data_root / folder / sub).mkdir(parents=True, exist_ok=True)
    order = select_songs([t for _, t in songs], getattr(preset, "dcm_dances", None), period=10,
                         slots={1: ("test",), 2: ("val",)})
    duration = getattr(preset, "dcm_duration", None)
    songs = [truncate_song(*songs[j], duration) for j in order]  # song i of DCM is the i-th selected
    seeds = rng.integers(0, 2**63 - 1, size=len(songs))
    split_keys: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    categories: dict[str, list[int]] = {name: [] for name in GENRES.values()}
    long2short: dict[str, list[list[int]]] = {}
    total_bytes = 0
    frames = 0
    pelvis_square, pelvis_wide, visible_bones = [], [], []
    for i, (audio, truth) in enumerate(songs):
        letter = genre_letter(truth.genre)
        split = _song_split(truth, i)
        dance, joints, camera = dance_and_camera(truth, int(seeds[i]))  # joints (T, 60, 3) DCM units
        song_rng = np.random.default_rng([int(seeds[i]), 1])  # for the piece cuts
        T = len(joints)
        vis_sq = bone_visibility(camera.track, joints)  # (T, 60)
        vis_wide = bone_visibility(camera.track, joints, aspect=16.0 / 9.0)
        pelvis_square.append(vis_sq[:, 0])
        pelvis_wide.append(vis_wide[:, 0])
        visible_bones.append(vis_sq.mean(axis=1))

        ranges = piece_ranges(T, camera.cut_frames, song_rng)
        long2short[str(i)] = [] if len(ranges) == 1 else [[a, b] for a, b in ranges]
        categories[GENRES[letter]].append(i)
        beat_frames = np.asarray(dance.beat_frames, dtype=np.int64)  # the beats inside the dance
        moves = list(getattr(dance, "move_labels", []) or [])
        for k, (a, b) in enumerate(ranges):
            piece = _Piece(song=i, piece=None if len(ranges) == 1 else k, start=a, end=b, letter=letter, split=split)
            folder = data_root / SPLIT_FOLDERS[split]
            sl = slice(a, b + 1)
            first, stop = int(round(a / DCM_FPS * truth.sr)), int(round((b + 1) / DCM_FPS * truth.sr))
            total_bytes += _write_wav(folder / "Audio" / f"a{piece.id}_{letter}.wav", audio[first:stop], truth.sr)
            write_camera_json(camera.track.slice(a, b + 1), folder / "CameraCentric" / f"c{piece.id}.json")
            write_motion_json(np.round(joints[sl], _MOTION_DECIMALS),
                              folder / "Simplified_MotionGlobalTransform" / f"m{piece.id}_gt.json")
            total_bytes += (folder / "CameraCentric" / f"c{piece.id}.json").stat().st_size
            total_bytes += (folder / "Simplified_MotionGlobalTransform" / f"m{piece.id}_gt.json").stat().st_size
            frames += b - a + 1
            split_keys[split].append(piece.key)
            start_s, end_s = a / DCM_FPS, (b + 1) / DCM_FPS
            in_piece = (beat_frames >= a) & (beat_frames <= b)
            shots = [{"start": int(max(s0, a) - a), "stop": int(min(s1, b + 1) - a), "kind": kind,
                      "fov": int(round(camera.track.fov[max(s0, a)]))}
                     for (s0, s1), kind in zip(camera.shot_bounds, camera.shot_kinds) if s1 > a and s0 <= b]
            total_bytes += _write_json(root / "groundtruth" / f"{piece.key}.json", {
                "key": piece.key, "song": i, "piece": piece.piece, "split": split,
                "genre_letter": letter, "genre": GENRES[letter], "music_genre": truth.genre,
                "song_name": truth.name, "music_id": getattr(truth, "music_id", ""), "bpm": truth.bpm,
                "fps": DCM_FPS,
                "song_frames": [a, b],
                "beat_times": _relative_times(truth.beat_times, start_s, end_s),
                "downbeat_times": _relative_times(truth.downbeat_times, start_s, end_s),
                "sections": [[round(max(s, start_s) - start_s, 6), round(min(e, end_s) - start_s, 6),
                              round(float(en), 4)] for s, e, en in truth.sections if e > start_s and s < end_s],
                "beat_frames": [int(f - a) for f in beat_frames[in_piece]],
                "downbeat_frames": [int(f - a) for f in camera.downbeat_frames if a <= f <= b],
                "move_labels": [m for m, f in zip(moves, beat_frames) if a <= f <= b],
                "camera_cut_frames": [int(c - a) for c in camera.cut_frames if a < c <= b],
                "shots": shots,
                "pelvis_in_view_square": round(float(vis_sq[sl, 0].mean()), 4),
                "pelvis_in_view_16x9": round(float(vis_wide[sl, 0].mean()), 4),
            })
        total_bytes += _write_json(root / "groundtruth" / "songs" / f"{i}.json", {
            "song": truth.to_dict(), "seed": int(seeds[i]), "genre_letter": letter, "split": split,
            "pieces": [list(r) for r in ranges],
            "camera": camera.to_json(), "move_labels": moves,
        })

    split_dir = root / "split"
    for split, keys in split_keys.items():
        total_bytes += _write_json(split_dir / SPLIT_JSON[split], keys)
    total_bytes += _write_json(split_dir / "music_categories.json", {k: v for k, v in categories.items() if v})
    total_bytes += _write_json(split_dir / "long2short.json", long2short)
    all_pelvis_sq = np.concatenate(pelvis_square) if pelvis_square else np.zeros(0)
    all_pelvis_wide = np.concatenate(pelvis_wide) if pelvis_wide else np.zeros(0)
    return {
        "songs": len(songs),
        "dances": len(songs),  # one dance and camera per song (what cli.py synth prints)
        "pieces": {s: len(k) for s, k in split_keys.items()},
        "frames": frames,
        "seconds": round(frames / DCM_FPS, 2),
        "bytes": total_bytes,
        "pelvis_in_view_square": round(float(all_pelvis_sq.mean()), 4) if len(all_pelvis_sq) else None,
        "pelvis_in_view_16x9": round(float(all_pelvis_wide.mean()), 4) if len(all_pelvis_wide) else None,
        "visible_bone_share_square": round(float(np.concatenate(visible_bones).mean()), 4) if visible_bones else None,
        "time_s": round(time.perf_counter() - t_start, 2),
    }

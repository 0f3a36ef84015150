"""Where the music beats for BAS come from: ``--beats DIR``, the dataset's audio or the motion's music.

A sequence is looked up by its own name, then by its motion's ``music`` (path or id)
(:func:`music_names`); the file formats read are listed in :mod:`metrics.evaluate`'s docstring.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from data.errors import InputError
from data.io import load_npz
from data.music import compute_features
from metrics.inputs import Item, require_dir

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg")


class BeatFinder:
    """Beat times (seconds) of a sequence, from ``--beats DIR``, the dataset's music or the motion's."""

    def __init__(self, beats_dir: Path | None, music_cache: Path | None) -> None:
        self.dir = None if beats_dir is None else require_dir(beats_dir, "beats")
        self.music_cache = music_cache

    def _read(self, path: Path) -> np.ndarray:
        suffix = path.suffix.lower()
        if suffix == ".npz":
            z = load_npz(path)
            if "beat_times" in z:
                return np.asarray(z["beat_times"], dtype=np.float64).reshape(-1)
            if "beats" in z and "fps" in z:
                return np.asarray(z["beats"], dtype=np.float64).reshape(-1) / float(z["fps"])
            raise InputError(path, "no 'beat_times' (or 'beats' with 'fps')", "write it with `cli.py features`")
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise InputError(path, f"not valid JSON ({e})", "re-export the beat file") from None
            if isinstance(data, dict):
                if "music_array" in data:  # Bailando's 60 fps test json: beat one-hot in column 53
                    arr = np.asarray(data["music_array"], dtype=np.float64)
                    if arr.ndim != 2 or arr.shape[1] <= 53:
                        raise InputError(path, f"'music_array' has shape {arr.shape}, no column 53",
                                         "give Bailando's 438-d music json")
                    return np.nonzero(arr[:, 53] > 0)[0] / 60.0
                data = data.get("beat_times", data.get("beats"))
            try:
                times = np.asarray(data, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                times = None
            if times is None or not np.isfinite(times).all():
                raise InputError(path, "no beat times (a list of seconds, or 'beats' / 'beat_times')",
                                 "store beat times in seconds")
            return times
        # audio: beats at 60 fps, cached by data.music
        return compute_features(path, fps=60, feature_set="bailando438", cache_dir=self.music_cache).beat_times

    def times(self, names: Iterable[str], audio: Iterable[Path] = ()) -> tuple[np.ndarray | None, str]:
        """Beat times and where they came from, or ``(None, "")``."""
        names = [n for n in names if n]
        if self.dir is not None:
            for n in names:
                for suffix in (".npz", ".json", *AUDIO_SUFFIXES):
                    p = self.dir / f"{n}{suffix}"
                    if p.is_file():
                        return self._read(p), str(p)
        for p in audio:
            if p is not None and Path(p).is_file():
                return self._read(Path(p)), str(p)
        return None, ""


def music_names(item: Item, music: str) -> tuple[list[str], list[Path]]:
    """Names to look beats up by (the sequence's, then its music's) and known audio files."""
    names = [item.name]
    audio = list(item.music)
    if music:
        p = Path(music)
        names.append(p.stem)
        if p.suffix.lower() in AUDIO_SUFFIXES:
            audio.append(p)
    return names, audio

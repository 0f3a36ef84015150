"""The metrics feature cache: per-sequence feature arrays on disk, so a reference set is featurised once.

An entry is keyed by the content hash of the input file(s), :data:`metrics.METRICS_VERSION` and the
protocol settings the features depend on (:meth:`metrics.protocols.Protocol.feature_settings`); a
second run over the same files only hashes them. Entries are npz files written atomically; a corrupt
or foreign entry is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from data.errors import InputError
from data.io import file_sha256, load_npz, save_npz_atomic
from metrics import METRICS_VERSION


def metrics_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$PASDEUX_CACHE/metrics``, else ``~/.cache/pasdeux/metrics``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("PASDEUX_CACHE")
    return (Path(env).expanduser() if env else Path("~/.cache/pasdeux").expanduser()) / "metrics"


class FeatureCache:
    """Per-sequence feature arrays on disk, keyed by input content + metrics version + settings.

    ``directory=None`` disables the disk (every feature is computed); :attr:`hits` and
    :attr:`computed` count what a run did, for the report.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.computed = 0

    def key(self, files: Iterable[Path], settings: dict[str, Any]) -> str:
        blob = json.dumps({"version": METRICS_VERSION, "files": [file_sha256(Path(f)) for f in files],
                           "settings": settings}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        path = None if self.directory is None else self.directory / f"{key[:40]}.npz"
        if path is not None and path.is_file():
            try:
                z = load_npz(path)
                if str(z.pop("cache_key")) == key:
                    self.hits += 1
                    return z
            except (InputError, KeyError, ValueError):
                pass  # corrupt or foreign: recompute and overwrite
        arrays = compute()
        self.computed += 1
        if path is not None:
            try:
                save_npz_atomic(path, cache_key=np.asarray(key), **arrays)
            except OSError as e:
                warnings.warn(f"metrics cache not written ({path}: {e})", RuntimeWarning, stacklevel=2)
        return arrays

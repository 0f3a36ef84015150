"""The metrics feature cache: hits, misses, keys that follow content, version and settings, corrupt entries."""

import numpy as np

import metrics.cache
from metrics.cache import FeatureCache, metrics_cache_dir


def _counting(value: float):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.array([value])}

    return compute, calls


def test_second_lookup_is_a_hit(tmp_path):
    src = tmp_path / "a.npz"
    src.write_bytes(b"one")
    cache = FeatureCache(tmp_path / "cache")
    key = cache.key([src], {"legacy": True})
    compute, calls = _counting(1.0)
    assert cache.get_or_compute(key, compute)["x"].tolist() == [1.0]
    assert cache.get_or_compute(key, compute)["x"].tolist() == [1.0]
    assert (len(calls), cache.hits, cache.computed) == (1, 1, 1)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"{key[:40]}.npz"]


def test_key_follows_content_settings_and_version(tmp_path, monkeypatch):
    src = tmp_path / "a.npz"
    src.write_bytes(b"one")
    cache = FeatureCache(None)
    key = cache.key([src], {"legacy": True, "role": "pred"})
    assert cache.key([src], {"role": "pred", "legacy": True}) == key  # order of settings does not matter
    assert cache.key([src], {"legacy": False, "role": "pred"}) != key
    monkeypatch.setattr(metrics.cache, "METRICS_VERSION", "0.0")
    assert cache.key([src], {"legacy": True, "role": "pred"}) != key
    monkeypatch.undo()
    src.write_bytes(b"two!")
    assert cache.key([src], {"legacy": True, "role": "pred"}) != key


def test_corrupt_entry_is_recomputed_and_no_directory_always_computes(tmp_path):
    cache = FeatureCache(tmp_path)
    key = "f" * 64
    (tmp_path / f"{key[:40]}.npz").write_bytes(b"not an npz")
    compute, calls = _counting(2.0)
    assert cache.get_or_compute(key, compute)["x"].tolist() == [2.0]
    assert cache.get_or_compute(key, compute)["x"].tolist() == [2.0]
    assert len(calls) == 1 and cache.hits == 1
    off = FeatureCache(None)
    off.get_or_compute(key, compute)
    off.get_or_compute(key, compute)
    assert (len(calls), off.hits, off.computed) == (3, 0, 2)


def test_cache_dir_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PASDEUX_CACHE", str(tmp_path))
    assert metrics_cache_dir() == tmp_path / "metrics"
    assert metrics_cache_dir(tmp_path / "mine") == tmp_path / "mine"

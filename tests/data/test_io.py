"""Atomic outputs and the restricted unpickler."""

import io
import pickle

import numpy as np
import pytest

from data.errors import InputError
from data.io import atomic_output, load_npy, load_npz, load_npz_any, load_pickle, safe_unpickle


def test_atomic_output_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.npz"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".npz" and tmp != target
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    assert list(target.parent.iterdir()) == [target]


def test_atomic_output_leaves_nothing_on_failure_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_plain_dataset_pickle_loads():
    d = {"smpl_poses": np.arange(6.0).reshape(1, 6), "smpl_scaling": np.array([93.0]),
         "smpl_loss": 0.5, "names": ["a", ("b", 1)], "n": np.float32(2)}
    for protocol in (2, 4, 5):
        out = safe_unpickle(io.BytesIO(pickle.dumps(d, protocol=protocol)))
        np.testing.assert_array_equal(out["smpl_poses"], d["smpl_poses"])
        assert out["names"] == ["a", ("b", 1)] and out["n"] == 2


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": _RunsCode(marker)}))
    with pytest.raises(InputError) as err:
        load_pickle(path)
    assert str(path) in str(err.value) and "refusing" in str(err.value)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_text_file_named_pkl(tmp_path):
    path = tmp_path / "notes.pkl"
    path.write_text("just some text\n")
    with pytest.raises(InputError, match="notes.pkl"):
        load_pickle(path)


def test_object_npy_goes_through_restricted_unpickler(tmp_path):
    ok = tmp_path / "ok.npy"
    np.save(ok, {"poses": np.ones((2, 165)), "meta": {"gender": "female"}}, allow_pickle=True)
    assert load_npy(ok)["meta"] == {"gender": "female"}
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npy"
    np.save(evil, np.array([_RunsCode(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="refusing"):
        load_npy(evil)
    assert not marker.exists()


def test_npz_readers(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.arange(3))
    np.testing.assert_array_equal(load_npz(plain)["a"], np.arange(3))
    objs = tmp_path / "objs.npz"
    np.savez(objs, a=np.arange(3), d=np.array({"k": 1}, dtype=object))
    with pytest.raises(InputError, match="pickled objects"):
        load_npz(objs)
    assert load_npz_any(objs)["d"] == {"k": 1}
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(InputError, match="bad.npz"):
        load_npz(bad)


def test_truncated_npz_is_an_input_error(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, a=np.arange(1000))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])  # a zip header with the rest missing
    with pytest.raises(InputError, match="cut.npz"):
        load_npz(cut)

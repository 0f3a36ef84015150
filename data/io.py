"""Safe file plumbing: atomic outputs, a restricted unpickler, and pickled ``.npy`` without pickle.

* :func:`atomic_output` writes to a temporary name beside the target and renames it only when the
  writer finished, so a crash or a bad input never leaves a half-written file.
* :func:`safe_unpickle` / :func:`load_pickle` read dataset pickles (AIST++ ``motions/*.pkl``, SMPL
  model files) allowing only numpy arrays, dtypes, scalars and plain containers. A payload that names
  anything else (``os.system``, ``builtins.eval``, ...) is refused before it can run.
* :func:`load_npy` reads ``.npy`` files, including DD100's pickled dicts, through the same unpickler.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from data.errors import InputError


# --------------------------------------------------------------------------------------------------
# Atomic outputs
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    The temporary name keeps the target's suffix so tools that pick a format from the extension
    (ffmpeg, numpy's ``.npz``) behave the same. On any exception the temporary file is removed and
    the target, if it existed, is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix="".join(target.suffixes) or ".tmp",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_npz_atomic(path: str | os.PathLike, **arrays: Any) -> Path:
    """``np.savez`` to ``path`` atomically (no pickled objects are written)."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(path)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` without pickle; a clear :class:`InputError` when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(path, "file not found", "check the path") from None
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise InputError(path, "npz holds pickled objects, which pasdeux does not load",
                             "re-save it with plain numeric arrays") from None
        raise InputError(path, f"not a readable npz file ({e})", "re-export the file") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(path, f"not a readable npz file ({e})", "re-export the file") from None


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash of a file, the key of every cache (memoised per path, size and mtime)."""
    p = Path(path)
    try:
        st = p.stat()
        memo = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if memo not in _SHA_MEMO:
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            _SHA_MEMO[memo] = h.hexdigest()
    except OSError as e:
        raise InputError(p, f"cannot read the file ({e.strerror or e})", "check the path and its permissions") from None
    return _SHA_MEMO[memo]


# --------------------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------------------
class _ChumpyArray:
    """Stand-in for ``chumpy.Ch`` objects inside official SMPL model pickles.

    A pickled ``Ch`` restores its state through ``__setstate__`` with a dict whose ``x`` entry holds
    the numeric array; nothing else of chumpy is needed, and no chumpy code runs.
    """

    def __setstate__(self, state: dict) -> None:
        self.array = np.asarray(state.get("x"))


# Every global a dataset or model pickle may name. Anything else is refused.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): None,
    ("numpy._core.multiarray", "_reconstruct"): None,
    ("numpy.core.multiarray", "scalar"): None,
    ("numpy._core.multiarray", "scalar"): None,
    ("numpy.core.numeric", "_frombuffer"): None,
    ("numpy._core.numeric", "_frombuffer"): None,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("_codecs", "encode"): __import__("codecs").encode,
    ("chumpy.ch", "Ch"): _ChumpyArray,
    ("scipy.sparse.csc", "csc_matrix"): None,
    ("scipy.sparse._csc", "csc_matrix"): None,
}


def _resolve_numpy_global(module: str, name: str) -> Any:
    # numpy 2 moved numpy.core to numpy._core; old pickles name either. Resolve lazily through the
    # real module so both spellings work, but only for the allow-listed names above.
    import importlib

    for candidate in (module, module.replace("numpy.core", "numpy._core"),
                      module.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"cannot resolve {module}.{name}")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list (it would have run code)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only builds numpy arrays, dtypes, scalars and plain Python containers."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key not in _ALLOWED_GLOBALS:
            raise RefusedGlobal(f"refusing to load global '{module}.{name}'")
        obj = _ALLOWED_GLOBALS[key]
        if obj is not None:
            return obj
        if module.startswith("scipy.sparse"):
            import scipy.sparse

            return scipy.sparse.csc_matrix
        return _resolve_numpy_global(module, name)


def safe_unpickle(fileobj, path: str | os.PathLike | None = None) -> Any:
    """Unpickle ``fileobj`` with :class:`RestrictedUnpickler`; :class:`InputError` on refusal."""
    try:
        return RestrictedUnpickler(fileobj, encoding="latin1").load()
    except RefusedGlobal as e:
        raise InputError(path, f"pickle refused: {e} (only numpy arrays and plain containers are "
                               "loaded, nothing that can run code)",
                         "convert the file to .npz or check where it came from") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            UnicodeDecodeError, OverflowError, MemoryError) as e:
        raise InputError(path, f"not a readable pickle ({type(e).__name__}: {e})",
                         "re-download or re-export the file") from None


def _looks_like_text(head: bytes) -> bool:
    if head.startswith(b"\x80"):  # the protocol marker every protocol >= 2 pickle starts with
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def load_pickle(path: str | os.PathLike) -> Any:
    """Read a pickle file through the restricted unpickler."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    with open(p, "rb") as fh:
        try:
            data = safe_unpickle(fh, p)
        except InputError:
            fh.seek(0)
            if _looks_like_text(fh.read(512)):
                raise InputError(p, "is a text file, not a pickle",
                                 "give the dataset's own .pkl file") from None
            raise
    return _unwrap_chumpy(data)


def _unwrap_chumpy(obj: Any) -> Any:
    if isinstance(obj, _ChumpyArray):
        return obj.array
    if isinstance(obj, dict):
        return {k: _unwrap_chumpy(v) for k, v in obj.items()}
    return obj


def load_npy(path: str | os.PathLike) -> Any:
    """Read an ``.npy``: plain arrays directly, object arrays (pickled dicts) via the safe unpickler.

    DD100 stores each sequence as ``np.save`` of a dict, i.e. a 0-d object array whose payload is a
    pickle. ``np.load(allow_pickle=True)`` would run whatever that pickle names; here it cannot.
    A 0-d object array is returned as the object it holds.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    with open(p, "rb") as fh:
        return read_npy(fh, p)


def read_npy(fh, path: str | os.PathLike | None = None) -> Any:
    """:func:`load_npy` on an open binary file (an ``.npy`` member of an ``.npz`` archive, say)."""
    try:
        version = np.lib.format.read_magic(fh)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(fh)
    except ValueError as e:
        raise InputError(path, f"not an .npy file ({e})", "re-export it with numpy.save") from None
    if not dtype.hasobject:
        count = int(np.prod(shape, dtype=np.int64))
        data = fh.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise InputError(path, "truncated .npy data", "re-export the file")
        arr = np.frombuffer(data, dtype=dtype, count=count)
        return arr.reshape(shape, order="F" if fortran else "C").copy()
    arr = safe_unpickle(io.BytesIO(fh.read()), path)
    if isinstance(arr, np.ndarray) and arr.dtype.hasobject and arr.shape == ():
        return _unwrap_chumpy(arr.item())
    return arr


def load_npz_any(path: str | os.PathLike) -> dict[str, Any]:
    """Read every member of an ``.npz``, object members through the safe unpickler."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "file not found", "check the path")
    try:
        with zipfile.ZipFile(p) as zf:
            out = {}
            for member in zf.namelist():
                with zf.open(member) as fh:
                    out[member.removesuffix(".npy")] = read_npy(io.BytesIO(fh.read()), f"{p}:{member}")
            return out
    except zipfile.BadZipFile:
        raise InputError(p, "not an npz (zip) archive", "re-export the file") from None

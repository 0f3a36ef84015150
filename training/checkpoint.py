"""Reading a stage's checkpoint without Lightning, checking one a run is to resume from, and the RNG
state a resumed run needs.

A checkpoint written by a :class:`training.stage.Stage` holds its configs as plain dicts
(``hyper_parameters``) and the module's weights and buffers (``state_dict``), so
:func:`read_checkpoint` can load it with ``torch.load(weights_only=True)``: no code runs from the file.
"""

from __future__ import annotations

import collections
import os
import re
import zipfile
from pathlib import Path
from types import MappingProxyType
from typing import Any, Collection, Mapping

import torch

from data.errors import InputError

RNG_KEY = "pasdeux_rng"
"""Where a stage's checkpoint keeps torch's global RNG state (see :func:`rng_state`)."""
STAGE_KEY = "pasdeux_stage"
"""Where a stage's checkpoint names the stage that wrote it (``tokenizer.lightning.TokenizerStage``)."""


def read_checkpoint(path: str | os.PathLike, mmap: bool = False) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on CPU, with a one-line error for a missing, truncated or
    foreign file. ``mmap``: map the tensors instead of reading them (a cheap look at a big file).

    Lightning stores a MultiStepLR's milestones as a ``collections.Counter``; that (a dict) is the one
    class beyond tensors and containers the loader is allowed to build.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found", "pass the .ckpt written by `cli.py fit`")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04" and not head.startswith(b"\x80"):  # torch.save writes a zip (a pickle before torch 1.6)
        raise InputError(path, "not a loadable checkpoint (not a zip archive, which torch.save writes)",
                         "pass a checkpoint written by `cli.py fit`")
    try:
        with torch.serialization.safe_globals([collections.Counter]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):  # a zip whose index (at its end) is missing
            raise InputError(path, "truncated checkpoint: the file ends before its zip index (a save or a copy "
                                   "that did not finish)",
                             "pass a complete checkpoint (an earlier one of the run, or copy the file again)") from None
        text = str(e).strip()
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if unsafe:  # torch's message is a page of advice on loading it unsafely: name the class only
            raise InputError(path, f"not a loadable checkpoint: it asks to build {unsafe.group(1)}, which a "
                                   "weights-only load does not (a pickle of something else, or a checkpoint that "
                                   "holds objects)", "pass a checkpoint written by `cli.py fit`") from None
        reason = f"{type(e).__name__}: {text.splitlines()[0][:200]}" if text else type(e).__name__
        raise InputError(path, f"not a loadable checkpoint ({reason})",
                         "pass a checkpoint written by `cli.py fit`") from None


def check_stage_checkpoint(path: str | os.PathLike, stage: str, hparams: Collection[str] = (),
                           resume: bool = False) -> None:
    """Raise an :class:`InputError` unless ``path`` is a whole Lightning checkpoint of ``stage``.

    Args:
        path: the ``.ckpt`` file.
        stage: the configured stage's class path (``tokenizer.lightning.TokenizerStage``).
        hparams: the hyper-parameter names the configured stage saves: a checkpoint written before
            stages named themselves (``pasdeux_stage``) must hold them all.
        resume: the run continues from it (``fit``): it needs the optimiser and loop state too.
    """
    ckpt = read_checkpoint(path, mmap=True)
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get("state_dict"), Mapping):
        raise InputError(path, "not a Lightning checkpoint (no state_dict)", "pass a .ckpt written by `cli.py fit`")
    written = ckpt.get(STAGE_KEY)
    saved = ckpt.get("hyper_parameters")
    saved = set(saved) if isinstance(saved, Mapping) else set()
    if isinstance(written, str) and written != stage:
        raise InputError(path, f"a checkpoint of {written}, not of {stage}",
                         "pass a checkpoint this stage wrote, or the config of the stage that wrote it")
    if written is None and not set(hparams) <= saved:
        raise InputError(path, f"not a checkpoint of {stage} (its hyper-parameters are "
                               f"{', '.join(sorted(saved)) or 'none'}; {stage} saves {', '.join(sorted(hparams))})",
                         "pass a checkpoint this stage wrote, or the config of the stage that wrote it")
    if resume and not ({"optimizer_states", "loops"} <= set(ckpt)):
        raise InputError(path, "holds weights only (no optimiser or loop state), so a run cannot resume from it",
                         "resume from a checkpoint saved without save_weights_only (the run's last.ckpt), or "
                         "start a new run")


def sub_state(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` under ``prefix`` (a submodule's attribute path plus ``.``), prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


_STAGE_STATES: dict[tuple, tuple[Mapping[str, Any], Mapping[str, torch.Tensor]]] = {}


def stage_state(path: str | os.PathLike, kind: str, stage: str, cache: bool = True
                ) -> tuple[Mapping[str, Any], Mapping[str, torch.Tensor]]:
    """The config and the weights of one module of a stage's checkpoint, to build a fresh copy from.

    The stage saved the module's config as ``hyper_parameters[kind]`` and holds the module as its
    attribute ``kind`` (so its weights are ``state_dict["<kind>.*"]``). Reads are cached per (path,
    size, modification time), holding only that config and those tensors (not the optimiser state).
    The tensors are shared between callers: build a module and ``load_state_dict`` them (which copies);
    never edit them in place.

    Args:
        path: the ``.ckpt`` file.
        kind: the hyper-parameter key and module attribute (``tokenizer``, ``translation``, ...).
        stage: the stage's class path, for the error message (``tokenizer.lightning.TokenizerStage``).
        cache: use and fill the read cache.
    """
    p = Path(path)
    key = None
    if p.is_file():
        st = p.resolve().stat()
        key = (kind, str(p.resolve()), st.st_size, st.st_mtime_ns)
        if cache and key in _STAGE_STATES:
            return _STAGE_STATES[key]
    ckpt = read_checkpoint(p)
    hparams = ckpt.get("hyper_parameters", {})
    if (not isinstance(hparams, Mapping) or not isinstance(hparams.get(kind), Mapping)
            or "state_dict" not in ckpt):
        raise InputError(p, f"not a {kind} checkpoint (no '{kind}' hyper-parameters)",
                         f"pass a checkpoint of {stage}")
    entry = (MappingProxyType(dict(hparams[kind])), MappingProxyType(sub_state(ckpt["state_dict"], f"{kind}.")))
    if cache and key is not None:
        _STAGE_STATES[key] = entry
    return entry


def clear_cache() -> None:
    """Forget every cached checkpoint read."""
    _STAGE_STATES.clear()


def rng_state() -> dict[str, Any]:
    """torch's global RNG state (CPU and, when present, every CUDA device)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


__all__ = ["RNG_KEY", "STAGE_KEY", "read_checkpoint", "check_stage_checkpoint", "sub_state", "stage_state", "clear_cache", "rng_state", "set_rng_state"]

"""Reading a stage's checkpoint without Lightning, and the RNG state a resumed run needs.

A checkpoint written by a :class:`training.stage.Stage` holds its configs as plain dicts
(``hyper_parameters``) and the module's weights and buffers (``state_dict``), so
:func:`read_checkpoint` can load it with ``torch.load(weights_only=True)``: no code runs from the file.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import torch

from data.errors import InputError

RNG_KEY = "pasdeux_rng"
"""Where a stage's checkpoint keeps torch's global RNG state (see :func:`rng_state`)."""


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on CPU, with a one-line error for a missing or foreign file.

    Lightning stores a MultiStepLR's milestones as a ``collections.Counter``; that (a dict) is the one
    class beyond tensors and containers the loader is allowed to build.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found", "pass the .ckpt written by `cli.py fit`")
    try:
        with torch.serialization.safe_globals([collections.Counter]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        raise InputError(path, f"not a loadable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})",
                         "pass a checkpoint written by `cli.py fit`") from None


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


__all__ = ["RNG_KEY", "read_checkpoint", "sub_state", "stage_state", "clear_cache", "rng_state", "set_rng_state"]

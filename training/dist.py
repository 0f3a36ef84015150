"""The default process group, seen from any module (no Lightning needed)."""

from __future__ import annotations

from typing import Any, Mapping

import torch.distributed as dist


def world_size() -> int:
    """Processes in the default process group (1 when there is none)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the default process group (0 when there is none)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather_ranks(state: Mapping[str, Any]) -> dict[str, Any]:
    """Every rank's ``state`` (a dict of tensors and plain data) for a checkpoint: rank 0's entries at the
    top (what a one-process run reads) and all of them under ``ranks``; ``state`` itself with one process.
    A collective: every rank calls it (Lightning calls ``on_save_checkpoint`` on every rank)."""
    if world_size() == 1:
        return dict(state)
    ranks: list = [None] * world_size()
    dist.all_gather_object(ranks, dict(state))
    return {**ranks[0], "ranks": ranks}


def own_rank(state: Mapping[str, Any]) -> dict[str, Any]:
    """This rank's entry of what :func:`gather_ranks` returned; rank 0's (the top level) when the run
    now has another number of processes."""
    ranks = state.get("ranks")
    if ranks and len(ranks) == world_size():
        return dict(ranks[rank()])
    return {k: v for k, v in state.items() if k != "ranks"}


__all__ = ["world_size", "rank", "gather_ranks", "own_rank"]

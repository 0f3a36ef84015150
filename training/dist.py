"""The default process group, seen from any module (no Lightning needed)."""

from __future__ import annotations

import torch.distributed as dist


def world_size() -> int:
    """Processes in the default process group (1 when there is none)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


__all__ = ["world_size"]

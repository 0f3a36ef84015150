"""Config dataclasses from YAML or checkpoint dicts (the value checks are in :mod:`data.errors`)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping, TypeVar

C = TypeVar("C")


def coerce_config(cls: type[C], value: C | Mapping[str, Any] | None) -> C:
    """``value`` as a ``cls`` dataclass: instances pass, dicts (checkpoint hparams, YAML) are built,
    nested dataclass fields included; ``None`` gives the defaults."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"expected {cls.__name__} or a dict, got {type(value).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; fields: {', '.join(known)}")
    kwargs = {}
    for name, item in value.items():
        default = known[name].default_factory
        nested = default() if callable(default) else None
        if nested is not None and hasattr(nested, "__dataclass_fields__") and isinstance(item, Mapping):
            item = coerce_config(type(nested), item)
        kwargs[name] = item
    return cls(**kwargs)


__all__ = ["coerce_config"]

"""The one error type that user input raises, and how the CLI shows it.

Every problem with a file the user handed us (unreadable audio, a pickle that wants to run code, an
array of the wrong shape, NaN in a motion) becomes an :class:`InputError` naming the file, what is
wrong and how to fix it. ``cli.py`` prints it as one line and exits with status 2.

The value checks (:func:`is_int`, :func:`is_positive_int`, :func:`is_non_negative`) are what config
dataclasses' ``__post_init__`` use to reject nonsense before it reaches a model.
"""

from __future__ import annotations

import math
from os import PathLike
from typing import Any


class InputError(ValueError):
    """Bad user input: one line naming the file, the problem and the fix."""

    def __init__(self, path: str | PathLike | None, problem: str, fix: str = "") -> None:
        self.path = None if path is None else str(path)
        self.problem = problem.rstrip(".")
        self.fix = fix.rstrip(".")
        where = f"{self.path}: " if self.path else ""
        message = f"{where}{self.problem}" + (f"; {self.fix}" if self.fix else "")
        # One line, always: multi-line messages from libraries are folded.
        super().__init__(" ".join(message.split()))


def missing_corpus_fix(root: str | PathLike, how_to_get: str) -> str:
    """The fix for a dataset folder that is not there: how to get the real dataset, and, for a folder
    of the synthetic corpus's layout (``.../synth/aistpp``, ``dd100``, ``dcm``: where the quick configs
    look), the command that writes it."""
    from pathlib import Path

    p = Path(root)
    if p.parent.name == "synth" and p.name in ("aistpp", "dd100", "dcm"):
        return (f"write the synthetic corpus first: python cli.py synth --out {p.parent} "
                f"(or, for the real dataset, {how_to_get})")
    return how_to_get


def check_finite(array, path, what: str = "array") -> None:
    """Raise :class:`InputError` when ``array`` holds NaN or infinity."""
    import numpy as np

    bad = ~np.isfinite(np.asarray(array, dtype=np.float64))
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise InputError(
            path,
            f"{what} holds {int(bad.sum())} NaN/infinite value(s), first at index {tuple(first)}",
            "repair or re-export the file; pasdeux does not guess missing values",
        )


def is_int(value: Any) -> bool:
    """An integer that is not a bool (YAML's ``true`` is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value: Any) -> bool:
    return is_int(value) and value > 0


def is_non_negative(value: Any) -> bool:
    """A finite number >= 0 (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0

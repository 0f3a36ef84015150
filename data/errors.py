"""The one error type that user input raises, and how the CLI shows it.

Every problem with a file the user handed us (unreadable audio, a pickle that wants to run code, an
array of the wrong shape, NaN in a motion) becomes an :class:`InputError` naming the file, what is
wrong and how to fix it. ``cli.py`` prints it as one line and exits with status 2.
"""

from __future__ import annotations

from os import PathLike


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


def check_shape(array, expected: tuple, path, what: str = "array") -> None:
    """Check ``array.shape`` against ``expected``, where ``None`` matches any size."""
    shape = tuple(getattr(array, "shape", ()))
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        want = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise InputError(path, f"{what} has shape {shape}, expected {want}", "check the file's format")

"""Running the quick configs from a script exactly as a user runs them: the YAML with its
``demo_out/...`` paths moved under an output folder, ``python cli.py fit`` in a subprocess, and a
finished fit reused when nothing it depends on changed.

What a fit depends on is its *fingerprint*: the config actually run, the fingerprints of the
checkpoints it reads (so a retrained tokenizer retrains the GPT over it), the corpus it reads and
pasdeux's own source code. A fit that finished writes its fingerprint beside ``last.ckpt``; the next
run with the same fingerprint takes the checkpoint as it is. ``make demo`` runs twice in seconds
the second time, and after an edit only what the edit can change is trained again.

Nothing here imports torch or Lightning: the fits run in their own processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from data.io import atomic_output

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("data", "metrics", "tokenizer", "gpt", "duet", "camera", "training")
"""The packages whose code a fit's result depends on (with ``cli.py``)."""
FINGERPRINT = "fingerprint.json"


@dataclass(frozen=True)
class QuickFit:
    """One quick training stage, as the demo runs it.

    Args:
        name: ``configs/quick/<name>.yaml``; the checkpoints go to ``<out>/checkpoints/<name>/``.
        corpus: the synthetic corpus it trains on: ``<out>/synth/<corpus>`` (``aistpp``, ``dd100``, ``dcm``).
        model_paths: model init args that name earlier stages' checkpoints (``{"tokenizer":
            "solo_tokenizer"}`` -> ``<out>/checkpoints/solo_tokenizer/last.ckpt``); they are its
            dependencies.
        demo_steps: ``max_steps`` in the demo's short schedule (the config's own in the full one).
    """

    name: str
    corpus: str
    model_paths: dict[str, str] = field(default_factory=dict)
    demo_steps: int | None = None

    def __post_init__(self) -> None:
        if self.corpus not in ("aistpp", "dd100", "dcm"):
            raise ValueError(f"QuickFit {self.name!r}: corpus must be aistpp, dd100 or dcm, got {self.corpus!r}")
        if self.demo_steps is not None and not (isinstance(self.demo_steps, int) and self.demo_steps > 0):
            raise ValueError(f"QuickFit {self.name!r}: demo_steps must be a positive integer, got {self.demo_steps!r}")

    @property
    def config_path(self) -> Path:
        return ROOT / "configs" / "quick" / f"{self.name}.yaml"

    @property
    def config_steps(self) -> int:
        """The config's own ``max_steps`` (the full schedule)."""
        return int(yaml.safe_load(self.config_path.read_text())["trainer"]["max_steps"])

    @property
    def deps(self) -> tuple[str, ...]:
        """The stages whose checkpoints this one reads."""
        return tuple(self.model_paths.values())

    def checkpoint(self, out: Path) -> Path:
        return Path(out) / "checkpoints" / self.name / "last.ckpt"


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_quick` did: the checkpoint, the wall time (0 when reused), the steps trained."""

    ckpt: Path
    seconds: float
    steps: int
    config_steps: int
    reused: bool
    fingerprint: str


def relocated_config(fit: QuickFit, out: Path, max_steps: int | None = None) -> dict:
    """``fit``'s quick YAML with every ``demo_out/...`` path moved under ``out``: the data root to
    ``out/synth/<corpus>``, logs to ``out/runs``, checkpoints to ``out/checkpoints/<name>``, the
    earlier stages' checkpoints by ``model_paths``, no progress bar (its output goes to a log file);
    ``max_steps`` replaces the config's (validation then runs at the end of the run when the config's
    interval does not divide it)."""
    out = Path(out)
    cfg = yaml.safe_load(fit.config_path.read_text())
    cfg["data"]["init_args"]["root"] = str(out / "synth" / fit.corpus)
    for arg, stage in fit.model_paths.items():
        cfg["model"]["init_args"][arg] = str(out / "checkpoints" / stage / "last.ckpt")
    trainer = cfg["trainer"]
    trainer["default_root_dir"] = str(out / "runs" / fit.name)
    trainer["logger"]["init_args"]["save_dir"] = str(out / "runs")
    for cb in trainer.get("callbacks", []):
        if cb["class_path"].endswith("ModelCheckpoint"):
            cb["init_args"]["dirpath"] = str(out / "checkpoints" / fit.name)
    trainer["enable_progress_bar"] = False  # the output goes to a log file; the demo prints the steps
    if max_steps is not None:
        trainer["max_steps"] = int(max_steps)
        interval = trainer.get("val_check_interval")
        if isinstance(interval, int) and max_steps % interval:
            trainer["val_check_interval"] = int(max_steps)
    return cfg


def source_fingerprint(root: Path = ROOT) -> str:
    """sha256 over pasdeux's Python sources (:data:`SOURCE_PACKAGES` and ``cli.py``), path and bytes."""
    h = hashlib.sha256()
    files = [root / "cli.py", *(p for pkg in SOURCE_PACKAGES for p in (root / pkg).rglob("*.py"))]
    for path in sorted(files):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fit_fingerprint(config: dict, upstream: dict[str, str], corpus: str, source: str) -> str:
    """The fingerprint of a fit: its config (as run), its inputs' fingerprints, the corpus's and the code's."""
    blob = json.dumps({"config": config, "upstream": upstream, "corpus": corpus, "source": source},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def finished_fingerprint(fit: QuickFit, out: Path) -> str | None:
    """The fingerprint a finished fit left beside its checkpoint (None if none or no checkpoint)."""
    ckpt = fit.checkpoint(out)
    stamp = ckpt.parent / FINGERPRINT
    if not (ckpt.is_file() and stamp.is_file()):
        return None
    try:
        return json.loads(stamp.read_text())["fingerprint"]
    except (ValueError, KeyError, TypeError):
        return None


_CHILDREN: set[subprocess.Popen] = set()
_CHILDREN_LOCK = threading.Lock()


def stop_children() -> None:
    """Stop every ``cli.py`` subprocess :func:`run_cli` started that still runs (a failed demo task
    must not leave the others training)."""
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def run_cli(*args, log: Path | None = None, threads: int | None = None) -> None:
    """``python cli.py ARGS...`` in a subprocess from the repository root, exactly as a user runs it.

    ``log``: its stdout and stderr go to that file (else to this process's); ``threads``: the
    torch/OpenMP threads it may use (several run side by side). A failure raises, quoting the
    end of the log."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, str(ROOT / "cli.py"), *map(str, args)]
    sink = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        sink = open(log, "w")
    try:
        child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT if sink else None)
        with _CHILDREN_LOCK:
            _CHILDREN.add(child)
        try:
            code = child.wait()
        finally:
            with _CHILDREN_LOCK:
                _CHILDREN.discard(child)
    finally:
        if sink is not None:
            sink.close()
    if code:
        tail = ""
        if log is not None and log.is_file():
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            tail = "\n".join(lines[-15:])
        where = f" (log: {log})" if log is not None else ""
        raise RuntimeError(f"`cli.py {' '.join(map(str, args))}` exited with status {code}{where}"
                           + (f"\n{tail}" if tail else ""))


def fit_quick(fit: QuickFit, out: Path, max_steps: int | None = None, upstream: dict[str, str] | None = None,
              corpus_fingerprint: str = "", source: str | None = None, threads: int | None = None,
              reuse: bool = True) -> FitResult:
    """Run ``cli.py fit`` on ``fit``'s relocated config (written to ``out/configs/<name>.yaml``), its
    output in ``out/logs/<name>.log``; or, with ``reuse`` and an unchanged fingerprint, take the
    finished checkpoint. ``upstream``: the fingerprints of the stages it reads."""
    out = Path(out)
    config = relocated_config(fit, out, max_steps)
    config_steps = fit.config_steps
    steps = int(config["trainer"]["max_steps"])
    source = source_fingerprint() if source is None else source
    fingerprint = fit_fingerprint(config, dict(upstream or {}), corpus_fingerprint, source)
    ckpt = fit.checkpoint(out)
    if reuse and finished_fingerprint(fit, out) == fingerprint:
        return FitResult(ckpt, 0.0, steps, config_steps, True, fingerprint)

    path = out / "configs" / f"{fit.name}.yaml"
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    stamp = ckpt.parent / FINGERPRINT
    for stale in (ckpt, stamp):  # a stale checkpoint must not pass for this run's
        if stale.exists():
            stale.unlink()
    start = time.perf_counter()
    run_cli("fit", "--config", path, log=out / "logs" / f"{fit.name}.log", threads=threads)
    seconds = time.perf_counter() - start
    if not ckpt.is_file():
        raise RuntimeError(f"`cli.py fit --config {path}` finished without writing {ckpt}")
    with atomic_output(stamp) as tmp:
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "steps": steps, "seconds": round(seconds, 1)}))
    return FitResult(ckpt, round(seconds, 1), steps, config_steps, False, fingerprint)


def last_logged_step(out: Path, name: str) -> int | None:
    """The last training step a running fit's CSV log has written (it flushes every so many steps),
    None before the first flush: the demo's progress lines."""
    logs = sorted((Path(out) / "runs" / name).glob("version_*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    try:
        lines = logs[-1].read_text().splitlines()
        header = lines[0].split(",")
        col = header.index("step")
        for line in reversed(lines[1:]):
            cell = line.split(",")[col]
            if cell:
                return int(float(cell))
    except (OSError, ValueError, IndexError):
        return None
    return None


__all__ = ["QuickFit", "FitResult", "relocated_config", "source_fingerprint", "fit_fingerprint", "run_cli",
           "stop_children", "fit_quick", "finished_fingerprint", "last_logged_step"]

"""The demo's jobs as a dependency graph, run a few at a time.

Two cores train two small models side by side faster than one after the other with two threads each
(small matrices do not split well across threads), so :func:`run_tasks` keeps ``jobs`` tasks running,
each told to use ``threads`` threads, and starts next the ready task with the longest chain of work
behind it. Tasks are plain callables; those that train or generate start ``cli.py`` subprocesses
(:func:`training.quick.run_cli`), so the threads here mostly wait. A task that fails stops the
subprocesses still running and the error names the task and its log.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from training.quick import stop_children


@dataclass
class Task:
    """One job of the demo.

    Args:
        name: unique; what other tasks name in ``deps``.
        run: ``run(threads) -> (summary, line)``: does the job with at most ``threads`` threads.
        deps: tasks that must have finished first.
        cost: rough seconds of work, to start long chains first (only the order depends on it).
        status: while running, a short progress note (``"step 300/750"``) or None.
    """

    name: str
    run: Callable[[int], tuple[dict, str]]
    deps: tuple[str, ...] = ()
    cost: float = 60.0
    status: Callable[[], str | None] | None = None


@dataclass
class Done:
    """A finished task: what it returned and how long it took."""

    summary: dict
    line: str
    seconds: float


def chain_costs(tasks: list[Task]) -> dict[str, float]:
    """Each task's cost plus the longest chain of tasks that wait on it."""
    by_name = {t.name: t for t in tasks}
    waiting: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for d in t.deps:
            if d not in by_name:
                raise ValueError(f"task {t.name!r} waits on {d!r}, which is not a task")
            waiting[d].append(t.name)
    memo: dict[str, float] = {}

    def chain(name: str, seen: tuple[str, ...] = ()) -> float:
        if name in seen:
            raise ValueError(f"tasks wait on each other in a cycle: {' -> '.join((*seen, name))}")
        if name not in memo:
            memo[name] = by_name[name].cost + max((chain(n, (*seen, name)) for n in waiting[name]), default=0.0)
        return memo[name]

    return {t.name: chain(t.name) for t in tasks}


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def run_tasks(tasks: list[Task], jobs: int = 2, threads: int = 1, heartbeat: float = 60.0,
              log: Callable[[str], None] = print) -> dict[str, Done]:
    """Run every task once its dependencies are done, ``jobs`` at a time; returns ``{name: Done}``.

    Prints a line when a task starts and ends, and every ``heartbeat`` seconds which tasks run and
    how far they are. The first failure stops everything and is raised, naming the task; a failure,
    Ctrl-C or SIGTERM (turned into SystemExit by the caller) stops the ``cli.py`` subprocesses too."""
    if jobs < 1 or threads < 1:
        raise ValueError(f"jobs and threads must be >= 1, got {jobs} and {threads}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names repeat: {names}")
    return _Run(tasks, jobs, threads, heartbeat, log).run()


class _Run:
    """One :func:`run_tasks` call's state."""

    def __init__(self, tasks: list[Task], jobs: int, threads: int, heartbeat: float, log) -> None:
        self.tasks, self.jobs, self.threads, self.heartbeat, self.log = tasks, jobs, threads, heartbeat, log
        self.priority = chain_costs(tasks)
        self.by_name = {t.name: t for t in tasks}
        self.pending = list(tasks)
        self.running: dict[Future, tuple[str, float]] = {}
        self.done: dict[str, Done] = {}
        self.lock = threading.Lock()
        self.started = time.perf_counter()

    def say(self, text: str) -> None:
        with self.lock:
            self.log(f"[{_clock(time.perf_counter() - self.started)}] {text}")

    def call(self, task: Task) -> Done:
        t0 = time.perf_counter()
        summary, line = task.run(self.threads)
        return Done(summary, line, round(time.perf_counter() - t0, 1))

    def run(self) -> dict[str, Done]:
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            try:
                self.drive(pool)
            except BaseException:  # a failure, Ctrl-C or SIGTERM: no training may outlive the demo
                stop_children()
                for future in self.running:
                    future.cancel()
                raise
        return self.done

    def drive(self, pool: ThreadPoolExecutor) -> None:
        last_beat = time.perf_counter()
        while self.pending or self.running:
            ready = sorted((t for t in self.pending if all(d in self.done for d in t.deps)),
                           key=lambda t: -self.priority[t.name])
            for task in ready[:self.jobs - len(self.running)]:
                self.pending.remove(task)
                self.say(f"start {task.name}")
                self.running[pool.submit(self.call, task)] = (task.name, time.perf_counter())
            if not self.running:
                raise ValueError(f"tasks wait on tasks that never finish: {[t.name for t in self.pending]}")
            finished, _ = wait(list(self.running), timeout=self.heartbeat, return_when=FIRST_COMPLETED)
            for future in finished:
                name, _ = self.running.pop(future)
                try:
                    self.done[name] = future.result()
                except Exception as e:
                    stop_children()
                    wait(list(self.running))
                    raise RuntimeError(f"demo task {name!r} failed: {e}") from e
                d = self.done[name]
                self.say(f"done  {name} ({len(self.done)}/{len(self.tasks)}, {d.seconds:.0f} s): {d.line}")
            if self.running and time.perf_counter() - last_beat >= self.heartbeat:
                last_beat = time.perf_counter()
                self.say("running: " + "; ".join(self.note(name, t0) for name, t0 in self.running.values()))

    def note(self, name: str, t0: float) -> str:
        status = self.by_name[name].status
        text = status() if status is not None else None
        return f"{name} ({text + ', ' if text else ''}{_clock(time.perf_counter() - t0)})"


__all__ = ["Task", "Done", "chain_costs", "run_tasks"]

"""The demo's task graph: order, parallelism, failures."""

import threading
import time

import pytest

from demo.schedule import Task, chain_costs, run_tasks


def _task(name, deps=(), cost=1.0, seconds=0.0, record=None, fail=False):
    def run(threads):
        if record is not None:
            record.append(("start", name, threads))
        time.sleep(seconds)
        if fail:
            raise ValueError(f"{name} broke")
        if record is not None:
            record.append(("end", name, threads))
        return {"name": name}, f"{name} ok"
    return Task(name, run, tuple(deps), cost)


def test_chain_costs_add_the_longest_chain_behind_a_task():
    tasks = [_task("a", cost=1), _task("b", ["a"], cost=5), _task("c", ["a"], cost=2), _task("d", ["c"], cost=4)]
    assert chain_costs(tasks) == {"a": 1 + 6, "b": 5, "c": 6, "d": 4}


def test_unknown_dependencies_and_cycles_are_refused():
    with pytest.raises(ValueError, match="not a task"):
        chain_costs([_task("a", ["nope"])])
    with pytest.raises(ValueError, match="cycle"):
        chain_costs([_task("a", ["b"]), _task("b", ["a"])])
    with pytest.raises(ValueError, match="repeat"):
        run_tasks([_task("a"), _task("a")])


def test_dependencies_finish_first_and_two_run_at_once():
    record = []
    tasks = [_task("root", record=record, seconds=0.01),
             _task("long", ["root"], cost=10, seconds=0.2, record=record),
             _task("short", ["root"], cost=1, seconds=0.2, record=record),
             _task("after", ["long", "short"], record=record)]
    lines = []
    done = run_tasks(tasks, jobs=2, threads=3, heartbeat=0.05, log=lines.append)
    assert set(done) == {"root", "long", "short", "after"}
    assert done["after"].summary == {"name": "after"} and done["long"].seconds >= 0.2
    order = [(e, n) for e, n, _ in record]
    assert order[:2] == [("start", "root"), ("end", "root")]
    # both children start before either ends (two jobs), the longer chain first
    starts = [n for e, n in order[2:4]]
    assert starts == ["long", "short"]
    assert order[-2:] == [("start", "after"), ("end", "after")]
    assert all(t == 3 for _, _, t in record)  # every task is told its thread budget
    assert any("running:" in line for line in lines)  # the heartbeat names what runs


def test_one_job_runs_tasks_one_after_the_other():
    active, peak = [0], [0]
    lock = threading.Lock()

    def run(threads):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return {}, ""
    run_tasks([Task(str(i), run) for i in range(4)], jobs=1, log=lambda s: None)
    assert peak[0] == 1


def test_a_failure_stops_the_graph_and_names_the_task():
    record = []
    tasks = [_task("ok", record=record), _task("bad", ["ok"], fail=True), _task("later", ["bad"], record=record)]
    with pytest.raises(RuntimeError, match="demo task 'bad' failed: bad broke"):
        run_tasks(tasks, jobs=2, log=lambda s: None)
    assert ("start", "later", 1) not in record


def test_a_failure_stops_the_cli_subprocesses_still_running(tmp_path):
    from training import quick

    def long_cli(threads):  # writing the quick corpus takes a minute or more
        quick.run_cli("synth", "--out", tmp_path / "synth", "--preset", "quick", "--quiet",
                      log=tmp_path / "synth.log", threads=threads)
        return {}, "finished"

    def fail_soon(threads):
        deadline = time.time() + 60
        while not quick._CHILDREN and time.time() < deadline:  # once the subprocess runs
            time.sleep(0.05)
        raise ValueError("broke while the other ran")

    with pytest.raises(RuntimeError, match="'soon' failed"):
        run_tasks([Task("long", long_cli, cost=10), Task("soon", fail_soon)], jobs=2, log=lambda s: None)
    assert not quick._CHILDREN  # stopped and reaped, not left training
    assert not (tmp_path / "synth" / "aistpp").exists()  # it did not get to finish

"""How far a long step has got, and what each stage of a build cost.

Two hooks the build's code calls without knowing who listens:

* `advance(task, done, total)`: progress of a step over many items (files,
  models). The CLI listens with a progress bar on a terminal; nobody listens
  under Dagster's UI, where the step's own events show progress.
* `stage(name)`: a context manager around a stage of the build. When
  `DEFECTFLOW_PROFILE` names a file, each stage appends one JSON line to it
  (`stage`, `wall_s`, `cpu_s`, `peak_rss_mb`) -- what `benchmarks/run.py`
  reads; otherwise it costs nothing. CPU time counts this process and the
  child processes that ended inside the stage (dbt, report kernels); peak
  memory is the largest resident size of this process and all its children
  together, sampled every 50 ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator

import psutil

PROFILE_ENV = "DEFECTFLOW_PROFILE"
SAMPLE_SECONDS = 0.05

Listener = Callable[[str, int, int], None]
_listeners: list[Listener] = []


def advance(task: str, done: int, total: int) -> None:
    """`done` of `total` items of `task` are finished."""
    for listener in _listeners:
        listener(task, done, total)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send progress to `listener` for the length of the block."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.Error):  # a child may end between listing and reading
            total += member.memory_info().rss
    return total


class _PeakMemory:
    """Samples the process tree's resident memory on a thread until stopped."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = _tree_rss(self.process)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="defectflow-peak-memory", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _tree_rss(self.process))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _tree_rss(self.process))


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Record the wall time, CPU time and peak memory of the block when profiling is on."""
    target = os.environ.get(PROFILE_ENV)
    if not target:
        yield
        return
    memory = _PeakMemory()
    wall, cpu = time.perf_counter(), _cpu_seconds()
    try:
        yield
    finally:
        record = {
            "stage": name,
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(_cpu_seconds() - cpu, 3),
            "peak_rss_mb": round(memory.stop() / 2**20, 1),
        }
        with open(target, "a", encoding="utf-8") as sink:
            sink.write(json.dumps(record) + "\n")

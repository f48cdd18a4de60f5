"""Reading many export files at once: adapters parse in worker processes, the warehouse stays here.

Parsing XML and JSON is pure Python, one core per process, while loading is
DuckDB's work in the build's process. So when there is enough to parse, the
files go to a pool of processes (one per core) in tasks: a large file alone,
small files together (a task per file would cost a round trip each). The
largest tasks start first, so that one big export does not run alone at the
end. Results come back as they finish; the loader does not depend on their
order. Too little to parse, and the files are read here, one after another:
starting processes would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from pipelines.defs.ingest.manifest import FileState
from pipelines.defs.ingest.readers import Read, read_file
from pipelines.policy import Policy

PARALLEL_FROM_BYTES = 16 * 2**20  # less than this to parse: read in this process
TASK_BYTES = 4 * 2**20  # small files share a task up to this size ...
TASK_FILES = 128  # ... or this many files
AHEAD = 2  # tasks given out per worker
ORPHAN_CHECK_SECONDS = 1.0


Task = list[FileState]

_policy: Policy | None = None  # a worker's policy, sent once when the worker starts


def _start_worker(policy: Policy, build: int) -> None:
    """Set the worker up: `build` is the build process's id (not read here: it may be gone already)."""
    global _policy
    _policy = policy
    threading.Thread(target=_exit_with, args=(build,), name="defectflow-orphan-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once the build's process is gone: killed outright (out of memory, kill -9),
    it cleans nothing up, and the worker would sit on its rows forever."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def _read_task(task: Task) -> list[tuple[FileState, Read]]:
    assert _policy is not None, "the pool's initializer sets the policy"
    return [(file, read_file(Path(file.source), _policy, file.sha)) for file in task]


def tasks(files: list[FileState]) -> list[Task]:
    """Consecutive files grouped up to TASK_BYTES / TASK_FILES; a larger file is a task of its own."""
    grouped: list[Task] = []
    current: Task = []
    size = 0
    for file in files:
        if current and (size + file.size > TASK_BYTES or len(current) == TASK_FILES):
            grouped.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        grouped.append(current)
    return grouped


def read_files(files: list[FileState], policy: Policy, workers: int | None = None) -> Iterator[tuple[FileState, Read]]:
    """Every file read, in the order they finish; in worker processes when it pays."""
    groups = tasks(files)
    workers = min(workers or os.cpu_count() or 1, len(groups))
    if workers < 2 or sum(f.size for f in files) < PARALLEL_FROM_BYTES:
        for file in files:
            yield file, read_file(Path(file.source), policy, file.sha)
        return
    # spawn, not fork: the build's process has DuckDB's threads running, and a forked
    # child inherits their locks in whatever state they were.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(policy, os.getpid()))
    queue = sorted(groups, key=lambda task: sum(f.size for f in task), reverse=True)
    running: set[Future[list[tuple[FileState, Read]]]] = set()
    try:
        while queue or running:
            # A few tasks ahead of the loader, not all: finished results wait in memory.
            while queue and len(running) < AHEAD * workers:
                running.add(pool.submit(_read_task, queue.pop(0)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
    finally:
        pool.shutdown(cancel_futures=True)

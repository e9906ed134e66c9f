"""Run Docker object operations on a bounded thread pool, collecting errors per object.

Errors never stop a batch: each failed task becomes an ObjectError naming its object. A task
may have follow-up tasks (`then`, e.g. a base's start, then its services) that are queued as
soon as it succeeds; when it fails they are reported as not attempted because of it. A task
may hold `resources` (network names) exclusively: the runner never dispatches two tasks that
share one, so no worker ever sits blocked on a lock while other work could run (see
ops.NetworkLocks for why starts and stops are serialised per network). Progress is reported
from the calling thread as tasks finish: `progress(done, total, message)`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from decnet_lib.deploy.failures import ObjectError, one_line

ProgressFn = Callable[[int, int, str], None]
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class Task:
    """One operation on one Docker object.

    `silent`: a first stage of an object's operation (its `then` finishes it): it is not
    counted in progress, and when it fails its error stands for the whole object.
    """

    kind: str
    name: str
    action: str
    fn: Callable[[], None] = field(compare=False)
    resources: frozenset[str] = frozenset()
    then: tuple[Task, ...] = ()
    silent: bool = False


@dataclass
class Runner:
    """Runs batches of tasks on a pool; keeps the count, the errors and the last start time."""

    pool: ThreadPoolExecutor
    slots: int = DEFAULT_WORKERS  # tasks in flight at most (the pool's size)
    total: int = 0
    progress: ProgressFn | None = None
    done: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    failed: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)
    succeeded: list[Task] = field(default_factory=list)
    last_start: float | None = None

    def _report(self, task: Task, error: str | None) -> None:
        if error is None:
            self.succeeded.append(task)
            if task.kind == "container" and task.action in ("create", "start", "restart"):
                self.last_start = time.monotonic()
            message = f"{task.action} {task.kind} {task.name}"
        else:
            self.failed.add((task.kind, task.name))
            self.errors.append(ObjectError(task.kind, task.name, task.action, error))
            message = f"{task.action} {task.kind} {task.name} FAILED: {error}"
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done), message)

    def _fail(self, task: Task, error: str) -> None:
        """Record a failed task, then its follow-ups as not attempted."""
        self._report(task, error)
        self._skip(task.then, task)

    def _skip(self, tasks: Iterable[Task], cause: Task) -> None:
        for child in tasks:
            if (child.kind, child.name) == (cause.kind, cause.name):
                self._skip(child.then, cause)  # a later stage of the same object
            else:
                self._fail(child, f"not attempted: {cause.kind} {cause.name} failed")

    def run(self, tasks: Iterable[Task]) -> None:
        """Run tasks and their follow-ups until all are done (errors are collected)."""
        ready: deque[Task] = deque(tasks)
        busy: set[str] = set()
        pending: dict[Future[None], Task] = {}

        def dispatch() -> None:
            # tasks holding networks first: they are the serialised, critical path
            for holders in (True, False):
                for _ in range(len(ready)):
                    if len(pending) >= self.slots:
                        return
                    task = ready.popleft()
                    if bool(task.resources) != holders or task.resources & busy:
                        ready.append(task)
                        continue
                    busy.update(task.resources)
                    pending[self.pool.submit(task.fn)] = task

        dispatch()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                task = pending.pop(future)
                busy.difference_update(task.resources)
                exc = future.exception()
                if exc is not None:
                    self._fail(task, one_line(exc))
                    continue
                if not task.silent:
                    self._report(task, None)
                ready.extendleft(reversed(task.then))  # finish started objects first
            dispatch()


def make_pool(workers: int = DEFAULT_WORKERS) -> ThreadPoolExecutor:
    """A bounded pool for Docker calls."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decnet-deploy")

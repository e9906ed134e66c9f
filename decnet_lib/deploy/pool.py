"""Run Docker object operations on a bounded thread pool, collecting errors per object.

Errors never stop a batch: each failed task becomes an ObjectError naming its object. A task
may have followers (e.g. a base's services) submitted as soon as it succeeds; when it fails
they are not run and are reported as failed because of it. Progress is reported from the
calling thread as tasks finish: `progress(done, total, message)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from decnet_lib.deploy.failures import ObjectError, one_line

ProgressFn = Callable[[int, int, str], None]
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class Task:
    """One operation on one Docker object."""

    kind: str
    name: str
    action: str
    fn: Callable[[], None] = field(compare=False)


@dataclass
class Runner:
    """Runs batches of tasks on a pool; keeps the count, the errors and the last start time."""

    pool: ThreadPoolExecutor
    total: int = 0
    progress: ProgressFn | None = None
    done: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    failed: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)
    succeeded: list[Task] = field(default_factory=list)
    last_start: float | None = None

    def _finish(self, task: Task, error: str | None) -> None:
        self.done += 1
        if error is None:
            self.succeeded.append(task)
            if task.action in ("create", "start", "restart") and task.kind == "container":
                self.last_start = time.monotonic()
            message = f"{task.action} {task.kind} {task.name}"
        else:
            self.failed.add((task.kind, task.name))
            self.errors.append(ObjectError(task.kind, task.name, task.action, error))
            message = f"{task.action} {task.kind} {task.name} FAILED: {error}"
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done), message)

    def run(
        self, tasks: Iterable[Task], followers: Mapping[str, Sequence[Task]] | None = None
    ) -> None:
        """Run tasks (and the followers of each one that succeeds) until all are done."""
        followers = followers or {}
        pending: dict[Future[None], Task] = {}
        for task in tasks:
            pending[self.pool.submit(task.fn)] = task
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                task = pending.pop(future)
                exc = future.exception()
                self._finish(task, None if exc is None else one_line(exc))
                for follower in followers.get(task.name, ()):
                    if exc is None:
                        pending[self.pool.submit(follower.fn)] = follower
                    else:
                        self._finish(follower, f"not attempted: {task.kind} {task.name} failed")


def make_pool(workers: int = DEFAULT_WORKERS) -> ThreadPoolExecutor:
    """A bounded pool for Docker calls."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decnet-deploy")

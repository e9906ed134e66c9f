"""Generic lifecycle hooks (the log collector plugs in here; the agent does not import it).

    app.state.hooks.on_first_successful_apply.append(collector.start)
    app.state.hooks.on_shutdown.append(collector.stop)

`on_first_successful_apply` hooks run once per app (process), right after the first apply that
leaves the topology active, or at boot when `resume_at_boot()` says the agent already holds a
topology (a restarted agent goes on collecting its deckies' lines without waiting for the next
apply). `on_shutdown` hooks run in the lifespan's shutdown, in the order they were added. A
failing hook is logged and never fails the request, the boot or the shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Hook = Callable[[], object]
log = logging.getLogger("decnet.agent.hooks")


def _run(hooks: list[Hook], what: str) -> None:
    for hook in list(hooks):
        try:
            hook()
        except Exception:
            log.exception("%s hook %r failed", what, hook)


@dataclass
class Hooks:
    """Callables run after the first successful apply and at shutdown."""

    on_first_successful_apply: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    resume_at_boot: Callable[[], bool] = lambda: False
    _fired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def fired(self) -> bool:
        """True once the first-successful-apply hooks have run."""
        return self._fired

    def first_successful_apply(self) -> None:
        """Run the first-apply hooks, only the first time this is called."""
        with self._lock:
            if self._fired:
                return
            self._fired = True
        _run(self.on_first_successful_apply, "first-successful-apply")

    def boot(self) -> None:
        """At startup: run the first-apply hooks now when `resume_at_boot()` is true."""
        try:
            resume = self.resume_at_boot()
        except Exception:
            log.exception("resume_at_boot failed")
            return
        if resume:
            self.first_successful_apply()

    def shutdown(self) -> None:
        _run(self.on_shutdown, "shutdown")

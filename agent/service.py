"""What the agent does: apply, teardown and report, one Docker operation at a time.

Blocking (Docker calls): the routes run these methods in a worker thread. A lock serialises
apply and teardown; reports do not take it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from agent.deployers import DeployerProvider
from agent.errors import AgentProblem
from agent.hooks import Hooks
from agent.state import LastError, Pinned, StateStore
from decnet_lib.deploy.failures import DeployError, one_line
from decnet_lib.deploy.reality import reality_facts
from decnet_lib.deploy.teardown import TeardownResult
from decnet_lib.topology.resolved import ResolvedTopology

log = logging.getLogger("decnet.agent")


def _teardown_message(result: TeardownResult) -> str:
    text = (f"topology {result.topology_id}: removed {len(result.containers)} containers, "
            f"{len(result.networks)} networks")
    if result.errors:
        text += f"; {len(result.errors)} failed, first: {result.errors[0]}"
    return text


@dataclass
class AgentService:
    """The agent's use cases over its state store, its (lazy) Deployer and its hooks."""

    store: StateStore
    deployers: DeployerProvider
    hooks: Hooks
    lock: threading.Lock

    # -- apply ------------------------------------------------------------------------------
    def apply(self, resolved: ResolvedTopology, hash_: str) -> dict[str, Any]:
        """Tear down any different predecessor, pin, apply, record the outcome."""
        with self.lock:
            return self._apply(resolved, hash_)

    def _predecessors(self, keep: str) -> list[tuple[str, Pinned | LastError]]:
        found: dict[str, Pinned | LastError] = {}
        for record in (self.store.pinned(), self.store.last_error()):
            if record is not None and record.id and record.id != keep:
                found.setdefault(record.id, record)
        return list(found.items())

    def _teardown_predecessors(self, keep: str) -> list[dict[str, Any]]:
        done = []
        for topology_id, record in self._predecessors(keep):
            log.info("tearing down predecessor %s (%s) before %s", topology_id, record.name, keep)
            result = self._teardown_one(topology_id)
            done.append(result.to_dict())
            if not result.ok:
                raise AgentProblem(
                    502, "PREDECESSOR_TEARDOWN_FAILED",
                    f"cannot tear down the predecessor {record.name or topology_id}: "
                    f"{_teardown_message(result)}; nothing was applied (retry, or POST "
                    "/topology/teardown)",
                    teardown=done,
                )
        return done

    def _apply(self, resolved: ResolvedTopology, hash_: str) -> dict[str, Any]:
        started = time.monotonic()
        blob = resolved.model_copy(update={"hash": hash_}).model_dump(mode="json")
        deployer = self.deployers.get()
        predecessors = self._teardown_predecessors(resolved.id)
        self.store.pin(blob, hash_, "deploying")  # the breadcrumb, before touching Docker
        try:
            result = deployer.apply(resolved)
        except DeployError as exc:
            self._record_failure(blob, hash_, exc.message)
            raise
        except Exception as exc:
            self._record_failure(blob, hash_, f"apply crashed: {one_line(exc)}")
            raise
        status = result.status
        summary = result.plan.summary()
        self.store.set_status(status, summary)
        if result.ok:
            last = self.store.last_error()
            if last is not None and last.id == resolved.id:
                self.store.clear_error()
            self.hooks.first_successful_apply()
        else:
            self.store.record_error(blob, hash_, result.message(), result.to_dict())
        log.info("applied %s (%s): %s, %s", resolved.name, resolved.id, status, result.message())
        return {
            "ok": result.ok,
            "status": status,
            "topology_id": resolved.id,
            "name": resolved.name,
            "hash": hash_,
            "message": result.message(),
            "plan": summary,
            "errors": [e.to_dict() for e in result.errors],
            "crashed": [c.to_dict() for c in result.crashed],
            "predecessors": predecessors,
            "seconds": round(time.monotonic() - started, 3),
        }

    def _record_failure(self, blob: dict[str, Any], hash_: str, message: str) -> None:
        self.store.set_status("failed")
        self.store.record_error(blob, hash_, message)

    # -- teardown ---------------------------------------------------------------------------
    def teardown(self, topology_id: str | None = None) -> dict[str, Any]:
        """Tear down by labels the given id, else the pinned and the last-error topologies."""
        with self.lock:
            if topology_id is not None:
                targets = [topology_id]
            else:
                records = (self.store.pinned(), self.store.last_error())
                targets = list(dict.fromkeys(r.id for r in records if r is not None and r.id))
            if not targets:
                return {"ok": True, "status": "torn_down", "message": "nothing to tear down",
                        "topologies": [], "errors": []}
            results = [self._teardown_one(target) for target in targets]
        errors = [e.to_dict() for r in results for e in r.errors]
        return {
            "ok": not errors,
            "status": "torn_down" if not errors else "failed",
            "message": "; ".join(_teardown_message(r) for r in results),
            "topologies": [r.to_dict() for r in results],
            "errors": errors,
        }

    def _teardown_one(self, topology_id: str) -> TeardownResult:
        """Remove one topology's labelled objects; unpin / clear its error once it is gone."""
        pinned = self.store.pinned()
        is_pinned = pinned is not None and pinned.id == topology_id
        if is_pinned:
            self.store.set_status("tearing_down")
        result = self.deployers.get().teardown(topology_id)
        last = self.store.last_error()
        if result.ok:
            if is_pinned:
                self.store.unpin()
            if last is not None and last.id == topology_id:
                self.store.clear_error()
            return result
        record = self.store.known(topology_id)
        if record is not None:
            self.store.record_error(record.topology, record.hash,
                                    f"teardown failed: {_teardown_message(result)}",
                                    {"teardown": result.to_dict()})
        if is_pinned:
            self.store.set_status("failed")
        return result

    # -- report -----------------------------------------------------------------------------
    def report(self, topology_id: str | None = None, full: bool = False) -> dict[str, Any]:
        """Pinned topology, last error, and what Docker really has for it (by labels)."""
        pinned, last = self.store.pinned(), self.store.last_error()
        target = topology_id or (pinned.id if pinned else last.id if last else None)
        report: dict[str, Any] = {
            "id": pinned.id if pinned else None,
            "name": pinned.name if pinned else None,
            "hash": pinned.hash if pinned else None,
            "status": pinned.status if pinned else None,
            "pinned": pinned.public() if pinned else None,
            "last_error": last.public(full) if last else None,
            "docker": None,
        }
        if full and pinned:
            report["pinned"]["topology"] = pinned.topology
        if target is None:
            return report
        inventory = self.deployers.get().inventory(target).to_dict()
        record = self.store.known(target)
        report["docker"] = {**inventory, **_reality(record, inventory)}
        return report


def _reality(record: Pinned | LastError | None, inventory: dict[str, Any]) -> dict[str, Any]:
    """Whether Docker has exactly the expected containers, all running (when known)."""
    try:
        resolved = ResolvedTopology.model_validate(record.topology) if record else None
    except ValueError:
        resolved = None
    return reality_facts(resolved, inventory)

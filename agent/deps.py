"""FastAPI dependencies: settings, state store, Deployer provider, hooks and the service.

Override any of them with `app.dependency_overrides[...]` in tests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Depends, Request

from agent.deployers import DeployerProvider
from agent.hooks import Hooks
from agent.service import AgentService
from agent.state import StateStore
from decnet_lib.settings import Settings  # resolved at runtime: FastAPI reads the annotations

STATE_SUBDIR = "agent"


@dataclass
class AgentRuntime:
    """Per-app objects: the settings, the lazy Deployer, the hooks and the apply lock."""

    settings: Settings
    deployers: DeployerProvider
    hooks: Hooks = field(default_factory=Hooks)
    lock: threading.Lock = field(default_factory=threading.Lock)


def get_runtime(request: Request) -> AgentRuntime:
    return request.app.state.runtime


def get_agent_settings(runtime: AgentRuntime = Depends(get_runtime)) -> Settings:
    return runtime.settings


def get_store(settings: Settings = Depends(get_agent_settings)) -> StateStore:
    """The state files in DECNET_STATE_DIR/agent."""
    return StateStore(settings.state_dir / STATE_SUBDIR)


def get_deployers(runtime: AgentRuntime = Depends(get_runtime)) -> DeployerProvider:
    return runtime.deployers


def get_service(
    runtime: AgentRuntime = Depends(get_runtime),
    store: StateStore = Depends(get_store),
    deployers: DeployerProvider = Depends(get_deployers),
) -> AgentService:
    return AgentService(store, deployers, runtime.hooks, runtime.lock)

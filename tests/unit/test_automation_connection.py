"""decnet_lib.automation connection settings, and the collection's side of them: the shared
argument spec, its doc fragment and the import guard must agree with the library."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from decnet_lib.automation import CONNECTION_OPTIONS, AutomationError, Connection, run_info
from decnet_lib.db import init_db, make_engine

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "decnet" / "mazenet"
PLUGINS = "ansible_collections.decnet.mazenet.plugins"


def test_from_params_picks_the_connection_options() -> None:
    params = {"db_url": "sqlite:///x.db", "state_dir": "", "agent_url": None, "name": "lab",
              "client_cert": "/p/master.crt", "state": "present"}
    conn = Connection.from_params(params)
    assert conn == Connection(db_url="sqlite:///x.db", client_cert="/p/master.crt")


def test_options_override_the_environment_in_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The options win over DECNET_*; the environment itself is never written."""
    monkeypatch.setenv("DECNET_DB_URL", "sqlite:///before.db")
    monkeypatch.delenv("DECNET_CA", raising=False)
    conn = Connection(db_url="sqlite:///during.db", ca_cert="/pki/ca.crt")
    assert conn.settings.db_url == "sqlite:///during.db"
    assert str(conn.settings.ca) == "/pki/ca.crt"
    assert conn.database_url() == "sqlite:///during.db"
    assert os.environ["DECNET_DB_URL"] == "sqlite:///before.db"
    assert "DECNET_CA" not in os.environ


def test_database_url_defaults_to_sqlite_in_the_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DECNET_DB_URL", raising=False)
    assert Connection(state_dir=str(tmp_path)).database_url() == \
        f"sqlite:///{tmp_path / 'decnet.db'}"


def test_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DECNET_AGENT_URL", raising=False)
    assert Connection().target == "local"
    assert Connection(agent_url="local").target == "local"
    assert Connection(agent_url="https://a:8765").target == "https://a:8765"
    monkeypatch.setenv("DECNET_AGENT_URL", "https://b:8765")
    assert Connection().target == "https://b:8765"


def test_check_mode_engine_never_creates_anything(tmp_path: Path) -> None:
    missing = tmp_path / "state" / "decnet.db"
    with Connection(db_url=f"sqlite:///{missing}").engine(check_mode=True) as engine:
        assert engine is None
    assert not missing.parent.exists()
    empty = tmp_path / "empty.db"
    make_engine(f"sqlite:///{empty}").dispose()
    empty.touch()
    with Connection(db_url=f"sqlite:///{empty}").engine(check_mode=True) as engine:
        assert engine is None  # no schema yet: nothing is stored
    ready = tmp_path / "ready.db"
    created = make_engine(f"sqlite:///{ready}")
    init_db(created)
    created.dispose()
    with Connection(db_url=f"sqlite:///{ready}").engine(check_mode=True) as engine:
        assert engine is not None


def test_writing_engines_take_the_sqlite_write_lock_at_begin(tmp_path: Path) -> None:
    """A task's read-then-write must wait for a concurrent writer, not fail "locked"."""
    path = tmp_path / "decnet.db"
    conn = Connection(db_url=f"sqlite:///{path}")
    for check_mode, locks in ((False, True), (True, False)):
        with conn.engine(check_mode=check_mode) as engine:
            assert engine is not None
            with engine.connect() as held:
                held.execute(text("SELECT 1"))
                other = sqlite3.connect(path, timeout=0)
                try:
                    if locks:
                        with pytest.raises(sqlite3.OperationalError, match="locked"):
                            other.execute("BEGIN IMMEDIATE")
                    else:
                        other.execute("BEGIN IMMEDIATE")
                        other.rollback()
                finally:
                    other.close()


def test_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    params = {"db_url": "mysql+pymysql://u:secret@127.0.0.1:1/decnet", "name": None}
    with pytest.raises(AutomationError) as caught:
        run_info(params)
    assert caught.value.code == "DB_UNAVAILABLE"
    assert "secret" not in caught.value.message


# --- the collection -------------------------------------------------------------------------


@pytest.fixture
def collection_on_path() -> Any:
    pytest.importorskip("ansible.module_utils.basic")
    root = str(REPO / "collections")
    sys.path.insert(0, root)
    try:
        yield
    finally:
        sys.path.remove(root)
        for name in [n for n in sys.modules if n.startswith("ansible_collections.decnet")]:
            del sys.modules[name]


def _module_utils(name: str) -> Any:
    return importlib.import_module(f"{PLUGINS}.module_utils.{name}")


def test_argument_spec_matches_the_library(collection_on_path: Any) -> None:
    spec = _module_utils("args_common").CONNECTION_ARG_SPEC
    assert set(spec) == set(CONNECTION_OPTIONS)
    for name, variable in CONNECTION_OPTIONS.items():
        assert spec[name]["fallback"][1] == [variable], name
    assert spec["db_url"]["no_log"] is True  # it may carry a password


def test_doc_fragment_matches_the_argument_spec(collection_on_path: Any) -> None:
    spec = _module_utils("args_common").CONNECTION_ARG_SPEC
    fragment = importlib.import_module(
        f"{PLUGINS}.doc_fragments.connection")
    options = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(options) == set(spec)
    for name, option in options.items():
        assert option["type"] == spec[name]["type"], name
        assert CONNECTION_OPTIONS[name] in " ".join(option["description"]), name


def test_every_module_takes_the_connection_options(collection_on_path: Any) -> None:
    modules = {path.stem for path in (COLLECTION / "plugins" / "modules").glob("*.py")}
    assert modules == {"decnet_topology", "decnet_mutation", "decnet_topology_info",
                       "decnet_events_info"}
    for module in sorted(modules):
        source = (COLLECTION / "plugins" / "modules" / f"{module}.py").read_text()
        assert "connection_argument_spec(" in source
        assert "decnet.mazenet.connection" in source
        docs = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
        assert docs["attributes"]["check_mode"]["support"] == "full"
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    assert set(runtime["action_groups"]["all"]) == modules


class _FakeModule:
    check_mode = False
    _diff = False

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.failed: dict[str, Any] | None = None
        self.exited: dict[str, Any] | None = None

    def fail_json(self, **kwargs: Any) -> None:
        self.failed = kwargs
        raise SystemExit(1)

    def exit_json(self, **kwargs: Any) -> None:
        self.exited = kwargs
        raise SystemExit(0)

    def warn(self, message: str) -> None:
        pass


def test_missing_library_is_reported_with_missing_required_lib(
    collection_on_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = _module_utils("common")
    monkeypatch.setattr(common, "HAS_DECNET", False)
    monkeypatch.setattr(common, "DECNET_IMPORT_ERROR", "Traceback: No module named decnet_lib")
    module = _FakeModule()
    with pytest.raises(SystemExit):
        common.run(module, "run_info")
    assert module.failed is not None
    assert "Failed to import the required Python library (decnet_lib)" in module.failed["msg"]
    assert "ansible_python_interpreter" in module.failed["msg"]
    assert module.failed["exception"].startswith("Traceback")


def test_run_reports_results_and_errors(collection_on_path: Any, tmp_path: Path) -> None:
    common = _module_utils("common")
    module = _FakeModule()
    module.params = {"db_url": f"sqlite:///{tmp_path / 'none.db'}", "name": "lab"}
    with pytest.raises(SystemExit):
        common.run(module, "run_info")
    assert module.exited == {"changed": False, "exists": False, "topologies": []}
    failing = _FakeModule()
    failing.params = {"db_url": "mysql+pymysql://u@127.0.0.1:1/x", "name": None}
    with pytest.raises(SystemExit):
        common.run(failing, "run_info")
    assert failing.failed is not None and failing.failed["error_code"] == "DB_UNAVAILABLE"


def test_module_calls_publish_on_the_bus_except_in_check_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from decnet_lib.automation import run_topology
    from decnet_lib.master import wiring

    calls: list[str] = []

    def fake_wire_events(settings: Any) -> Any:
        calls.append(str(settings.bus_socket))
        return lambda: calls.append("unwired")

    monkeypatch.setattr(wiring, "wire_events", fake_wire_events)
    params = {"spec": {"name": "lab", "lans": [{"name": "dmz", "subnet": "10.231.9.0/24",
                                                "dmz": True}]},
              "state": "present", "db_url": f"sqlite:///{tmp_path / 'd.db'}",
              "bus_socket": str(tmp_path / "bus.sock")}
    run_topology(params, check_mode=True)
    assert calls == []
    run_topology(params)
    assert calls == [str(tmp_path / "bus.sock"), "unwired"]

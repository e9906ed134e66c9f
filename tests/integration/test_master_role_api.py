"""The master role's API options, run for real with ansible-playbook on this machine: the
argument spec accepts them, the `api` service joins (or is stopped) by master_api_enabled,
master.env carries the CORS origins, and the initial operator token is made once by
`decnet api token create` into a 0600 file (a second run leaves it alone).

Only the role's own task file and variables are used (no install, no service start).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from decnet_lib.master.api_tokens import list_tokens
from decnet_lib.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "collections/ansible_collections/decnet/mazenet/roles/master"
BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
OPTIONS = ("master_api_enabled", "master_api_host", "master_api_port", "master_api_workers",
           "master_api_cors_origins", "master_api_token_file", "master_api_token_name",
           "master_services", "master_reconcile_interval", "master_pki_key_type")


def play(out: Path) -> list[dict[str, Any]]:
    provided = {name: "{{ " + name + " }}" for name in OPTIONS}
    return [{
        "name": "The master role's API pieces",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults/main.yml"), str(ROLE / "vars/main.yml")],
        "vars": {"runtime_decnet_argv": [sys.executable, "-m", "decnet_lib.cli"]},
        "tasks": [
            {"name": "Check the options against meta/argument_specs.yml",
             "ansible.builtin.validate_argument_spec": {
                 "argument_spec": f"{{{{ (lookup('file', '{ROLE}/meta/argument_specs.yml')"
                                  " | from_yaml).argument_specs.main.options }}",
                 "provided_arguments": provided}},
            {"name": "Token", "ansible.builtin.include_tasks": str(ROLE / "tasks/api_token.yml"),
             "when": "master_api_enabled | bool"},
            {"name": "Record", "ansible.builtin.copy": {"dest": str(out), "content": (
                "{{ {'running': master_running_services, 'stopped': master_stopped_services,"
                " 'env': master_environment, 'api': master_service_specs.api,"
                " 'ready_host': master_api_local_host} | to_json }}")}},
        ],
    }]


def run(tmp: Path, **extra: Any) -> tuple[dict[str, Any], str]:
    playbook, out = tmp / "play.yml", tmp / "out.json"
    playbook.write_text(yaml.safe_dump(play(out)))
    environment = {**os.environ, "PYTHONPATH": str(REPO), "ANSIBLE_NOCOLOR": "1",
                   "ANSIBLE_COLLECTIONS_PATH": str(REPO / "collections"),
                   "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                   "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    done = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook),
                           "-e", json.dumps(extra)], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


@pytest.fixture()
def master(tmp_path: Path) -> dict[str, Any]:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.fail("ansible-core is not installed in this virtualenv")
    state, etc = tmp_path / "state", tmp_path / "etc"
    etc.mkdir()
    db_url = f"sqlite:///{state / 'decnet.db'}"
    subprocess.run([sys.executable, "-m", "decnet_lib.cli", "db", "init"], check=True,
                   cwd=REPO, env={**os.environ, "DECNET_STATE_DIR": str(state),
                                  "DECNET_DB_URL": db_url}, capture_output=True)
    return {"decnet_state_dir": str(state), "decnet_etc_dir": str(etc),
            "decnet_db_url": db_url}


def test_the_api_disabled_by_default_is_stopped_not_run(
        master: dict[str, Any], tmp_path: Path) -> None:
    recorded, _ = run(tmp_path, **master)
    assert recorded["running"] == ["bus", "reconciler", "ingest"]
    assert recorded["stopped"] == ["api"]
    assert recorded["env"]["DECNET_API_CORS_ORIGINS"] == ""
    assert not (Path(master["decnet_etc_dir"]) / "api-operator.token").exists()


def test_the_api_enabled_gets_a_service_cors_and_one_operator_token(
        master: dict[str, Any], tmp_path: Path) -> None:
    options = {**master, "decnet_api_enabled": True, "decnet_api_host": "0.0.0.0",
               "decnet_api_port": 8711, "decnet_api_workers": 2,
               "decnet_api_cors_origins": ["https://soc.example", "http://localhost:5173"]}
    recorded, output = run(tmp_path, **options)
    assert recorded["running"] == ["bus", "reconciler", "ingest", "api"]
    assert recorded["stopped"] == []
    assert recorded["api"]["args"] == ["api", "serve", "--host", "0.0.0.0", "--port", "8711",
                                       "--workers", "2"]
    assert recorded["api"]["ready_port"] == "8711"
    assert recorded["ready_host"] == "127.0.0.1"
    assert recorded["env"]["DECNET_API_CORS_ORIGINS"] == \
        "https://soc.example,http://localhost:5173"

    token_file = Path(master["decnet_etc_dir"]) / "api-operator.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("dn_") and token not in output
    settings = get_settings(state_dir=Path(master["decnet_state_dir"]),
                            db_url=master["decnet_db_url"])
    rows = list_tokens(settings)
    assert [(row["name"], row["role"]) for row in rows] == [("initial-operator", "operator")]

    _, again = run(tmp_path, **options)  # the file exists: nothing is made or replaced
    assert token_file.read_text().strip() == token
    assert len(list_tokens(settings)) == 1
    assert "Create the initial operator token" in again


def test_a_bad_option_is_refused_by_the_argument_spec(
        master: dict[str, Any], tmp_path: Path) -> None:
    playbook, out = tmp_path / "play.yml", tmp_path / "out.json"
    playbook.write_text(yaml.safe_dump(play(out)))
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook), "-e",
         json.dumps({**master, "decnet_api_port": "not-a-port"})],
        cwd=REPO, env={**os.environ, "ANSIBLE_NOCOLOR": "1",
                       "ANSIBLE_PYTHON_INTERPRETER": sys.executable},
        capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "master_api_port" in done.stdout


def test_the_playbooks_dashboard_url(tmp_path: Path) -> None:
    """playbooks/vars/connection.yml: the URL deploy_topology.yml prints (a wildcard listen
    address is reached at the master's address)."""
    out = tmp_path / "urls.json"
    cases = {"default": {"decnet_api_enabled": True},
             "wildcard": {"decnet_api_enabled": True, "decnet_api_host": "0.0.0.0",
                          "decnet_api_port": 9100, "ansible_host": "10.9.8.7",
                          "decnet_etc_dir": "/srv/etc"}}
    tasks = [{"name": f"Record {case}", "ansible.builtin.set_fact": {
        f"url_{case}": "{{ [decnet_conn_api_enabled, decnet_conn_dashboard_url,"
                       " decnet_conn_api_token_file] }}"}, "vars": values}
             for case, values in cases.items()]
    tasks.append({"name": "Write", "ansible.builtin.copy": {"dest": str(out), "content":
                  "{{ {'default': url_default, 'wildcard': url_wildcard} | to_json }}"}})
    playbook = tmp_path / "urls.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "URLs", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(REPO / "playbooks/vars/connection.yml")], "tasks": tasks}]))
    done = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)],
                          cwd=REPO, env={**os.environ, "ANSIBLE_NOCOLOR": "1",
                                         "ANSIBLE_PYTHON_INTERPRETER": sys.executable},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    urls = json.loads(out.read_text())
    assert urls["default"] == [True, "http://127.0.0.1:8700/", "/etc/decnet/api-operator.token"]
    assert urls["wildcard"] == [True, "http://10.9.8.7:9100/", "/srv/etc/api-operator.token"]

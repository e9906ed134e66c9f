"""The layering rules of DESIGN.md "One use-case layer", checked on the source (AST)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONT_ENDS = ("decnet_lib/cli", "decnet_lib/automation", "decnet_lib/api")
FORBIDDEN = ("decnet_lib.db", "decnet_lib.mutations", "decnet_lib.deploy")
ENV_READER = REPO / "decnet_lib" / "settings.py"


def _modules(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((REPO / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)


def test_front_ends_import_no_database_queue_or_deployer() -> None:
    """cli/ and automation/ reach the database, the queue and Docker through master/ only."""
    found = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in _modules(*FRONT_ENDS)
        for line, name in _imports(ast.parse(path.read_text(), str(path)))
        if _forbidden(name)
    ]
    assert found == []


ENV_NAMES = ("environ", "environb", "getenv", "putenv", "unsetenv")


def _reads_environment(tree: ast.AST) -> Iterator[int]:
    """Lines that touch os.environ / os.getenv / os.putenv (or import them)."""
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "os" and node.attr in ENV_NAMES
        imported = isinstance(node, ast.ImportFrom) and node.module == "os" \
            and any(alias.name in ENV_NAMES for alias in node.names)
        if attribute or imported:
            yield node.lineno


def test_only_settings_reads_the_environment() -> None:
    """Every DECNET_* (and any other) variable is read by decnet_lib/settings.py alone."""
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in _modules("decnet_lib", "agent")
        if path != ENV_READER
        for line in _reads_environment(ast.parse(path.read_text(), str(path)))
    ]
    assert found == []


def test_the_scans_see_a_violation(tmp_path: Path) -> None:
    """The two scans are not vacuous."""
    tree = ast.parse("import os\nfrom decnet_lib.db import x\nos.environ.get('A')\n")
    assert [name for _, name in _imports(tree) if _forbidden(name)] == [
        "decnet_lib.db", "decnet_lib.db.x"]
    assert list(_reads_environment(tree)) == [3]


def test_issue_vocabulary_is_at_the_bottom() -> None:
    """decnet_lib.issues and decnet_lib.errors import nothing else of decnet_lib."""
    for module in ("issues", "errors"):
        path = REPO / "decnet_lib" / f"{module}.py"
        names = [name for _, name in _imports(ast.parse(path.read_text()))]
        assert [n for n in names if n.startswith("decnet_lib") and
                not n.startswith("decnet_lib.issues")] == [], module


def test_op_names_match_the_payload_models() -> None:
    from decnet_lib.master.vocabulary import OPS
    from decnet_lib.mutations.payloads import PAYLOAD_MODELS

    assert tuple(PAYLOAD_MODELS) == OPS


@pytest.mark.parametrize("argv, absent", [
    (["--help"], ("sqlalchemy", "docker", "fastapi", "uvicorn", "pydantic_settings")),
    (["services"], ("sqlalchemy", "docker", "fastapi", "uvicorn")),
])
def test_cli_loads_only_what_a_command_uses(argv: list[str], absent: tuple[str, ...]) -> None:
    code = (
        "import sys\nfrom decnet_lib.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {absent!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip().splitlines()[-1]
    assert out == "[]"


def test_validate_without_a_database_loads_no_database_or_docker(tmp_path: Path) -> None:
    """`decnet topology validate` with no stored topologies: no SQLAlchemy, no Docker."""
    document = tmp_path / "maze.yml"
    document.write_text("name: maze\nlans:\n  - {name: dmz, subnet: 10.231.250.0/24, dmz: true}\n"
                        "deckies:\n  - {name: web01, services: [http], lans: {dmz: null}}\n")
    absent = ("sqlalchemy", "docker", "fastapi", "uvicorn")
    code = (
        "import sys\nfrom decnet_lib.cli import main\n"
        f"try:\n    main(['topology', 'validate', {str(document)!r}])\n"
        "except SystemExit as exc:\n    print('exit', exc.code)\n"
        f"print(sorted(m for m in {absent!r} if m in sys.modules))"
    )
    env = {**os.environ, "DECNET_STATE_DIR": str(tmp_path / "state"), "DECNET_DB_URL": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, env=env).stdout.strip().splitlines()
    assert out[-1] == "[]"
    assert any(line.startswith("valid: 0 error(s)") for line in out), out

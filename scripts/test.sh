#!/usr/bin/env bash
# Run every test: installs what is missing (venv, MariaDB), starts it, lints, runs pytest.
# Usage: scripts/test.sh [pytest args...]
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/venv.sh"
source "$REPO_ROOT/scripts/lib/mariadb.sh"

cd "$REPO_ROOT"
ensure_venv dev
ensure_mariadb

log "ruff"
ruff check .

log "pytest (SQLite and MariaDB)"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  die "pytest collected no tests: that is a failure, not a pass"
fi
exit "$status"

#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml: every dependency set (runtime, agent, test,
# ansible, bench, dev) and the build requirements, pinned with hashes. This is the one
# deliberate way to upgrade a dependency: run it, run the tests, commit both files.
# Usage: scripts/lock.sh [--upgrade | --upgrade-package NAME ...]
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
tools="${DECNET_LOCK_TOOLS:-$REPO_ROOT/.venv-lock}"
[ -x "$tools/bin/pip-compile" ] || {
  log "creating the lock tool environment in $tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install -q "pip-tools==7.7.0"
}
log "pip-compile (all extras, build requirements, hashes)"
"$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --all-extras --all-build-deps \
  --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
  --output-file requirements.lock "$@" pyproject.toml
"$tools/bin/python" scripts/check_lock.py --stamp
log "requirements.lock refreshed; run scripts/test.sh, then commit pyproject.toml and requirements.lock"

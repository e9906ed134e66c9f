#!/usr/bin/env bash
# Checks of the Ansible side (collection decnet.mazenet, roles, playbooks, Molecule), for real:
#   1. ansible-doc renders every module (FQCN) without an error or warning
#   2. ansible-lint, production profile, offline: playbooks, the collection, molecule
#   3. ansible-galaxy collection build + install of the tarball into a temporary dir, offline
#   4. ansible-test sanity, offline (an offline stand-in for its pip bootstrap script)
#   5. the automation unit tests and the check-mode test (ansible-playbook -C: every module
#      reports `changed`, nothing in the database or Docker changes)
#   6. molecule test -s default and -s mutation (real mazes on this machine's Docker Engine)
# Every step runs; a summary with timings follows; the exit status is non-zero when any failed.
# Usage: scripts/ansible-checks.sh [STEP...]   (steps: doc lint galaxy sanity pytest
#                                               molecule-default molecule-mutation)
# Needs: the virtualenv (.venv, made by scripts/test.sh), Docker Engine; installs the Ansible
# tools into the virtualenv when they are missing (PyPI).
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
cd "$REPO_ROOT"

COLLECTION_DIR="collections/ansible_collections/decnet/mazenet"
MODULES=(decnet_topology decnet_mutation decnet_topology_info decnet_events_info)
ANSIBLE_TOOLS=("ansible-core>=2.19" "molecule>=26,<27" "molecule-plugins[docker]"
               "pytest-testinfra" "ansible-lint")
PIP_VERSION_FOR_ANSIBLE_TEST="24.2"

[ -x "$VENV/bin/python" ] || die "no virtualenv at $VENV: run scripts/test.sh first"
# Ansible refuses to run without a UTF-8 locale
case "${LC_ALL:-${LANG:-}}" in *UTF-8*|*utf8*) ;; *) export LC_ALL=C.UTF-8 LANG=C.UTF-8 ;; esac
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

ensure_ansible_tools() {
  # Install the tools that are missing (ansible-core, molecule, plugins, testinfra, lint).
  local missing
  missing=$("$VENV/bin/python" - "${ANSIBLE_TOOLS[@]}" <<'PY'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

missing = []
for requirement in sys.argv[1:]:
    name = re.split(r"[\[<>=,]", requirement, maxsplit=1)[0]
    try:
        version(name)
    except PackageNotFoundError:
        missing.append(requirement)
print("\n".join(missing))
PY
)
  [ -z "$missing" ] && return 0
  log "installing the Ansible tools: $(echo "$missing" | tr '\n' ' ')"
  mapfile -t wanted <<<"$missing"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${wanted[@]}"
}

ensure_get_pip_stand_in() {
  # ansible-test bootstraps pip in its virtualenvs with a script from a host that is not
  # reachable here; an equivalent stand-in runs pip from the pip wheel (PyPI) instead.
  local cache="$HOME/.ansible/test/cache"
  local version="$PIP_VERSION_FOR_ANSIBLE_TEST"
  local script="$cache/get_pip_${version//./_}.py" wheel="$cache/pip-$version-py3-none-any.whl"
  mkdir -p "$cache"
  if [ ! -f "$wheel" ]; then
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$cache" \
      "pip==$version" 2>/dev/null
  fi
  if ! grep -q "MazeNET offline stand-in" "$script" 2>/dev/null; then
    cat >"$script" <<PY
# MazeNET offline stand-in for ansible-test's get-pip-$version.py (scripts/ansible-checks.sh):
# run pip from the pip $version wheel beside this file; setuptools/wheel flags are dropped.
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "pip-$version-py3-none-any.whl"))
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade", "--force-reinstall", "--find-links", HERE, *args]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
PY
  fi
}

# --- the checks ----------------------------------------------------------------------------

check_doc() {
  local module out status=0
  for module in "${MODULES[@]}"; do
    if ! out=$(ansible-doc "decnet.mazenet.$module" 2>&1 >/dev/null); then
      printf 'ansible-doc decnet.mazenet.%s failed:\n%s\n' "$module" "$out" >&2; status=1
    elif grep -qE '\[(ERROR|WARNING)\]|ERROR!' <<<"$out"; then
      printf 'ansible-doc decnet.mazenet.%s complained:\n%s\n' "$module" "$out" >&2; status=1
    else
      printf 'ansible-doc decnet.mazenet.%s: ok\n' "$module"
    fi
  done
  return "$status"
}

check_lint() {
  ansible-lint --offline --profile production --nocolor \
    playbooks "$COLLECTION_DIR" molecule
}

check_galaxy() {
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  ansible-galaxy collection build "$COLLECTION_DIR" --output-path "$tmp/dist" --force
  local tarball listing; tarball=$(ls "$tmp"/dist/decnet-mazenet-*.tar.gz)
  listing=$(tar -tzf "$tarball")
  if grep -qE '(^|/)tests/output/|\.pyc$' <<<"$listing"; then
    echo "the tarball contains test output or bytecode" >&2; return 1
  fi
  local wanted
  for wanted in plugins/modules/decnet_topology.py plugins/module_utils/common.py \
      plugins/doc_fragments/connection.py meta/runtime.yml roles/master/tasks/main.yml \
      roles/agent/tasks/main.yml roles/runtime/tasks/service.yml; do
    grep -qx "$wanted" <<<"$listing" || { echo "the tarball lacks $wanted" >&2; return 1; }
  done
  # install into an empty path that is the only collections path (nothing else can satisfy it)
  export ANSIBLE_COLLECTIONS_PATH="$tmp/installed"
  ansible-galaxy collection install --offline --force -p "$tmp/installed" "$tarball"
  [ -f "$tmp/installed/ansible_collections/decnet/mazenet/MANIFEST.json" ]
  # the installed copy is complete: every module documents itself from there
  local module out
  for module in "${MODULES[@]}"; do
    out=$(ansible-doc "decnet.mazenet.$module" 2>&1 >/dev/null)
    if grep -qE 'WARNING|ERROR|not found' <<<"$out"; then
      printf 'installed decnet.mazenet.%s: %s\n' "$module" "$out" >&2; return 1
    fi
  done
  ansible-galaxy collection list decnet.mazenet
}

check_sanity() {
  ensure_get_pip_stand_in
  local python; python=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  (
    cd "$COLLECTION_DIR"
    trap 'rm -rf tests/output' EXIT  # never leave ansible-test's scratch in the checkout
    ansible-test sanity --venv --python "$python" --color no
  )
}

check_pytest() {
  python -m pytest -q -p no:cacheprovider tests/unit/test_automation_*.py \
    tests/integration/test_ansible_check_mode.py
}

check_molecule() {
  molecule test -s "$1"
}

# --- the run -------------------------------------------------------------------------------

ensure_ansible_tools
ensure_docker
if ! docker image inspect decnet/base:latest >/dev/null 2>&1; then
  log "building the decky images (offline)"
  decnet images build >/dev/null
fi

ALL_STEPS=(doc lint galaxy sanity pytest molecule-default molecule-mutation)
STEPS=("${@:-${ALL_STEPS[@]}}")
declare -a SUMMARY=()
failed=0
for step in "${STEPS[@]}"; do
  log "check: $step"
  start=$(date +%s)
  case "$step" in
    doc) cmd=(check_doc) ;;
    lint) cmd=(check_lint) ;;
    galaxy) cmd=(check_galaxy) ;;
    sanity) cmd=(check_sanity) ;;
    pytest) cmd=(check_pytest) ;;
    molecule-default) cmd=(check_molecule default) ;;
    molecule-mutation) cmd=(check_molecule mutation) ;;
    *) die "unknown step $step (known: ${ALL_STEPS[*]})" ;;
  esac
  set +e
  ( set -e; "${cmd[@]}" )
  status=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  if [ "$status" -eq 0 ]; then
    SUMMARY+=("$(printf '%-18s passed  %4ss' "$step" "$seconds")")
  else
    SUMMARY+=("$(printf '%-18s FAILED  %4ss (exit %s)' "$step" "$seconds" "$status")")
    failed=1
  fi
done

log "summary"
printf '  %s\n' "${SUMMARY[@]}" >&2
exit "$failed"

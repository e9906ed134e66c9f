# ensure_venv EXTRAS : a virtualenv at $VENV with this package installed (editable).
ensure_venv() {
  local extras="${1:-dev}"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip
  fi
  # the C YAML builder (optional, but the topology bench target needs it): a compiler,
  # libyaml's headers and Python's
  apt_install gcc libc6-dev libyaml-dev
  if ! python3 -c 'import os, sysconfig; os.stat(sysconfig.get_paths()["include"] + "/Python.h")' \
      >/dev/null 2>&1; then
    apt_install python3-dev
  fi
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  local stamp="$VENV/.decnet-installed-$extras" source
  local stale=0
  for source in pyproject.toml setup.py decnet_lib/topology/_fastyaml.c; do
    if [ "$REPO_ROOT/$source" -nt "$stamp" ]; then stale=1; fi
  done
  if [ ! -f "$stamp" ] || [ "$stale" -eq 1 ]; then
    log "installing mazenet[$extras] into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -e "$REPO_ROOT[$extras]"
    touch "$stamp"
  fi
}

# ensure_venv EXTRAS : a virtualenv at $VENV with this package installed (editable).
ensure_venv() {
  local extras="${1:-dev}"
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip
  fi
  [ -x "$VENV/bin/python" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
  local stamp="$VENV/.decnet-installed-$extras"
  if [ ! -f "$stamp" ] || [ "$REPO_ROOT/pyproject.toml" -nt "$stamp" ]; then
    log "installing mazenet[$extras] into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -e "$REPO_ROOT[$extras]"
    touch "$stamp"
  fi
}

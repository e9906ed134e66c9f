# ensure_venv : a virtualenv at $VENV with every locked dependency and this package (editable).
ensure_venv() {
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
  "$VENV/bin/python" "$REPO_ROOT/scripts/check_lock.py" \
    || die "requirements.lock disagrees with pyproject.toml: run scripts/lock.sh, commit both"
  local stamp="$VENV/.decnet-installed" source
  local stale=0
  for source in requirements.lock pyproject.toml setup.py decnet_lib/topology/_fastyaml.c; do
    if [ "$REPO_ROOT/$source" -nt "$stamp" ]; then stale=1; fi
  done
  if [ ! -f "$stamp" ] || [ "$stale" -eq 1 ]; then
    # every dependency from the lock (pinned, hash-checked; scripts/lock.sh refreshes it),
    # then this checkout on top without resolving anything again
    log "installing the locked dependencies and mazenet into $VENV"
    "$VENV/bin/pip" install -q --require-hashes -r "$REPO_ROOT/requirements.lock"
    "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$REPO_ROOT"
    "$VENV/bin/pip" check >/dev/null \
      || die "the installed packages do not agree: $("$VENV/bin/pip" check | head -3)"
    touch "$stamp"
  fi
}

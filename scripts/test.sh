#!/usr/bin/env bash
# Run every test: installs what is missing (venv, MariaDB, Docker, chromium), starts them,
# builds the dashboard (npm ci from the lock), lints, runs the dashboard's Vitest tests and
# pytest on SQLite and MariaDB against the real Docker Engine (browser tests included).
# Usage: scripts/test.sh [pytest args...]
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/venv.sh"
source "$REPO_ROOT/scripts/lib/mariadb.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
source "$REPO_ROOT/scripts/lib/web.sh"

cd "$REPO_ROOT"
ensure_venv dev
ensure_mariadb
ensure_docker
# the emulator tests: debootstrap builds their bookworm root; the real clients drive them;
# rsyslog (with its gtls driver) receives the SIEM forwarding tests
apt_install bind9-dnsutils curl debootstrap default-mysql-client mosquitto-clients nmap openssh-client openssl postgresql-client redis-tools rsyslog rsyslog-gnutls sipsak sipvicious snmp sshpass swaks telnet
# the dashboard's browser tests: Debian's chromium, driven by Playwright (no browser download)
apt_install chromium
ensure_web_bundle

log "ruff"
ruff check .
run_web_tests

log "building the decky images (offline)"
decnet images build

log "pytest (SQLite and MariaDB, real Docker)"
set +e
python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  die "pytest collected no tests: that is a failure, not a pass"
fi
[ "$status" -eq 0 ] || exit "$status"

if [ "$#" -eq 0 ]; then  # a full run: the Ansible side too (pytest above ran its tests)
  log "Ansible: ansible-doc, ansible-lint, galaxy build/install, ansible-test sanity, Molecule"
  "$REPO_ROOT/scripts/ansible-checks.sh" doc lint galaxy sanity molecule-default molecule-mutation
fi

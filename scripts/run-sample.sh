#!/usr/bin/env bash
# The main job: set up (virtualenv, Docker Engine, offline images), then deploy a sample maze
# on this machine with the Ansible playbook:
#   ansible-playbook playbooks/deploy_topology.yml -i inventories/local -e topology_file=FILE
# Usage: scripts/run-sample.sh [TOPOLOGY_FILE]   (default: examples/lab-small.yml)
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/venv.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"
source "$REPO_ROOT/scripts/lib/web.sh"

cd "$REPO_ROOT"
ensure_venv dev
ensure_docker
case "${LC_ALL:-${LANG:-}}" in *UTF-8*|*utf8*) ;; *) export LC_ALL=C.UTF-8 LANG=C.UTF-8 ;; esac
apt_install debootstrap  # the full emulators' Debian root (decnet images build)
decnet images build
ensure_web_bundle  # the dashboard `decnet api serve` shows at /
exec ansible-playbook playbooks/deploy_topology.yml -i inventories/local \
  -e topology_file="${1:-examples/lab-small.yml}"

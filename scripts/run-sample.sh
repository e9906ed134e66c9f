#!/usr/bin/env bash
# The main job: build the decky images, then generate, validate, store, deploy and show a
# sample maze on this machine's Docker Engine.
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/venv.sh"
source "$REPO_ROOT/scripts/lib/docker.sh"

cd "$REPO_ROOT"
ensure_venv dev
ensure_docker
export DECNET_STATE_DIR="${DECNET_STATE_DIR:-$REPO_ROOT/state}"
sample="$DECNET_STATE_DIR/sample-maze.yml"
mkdir -p "$DECNET_STATE_DIR"

decnet images build
if ! decnet topology show sample >/dev/null 2>&1; then
  decnet topology generate --name sample --depth 2 --branching 2 --deckies-per-lan 2-3 \
    --cross-edge-p 0.2 --services ssh,http,telnet --seed 7 --base 10.230.0.0/16 -o "$sample"
  decnet topology validate "$sample"
  decnet topology create "$sample"
fi
decnet topology deploy sample
decnet topology show sample

#!/usr/bin/env bash
# The main job: generate a sample maze, validate it, store it and show it.
source "$(dirname "$0")/lib/common.sh"
source "$REPO_ROOT/scripts/lib/venv.sh"

cd "$REPO_ROOT"
ensure_venv dev
export DECNET_STATE_DIR="${DECNET_STATE_DIR:-$REPO_ROOT/state}"
sample="$DECNET_STATE_DIR/sample-maze.yml"
mkdir -p "$DECNET_STATE_DIR"

decnet topology generate --name sample --depth 2 --branching 2 --deckies-per-lan 2-3 \
  --cross-edge-p 0.2 --seed 7 -o "$sample"
decnet topology validate "$sample"
if decnet topology show sample >/dev/null 2>&1; then
  log "topology 'sample' is already stored"
else
  decnet topology create "$sample"
fi
decnet topology show sample

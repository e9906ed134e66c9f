# ensure_web_bundle : the dashboard built into decnet_lib/web/bundle with the machine's Node.js
# (npm ci from the committed lock, then vite build). Source common.sh first.
WEB_FRONTEND="$REPO_ROOT/decnet_lib/web/frontend"
WEB_NODE_MIN=20  # Vite and jsdom need Node.js 20 (Debian 12's nodejs 18 is too old)
WEB_NODE_PINNED=20.20.2  # installed from the npm registry when the machine's is older

ensure_node() {
  # Node.js and npm: Debian's when missing; when older than WEB_NODE_MIN (Debian 12's 18), the
  # pinned Node.js build from the npm registry (package `node`, its binary for this machine)
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt "$WEB_NODE_MIN" ]; then
    log "Node.js $(node --version) is older than $WEB_NODE_MIN: installing node@$WEB_NODE_PINNED from the npm registry"
    npm install --global --no-audit --no-fund --loglevel=error "node@$WEB_NODE_PINNED" \
      || die "could not install Node.js $WEB_NODE_PINNED from the npm registry"
    hash -r
    major="$(node -p 'process.versions.node.split(".")[0]')"
  fi
  [ "$major" -ge "$WEB_NODE_MIN" ] || die "Node.js >= $WEB_NODE_MIN is needed for the dashboard (found $(node --version))"
}

ensure_web_bundle() {
  ensure_node
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # the browser is Debian's chromium
  log "dashboard: npm ci, npm run build"
  (cd "$WEB_FRONTEND" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent) \
    || die "the dashboard bundle did not build"
  [ -f "$REPO_ROOT/decnet_lib/web/bundle/index.html" ] || die "no decnet_lib/web/bundle/index.html after the build"
}

# run_web_tests : the dashboard's component tests (Vitest, jsdom).
run_web_tests() {
  log "dashboard: vitest"
  (cd "$WEB_FRONTEND" && npx --no-install vitest run) || die "dashboard component tests failed"
}

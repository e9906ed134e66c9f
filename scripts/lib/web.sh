# ensure_web_bundle : the dashboard built into decnet_lib/web/bundle with the machine's Node.js
# (npm ci from the committed lock, then vite build). Source common.sh first.
WEB_FRONTEND="$REPO_ROOT/decnet_lib/web/frontend"
WEB_NODE_MIN=20  # Vite and jsdom need Node.js 20 (Debian 12's nodejs 18 is too old)

ensure_node() {
  command -v node >/dev/null 2>&1 || die "Node.js >= $WEB_NODE_MIN is needed for the dashboard (node not found)"
  command -v npm >/dev/null 2>&1 || die "npm is needed for the dashboard (npm not found)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
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

"""The dashboard and `decnet web serve`.

`frontend/` is the dashboard's source (React + Vite, built by scripts/lib/web.sh into
`bundle/`, package data); `decnet api serve` serves that bundle at `/` and so does `decnet web
serve`, on its own, with `/api/*` proxied to the API: `static` serves the bundle (client-side
routes fall back to index.html), `proxy` forwards API calls with every method and streams
answers (Server-Sent Events included), `app` puts the two together.
"""

from pathlib import Path

BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"

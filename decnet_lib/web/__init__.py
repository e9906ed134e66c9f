"""`decnet web serve`: the dashboard bundle on its own, with `/api/*` proxied to the API.

`static` serves the built bundle (client-side routes fall back to index.html), `proxy`
forwards API calls with every method and streams answers (Server-Sent Events included),
`app` puts the two together.
"""

from pathlib import Path

BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"

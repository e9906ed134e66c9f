"""The dashboard: its source (`frontend/`, React + Vite) and the built bundle (`bundle/`)."""

from __future__ import annotations

from pathlib import Path

BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"
"""Where `npm run build` puts the single-page app (index.html and assets/)."""

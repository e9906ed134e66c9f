"""The dashboard: its source (`frontend/`, React + Vite) and the built bundle (`bundle/`,
package data; `decnet api serve` serves it at `/`, see decnet_lib/api/bundle.py)."""

"""CORS for the configured origins only (PATCH and its preflight included), and the
dashboard bundle at `/`."""

from __future__ import annotations

from pathlib import Path

import httpx
from api_server import ALLOWED_ORIGIN, Api, running_api

REFUSED_ORIGIN = "http://evil.example"
PATCH_PREFLIGHT = {"Access-Control-Request-Method": "PATCH",
                   "Access-Control-Request-Headers": "authorization, content-type"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_cors_for_patch_from_an_allowed_and_a_refused_origin(sqlite_api: Api) -> None:
    api = sqlite_api
    path = "/api/v1/topologies/corsmaze/deckies/web01"
    with httpx.Client(base_url=api.url, timeout=30) as client:
        allowed = client.options(path, headers={"Origin": ALLOWED_ORIGIN, **PATCH_PREFLIGHT})
        assert allowed.status_code == 204, allowed.text
        headers = cors_headers(allowed)
        assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "PATCH" in headers["access-control-allow-methods"].split(", ")
        assert "OPTIONS" in headers["access-control-allow-methods"].split(", ")
        assert {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")
                } == {"authorization", "content-type"}
        assert "origin" in allowed.headers["vary"].lower()

        refused = client.options(path, headers={"Origin": REFUSED_ORIGIN, **PATCH_PREFLIGHT})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "CORS_REFUSED"
        assert cors_headers(refused) == {}

        client.post("/api/v1/topologies", headers=api.headers(), json={
            "name": "corsmaze", "lans": [{"name": "dmz", "subnet": "10.231.30.0/24",
                                          "dmz": True}],
            "deckies": [{"name": "web01", "services": ["http"], "lans": {"dmz": None}}]})
        for origin, expected in ((ALLOWED_ORIGIN, ALLOWED_ORIGIN), (REFUSED_ORIGIN, None)):
            patched = client.patch(path, json={"services": ["http", "ssh"]},
                                   headers=api.headers(Origin=origin))
            assert patched.status_code == 200, patched.text
            assert cors_headers(patched).get("access-control-allow-origin") == expected
            if expected is None:
                assert cors_headers(patched) == {}
            assert "origin" in patched.headers["vary"].lower()
            for method in ("GET", "DELETE"):
                answer = client.request(method, "/api/v1/topologies/nosuch",
                                        headers=api.headers(Origin=origin))
                assert answer.status_code == 404
                assert cors_headers(answer).get("access-control-allow-origin") == expected
        # an error before any route (no token) still carries the headers the browser needs
        anonymous = client.get("/api/v1/topologies", headers={"Origin": ALLOWED_ORIGIN})
        assert anonymous.status_code == 401
        assert anonymous.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        # a preflight for another method is answered too; not a preflight without an origin
        delete = client.options(path, headers={"Origin": ALLOWED_ORIGIN,
                                               "Access-Control-Request-Method": "DELETE"})
        assert delete.status_code == 204
        plain = client.options(path)
        assert plain.status_code == 401 and cors_headers(plain) == {}


def test_bundle_is_served_at_the_root(tmp_path: Path) -> None:
    with running_api(tmp_path / "first", f"sqlite:///{tmp_path / 'first.db'}",
                     api_bundle_dir=str(tmp_path / "absent")) as api, \
            httpx.Client(base_url=api.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 503 and "not built" in page.text
        assert page.headers["content-type"].startswith("text/html")
        assert client.get("/api/v1/health").status_code == 200
    bundle = tmp_path / "bundle"
    (bundle / "assets").mkdir(parents=True)
    (bundle / "index.html").write_text("<!doctype html><div id=root>maze</div>")
    (bundle / "assets" / "app.js").write_text("console.log('maze')")
    (tmp_path / "secret.txt").write_text("not for you")
    with running_api(tmp_path / "second", f"sqlite:///{tmp_path / 'second.db'}",
                     api_bundle_dir=str(bundle)) as api, \
            httpx.Client(base_url=api.url, timeout=30) as client:
        assert "maze</div>" in client.get("/").text
        script = client.get("/assets/app.js")
        assert script.text == "console.log('maze')"
        assert "javascript" in script.headers["content-type"]
        assert "maze</div>" in client.get("/topologies/acme").text  # the app routes itself
        assert "not for you" not in client.get("/..%2Fsecret.txt").text
        missing = client.get("/api/nothing")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"

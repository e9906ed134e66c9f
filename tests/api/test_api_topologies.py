"""Topologies, mutations and edits over HTTP: every route, its answers and its errors."""

from __future__ import annotations

import httpx
from api_mazes import maze, store_live_maze
from api_server import Api


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"]["code"] == code, body
    return body["error"]


def test_create_list_show_edit_delete(api: Api) -> None:
    with api.client() as client:
        created = client.post("/api/v1/topologies", json=maze("apimaze", 50))
        assert created.status_code == 201, created.text
        stored = created.json()["topology"]
        assert stored["name"] == "apimaze" and stored["status"] == "pending"
        assert {d["name"] for d in stored["deckies"]} == {"gw01", "web01", "db01"}
        error_of(client.post("/api/v1/topologies", json=maze("apimaze", 60)),
                 409, "ALREADY_EXISTS")

        bad = maze("badmaze", 70)
        bad["deckies"][1]["services"] = ["telepathy"]
        bad["lans"][1]["subnet"] = "10.231.70.0/24"
        invalid = error_of(client.post("/api/v1/topologies", json=bad), 422, "INVALID_TOPOLOGY")
        codes = {issue["code"] for issue in invalid["issues"]}
        assert {"UNKNOWN_SERVICE", "SUBNET_OVERLAP"} <= codes, codes
        error_of(client.post("/api/v1/topologies", json=[1, 2]), 422, "BAD_REQUEST")
        error_of(client.post("/api/v1/topologies", content=b"{not json",
                             headers={"Content-Type": "application/json"}),
                 422, "BAD_REQUEST")
        schema = error_of(client.post("/api/v1/topologies", json={"name": 7}),
                          422, "INVALID_TOPOLOGY")
        assert schema["issues"][0]["code"] == "SCHEMA"

        listed = client.get("/api/v1/topologies").json()
        assert [(t["name"], t["status"], t["deckies"], t["target"]) for t in listed] == [
            ("apimaze", "pending", 3, "local")]
        shown = client.get("/api/v1/topologies/apimaze").json()
        assert shown["id"] == stored["id"] and shown["hash"] == stored["hash"]
        assert shown["target"] == "local"
        assert [(e["from"], e["to"]) for e in shown["events"]] == [(None, "pending")]
        error_of(client.get("/api/v1/topologies/nosuch"), 404, "NOT_FOUND")

        # pending: a direct edit of the stored topology
        edited = client.patch("/api/v1/topologies/apimaze/deckies/web01",
                              json={"services": ["http", "ftp"]})
        assert edited.status_code == 200, edited.text
        assert edited.json()["mode"] == "direct" and edited.json()["mutation"] is None
        web = next(d for d in client.get("/api/v1/topologies/apimaze").json()["deckies"]
                   if d["name"] == "web01")
        assert web["services"] == ["http", "ftp"]
        same = client.patch("/api/v1/topologies/apimaze/deckies/web01",
                            json={"services": ["http", "ftp"]})
        assert same.status_code == 200 and same.json()["mode"] == "unchanged"
        lan = client.patch("/api/v1/topologies/apimaze/lans/office",
                           json={"patch": {"meta": {"x": 10, "y": 20}}})
        assert lan.status_code == 200 and lan.json()["mode"] == "direct", lan.text
        office = next(item for item in lan.json()["topology"]["lans"]
                      if item["name"] == "office")
        assert office["meta"] == {"x": 10, "y": 20}
        error_of(client.patch("/api/v1/topologies/apimaze/deckies/nosuch",
                              json={"services": ["ssh"]}), 404, "NOT_FOUND")
        error_of(client.patch("/api/v1/topologies/apimaze/deckies/web01",
                              json={"services": ["telepathy"]}), 422, "INVALID_TOPOLOGY")
        error_of(client.patch("/api/v1/topologies/apimaze/deckies/web01",
                              json={"colour": "red"}), 422, "BAD_REQUEST")
        error_of(client.patch("/api/v1/topologies/apimaze/deckies/web01",
                              json={"patch": {"name": "x"}}), 422, "BAD_PAYLOAD")
        error_of(client.patch("/api/v1/topologies/apimaze/lans/office", json={}),
                 422, "BAD_REQUEST")
        frozen = error_of(client.patch("/api/v1/topologies/apimaze/lans/office",
                                       json={"patch": {"subnet": "10.231.99.0/24"}}),
                          409, "LAN_FROZEN")
        assert "fixed once stored" in frozen["message"]

        # add and remove a decky while pending: the stored topology changes at once
        added = client.post("/api/v1/topologies/apimaze/deckies",
                            json={"name": "files01", "lan": "office", "archetype": "linux-server"})
        assert added.status_code == 200 and added.json()["mode"] == "direct", added.text
        files = next(d for d in added.json()["topology"]["deckies"] if d["name"] == "files01")
        assert files["services"] == ["ssh"] and list(files["lans"]) == ["office"]
        error_of(client.post("/api/v1/topologies/apimaze/deckies",
                             json={"name": "files01", "lan": "office"}), 422, "DECKY_NAME_DUP")
        error_of(client.post("/api/v1/topologies/apimaze/deckies",
                             json={"name": "x1", "lan": "office", "colour": "red"}),
                 422, "BAD_PAYLOAD")
        error_of(client.post("/api/v1/topologies/apimaze/deckies",
                             json={"name": "x1", "lan": "nowhere"}), 404, "NOT_FOUND")
        removed = client.delete("/api/v1/topologies/apimaze/deckies/files01")
        assert removed.status_code == 200 and removed.json()["mode"] == "direct"
        assert "files01" not in {d["name"] for d in removed.json()["topology"]["deckies"]}
        gone = client.delete("/api/v1/topologies/apimaze/deckies/files01")
        assert gone.status_code == 200 and gone.json()["mode"] == "unchanged"

        # mutations are for live topologies only
        error_of(client.post("/api/v1/topologies/apimaze/mutations",
                             json={"op": "remove_decky", "payload": {"decky": "web01"}}),
                 409, "REFUSED")
        assert client.get("/api/v1/topologies/apimaze/mutations").json() == []
        error_of(client.get("/api/v1/topologies/apimaze/mutations?state=lost"),
                 422, "BAD_REQUEST")
        error_of(client.get("/api/v1/topologies/nosuch/mutations"), 404, "NOT_FOUND")

        assert client.delete("/api/v1/topologies/apimaze").status_code == 204
        error_of(client.get("/api/v1/topologies/apimaze"), 404, "NOT_FOUND")
        error_of(client.delete("/api/v1/topologies/apimaze"), 404, "NOT_FOUND")
        error_of(client.post("/api/v1/topologies/apimaze/deploy"), 404, "NOT_FOUND")
        error_of(client.post("/api/v1/topologies/apimaze/teardown"), 404, "NOT_FOUND")
        error_of(client.get("/api/v1/nowhere"), 404, "NOT_FOUND")
        error_of(client.put("/api/v1/topologies"), 405, "METHOD_NOT_ALLOWED")


def test_live_edits_and_mutations_go_through_the_queue(api: Api) -> None:
    store_live_maze(api.settings.db_url, "livemaze", 80)
    with api.client() as client:
        edit = client.patch("/api/v1/topologies/livemaze/deckies/web01",
                            json={"services": ["http", "ssh"]})
        assert edit.status_code == 202, edit.text
        queued = edit.json()["mutation"]
        assert edit.json()["mode"] == "mutation"
        assert (queued["op"], queued["state"]) == ("update_decky", "pending")
        assert queued["payload"] == {"decky": "web01", "services": ["http", "ssh"]}
        again = client.patch("/api/v1/topologies/livemaze/deckies/web01",
                             json={"services": ["http", "ssh"]})
        assert again.status_code == 200 and again.json()["mode"] == "unchanged"
        web = next(d for d in client.get("/api/v1/topologies/livemaze").json()["deckies"]
                   if d["name"] == "web01")
        assert web["services"] == ["http"]  # the record changes when the reconciler applies
        frozen = error_of(client.patch("/api/v1/topologies/livemaze/lans/office",
                                       json={"patch": {"subnet": "10.231.99.0/24"}}),
                          409, "LAN_FROZEN")
        assert "subnet" in frozen["message"]
        lan = client.patch("/api/v1/topologies/livemaze/lans/office",
                           json={"patch": {"meta": {"x": 1}}})
        assert lan.status_code == 202 and lan.json()["mutation"]["op"] == "update_lan"

        dragged = client.post("/api/v1/topologies/livemaze/deckies",
                              json={"name": "web03", "lan": "dmz", "archetype": "linux-server"})
        assert dragged.status_code == 202 and dragged.json()["mode"] == "mutation"
        assert dragged.json()["mutation"]["op"] == "add_decky"
        dropped = client.delete("/api/v1/topologies/livemaze/deckies/db01")
        assert dropped.status_code == 202
        assert dropped.json()["mutation"]["payload"] == {"decky": "db01"}
        absent = client.delete("/api/v1/topologies/livemaze/deckies/nosuch")
        assert absent.status_code == 200 and absent.json()["mode"] == "unchanged"
        added = client.post("/api/v1/topologies/livemaze/mutations", json={
            "op": "add_decky", "payload": {"name": "web02", "lan": "dmz",
                                           "archetype": "linux-server"}})
        assert added.status_code == 202, added.text
        assert added.json()["state"] == "pending"
        error_of(client.post("/api/v1/topologies/livemaze/mutations",
                             json={"op": "teleport", "payload": {}}), 422, "BAD_PAYLOAD")
        error_of(client.post("/api/v1/topologies/livemaze/mutations",
                             json={"op": "add_decky", "payload": {"name": "x"}}),
                 422, "BAD_PAYLOAD")
        error_of(client.post("/api/v1/topologies/livemaze/mutations", json={"payload": {}}),
                 422, "BAD_REQUEST")
        ops = [m["op"] for m in client.get("/api/v1/topologies/livemaze/mutations").json()]
        assert ops == ["update_decky", "update_lan", "add_decky", "remove_decky", "add_decky"]
        pending = client.get("/api/v1/topologies/livemaze/mutations?state=pending").json()
        assert len(pending) == 5
        error_of(client.delete("/api/v1/topologies/livemaze"), 409, "REFUSED")


def test_concurrent_requests_get_answers_not_errors(api: Api) -> None:
    """Eight clients create the same topology at once: one 201, seven 409, never a 5xx;
    reads running beside them all succeed."""
    from concurrent.futures import ThreadPoolExecutor

    def create(_: int) -> int:
        with api.client() as client:
            return client.post("/api/v1/topologies", json=maze("racemaze", 90)).status_code

    def read(_: int) -> int:
        with api.client("viewer") as client:
            return client.get("/api/v1/topologies").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        creating = [pool.submit(create, i) for i in range(8)]
        reading = [pool.submit(read, i) for i in range(8)]
        created = [future.result() for future in creating]
        reads = [future.result() for future in reading]
    assert sorted(created) == [201] + [409] * 7
    assert reads == [200] * 8

"""`show` answers from pre-encoded JSON kept per stored state: any change, made through the
API or by another process, changes the answer at once; the answer is the declared model."""

from __future__ import annotations

from api_mazes import maze
from api_server import Api
from sqlalchemy import update

from decnet_lib.api.encoded import EncodedTopologies, with_fields
from decnet_lib.api.models import TopologyDetail
from decnet_lib.db import Topology
from decnet_lib.master.database import open_engine, write_session
from decnet_lib.master.edits import edit_decky
from decnet_lib.topology.resolved import ResolvedTopology


def _services(shown: dict, decky: str) -> list[str]:
    return next(d["services"] for d in shown["deckies"] if d["name"] == decky)


def test_an_edit_changes_the_shown_topology_at_once(api: Api) -> None:
    with api.client() as client:
        assert client.post("/api/v1/topologies", json=maze("showmaze", 90)).status_code == 201
        first = client.get("/api/v1/topologies/showmaze")
        assert first.headers["content-type"] == "application/json"
        shown = first.json()
        TopologyDetail.model_validate(shown)  # the declared response model, field for field
        assert client.get("/api/v1/topologies/showmaze").content == first.content
        head = client.head("/api/v1/topologies/showmaze")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(first.content)

        # through the API (the server's own process)
        assert client.patch("/api/v1/topologies/showmaze/deckies/web01",
                            json={"services": ["http", "ftp"]}).status_code == 200
        edited = client.get("/api/v1/topologies/showmaze").json()
        assert _services(edited, "web01") == ["http", "ftp"]
        assert edited["hash"] != shown["hash"]

        # by another process (this one), on the same database
        engine = open_engine(api.settings)
        try:
            edit_decky(engine, "showmaze", "db01", services=["redis"])
            assert _services(client.get("/api/v1/topologies/showmaze").json(),
                             "db01") == ["redis"]
            with write_session(engine) as session:  # a status change alone (as a deploy)
                session.execute(update(Topology).where(Topology.name == "showmaze")
                                .values(status="failed"))
        finally:
            engine.dispose()
        assert client.get("/api/v1/topologies/showmaze").json()["status"] == "failed"


def test_encoded_topologies_are_kept_per_object() -> None:
    encoded = EncodedTopologies(size=1)
    one = ResolvedTopology(id="1", name="a")
    other = ResolvedTopology(id="1", name="b")
    assert encoded.of(one) is encoded.of(one)
    assert b'"name":"b"' in encoded.of(other)
    assert b'"name":"a"' in encoded.of(one)  # evicted by `other`, encoded again
    assert with_fields(b'{"a":1}', {"b": [None]}) == b'{"a":1,"b":[null]}'
    assert with_fields(b"{}", {"b": 2}) == b'{"b":2}'

"""The agent's OpenAPI document declares the apply body and every problem answer."""

from __future__ import annotations

from agent.app import create_app


def test_apply_declares_its_body_schema_and_problem_answers() -> None:
    document = create_app().openapi()
    apply = document["paths"]["/topology/apply"]["post"]
    ref = apply["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schemas = document["components"]["schemas"]
    body = schemas[ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"topology", "hash"}
    topology = schemas["ResolvedTopology"]
    assert {"id", "name", "lans", "deckies"} <= set(topology["properties"])
    for status in ("400", "413", "422", "503"):
        answer = apply["responses"][status]["content"]["application/json"]["schema"]
        assert answer["$ref"].endswith("/Problem")
    assert {"detail", "code"} <= set(schemas["Problem"]["required"])
    teardown = document["paths"]["/topology/teardown"]["post"]["responses"]
    assert {"400", "413", "503"} <= set(teardown)

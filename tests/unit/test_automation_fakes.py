"""The in-memory deployment target the test_automation_* modules share."""

from __future__ import annotations

from automation_fakes import FakeWorld, document


def test_fake_target_plans_and_applies() -> None:
    from decnet_lib.topology.resolve import resolve
    from decnet_lib.validation.validate import validate_data

    doc, _ = validate_data(document())
    assert doc is not None
    resolved = resolve(doc)
    world = FakeWorld()
    target = world.factory(None)
    assert target.plan(resolved)["summary"]["changed"]
    assert target.apply(resolved).status == "active"
    assert not target.plan(resolved)["summary"]["changed"]
    assert target.running(resolved.id)

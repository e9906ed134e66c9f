"""Containment rules as data: the desired set, parsing `iptables -S`, the one transaction."""

from __future__ import annotations

from decnet_lib.deploy import firewall_rules as R

TOPO = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
SUBNETS = ["10.1.0.0/24", "10.1.1.0/24"]


def listing(*rulesets: R.Ruleset, extra: str = "") -> str:
    """What `iptables -S` would print for these rulesets (plus foreign lines)."""
    lines = ["-P INPUT ACCEPT", "-N DOCKER-USER", "-A DOCKER-USER -j RETURN"]
    for ruleset in rulesets:
        lines += [f"-N {chain}" for chain in ruleset.bodies]
        for rule in [*sorted(ruleset.jumps), *(r for b in ruleset.bodies.values() for r in b)]:
            lines.append(R._line("-A", rule).replace("'", '"'))
    return "\n".join([*lines, extra]) + "\n"


def test_desired_rules_drop_new_connections_outside_the_topology() -> None:
    want = R.desired(TOPO, SUBNETS)
    forward, into_host = R.chains(TOPO)
    assert forward == "DN-0123456789ab-FWD" and into_host == "DN-0123456789ab-IN"
    fwd = want.bodies[forward]
    assert fwd[0][-2:] == ("-j", "RETURN") and "RELATED,ESTABLISHED" in fwd[0]
    assert [r[2] for r in fwd[1:3]] == SUBNETS and fwd[-1][-2:] == ("-j", "DROP")
    assert want.bodies[into_host][-1][-2:] == ("-j", "DROP")
    assert len(want.jumps) == 4  # per subnet: DOCKER-USER and INPUT
    every = [*want.jumps, *(r for b in want.bodies.values() for r in b)]
    assert all(f"decnet.topology.id={TOPO}" in rule for rule in every)


def test_parse_finds_each_topology_by_label_and_ignores_foreign_rules() -> None:
    ours, theirs = R.desired(TOPO, SUBNETS), R.desired(OTHER, ["10.9.0.0/24"])
    text = listing(ours, theirs, extra="-A DOCKER-USER -s 198.18.0.0/24 -j RETURN")
    found = R.parse(text)
    assert set(found) == {TOPO, OTHER}
    assert found[TOPO] == ours and found[OTHER] == theirs
    assert R.changes(ours, found[TOPO]) is None
    assert R.changes(R.desired(TOPO, SUBNETS[:1]), found[TOPO]) == "update"
    assert R.changes(ours, None) == "create"


def test_one_transaction_swaps_rules_and_removal_names_only_ours() -> None:
    have = R.desired(TOPO, SUBNETS)
    want = R.desired(TOPO, [*SUBNETS, "10.1.2.0/24"])
    script = R.restore_script(want, have)
    lines = script.splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    assert sum(line.startswith("-I ") for line in lines) == 2  # only the new subnet's jumps
    assert not any(line.startswith("-D ") for line in lines)
    removal = R.restore_script(None, have, R.chains(TOPO))
    assert removal.count("-D ") == 4 and removal.count("-X ") == 2
    assert OTHER not in removal and "198.18" not in removal


def test_the_namespace_guard_lets_out_replies_loopback_and_own_subnets_only() -> None:
    from decnet_lib.deploy.netns_guard import guard_script

    lines = guard_script(SUBNETS).splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    for chain in ("OUTPUT", "FORWARD"):
        mine = [line for line in lines if line.startswith(f"-A {chain} ")]
        assert "ESTABLISHED" in mine[0] and mine[-1] == f"-A {chain} -j DROP"
        assert [line.split()[3] for line in mine if " -d " in line] == SUBNETS
    assert "-A OUTPUT -o lo -j ACCEPT" in lines and "-A FORWARD -o lo -j ACCEPT" not in lines


def test_a_lan_being_removed_stays_contained_until_the_deploy_is_done() -> None:
    from decnet_lib.deploy.containment_steps import subnets, subnets_during
    from decnet_lib.deploy.observed import ObservedNetwork
    from decnet_lib.deploy.plan import Plan
    from decnet_lib.topology.resolved import ResolvedLan, ResolvedTopology

    topo = ResolvedTopology(id=TOPO, name="t", lans=[
        ResolvedLan(id="l0", name="dmz", subnet=SUBNETS[0], gateway="10.1.0.1", dmz=True)])
    going = ObservedNetwork(name="dn-x-old", id="n1", subnets=(SUBNETS[1],))
    assert subnets(topo) == SUBNETS[:1]
    assert subnets_during(topo, Plan(TOPO, remove_networks=[going])) == SUBNETS
    assert subnets_during(topo, Plan(TOPO)) == SUBNETS[:1]


def test_a_missing_iptables_is_one_clear_decnet_error() -> None:
    import pytest

    from decnet_lib.deploy.containment import ContainmentError, Firewall
    from decnet_lib.errors import DecnetError

    with pytest.raises(ContainmentError) as caught:
        Firewall(binary="iptables-not-installed").pending(TOPO, SUBNETS)
    assert isinstance(caught.value, DecnetError)
    assert "iptables-not-installed is not installed" in str(caught.value)

"""PROTOCOL.md 4.5 Discovery and system methods; 7. Limits (system.info)."""

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import check, eq, same_json


@case("discovery/rpc-discover/document", req="ASSENT-RPC-030")
def test_discover(t):
    """rpc.discover returns spec/openrpc.json, equal to the spec's document except servers."""
    doc = t.admin.ok("rpc.discover")
    mine = t.spec.discover_document()
    doc = dict(doc)
    doc.pop("servers", None)
    mine.pop("servers", None)
    if not same_json(doc, mine):
        diffs = [k for k in sorted(set(doc) | set(mine)) if not same_json(doc.get(k), mine.get(k))]
        detail = []
        if "methods" in diffs:
            a = {m.get("name"): m for m in doc.get("methods", [])}
            b = {m["name"]: m for m in mine["methods"]}
            detail = ["method %s differs" % n for n in sorted(set(a) | set(b)) if not same_json(a.get(n), b.get(n))]
        raise AssertionError("[ASSENT-RPC-030] rpc.discover differs from spec/openrpc.json in %s %s"
                             % (diffs, detail[:5]))


@case("discovery/rpc-discover/any-role", req=["ASSENT-RPC-030", "ASSENT-AUTH-008"])
def test_discover_roles(t):
    """rpc.discover is open to every role."""
    for c in (t.approver, t.agent):
        doc = c.ok("rpc.discover")
        eq(doc.get("openrpc"), t.spec.openrpc["openrpc"], "openrpc version for %s" % c.label, req="ASSENT-RPC-030")


@case("discovery/rpc-discover/methods", req="ASSENT-RPC-030")
def test_discover_methods(t):
    """The discovered document declares every method of the spec, rpc.discover included."""
    doc = t.admin.ok("rpc.discover")
    names = sorted(m.get("name") for m in doc.get("methods", []))
    eq(names, sorted(t.spec.methods), "method names", req="ASSENT-RPC-030")


@case("discovery/ping/every-role", req="ASSENT-RPC-031")
def test_ping(t):
    """system.ping answers {"pong": true} to every authenticated caller."""
    for c in (t.admin, t.approver, t.agent):
        eq(c.ok("system.ping"), {"pong": True}, "pong for %s" % c.label, req="ASSENT-RPC-031")


@case("discovery/ping/unix-agent", req="ASSENT-RPC-031", needs=("unix",))
def test_ping_unix(t):
    """system.ping answers on the Unix socket without a token (agent)."""
    eq(t.unix(None).ok("system.ping"), {"pong": True}, "pong", req="ASSENT-RPC-031")


@case("discovery/info/fields", req="ASSENT-RPC-032")
def test_info(t):
    """system.info reports name, daemon_version, protocol_version 1.0.0, profiles with core,
    every limit, the caller's role and client_id null without an identity."""
    info = t.admin.ok("system.info")
    eq(info["protocol_version"], "1.0.0", "protocol_version", req="ASSENT-RPC-032")
    check("core" in info["profiles"], "profiles must include core", actual=info["profiles"], req="ASSENT-RPC-032")
    eq(info["role"], "admin", "role", req="ASSENT-RPC-032")
    eq(info["client_id"], None, "client_id without identity headers", req="ASSENT-RPC-032")


@case("discovery/info/limits", req=["ASSENT-LIM-002", "ASSENT-RPC-032"])
def test_info_limits(t):
    """system.info names every limit of limits.json with its value (the suite launches targets
    with the spec's defaults; heartbeat_s_default may report the configured interval)."""
    info = t.admin.ok("system.info")
    lim = info["limits"]
    eq(sorted(lim), sorted(t.spec.limits), "limit names", req="ASSENT-LIM-002")
    for name, value in sorted(t.spec.limits.items()):
        if name == "heartbeat_s_default" and lim.get(name) in (value, 1):
            continue
        eq(lim.get(name), value, "limit %s" % name, req="ASSENT-LIM-002")


@case("discovery/info/profiles-known", req="ASSENT-RPC-032")
def test_profiles(t):
    """profiles holds only names the spec defines, without duplicates."""
    info = t.admin.ok("system.info")
    for p in info["profiles"]:
        check(p in ("core", "events", "discord"), "unknown profile", actual=p, req="ASSENT-RPC-032")
    eq(len(set(info["profiles"])), len(info["profiles"]), "no duplicates", req="ASSENT-RPC-032")


@case("discovery/info/client-id-with-identity", req=["ASSENT-RPC-032", "ASSENT-ID-005"])
def test_info_client_id(t):
    """With proven identity headers system.info reports that client_id; without, null."""
    a = t.new_agent()
    eq(a.ok("system.info")["client_id"], a.client_id, "client_id with identity headers", req="ASSENT-ID-005")
    eq(t.agent.ok("system.info")["client_id"], None, "client_id without", req="ASSENT-ID-005")

"""PROTOCOL.md 4.2 Batches."""

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import check, eq


def ping(i):
    return {"jsonrpc": "2.0", "method": "system.ping", "id": i}


@case("rpc/batch/mixed", req=["ASSENT-RPC-012", "ASSENT-RPC-017"])
def test_mixed(t):
    """A batch of a result, an error, a notification and an invalid element: one answer per
    non-notification element, matched by id, each as if sent alone."""
    r = t.admin.batch([
        ping("a"),
        {"jsonrpc": "2.0", "method": "no.such_method", "id": "b"},
        {"jsonrpc": "2.0", "method": "system.ping"},
        {"jsonrpc": "2.0", "method": "system.info", "params": [], "id": "c"},
        {"jsonrpc": "2.0", "method": "system.info", "id": "d"},
    ], deliberately_invalid=True)
    resps = expect.batch(r, 4, req="ASSENT-RPC-012")
    m = expect.by_id(resps)
    for k in ('"a"', '"b"', '"c"', '"d"'):
        check(k in m, "every non-notification element must be answered once", expected=["a", "b", "c", "d"],
              actual=[x.get("id") for x in resps], req="ASSENT-RPC-012")
    eq(m['"a"'].get("result"), {"pong": True}, "answer to a", req="ASSENT-RPC-017")
    eq((m['"b"'].get("error") or {}).get("code"), -32601, "answer to b", req="ASSENT-RPC-017")
    eq((m['"c"'].get("error") or {}).get("code"), -32602, "answer to c", req="ASSENT-RPC-017")
    alone = t.admin.ok("system.info")
    eq(m['"d"'].get("result"), alone, "system.info in a batch equals system.info alone", req="ASSENT-RPC-017")


@case("rpc/batch/role-per-element", req="ASSENT-RPC-017")
def test_role_per_element(t):
    """Authorization applies per element: an agent's batch gets -32001 for secret.list and a
    result for system.ping, exactly as when sent alone."""
    alone = t.agent.call("secret.list")
    r = t.agent.batch([ping(1), {"jsonrpc": "2.0", "method": "secret.list", "id": 2}])
    m = expect.by_id(expect.batch(r, 2, req="ASSENT-RPC-012"))
    eq(m["1"].get("result"), {"pong": True}, "system.ping", req="ASSENT-RPC-017")
    eq(m["2"].get("error"), alone.error, "secret.list in a batch and alone", req="ASSENT-RPC-017")


@case("rpc/batch/all-notifications-204", req="ASSENT-RPC-013")
def test_all_notifications(t):
    """A batch of notifications only gets HTTP 204 and no body."""
    r = t.admin.batch([{"jsonrpc": "2.0", "method": "system.ping"},
                       {"jsonrpc": "2.0", "method": "system.info"}])
    expect.no_content(r, req="ASSENT-RPC-013")


@case("rpc/batch/all-notifications-failing-204", req=["ASSENT-RPC-013", "ASSENT-RPC-007"])
def test_all_notifications_failing(t):
    """Notifications that fail (unknown method, bad params) in a batch are not answered either."""
    r = t.admin.batch([{"jsonrpc": "2.0", "method": "no.such_method"},
                       {"jsonrpc": "2.0", "method": "system.ping", "params": {"x": 1}}],
                      deliberately_invalid=True)
    expect.no_content(r, req="ASSENT-RPC-013")


@case("rpc/batch/notification-not-answered", req=["ASSENT-RPC-007", "ASSENT-RPC-012"])
def test_notification_in_batch(t):
    """A notification inside a batch gets no entry in the answer array."""
    r = t.admin.batch([{"jsonrpc": "2.0", "method": "no.such_method"}, ping(5)], deliberately_invalid=True)
    resps = expect.batch(r, 1, req="ASSENT-RPC-007")
    eq(resps[0].get("id"), 5, "the one answer is for id 5", req="ASSENT-RPC-007")


@case("rpc/batch/empty", req="ASSENT-RPC-014")
def test_empty(t):
    """[] is one -32600 error object (not an array) with id null, HTTP 400."""
    r = t.admin.post(b"[]", raw=True, deliberately_invalid=True)
    expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-014")


@case("rpc/batch/non-object-element", req="ASSENT-RPC-015")
def test_non_object(t):
    """[1] is an array holding one -32600 with id null."""
    r = t.admin.post(b"[1]", raw=True, deliberately_invalid=True)
    resps = expect.batch(r, 1, req="ASSENT-RPC-015")
    eq(resps[0].get("id"), None, "id", req="ASSENT-RPC-015")
    eq((resps[0].get("error") or {}).get("code"), -32600, "code", req="ASSENT-RPC-015")


@case("rpc/batch/non-object-elements", req="ASSENT-RPC-015")
def test_non_objects(t):
    """[1, "x", null, [], true] is an array of five -32600 with id null."""
    r = t.admin.post(b'[1,"x",null,[],true]', raw=True, deliberately_invalid=True)
    resps = expect.batch(r, 5, req="ASSENT-RPC-015")
    for x in resps:
        eq(x.get("id"), None, "id", req="ASSENT-RPC-015")
        eq((x.get("error") or {}).get("code"), -32600, "code", req="ASSENT-RPC-015")


@case("rpc/batch/nested-batch", req="ASSENT-RPC-015")
def test_nested(t):
    """A batch inside a batch is an element that is not an object: -32600, id null; the
    valid element next to it is served."""
    r = t.admin.batch([[ping(1)], ping(2)], deliberately_invalid=True)
    resps = expect.batch(r, 2, req="ASSENT-RPC-015")
    m = expect.by_id(resps)
    check("2" in m and m["2"].get("result") == {"pong": True}, "element 2 is served", actual=resps,
          req="ASSENT-RPC-015")
    check("null" in m and (m["null"].get("error") or {}).get("code") == -32600,
          "the nested batch gets -32600 with id null", actual=resps, req="ASSENT-RPC-015")


@case("rpc/batch/invalid-element", req=["ASSENT-RPC-012", "ASSENT-RPC-017"])
def test_invalid_element(t):
    """An element with a bad jsonrpc gets -32600; the others are answered."""
    r = t.admin.batch([{"jsonrpc": "1.0", "method": "system.ping", "id": 1}, ping(2)], deliberately_invalid=True)
    resps = expect.batch(r, 2, req="ASSENT-RPC-012")
    codes = sorted(((x.get("error") or {}).get("code") or 0) for x in resps)
    eq(codes, [-32600, 0], "one -32600 and one result", req="ASSENT-RPC-017")


@case("limits/batch/at-max", req=["ASSENT-RPC-016", "ASSENT-LIM-001"])
def test_at_max(t):
    """A batch of exactly batch_length_max calls is served: that many answers."""
    n = t.spec.limits["batch_length_max"]
    r = t.admin.batch([ping(i) for i in range(n)])
    resps = expect.batch(r, n, req="ASSENT-LIM-001")
    eq(sorted(x.get("id") for x in resps), list(range(n)), "every id answered once", req="ASSENT-RPC-012")


@case("limits/batch/over-max", req=["ASSENT-RPC-016", "ASSENT-LIM-001", "ASSENT-RPC-026"])
def test_over_max(t):
    """A batch of batch_length_max + 1 is one -32006 (id null, HTTP 413) with
    data {limit: batch_length_max, max}."""
    n = t.spec.limits["batch_length_max"]
    r = t.admin.batch([ping(i) for i in range(n + 1)], deliberately_invalid=True)
    err = expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-016")
    eq(err.get("data"), {"limit": "batch_length_max", "max": n}, "data", req="ASSENT-RPC-016")


@case("limits/batch/over-max-of-notifications", req="ASSENT-RPC-016")
def test_over_max_notifications(t):
    """The batch limit counts notifications too: batch_length_max + 1 notifications are -32006."""
    n = t.spec.limits["batch_length_max"]
    r = t.admin.batch([{"jsonrpc": "2.0", "method": "system.ping"}] * (n + 1), deliberately_invalid=True)
    err = expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-016")
    eq(err.get("data"), {"limit": "batch_length_max", "max": n}, "data", req="ASSENT-RPC-016")


@case("limits/batch/over-max-nothing-executed", req="ASSENT-RPC-016")
def test_over_max_nothing_executed(t):
    """No element of an over-long batch is executed: a secret.put inside it creates nothing."""
    n = t.spec.limits["batch_length_max"]
    name = t.uniq("S")
    put = {"jsonrpc": "2.0", "method": "secret.put", "params": {"name": name, "value": "v"}, "id": "put"}
    r = t.admin.batch([put] + [ping(i) for i in range(n)], deliberately_invalid=True)
    expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-016")
    r = t.admin.call("secret.describe", {"name": name})
    expect.single_error(r, -32002, req="ASSENT-RPC-016")


@case("rpc/batch/duplicate-ids", req="ASSENT-RPC-012", level="INFO")
def test_duplicate_ids(t):
    """Two elements with the same id: the spec does not pin what happens beyond one answer
    per element; reported for information."""
    r = t.admin.batch([ping(1), ping(1)])
    resps = expect.batch(r, 2, req="ASSENT-RPC-012")
    t.note("two elements with id 1 got %d answers" % len(resps))

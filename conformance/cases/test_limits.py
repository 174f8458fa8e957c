"""PROTOCOL.md 7. Limits, for the envelope: string ids, method names and JSON depth, each at
N and N+1 (the body size and batch length are in test_http.py and test_rpc_batch.py; the
string, item and integer limits of params are generated in test_params_generated.py)."""

import json

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import check, eq


def _ping(id):
    return {"jsonrpc": "2.0", "method": "system.ping", "id": id}


@case("limits/id-string/at-max", req=["ASSENT-RPC-005", "ASSENT-LIM-001"])
def test_id_at_max(t):
    """A string id of exactly id_string_bytes_max bytes is echoed."""
    n = t.spec.limits["id_string_bytes_max"]
    i = "i" * n
    eq(expect.single_result(t.admin.post(_ping(i)), id=i, req="ASSENT-RPC-005"), {"pong": True}, "result",
       req="ASSENT-RPC-005")


@case("limits/id-string/over-max", req=["ASSENT-RPC-005", "ASSENT-LIM-001"])
def test_id_over_max(t):
    """A string id of id_string_bytes_max + 1 bytes is -32600 with id null."""
    n = t.spec.limits["id_string_bytes_max"]
    r = t.admin.post(_ping("i" * (n + 1)), deliberately_invalid=True)
    expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-005")


@case("limits/id-string/utf8-bytes", req=["ASSENT-RPC-005", "ASSENT-LIM-003"])
def test_id_utf8(t):
    """String ids count UTF-8 bytes: n/2 two-byte characters are echoed, n/2 + 1 (fewer than n
    characters, more than n bytes) are -32600 with id null."""
    n = t.spec.limits["id_string_bytes_max"]
    i = "é" * (n // 2)
    expect.single_result(t.admin.post(_ping(i)), id=i, req="ASSENT-RPC-005")
    r = t.admin.post(_ping("é" * (n // 2 + 1)), deliberately_invalid=True)
    expect.single_error(r, -32600, id=None, http=400, req="ASSENT-LIM-003")


@case("limits/id-string/over-max-in-batch", req="ASSENT-RPC-005")
def test_id_over_max_batch(t):
    """In a batch, an element with an overlong id gets -32600 with id null; the rest is served."""
    n = t.spec.limits["id_string_bytes_max"]
    r = t.admin.batch([_ping("i" * (n + 1)), _ping(2)], deliberately_invalid=True)
    m = expect.by_id(expect.batch(r, 2, req="ASSENT-RPC-012"))
    check("2" in m and "result" in m["2"], "element 2 is served", actual=r.json, req="ASSENT-RPC-005")
    check("null" in m and (m["null"].get("error") or {}).get("code") == -32600, "-32600 with id null",
          actual=r.json, req="ASSENT-RPC-005")


@case("limits/method-name/at-max", req=["ASSENT-RPC-010", "ASSENT-LIM-001"])
def test_method_at_max(t):
    """A method name of exactly method_name_bytes_max bytes passes the length check: an
    unknown one is -32601, not -32600."""
    n = t.spec.limits["method_name_bytes_max"]
    r = t.admin.call("x." + "m" * (n - 2), deliberately_invalid=True)
    expect.single_error(r, -32601, http=404, req="ASSENT-RPC-010")


@case("limits/method-name/over-max", req=["ASSENT-RPC-010", "ASSENT-LIM-001"])
def test_method_over_max(t):
    """A method name of method_name_bytes_max + 1 bytes is -32600."""
    n = t.spec.limits["method_name_bytes_max"]
    r = t.admin.call("x." + "m" * (n - 1), deliberately_invalid=True)
    expect.single_error(r, -32600, http=400, req="ASSENT-RPC-010")


@case("limits/method-name/utf8-bytes", req=["ASSENT-RPC-010", "ASSENT-LIM-003"])
def test_method_utf8(t):
    """Method names count UTF-8 bytes: n/2 + 1 two-byte characters are -32600."""
    n = t.spec.limits["method_name_bytes_max"]
    r = t.admin.call("é" * (n // 2 + 1), deliberately_invalid=True)
    expect.single_error(r, -32600, http=400, req="ASSENT-LIM-003")


def nested(depth_total: int) -> bytes:
    """A ping whose params nest arrays so that the whole body is depth_total levels deep
    (outer object 1, params 2, each array one more)."""
    arrays = depth_total - 2
    inner = "[" * arrays + "]" * arrays
    return ('{"jsonrpc":"2.0","method":"system.ping","params":{"a":%s},"id":1}' % inner).encode()


@case("limits/depth/at-max", req=["ASSENT-RPC-011", "ASSENT-LIM-001"])
def test_depth_at_max(t):
    """A body exactly json_depth_max levels deep passes the depth check (the ping's unknown
    params member then gives -32602, not -32006)."""
    n = t.spec.limits["json_depth_max"]
    r = t.admin.post(nested(n), raw=True, deliberately_invalid=True)
    expect.single_error(r, -32602, id=1, http=400, req="ASSENT-RPC-011")


@case("limits/depth/over-max", req=["ASSENT-RPC-011", "ASSENT-LIM-001", "ASSENT-RPC-026"])
def test_depth_over_max(t):
    """A body json_depth_max + 1 levels deep is one -32006 with id null, HTTP 413,
    data {limit: json_depth_max, max}."""
    n = t.spec.limits["json_depth_max"]
    r = t.admin.post(nested(n + 1), raw=True, deliberately_invalid=True)
    err = expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-011")
    eq(err.get("data"), {"limit": "json_depth_max", "max": n}, "data", req="ASSENT-RPC-011")


@case("limits/depth/over-max-bare-arrays", req="ASSENT-RPC-011")
def test_depth_bare(t):
    """Nesting counts arrays too: json_depth_max + 1 nested arrays are -32006, not a batch."""
    n = t.spec.limits["json_depth_max"]
    r = t.admin.post(b"[" * (n + 1) + b"]" * (n + 1), raw=True, deliberately_invalid=True)
    err = expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-011")
    eq(err.get("data"), {"limit": "json_depth_max", "max": n}, "data", req="ASSENT-RPC-011")


@case("limits/depth/very-deep", req=["ASSENT-RPC-011", "ASSENT-RPC-022"])
def test_depth_very_deep(t):
    """100,000 levels (a stack-exhaustion probe) are -32006, not a crash."""
    r = t.admin.post(b"[" * 100000 + b"]" * 100000, raw=True, deliberately_invalid=True)
    expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-011")
    eq(t.admin.ok("system.ping"), {"pong": True}, "the target still serves", req="ASSENT-RPC-022")


@case("limits/depth/nothing-executed", req="ASSENT-RPC-011")
def test_depth_nothing_executed(t):
    """Nothing in an over-deep body is executed: a secret.put next to the deep element of a
    batch creates nothing."""
    n = t.spec.limits["json_depth_max"]
    name = t.uniq("S")
    put = json.dumps({"jsonrpc": "2.0", "method": "secret.put", "params": {"name": name, "value": "v"}, "id": "put"})
    deep = nested(n).decode()  # depth n inside the batch array: n + 1 in all
    r = t.admin.post(("[%s,%s]" % (put, deep)).encode(), raw=True, deliberately_invalid=True)
    expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-011")
    t.admin.err("secret.describe", {"name": name}, code=-32002, req="ASSENT-RPC-011")

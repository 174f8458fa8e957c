"""PROTOCOL.md 4.1 Request objects, 4.3 Responses and HTTP status, 4.4 Errors.

Every id, method and params rule of JSON-RPC 2.0 as the spec pins it."""

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.client import OMIT
from conformance.harness.verdict import check, eq

PING = {"jsonrpc": "2.0", "method": "system.ping", "id": 1}


def _raw(t, body: bytes):
    return t.admin.post(body, raw=True, deliberately_invalid=True)


# -- parse errors -------------------------------------------------------------------------

@case("rpc/parse/invalid-json", req="ASSENT-RPC-001")
def test_invalid_json(t):
    """A body that is not JSON gets one -32700 with id null (HTTP 400)."""
    r = _raw(t, b'{"jsonrpc": "2.0", "method": "system.ping", "id": 1')
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/trailing-garbage", req="ASSENT-RPC-001")
def test_trailing_garbage(t):
    """Valid JSON followed by more text is not JSON."""
    r = _raw(t, b'{"jsonrpc":"2.0","method":"system.ping","id":1} {"x":1}')
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/empty-body", req="ASSENT-RPC-001")
def test_empty_body(t):
    """An empty body is not JSON."""
    r = _raw(t, b"")
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/invalid-utf8", req="ASSENT-RPC-001")
def test_invalid_utf8(t):
    """A body that is not valid UTF-8 gets -32700, even when it would parse bytewise."""
    r = _raw(t, b'{"jsonrpc":"2.0","method":"system.ping","id":"\xff\xfe"}')
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/overlong-utf8", req="ASSENT-RPC-001")
def test_overlong_utf8(t):
    """An overlong UTF-8 encoding ("/" as C0 AF) is not valid UTF-8."""
    r = _raw(t, b'{"jsonrpc":"2.0","method":"system.ping","id":"\xc0\xaf"}')
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/invalid-json-batch", req="ASSENT-RPC-001")
def test_invalid_json_batch(t):
    """A batch that is not valid JSON gets one -32700 object, not an array."""
    r = _raw(t, b'[{"jsonrpc":"2.0","method":"system.ping","id":1},{"jsonrpc":"2.0","method"')
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


@case("rpc/parse/not-json-value", req="ASSENT-RPC-001")
def test_bare_word(t):
    """A bare word (not a JSON text) is a parse error."""
    r = _raw(t, b"system.ping")
    expect.single_error(r, -32700, id=None, http=400, req="ASSENT-RPC-001")


# -- jsonrpc and method members -----------------------------------------------------------

@case("rpc/envelope/jsonrpc-version", req="ASSENT-RPC-002")
def test_jsonrpc_version(t):
    """jsonrpc must be exactly "2.0": "1.0", 2.0 (a number) and "2.00" are -32600."""
    for v in ("1.0", 2.0, "2.00", "2"):
        r = t.admin.post({"jsonrpc": v, "method": "system.ping", "id": 1}, deliberately_invalid=True)
        expect.single_error(r, -32600, http=400, req="ASSENT-RPC-002")


@case("rpc/envelope/jsonrpc-missing", req="ASSENT-RPC-002")
def test_jsonrpc_missing(t):
    """A request object without jsonrpc is -32600."""
    r = t.admin.post({"method": "system.ping", "id": 1}, deliberately_invalid=True)
    expect.single_error(r, -32600, http=400, req="ASSENT-RPC-002")


@case("rpc/envelope/method-missing", req="ASSENT-RPC-002")
def test_method_missing(t):
    """A request object without method is -32600."""
    r = t.admin.post({"jsonrpc": "2.0", "id": 1}, deliberately_invalid=True)
    expect.single_error(r, -32600, http=400, req="ASSENT-RPC-002")


@case("rpc/envelope/method-not-string", req="ASSENT-RPC-002")
def test_method_not_string(t):
    """method must be a string: a number, null or an array is -32600."""
    for m in (1, None, ["system.ping"]):
        r = t.admin.post({"jsonrpc": "2.0", "method": m, "id": 1}, deliberately_invalid=True)
        expect.single_error(r, -32600, http=400, req="ASSENT-RPC-002")


@case("rpc/envelope/not-an-object", req="ASSENT-RPC-002")
def test_not_an_object(t):
    """A JSON text that is neither an object nor an array (a string, a number, null) is -32600."""
    for body in (b'"system.ping"', b"42", b"null", b"true"):
        r = _raw(t, body)
        expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-002")


@case("rpc/envelope/unknown-member", req="ASSENT-RPC-003")
def test_unknown_member(t):
    """A member other than jsonrpc, method, params and id is -32600."""
    r = t.admin.post(dict(PING, extra=True), deliberately_invalid=True)
    expect.single_error(r, -32600, http=400, req="ASSENT-RPC-003")


@case("rpc/envelope/invalid-object-without-id", req=["ASSENT-RPC-003", "ASSENT-RPC-007"], level="INFO")
def test_unknown_member_notification(t):
    """An object without id that is not a valid request object (unknown member): JSON-RPC 2.0
    answers invalid request objects with -32600 and id null; the spec does not say whether
    such an object is a "notification that fails" (never answered). Reported only."""
    r = t.admin.post({"jsonrpc": "2.0", "method": "system.ping", "foo": 1}, deliberately_invalid=True)
    if r.status == 204:
        t.note("not answered (treated as a failing notification)")
    else:
        expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-003")
        t.note("answered -32600 with id null (treated as an invalid request object)")


# -- ids ------------------------------------------------------------------------------------

@case("rpc/envelope/id-integer-echoed", req="ASSENT-RPC-004")
def test_id_integer(t):
    """An integer id comes back as the same integer."""
    for i in (0, 1, -7, 9007199254740991):
        r = t.admin.post(dict(PING, id=i))
        expect.single_result(r, id=i, req="ASSENT-RPC-004")


@case("rpc/envelope/id-string-echoed", req="ASSENT-RPC-004")
def test_id_string(t):
    """A string id comes back as the same string, including "" and non-ASCII."""
    for i in ("abc", "", "1", "é-✓-\u0000-x"):
        r = t.admin.post(dict(PING, id=i))
        expect.single_result(r, id=i, req="ASSENT-RPC-004")


@case("rpc/envelope/id-fraction-echoed", req="ASSENT-RPC-004")
def test_id_fraction(t):
    """A non-integer number id comes back as a number of the same value."""
    r = t.admin.post(dict(PING, id=1.5))
    expect.single_result(r, id=1.5, req="ASSENT-RPC-004")


@case("rpc/envelope/id-one-vs-string-one", req=["ASSENT-RPC-004", "ASSENT-RPC-012"])
def test_id_one_vs_string(t):
    """1 and "1" are different ids: in one batch each answer keeps its own type."""
    r = t.admin.batch([{"jsonrpc": "2.0", "method": "system.ping", "id": 1},
                       {"jsonrpc": "2.0", "method": "system.info", "id": "1"}])
    resps = expect.batch(r, 2, req="ASSENT-RPC-012")
    m = expect.by_id(resps)
    check('1' in m and '"1"' in m, "both the number 1 and the string \"1\" must come back as ids",
          expected=[1, "1"], actual=[x.get("id") for x in resps], req="ASSENT-RPC-004")
    eq(m["1"].get("result"), {"pong": True}, "answer to id 1 (system.ping)", req="ASSENT-RPC-004")
    check("protocol_version" in (m['"1"'].get("result") or {}), "answer to id \"1\" must be system.info's",
          actual=m['"1"'], req="ASSENT-RPC-004")


@case("rpc/envelope/id-null-is-request", req="ASSENT-RPC-006")
def test_id_null(t):
    """"id": null is a request: it is answered, with id null."""
    r = t.admin.post(dict(PING, id=None))
    res = expect.single_result(r, id=None, req="ASSENT-RPC-006")
    eq(res, {"pong": True}, "result", req="ASSENT-RPC-006")


@case("rpc/envelope/id-null-in-batch", req=["ASSENT-RPC-006", "ASSENT-RPC-012"])
def test_id_null_batch(t):
    """Inside a batch too, "id": null is answered (only a missing id is a notification)."""
    r = t.admin.batch([dict(PING, id=None), {"jsonrpc": "2.0", "method": "system.ping"}])
    resps = expect.batch(r, 1, req="ASSENT-RPC-006")
    eq(resps[0].get("id"), None, "id", req="ASSENT-RPC-006")
    eq(resps[0].get("result"), {"pong": True}, "result", req="ASSENT-RPC-006")


@case("rpc/envelope/id-object-is-invalid", req="ASSENT-RPC-004")
def test_id_object(t):
    """An object id is -32600 with id null."""
    r = t.admin.post(dict(PING, id={"a": 1}), deliberately_invalid=True)
    expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-004")


@case("rpc/envelope/id-array-is-invalid", req="ASSENT-RPC-004")
def test_id_array(t):
    """An array id is -32600 with id null."""
    r = t.admin.post(dict(PING, id=[1]), deliberately_invalid=True)
    expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-004")


@case("rpc/envelope/id-boolean-is-invalid", req="ASSENT-RPC-004")
def test_id_bool(t):
    """true and false are not ids: -32600 with id null."""
    for b in (True, False):
        r = t.admin.post(dict(PING, id=b), deliberately_invalid=True)
        expect.single_error(r, -32600, id=None, http=400, req="ASSENT-RPC-004")


@case("rpc/envelope/id-invalid-in-batch", req=["ASSENT-RPC-004", "ASSENT-RPC-012"])
def test_id_invalid_in_batch(t):
    """An element with an object id gets -32600 with id null; its neighbours are served."""
    r = t.admin.batch([dict(PING, id={"x": 1}), dict(PING, id=7)], deliberately_invalid=True)
    resps = expect.batch(r, 2, req="ASSENT-RPC-012")
    m = expect.by_id(resps)
    check("7" in m and "result" in m["7"], "the valid element must be answered", actual=resps, req="ASSENT-RPC-012")
    check("null" in m and (m["null"].get("error") or {}).get("code") == -32600,
          "the object id element must get -32600 with id null", actual=resps, req="ASSENT-RPC-004")


# -- notifications -----------------------------------------------------------------------

@case("rpc/notification/single-204", req="ASSENT-RPC-007")
def test_notification(t):
    """A notification (no id member) gets HTTP 204 and no body."""
    r = t.admin.call("system.ping", id=OMIT)
    expect.no_content(r, req="ASSENT-RPC-007")


@case("rpc/notification/failing-unknown-method", req="ASSENT-RPC-007")
def test_notification_unknown_method(t):
    """A notification of an unknown method is not answered either."""
    r = t.admin.call("no.such_method", id=OMIT)
    expect.no_content(r, req="ASSENT-RPC-007")


@case("rpc/notification/failing-params", req="ASSENT-RPC-007")
def test_notification_bad_params(t):
    """A notification with invalid params is not answered."""
    r = t.admin.call("system.ping", {"unexpected": 1}, id=OMIT, deliberately_invalid=True)
    expect.no_content(r, req="ASSENT-RPC-007")


@case("rpc/notification/failing-role", req="ASSENT-RPC-007")
def test_notification_bad_role(t):
    """A notification the caller's role may not make is not answered."""
    r = t.agent.call("secret.list", id=OMIT)
    expect.no_content(r, req="ASSENT-RPC-007")


@case("rpc/notification/params-not-object", req="ASSENT-RPC-007")
def test_notification_params_array(t):
    """A notification with params that are not an object is not answered."""
    r = t.admin.post({"jsonrpc": "2.0", "method": "system.ping", "params": [1]}, deliberately_invalid=True)
    expect.no_content(r, req="ASSENT-RPC-007")


# -- params ---------------------------------------------------------------------------------

@case("rpc/params/array-is-invalid", req="ASSENT-RPC-008")
def test_params_array(t):
    """params by position (an array) is -32602."""
    r = t.admin.post(dict(PING, params=[]), deliberately_invalid=True)
    expect.single_error(r, -32602, id=1, http=400, req="ASSENT-RPC-008")


@case("rpc/params/scalar-is-invalid", req="ASSENT-RPC-008")
def test_params_scalar(t):
    """params that are a string, a number, a boolean or null are -32602."""
    for p in ("x", 1, True, None):
        r = t.admin.post(dict(PING, params=p), deliberately_invalid=True)
        err = expect.single_error(r, -32602, id=1, http=400, req="ASSENT-RPC-008")
        eq((err.get("data") or {}).get("instance_path"), "", "data.instance_path for params itself",
           req="ASSENT-RPC-025")


@case("rpc/params/absent-is-empty-object", req="ASSENT-RPC-008")
def test_params_absent(t):
    """An absent params is {}: system.ping without params answers pong."""
    r = t.admin.call("system.ping")
    eq(expect.single_result(r, req="ASSENT-RPC-008"), {"pong": True}, "result", req="ASSENT-RPC-008")
    r = t.admin.call("system.ping", {})
    eq(expect.single_result(r, req="ASSENT-RPC-008"), {"pong": True}, "result with params {}", req="ASSENT-RPC-008")


@case("rpc/params/validated-before-dispatch", req=["ASSENT-RPC-029", "ASSENT-RPC-025"])
def test_params_validated(t):
    """An unknown member in a method's params is -32602 with instance and schema pointers."""
    r = t.admin.call("system.info", {"verbose": True}, deliberately_invalid=True)
    err = expect.single_error(r, -32602, http=400, req="ASSENT-RPC-029")
    data = err.get("data") or {}
    check(data.get("schema_path", "").startswith("#"), "data.schema_path is a URI-fragment pointer",
          actual=data, req="ASSENT-RPC-025")
    check(data.get("instance_path") in ("", "/verbose"), "data.instance_path points at params or the member",
          actual=data, req="ASSENT-RPC-025")


# -- methods ----------------------------------------------------------------------------------

@case("rpc/method/unknown", req=["ASSENT-RPC-009", "ASSENT-RPC-018"])
def test_method_unknown(t):
    """A method that is not in openrpc.json is -32601 (HTTP 404)."""
    r = t.admin.call("no.such_method", deliberately_invalid=True)
    err = expect.single_error(r, -32601, id=r.json.get("id") if isinstance(r.json, dict) else None,
                              http=404, req="ASSENT-RPC-009")
    if "data" in err:
        eq(err["data"].get("method"), "no.such_method", "data.method", req="ASSENT-RPC-009")


@case("rpc/method/case-sensitive", req="ASSENT-RPC-009")
def test_method_case(t):
    """Method names are case-sensitive: System.Ping is not system.ping."""
    r = t.admin.call("System.Ping", deliberately_invalid=True)
    expect.single_error(r, -32601, http=404, req="ASSENT-RPC-009")


@case("rpc/method/rpc-reserved", req="ASSENT-RPC-009")
def test_rpc_reserved(t):
    """rpc.* names other than rpc.discover are -32601."""
    for m in ("rpc.ping", "rpc.", "rpc.discover.x", "rpc.Discover"):
        r = t.admin.call(m, deliberately_invalid=True)
        expect.single_error(r, -32601, http=404, req="ASSENT-RPC-009")


@case("rpc/method/empty-name", req=["ASSENT-RPC-009", "ASSENT-RPC-002"])
def test_method_empty(t):
    """An empty method name is not a method: -32600 or -32601."""
    r = t.admin.post({"jsonrpc": "2.0", "method": "", "id": 1}, deliberately_invalid=True)
    body = r.json if isinstance(r.json, dict) else {}
    code = (body.get("error") or {}).get("code")
    check(code in (-32600, -32601), "an empty method name must be refused", expected="-32600 or -32601",
          actual=body, req="ASSENT-RPC-009")


@case("rpc/method/every-declared-method-dispatched", req=["ASSENT-RPC-009", "ASSENT-RPC-023"])
def test_every_declared_method(t):
    """Every method of openrpc.json is known: with an unknown params member it gets -32602,
    a role refusal, or -32008 not_implemented naming it (HTTP 501) - never -32601."""
    for name in sorted(t.spec.methods):
        r = t.admin.call(name, {"__conformance_unknown_member": 1}, deliberately_invalid=True)
        err = expect.single_error(r, r.code if r.code in (-32602, -32001, -32008) else -32602,
                                  req="ASSENT-RPC-009")
        if err["code"] == -32008:
            eq((err.get("data") or {}).get("method"), name, "-32008 data.method for %s" % name,
               req="ASSENT-RPC-023")
            expect.status(r, 501, req="ASSENT-RPC-023")


# -- errors -----------------------------------------------------------------------------------

@case("rpc/errors/status-per-class", req=["ASSENT-RPC-018", "ASSENT-RPC-024"])
def test_status_per_class(t):
    """Single calls: a result is HTTP 200; -32700, -32600, -32602 are 400; -32601 is 404;
    -32001 is 403; each error's message is non-empty."""
    cases = [
        (t.admin.post(PING), None, 200),
        (t.admin.post(b"{", raw=True, deliberately_invalid=True), -32700, 400),
        (t.admin.post({"jsonrpc": "1.0", "method": "system.ping", "id": 1}, deliberately_invalid=True), -32600, 400),
        (t.admin.call("system.ping", [1], deliberately_invalid=True), -32602, 400),
        (t.admin.call("nope.nope", deliberately_invalid=True), -32601, 404),
        (t.agent.call("secret.list"), -32001, 403),
    ]
    for r, code, http in cases:
        if code is None:
            expect.single_result(r, req="ASSENT-RPC-018")
        else:
            expect.single_error(r, code, http=http, req="ASSENT-RPC-018")
        eq(t.spec.http_status_of(code) if code else 200, http, "x-http-status in openrpc.json for %s" % code)


@case("rpc/errors/data-schemas", req=["ASSENT-RPC-019", "ASSENT-RPC-020", "ASSENT-RPC-026"])
def test_error_data(t):
    """Error objects and their data validate per code (checked on every exchange); -32006
    carries {limit, max} naming a limit of limits.json."""
    r = t.admin.batch([dict(PING, id=i) for i in range(t.spec.limits["batch_length_max"] + 1)],
                      deliberately_invalid=True)
    err = expect.single_error(r, -32006, id=None, http=413, req="ASSENT-RPC-026")
    eq(err.get("data"), {"limit": "batch_length_max", "max": t.spec.limits["batch_length_max"]},
       "-32006 data", req="ASSENT-RPC-026")
    r = t.agent.call("secret.describe", {"name": "X"})
    err = expect.single_error(r, -32001, http=403, req="ASSENT-RPC-020")
    check(isinstance(err.get("data"), dict) and err["data"].get("reason") == "role", "-32001 data.reason",
          actual=err, req="ASSENT-RPC-020")


@case("rpc/errors/no-echo-of-values", req=["ASSENT-RPC-021", "ASSENT-REQ-026"])
def test_errors_no_echo(t):
    """A -32602 never echoes the offending value: a secret value, a reason, a long name."""
    marker = "CONFORMANCE-SECRET-%s" % t.uniq("v")
    r = t.admin.call("secret.put", {"name": "9bad name", "value": marker}, deliberately_invalid=True)
    expect.single_error(r, -32602, req="ASSENT-RPC-021")
    check(marker.encode() not in r.body, "the error echoes the secret value", actual=r.json, req="ASSENT-RPC-021")
    reason = t.reason()
    r = t.agent.call("access.request", {"secrets": ["A"], "reason": reason, "bogus": 1}, deliberately_invalid=True)
    check(reason.encode() not in r.body, "the error echoes the reason text", actual=r.json, req="ASSENT-REQ-026")
    long_value = "Z" * 5000 + marker
    r = t.agent.call("client.hello", {"kind": "agent", "name": long_value}, deliberately_invalid=True)
    expect.single_error(r, -32602, req="ASSENT-RPC-021")
    check(marker.encode() not in r.body, "the error echoes the offending value", actual=r.json, req="ASSENT-RPC-021")


@case("rpc/errors/check-order-role-before-params", req="ASSENT-RPC-027")
def test_order_role_params(t):
    """Role is checked before params: an agent's invalid secret.put is -32001 role, not -32602."""
    r = t.agent.call("secret.put", {"nonsense": True}, deliberately_invalid=True)
    err = expect.single_error(r, -32001, http=403, req="ASSENT-RPC-027")
    eq((err.get("data") or {}).get("reason"), "role", "data.reason", req="ASSENT-RPC-027")


@case("rpc/robustness/odd-bodies", req="ASSENT-RPC-022")
def test_odd_bodies(t):
    """Odd but possible bodies each get a JSON-RPC answer (never a dropped connection or a
    non-JSON body): huge numbers, lone surrogates, NUL, a BOM, deep-ish nesting, big ids."""
    bodies = [
        b'{"jsonrpc":"2.0","method":"system.ping","id":1e400}',
        b'{"jsonrpc":"2.0","method":"system.ping","id":-0}',
        b'{"jsonrpc":"2.0","method":"system.ping","id":123456789012345678901234567890}',
        b'{"jsonrpc":"2.0","method":"system.ping","id":"\\ud800"}',
        b'{"jsonrpc":"2.0","method":"system.ping","id":"a\\u0000b"}',
        b'\xef\xbb\xbf{"jsonrpc":"2.0","method":"system.ping","id":1}',
        b'{"jsonrpc":"2.0","method":"system.ping","params":{"a":[[[[[[[[[[1]]]]]]]]]]},"id":1}',
        b'{"jsonrpc":"2.0","jsonrpc":"2.0","method":"system.ping","id":1}',
        b'{"jsonrpc":"2.0","method":"system.ping","id":1,"id":2}',
        b'   \n\t{"jsonrpc":"2.0","method":"system.ping","id":1}\n  ',
        b'\x00',
        b'[' * 10 + b']' * 10,
    ]
    for b in bodies:
        r = t.admin.post(b, raw=True, deliberately_invalid=True)
        check(r.status in (200, 204, 400, 404, 413), "an undocumented HTTP status", actual=r.status,
              req="ASSENT-RPC-022")
        check(r.status != 500, "an internal error on a parseable body", actual=r.json, req="ASSENT-RPC-022")

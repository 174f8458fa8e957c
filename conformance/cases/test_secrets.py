"""PROTOCOL.md 8. Secrets."""

import base64
import os
import secrets as pysecrets
import time

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import parse_time
from conformance.harness.verdict import CaseFailure, check, eq

DEFAULT_POLICY = {"approval": "always", "ttl_s_default": 300, "ttl_s_max": 3600, "uses_per_grant": 1,
                  "approvals_required": 1, "client_kinds": ["agent", "script", "cli"], "bind_command": False}


@case("secret/put/create-utf8", req=["ASSENT-SEC-001", "ASSENT-SEC-003", "ASSENT-RPC-034"])
def test_put_utf8(t):
    """secret.put with value creates the secret: created true, encoding utf8, size_bytes in
    UTF-8 bytes, version 1, default policy, times in UTC close to now."""
    name = t.uniq("S")
    value = "pässwörd-✓-" + pysecrets.token_hex(4)
    r = t.admin.ok("secret.put", {"name": name, "value": value})
    m = r["secret"]
    eq(r["created"], True, "created", req="ASSENT-SEC-001")
    eq(m["name"], name, "name", req="ASSENT-SEC-001")
    eq(m["encoding"], "utf8", "encoding", req="ASSENT-SEC-001")
    eq(m["size_bytes"], len(value.encode("utf-8")), "size_bytes (UTF-8 bytes)", req="ASSENT-SEC-001")
    eq(m["version"], 1, "version", req="ASSENT-SEC-001")
    eq(m["policy"], DEFAULT_POLICY, "policy defaults", req="ASSENT-SEC-003")
    for k in ("created_at", "updated_at"):
        check(abs(parse_time(m[k]) - time.time()) < 120, "%s must be now in UTC" % k, actual=m[k], req="ASSENT-RPC-034")


@case("secret/put/create-base64", req=["ASSENT-SEC-001", "ASSENT-RPC-035"])
def test_put_base64(t):
    """secret.put with value_base64 stores bytes: encoding base64, size_bytes decoded."""
    raw = os.urandom(33)
    r = t.admin.ok("secret.put", {"name": t.uniq("B"), "value_base64": base64.b64encode(raw).decode()})
    eq(r["secret"]["encoding"], "base64", "encoding", req="ASSENT-SEC-001")
    eq(r["secret"]["size_bytes"], 33, "size_bytes", req="ASSENT-SEC-001")


@case("secret/put/value-and-base64", req=["ASSENT-SEC-001", "ASSENT-RPC-029"])
def test_put_both(t):
    """value and value_base64 together, or neither, are -32602."""
    r = t.admin.call("secret.put", {"name": t.uniq("S"), "value": "a", "value_base64": "YQ=="}, deliberately_invalid=True)
    expect.single_error(r, -32602, http=400, req="ASSENT-SEC-001")
    r = t.admin.call("secret.put", {"name": t.uniq("S")}, deliberately_invalid=True)
    expect.single_error(r, -32602, http=400, req="ASSENT-SEC-001")


@case("secret/put/base64-invalid", req=["ASSENT-RPC-028", "ASSENT-SEC-001"])
def test_put_bad_base64(t):
    """value_base64 that is not valid standard base64 is -32602 at /value_base64."""
    for bad in ("not base64!", "YQ", "YQ===", "Y-_Q"):
        r = t.admin.call("secret.put", {"name": t.uniq("S"), "value_base64": bad})
        err = expect.single_error(r, -32602, http=400, req="ASSENT-RPC-028")
        eq((err.get("data") or {}).get("instance_path"), "/value_base64", "instance_path for %r" % bad,
           req="ASSENT-RPC-028")


@case("limits/secret-value/base64-at-max", req=["ASSENT-SEC-001", "ASSENT-LIM-001"])
def test_base64_at_max(t):
    """value_base64 decoding to exactly secret_value_bytes_max bytes is accepted."""
    n = t.spec.limits["secret_value_bytes_max"]
    r = t.admin.ok("secret.put", {"name": t.uniq("B"), "value_base64": base64.b64encode(os.urandom(n)).decode()})
    eq(r["secret"]["size_bytes"], n, "size_bytes", req="ASSENT-LIM-001")


@case("limits/secret-value/base64-over-max", req=["ASSENT-SEC-001", "ASSENT-LIM-001"])
def test_base64_over_max(t):
    """value_base64 decoding to secret_value_bytes_max + 1 bytes is -32602 (after decoding)."""
    n = t.spec.limits["secret_value_bytes_max"]
    r = t.admin.call("secret.put", {"name": t.uniq("B"), "value_base64": base64.b64encode(os.urandom(n + 1)).decode()})
    err = expect.single_error(r, -32602, http=400, req="ASSENT-SEC-001")
    eq((err.get("data") or {}).get("instance_path"), "/value_base64", "instance_path", req="ASSENT-SEC-001")


@case("limits/secret-value/utf8-at-max", req=["ASSENT-SEC-001", "ASSENT-LIM-001", "ASSENT-LIM-003"])
def test_utf8_at_max(t):
    """A value of exactly secret_value_bytes_max UTF-8 bytes (two-byte characters) is accepted."""
    n = t.spec.limits["secret_value_bytes_max"]
    r = t.admin.ok("secret.put", {"name": t.uniq("S"), "value": "é" * (n // 2)})
    eq(r["secret"]["size_bytes"], n, "size_bytes", req="ASSENT-LIM-003")


@case("secret/put/replace", req="ASSENT-SEC-002")
def test_replace(t):
    """A second put keeps secret_id and created_at, increments version, sets updated_at,
    keeps description and policy it does not give, and says created false."""
    name = t.uniq("S")
    pol = {"ttl_s_max": 7200, "uses_per_grant": 3}
    a = t.admin.ok("secret.put", {"name": name, "value": "one", "description": "first", "policy": pol})["secret"]
    r = t.admin.ok("secret.put", {"name": name, "value": "two-two"})
    b = r["secret"]
    eq(r["created"], False, "created", req="ASSENT-SEC-002")
    eq(b["secret_id"], a["secret_id"], "secret_id", req="ASSENT-SEC-002")
    eq(b["created_at"], a["created_at"], "created_at", req="ASSENT-SEC-002")
    eq(b["version"], a["version"] + 1, "version", req="ASSENT-SEC-002")
    check(parse_time(b["updated_at"]) >= parse_time(a["updated_at"]), "updated_at must not go back",
          actual=[a["updated_at"], b["updated_at"]], req="ASSENT-SEC-002")
    eq(b["description"], "first", "description kept", req="ASSENT-SEC-002")
    eq(b["policy"], a["policy"], "policy kept", req="ASSENT-SEC-002")
    eq(b["size_bytes"], 7, "size_bytes of the new value", req="ASSENT-SEC-002")
    c = t.admin.ok("secret.put", {"name": name, "value": "3", "description": "third", "policy": {"uses_per_grant": 2}})["secret"]
    eq(c["description"], "third", "description replaced when given", req="ASSENT-SEC-002")
    eq(c["policy"]["uses_per_grant"], 2, "policy replaced when given", req="ASSENT-SEC-002")
    eq(c["version"], a["version"] + 2, "version", req="ASSENT-SEC-002")


@case("secret/put/policy-completed", req="ASSENT-SEC-003")
def test_policy_completed(t):
    """A partial policy is completed with the defaults."""
    r = t.admin.ok("secret.put", {"name": t.uniq("S"), "value": "v", "policy": {"ttl_s_max": 7200, "bind_command": True}})
    want = dict(DEFAULT_POLICY, ttl_s_max=7200, bind_command=True)
    eq(r["secret"]["policy"], want, "policy", req="ASSENT-SEC-003")


@case("secret/put/ttl-default-above-max", req=["ASSENT-SEC-003", "ASSENT-RPC-028"])
def test_ttl_default_above_max(t):
    """ttl_s_default above ttl_s_max is -32602 pointing into the policy, also when the
    ttl_s_max is the default one (3600) and only ttl_s_default is given."""
    for pol in ({"ttl_s_default": 600, "ttl_s_max": 500}, {"ttl_s_default": 4000}):
        r = t.admin.call("secret.put", {"name": t.uniq("S"), "value": "v", "policy": pol})
        err = expect.single_error(r, -32602, http=400, req="ASSENT-SEC-003")
        ip = (err.get("data") or {}).get("instance_path", "")
        check(ip.startswith("/policy"), "instance_path must point into /policy", actual=err.get("data"),
              req="ASSENT-RPC-028")


@case("secret/values/never-returned", req="ASSENT-SEC-004")
def test_values_hidden(t):
    """No result of secret.put, secret.list, secret.describe or secret.delete carries the value."""
    value = "VALUE-%s" % pysecrets.token_hex(12)
    name = t.uniq("S")
    replies = [t.admin.call("secret.put", {"name": name, "value": value}),
               t.admin.call("secret.list"), t.admin.call("secret.describe", {"name": name}),
               t.admin.call("secret.put", {"name": name, "value": value + "2"}),
               t.admin.call("secret.delete", {"name": name})]
    for r in replies:
        check(r.result is not None, "expected a result", actual=r.json)
        check(value.encode() not in r.body, "a secret value in a result", actual=r.json, req="ASSENT-SEC-004")
    b64 = base64.b64encode(value.encode()).decode()
    for r in replies:
        check(b64.encode() not in r.body, "a secret value (base64) in a result", req="ASSENT-SEC-004")


@case("secret/at-rest/not-plaintext", req="ASSENT-SEC-005", needs=("launch",))
def test_at_rest(t):
    """No file of the data directory contains a stored value in clear (checked after a put
    and a replace, in every file, WAL included)."""
    marker = "PLAINTEXT-MARKER-%s" % pysecrets.token_hex(16)
    t.admin.ok("secret.put", {"name": t.uniq("S"), "value": marker})
    t.admin.ok("secret.put", {"name": t.uniq("S"), "value_base64": base64.b64encode(marker.encode() + b"!").decode()})
    data_dir = t.target.launcher.data_dir
    hits = []
    for root, _, files in os.walk(data_dir):
        for f in files:
            p = os.path.join(root, f)
            try:
                with open(p, "rb") as fh:
                    if marker.encode() in fh.read():
                        hits.append(os.path.relpath(p, data_dir))
            except OSError:
                continue
    check(not hits, "a secret value is stored in clear", actual=hits, req="ASSENT-SEC-005")


@case("secret/delete/revokes-and-cancels", req=["ASSENT-SEC-006", "ASSENT-SEC-007"])
def test_delete(t):
    """secret.delete removes the secret, revokes live grants naming it (counted in
    revoked_grants) and cancels pending requests naming it."""
    g = t.granted()
    name = g["name"]
    pending = t.ask(t.new_agent(), [name])
    r = t.admin.ok("secret.delete", {"name": name})
    eq(r, {"deleted": True, "revoked_grants": 1}, "result", req="ASSENT-SEC-006")
    eq(t.grant(g["grant"]["grant_id"])["state"], "revoked", "grant state", req="ASSENT-SEC-006")
    eq(t.request_state(pending["request_id"]), "cancelled", "pending request state", req="ASSENT-SEC-006")
    err = t.admin.err("secret.describe", {"name": name}, code=-32002)
    eq(err.get("data"), {"kind": "secret", "id": name}, "describe after delete", req="ASSENT-SEC-007")


@case("secret/not-found", req="ASSENT-SEC-007")
def test_not_found(t):
    """describe, delete and access.request naming an unknown secret are -32002 kind secret."""
    name = t.uniq("NOPE")
    for m in ("secret.describe", "secret.delete"):
        err = t.admin.err(m, {"name": name}, code=-32002, req="ASSENT-SEC-007")
        eq(err.get("data"), {"kind": "secret", "id": name}, "%s data" % m, req="ASSENT-SEC-007")
        eq(err["_http_status"], 404, "HTTP status", req="ASSENT-RPC-018")
    a = t.new_agent()
    err = a.err("access.request", {"secrets": [name], "reason": t.reason()}, code=-32002, req="ASSENT-SEC-007")
    eq(err.get("data"), {"kind": "secret", "id": name}, "access.request data", req="ASSENT-SEC-007")


@case("secret/list/ordered-by-name", req=["ASSENT-SEC-008", "ASSENT-SEC-004"])
def test_list_order(t):
    """secret.list returns every secret, ordered by name, metadata only."""
    names = ["Lz_" + t.uniq("b"), "La_" + t.uniq("a"), "L_" + t.uniq("c"), "LZ" + t.uniq("d")]
    for n in names:
        t.put_secret(name=n)
    got = [s["name"] for s in t.admin.ok("secret.list")["secrets"]]
    for n in names:
        check(n in got, "secret %s missing from secret.list" % n, req="ASSENT-SEC-008")
    eq(got, sorted(got), "order by name", req="ASSENT-SEC-008")

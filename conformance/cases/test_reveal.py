"""PROTOCOL.md 11. Reveal."""

import base64
import os
import threading

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.context import Sealed
from conformance.harness.verdict import check, eq

CMD = {"argv": ["/usr/bin/env", "deploy", "--prod", ""], "cwd": "/srv/app"}


def _reveal_params(g, name=None, command=None):
    p = {"grant_id": g["grant"]["grant_id"], "name": name or g["name"], "recipient_key": Sealed().public_b64}
    if command is not None:
        p["command"] = command
    return p


@case("reveal/sealed/opens-to-value", req=["ASSENT-REVEAL-005", "ASSENT-RPC-035", "ASSENT-SEC-004"])
def test_sealed(t):
    """secret.reveal returns the value sealed (crypto_box_seal) to recipient_key, in standard
    base64; it opens with the one-time private key and the value is nowhere in clear."""
    value = "sealed-value-%s-✓" % os.urandom(6).hex()
    g = t.granted(value=value)
    plain, r = t.reveal(g["agent"], g["grant"]["grant_id"], g["name"])
    eq(plain, value.encode("utf-8"), "opened value", req="ASSENT-REVEAL-005")
    eq(r["encoding"], "utf8", "encoding", req="ASSENT-REVEAL-005")
    eq(r["name"], g["name"], "name", req="ASSENT-REVEAL-005")
    raw = base64.b64decode(r["sealed_value"], validate=True)
    eq(len(raw), len(value.encode()) + 48, "sealed length = value + 48 bytes (crypto_box_seal)", req="ASSENT-REVEAL-005")
    blob = str(r)
    check(value not in blob and base64.b64encode(value.encode()).decode() not in blob,
          "the value appears in clear", req="ASSENT-REVEAL-005")


@case("reveal/sealed/binary", req=["ASSENT-REVEAL-005", "ASSENT-SEC-001"])
def test_sealed_binary(t):
    """A base64 secret reveals to its exact bytes, encoding base64."""
    raw = os.urandom(64)
    ag = t.new_agent()
    s = t.put_secret(value_base64=base64.b64encode(raw).decode())
    req = t.ask(ag, [s["secret"]["name"]])
    d = t.approve(req["request_id"])
    plain, r = t.reveal(ag, d["grant"]["grant_id"], s["secret"]["name"])
    eq(plain, raw, "bytes", req="ASSENT-REVEAL-005")
    eq(r["encoding"], "base64", "encoding", req="ASSENT-REVEAL-005")


@case("reveal/originator-only", req=["ASSENT-REVEAL-001", "ASSENT-AUTH-010"])
def test_originator_only(t):
    """Admins and approvers get -32001 role; another agent gets not_originator; nothing is spent."""
    g = t.granted()
    for c, reason in ((t.admin, "role"), (t.approver, "role"), (t.new_agent(), "not_originator")):
        c.err("secret.reveal", _reveal_params(g), code=-32001, reason=reason, req="ASSENT-REVEAL-001")
    eq(t.grant(g["grant"]["grant_id"])["uses_left"], 1, "uses_left after refused reveals", req="ASSENT-REVEAL-001")


@case("reveal/not-in-grant", req="ASSENT-REVEAL-003")
def test_not_in_grant(t):
    """Revealing a secret the grant does not name is -32001 not_in_grant."""
    g = t.granted()
    other = t.put_secret()["secret"]["name"]
    g["agent"].err("secret.reveal", _reveal_params(g, name=other), code=-32001, reason="not_in_grant",
                   req="ASSENT-REVEAL-003")


@case("reveal/revoked", req="ASSENT-REVEAL-002")
def test_revoked(t):
    """Revealing under a revoked grant is -32004 state revoked."""
    g = t.granted()
    t.admin.ok("grant.revoke", {"grant_id": g["grant"]["grant_id"]})
    err = g["agent"].err("secret.reveal", _reveal_params(g), code=-32004, req="ASSENT-REVEAL-002")
    eq(err.get("data"), {"grant_id": g["grant"]["grant_id"], "state": "revoked"}, "data", req="ASSENT-REVEAL-002")


@case("reveal/command-bound", req=["ASSENT-REVEAL-004", "ASSENT-GRANT-001"])
def test_command_bound(t):
    """A command-bound grant reveals only with the identical command (argv element by element
    and cwd): missing, another argv, an argv split differently or another cwd are
    command_mismatch."""
    g = t.granted(policy={"bind_command": True, "uses_per_grant": 2}, command=CMD)
    eq(g["grant"]["command_bound"], True, "command_bound", req="ASSENT-GRANT-001")
    ag = g["agent"]
    wrong = [None,
             {"argv": CMD["argv"][:-1], "cwd": CMD["cwd"]},
             {"argv": ["/usr/bin/env", "deploy --prod", ""], "cwd": CMD["cwd"]},
             {"argv": CMD["argv"], "cwd": CMD["cwd"] + "/"},
             {"argv": CMD["argv"] + [""], "cwd": CMD["cwd"]}]
    for w in wrong:
        ag.err("secret.reveal", _reveal_params(g, command=w), code=-32001, reason="command_mismatch",
               req="ASSENT-REVEAL-004")
    plain, r = t.reveal(ag, g["grant"]["grant_id"], g["name"], command=CMD)
    eq(plain, g["value"].encode(), "value with the bound command", req="ASSENT-REVEAL-004")
    eq(r["uses_left"], 1, "only the successful reveal spent a use", req="ASSENT-REVEAL-006")


@case("reveal/uses/each-reveal-spends-one", req=["ASSENT-REVEAL-006", "ASSENT-GRANT-001"])
def test_uses(t):
    """Each reveal spends exactly one use."""
    g = t.granted(policy={"uses_per_grant": 3})
    eq(g["grant"]["uses_total"], 3, "uses_total", req="ASSENT-GRANT-001")
    for left in (2, 1, 0):
        _, r = t.reveal(g["agent"], g["grant"]["grant_id"], g["name"])
        eq(r["uses_left"], left, "uses_left", req="ASSENT-REVEAL-006")


@case("reveal/uses/per-secret", req="ASSENT-REVEAL-007")
def test_uses_per_secret(t):
    """uses_per_grant counts per secret: with two secrets and 2 uses each, a third reveal of
    the same secret is -32004 although uses remain for the other."""
    g = t.granted(policy={"uses_per_grant": 2}, names=2)
    eq(g["grant"]["uses_total"], 4, "uses_total", req="ASSENT-GRANT-001")
    a, b = g["names"]
    t.reveal(g["agent"], g["grant"]["grant_id"], a)
    t.reveal(g["agent"], g["grant"]["grant_id"], a)
    err = g["agent"].err("secret.reveal", _reveal_params(g, name=a), code=-32004, req="ASSENT-REVEAL-007")
    _, r = t.reveal(g["agent"], g["grant"]["grant_id"], b)
    eq(r["uses_left"], 1, "uses_left after revealing the other secret", req="ASSENT-REVEAL-007")


@case("reveal/uses/last-use-race", req="ASSENT-REVEAL-006")
def test_race(t):
    """Of concurrent reveals competing for the last use exactly one succeeds; the others get -32004."""
    g = t.granted()
    results = []
    lock = threading.Lock()

    def one():
        r = g["agent"].call("secret.reveal", _reveal_params(g))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    ok = [r for r in results if r.result is not None]
    expired = [r for r in results if r.code == -32004]
    eq(len(results), 8, "answers", req="ASSENT-REVEAL-006")
    eq((len(ok), len(expired)), (1, 7), "successes, -32004 refusals", req="ASSENT-REVEAL-006")


@case("reveal/audited-and-counted", req=["ASSENT-REVEAL-006", "ASSENT-AUDIT-001"])
def test_reveal_audited(t):
    """A reveal is audited (grant.reveal) with the grant and the secret, never the value."""
    g = t.granted()
    before = t.audit_head_seq()
    t.reveal(g["agent"], g["grant"]["grant_id"], g["name"])
    entries = t.audit_entries(before)
    hits = [e for e in entries if e["action"] == "grant.reveal" and e["subject"].get("grant_id") == g["grant"]["grant_id"]]
    eq(len(hits), 1, "grant.reveal entries", req="ASSENT-REVEAL-006")
    check(g["value"] not in str(entries), "the value appears in the audit log", req="ASSENT-AUDIT-004")

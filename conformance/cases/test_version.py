"""PROTOCOL.md 3. Headers and versioning."""

import json
import os

from conformance.harness import expect
from conformance.harness.case import case
from conformance.harness.verdict import check, eq

PING = {"jsonrpc": "2.0", "method": "system.ping", "id": 1}


def _426(t, r, received):
    body = expect.http_error(r, 426, "unsupported_version", req="ASSENT-HTTP-016")
    eq(body.get("expected"), "1", "expected", req="ASSENT-HTTP-016")
    eq(body.get("received"), received, "received", req="ASSENT-HTTP-016")


@case("http/version/missing-426", req="ASSENT-HTTP-016")
def test_missing(t):
    """No Assent-Api-Version: 426 unsupported_version, expected "1", received ""."""
    r = t.admin.post(PING, version=None, deliberately_invalid=True)
    _426(t, r, "")


@case("http/version/empty-426", req="ASSENT-HTTP-016")
def test_empty(t):
    """An empty Assent-Api-Version is malformed: 426, received ""."""
    r = t.admin.post(PING, version="", deliberately_invalid=True)
    _426(t, r, "")


@case("http/version/other-major-426", req="ASSENT-HTTP-016")
def test_other_major(t):
    """Another major version (2, 0, 2.0, 10) is 426 naming expected "1" and what was received."""
    for v in ("2", "0", "2.0", "10", "0.9"):
        r = t.admin.post(PING, version=v, deliberately_invalid=True)
        _426(t, r, v)


@case("http/version/malformed-426", req="ASSENT-HTTP-016")
def test_malformed(t):
    """Values outside ^[0-9]+(\\.[0-9]+)?$ are 426 with received echoing them."""
    for v in ("1.x", "v1", "1.0.0", "1.", ".1", "one", "1,1", "1.0-beta", "+1"):
        r = t.admin.post(PING, version=v, deliberately_invalid=True)
        _426(t, r, v)


@case("http/version/received-truncated", req="ASSENT-HTTP-016")
def test_truncated(t):
    """received is truncated to 64 bytes."""
    v = "9" * 100
    r = t.admin.post(PING, version=v, deliberately_invalid=True)
    _426(t, r, v[:64])


@case("http/version/minor-accepted", req="ASSENT-HTTP-017")
def test_minor(t):
    """Major 1 with any minor (1, 1.0, 1.7, 1.99) is served as version 1."""
    for v in ("1", "1.0", "1.7", "1.99"):
        r = t.admin.post(PING, version=v)
        eq(expect.single_result(r, req="ASSENT-HTTP-017"), {"pong": True}, "result with %s" % v,
           req="ASSENT-HTTP-017")


@case("http/version/leading-zero", req="ASSENT-HTTP-016", level="INFO")
def test_leading_zero(t):
    """"01" matches the grammar and its major is numerically 1; the spec does not say whether
    it is compared as a number or as text."""
    r = t.admin.post(PING, version="01")
    t.note("Assent-Api-Version 01 answered HTTP %s" % r.status)


@case("http/version/response-header", req="ASSENT-HTTP-018", level="SHOULD")
def test_response_header(t):
    """Responses on /rpc carry Assent-Api-Version: 1.0."""
    r = t.admin.post(PING)
    eq(r.header("Assent-Api-Version"), "1.0", "Assent-Api-Version on the response", req="ASSENT-HTTP-018")
    r = t.admin.call("nope.nope", deliberately_invalid=True)
    eq(r.header("Assent-Api-Version"), "1.0", "Assent-Api-Version on an error response", req="ASSENT-HTTP-018")


@case("http/version/protocol-version", req="ASSENT-HTTP-021")
def test_protocol_version(t):
    """system.info and the discovery file report protocol_version 1.0.0 (the spec's version)."""
    info = t.admin.ok("system.info")
    eq(info.get("protocol_version"), "1.0.0", "system.info protocol_version", req="ASSENT-HTTP-021")
    eq(t.spec.openrpc["info"]["version"], "1.0.0", "openrpc.json info.version (suite sanity)")
    launcher = t.target.launcher
    if launcher is not None and launcher.discovery is not None:
        eq(launcher.discovery.get("protocol_version"), "1.0.0", "discovery file protocol_version",
           req="ASSENT-HTTP-021")


@case("http/version/events-missing-426", req=["ASSENT-HTTP-016", "ASSENT-EVT-001"], profile="events")
def test_events_version(t):
    """GET /events without the version header, or with major 2, is 426 too."""
    r = t.admin.http("GET", "/events", version=None, deliberately_invalid=True)
    _426(t, r, "")
    r = t.admin.http("GET", "/events", version="2", deliberately_invalid=True)
    _426(t, r, "2")

"""Assertions on JSON-RPC answers, phrased as the spec phrases them."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from .client import Reply
from .verdict import CaseFailure, check, eq, same_json, show

UNSET = object()


def _body(reply: Reply) -> Any:
    return reply.json if reply.json_ok else (reply.body[:300].decode("utf-8", "replace") if reply.body else "(empty body)")


def status(reply: Reply, want: int, req: Optional[str] = None, what: str = "HTTP status") -> None:
    if reply.status != want:
        raise CaseFailure(what, expected=want, actual="%s %s" % (reply.status, show(_body(reply), 300)), req=req)


def single_error(reply: Reply, code: int, *, id: Any = UNSET, http: Optional[int] = None,
                 req: Optional[str] = None) -> Dict[str, Any]:
    """One error object (not an array) with `code` (and `id` when given)."""
    body = reply.json
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        raise CaseFailure("expected one JSON-RPC error object", expected={"error": {"code": code}},
                          actual=_body(reply), req=req)
    if body["error"].get("code") != code:
        raise CaseFailure("wrong error code", expected=code, actual=body["error"], req=req)
    if id is not UNSET and not same_json(body.get("id"), id):
        raise CaseFailure("wrong id in the error response", expected=id, actual=body.get("id"), req=req)
    if http is not None:
        status(reply, http, req)
    return body["error"]


def single_result(reply: Reply, *, id: Any = UNSET, req: Optional[str] = None) -> Any:
    body = reply.json
    if not isinstance(body, dict) or "result" not in body:
        raise CaseFailure("expected a JSON-RPC result", expected="a result", actual=_body(reply), req=req)
    if id is not UNSET and not same_json(body.get("id"), id):
        raise CaseFailure("wrong id echoed", expected=id, actual=body.get("id"), req=req)
    status(reply, 200, req)
    return body["result"]


def no_content(reply: Reply, req: Optional[str] = None) -> None:
    if reply.status != 204 or reply.body:
        raise CaseFailure("expected HTTP 204 with no body", expected="204, empty body",
                          actual="%s %s" % (reply.status, show(_body(reply), 300)), req=req)


def batch(reply: Reply, n: int, req: Optional[str] = None) -> List[Dict[str, Any]]:
    body = reply.json
    if not isinstance(body, list):
        raise CaseFailure("expected a JSON array of responses", expected="array of %d" % n,
                          actual=_body(reply), req=req)
    if len(body) != n:
        raise CaseFailure("wrong number of responses in the batch answer", expected=n,
                          actual="%d: %s" % (len(body), show(body, 400)), req=req)
    status(reply, 200, req)
    return body


def by_id(responses: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Responses keyed by their id's JSON text (so 1 and "1" stay apart)."""
    out: Dict[str, Dict[str, Any]] = {}
    for r in responses:
        out.setdefault(json.dumps(r.get("id")), r)
    return out


def http_error(reply: Reply, http: int, name: str, req: Optional[str] = None) -> Dict[str, Any]:
    body = reply.json
    if reply.status != http or not isinstance(body, dict) or body.get("error") != name:
        raise CaseFailure("expected HTTP %d with HttpError %r" % (http, name),
                          expected={"status": http, "error": name},
                          actual={"status": reply.status, "body": _body(reply)}, req=req)
    return body


def err_code(err: Dict[str, Any], code: int, reason: Optional[str] = None, req: Optional[str] = None) -> None:
    check(err.get("code") == code, "wrong error code", expected=code, actual=err, req=req)
    if reason is not None:
        eq((err.get("data") or {}).get("reason"), reason, "data.reason", req=req)

"""A JSON-RPC client that checks every message on the wire against spec/schemas.

Outgoing: every request the suite means to be valid is validated against the envelope
schema and the method's `x-params-schema` before it is sent; a violation is a SUITE BUG.
Cases that send invalid input on purpose say so (`deliberately_invalid=True`).

Incoming: every answer is checked, whatever the case is about:
  - a transport failure or a non-JSON body where JSON is due (ASSENT-RPC-022, HTTP-009);
  - `Content-Type: application/json` on every JSON body (ASSENT-HTTP-009);
  - JSON-RPC bodies against `envelope.json#/definitions/ResponseBody`, each `result` against
    its method's result schema, each error against its code's definition (RPC-019, RPC-020);
  - HTTP error bodies against `http.json#/definitions/HttpError` (HTTP-013), with the status
    their `error` name implies, `Retry-After` = `retry_after_s` (HTTP-020), `Allow` (HTTP-004);
  - a single call's status = its error code's `x-http-status`, or 200 (RPC-018); a batch
    answer is 200 (RPC-012); 204 has no body (RPC-007);
  - an id the suite sent validly comes back with its JSON type and value (RPC-004);
  - no bearer token of the run appears anywhere in an answer (RPC-021, HTTP-014, HTTP-008).
A failed check raises TargetViolation and fails the case.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import wire
from .spec import Spec
from .verdict import SuiteBug, TargetViolation, same_json, show

OMIT = object()
DEFAULT = object()

HTTP_ERROR_STATUS = {
    "bad_request": 400, "unauthorized": 401, "bad_signature": 401, "peer_forbidden": 403,
    "not_found": 404, "method_not_allowed": 405, "payload_too_large": 413,
    "unsupported_media_type": 415, "unsupported_version": 426, "locked_out": 429,
    "too_many_subscribers": 503,
}

_ids = itertools.count(1)


def next_id() -> int:
    return next(_ids)


class Reply:
    """An HTTP answer: status, headers, raw body and, when it parsed, its JSON."""

    def __init__(self, ex: wire.Exchange):
        self.ex = ex
        self.status = ex.status
        self.body = ex.resp_body
        self.json: Any = None
        self.json_ok = False
        if self.body:
            try:
                self.json = json.loads(self.body.decode("utf-8"))
                self.json_ok = True
            except (UnicodeDecodeError, ValueError):
                pass

    def header(self, name: str) -> Optional[str]:
        return self.ex.header(name)

    def __repr__(self) -> str:
        return "<Reply %s %s>" % (self.status, show(self.json) if self.json_ok else self.body[:200])


class RpcReply(Reply):
    """The answer to one (non-batch) call."""

    @property
    def is_error(self) -> bool:
        return isinstance(self.json, dict) and "error" in self.json

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        return self.json.get("error") if isinstance(self.json, dict) else None

    @property
    def result(self) -> Any:
        return self.json.get("result") if isinstance(self.json, dict) else None

    @property
    def code(self) -> Optional[int]:
        e = self.error
        return e.get("code") if isinstance(e, dict) else None

    @property
    def data(self) -> Any:
        e = self.error
        return e.get("data") if isinstance(e, dict) else None


class CallFailed(TargetViolation):
    pass


class Client:
    """A caller of the target: an endpoint, optional source address (a distinct TCP peer),
    a bearer token, an optional client identity and the API version header it sends."""

    def __init__(self, target: "Any", *, endpoint: wire.Endpoint, token: Optional[str],
                 role: Optional[str], source: Optional[str] = None,
                 identity: Optional[Tuple[str, str]] = None, version: Optional[str] = "1",
                 label: str = ""):
        self.target = target
        self.spec: Spec = target.spec
        self.endpoint = endpoint
        self.token = token
        self.role = role
        self.source = source
        self.identity = identity
        self.version = version
        self.label = label or (role or "anonymous")

    # -- derived clients ---------------------------------------------------------------

    def derive(self, **kw) -> "Client":
        args = dict(endpoint=self.endpoint, token=self.token, role=self.role, source=self.source,
                    identity=self.identity, version=self.version, label=self.label)
        args.update(kw)
        return Client(self.target, **args)

    @property
    def client_id(self) -> Optional[str]:
        return self.identity[0] if self.identity else None

    @property
    def client_key(self) -> Optional[str]:
        return self.identity[1] if self.identity else None

    # -- HTTP ----------------------------------------------------------------------------

    def headers(self, *, version: Any = DEFAULT, auth: Any = DEFAULT, identity: Any = DEFAULT,
                content_type: Any = DEFAULT, extra: Sequence[Tuple[str, str]] = ()) -> List[Tuple[str, str]]:
        hs: List[Tuple[str, str]] = []
        v = self.version if version is DEFAULT else version
        if v is not None:
            hs.append(("Assent-Api-Version", v))
        tok = self.token if auth is DEFAULT else auth
        if tok is not None:
            hs.append(("Authorization", tok if tok.startswith(("Bearer ", "Basic ")) or " " in tok
                       else "Bearer " + tok))
        ident = self.identity if identity is DEFAULT else identity
        if ident:
            cid, ckey = ident
            if cid is not None:
                hs.append(("Assent-Client-Id", cid))
            if ckey is not None:
                hs.append(("Assent-Client-Key", ckey))
        ct = "application/json" if content_type is DEFAULT else content_type
        if ct is not None:
            hs.append(("Content-Type", ct))
        hs.extend(extra)
        return hs

    def http(self, method: str, path: str, body: Optional[bytes] = None, *,
             version: Any = DEFAULT, auth: Any = DEFAULT, identity: Any = DEFAULT,
             content_type: Any = None, extra_headers: Sequence[Tuple[str, str]] = (),
             deliberately_invalid: bool = False, timeout: float = 15.0,
             expect_json: Optional[bool] = None, add_content_length: bool = True) -> Reply:
        """Any HTTP request; the answer is checked generically by path."""
        hs = self.headers(version=version, auth=auth, identity=identity,
                          content_type=content_type, extra=extra_headers)
        if not deliberately_invalid:
            self._check_own_headers(hs)
        ex = wire.send(self.endpoint, method, path, hs, body, source=self.source,
                       timeout=timeout, deliberately_invalid=deliberately_invalid,
                       add_content_length=add_content_length)
        reply = Reply(ex)
        self._check_transport(reply)
        self._check_leaks(reply)
        if path.split("?")[0] == "/rpc" and method == "POST":
            self._check_rpc_answer(reply, None, deliberately_invalid=True)
        else:
            self._check_other_answer(reply, path, expect_json)
        return reply

    # -- JSON-RPC --------------------------------------------------------------------------

    def post(self, payload: Any, *, raw: bool = False, deliberately_invalid: bool = False,
             timeout: float = 15.0, **hkw) -> Reply:
        """POST /rpc with a JSON payload (or raw bytes with raw=True)."""
        if raw:
            body = payload if isinstance(payload, bytes) else payload.encode("utf-8")
            parsed = None
            if not deliberately_invalid:
                try:
                    parsed = json.loads(body)
                except ValueError:
                    raise SuiteBug("raw body meant to be valid is not JSON")
        else:
            body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            parsed = payload
        if not deliberately_invalid:
            self._check_own_request(parsed)
        version = hkw.pop("version", DEFAULT)
        auth = hkw.pop("auth", DEFAULT)
        identity = hkw.pop("identity", DEFAULT)
        content_type = hkw.pop("content_type", DEFAULT)
        extra = hkw.pop("extra_headers", ())
        if hkw:
            raise TypeError("unknown options %s" % sorted(hkw))
        hs = self.headers(version=version, auth=auth, identity=identity,
                          content_type=content_type, extra=extra)
        if not deliberately_invalid:
            self._check_own_headers(hs)
        ex = wire.send(self.endpoint, "POST", "/rpc", hs, body, source=self.source,
                       timeout=timeout, deliberately_invalid=deliberately_invalid)
        reply_cls = RpcReply if not isinstance(parsed, list) else Reply
        reply = reply_cls(ex)
        self._check_transport(reply)
        self._check_leaks(reply)
        self._check_rpc_answer(reply, None if deliberately_invalid and raw else payload,
                               deliberately_invalid=deliberately_invalid)
        return reply

    def request_object(self, method: str, params: Any = OMIT, id: Any = DEFAULT) -> Dict[str, Any]:
        obj: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not OMIT:
            obj["params"] = params
        if id is DEFAULT:
            obj["id"] = next_id()
        elif id is not OMIT:
            obj["id"] = id
        return obj

    def call(self, method: str, params: Any = OMIT, *, id: Any = DEFAULT,
             deliberately_invalid: bool = False, timeout: float = 15.0, **hkw) -> RpcReply:
        """One call (id=OMIT makes it a notification)."""
        if params is None:
            params = OMIT
        obj = self.request_object(method, params, id)
        reply = self.post(obj, deliberately_invalid=deliberately_invalid, timeout=timeout, **hkw)
        assert isinstance(reply, RpcReply)
        return reply

    def ok(self, method: str, params: Any = OMIT, **kw) -> Any:
        """The result of a call that must succeed; an error answer fails the case."""
        reply = self.call(method, params, **kw)
        if reply.status == 204 and "id" not in kw:
            raise CallFailed("%s got no answer (HTTP 204)" % method)
        if reply.is_error or not isinstance(reply.json, dict) or "result" not in reply.json:
            err = reply.error or {}
            if err.get("code") == -32008:
                msg = "%s is not implemented by the target (-32008 not_implemented)" % method
            else:
                msg = "%s (as %s) answered an error where a result was due" % (method, self.label)
            raise CallFailed(msg, expected="a result", actual=reply.json if reply.json_ok else reply.body[:300])
        return reply.result

    def err(self, method: str, params: Any = OMIT, *, code: int, reason: Optional[str] = None,
            req: Optional[str] = None, deliberately_invalid: Optional[bool] = None, **kw) -> Dict[str, Any]:
        """The error of a call that must fail with `code` (and `data.reason` when given)."""
        if deliberately_invalid is None:
            deliberately_invalid = code in (-32600, -32602, -32601, -32700)
        reply = self.call(method, params, deliberately_invalid=deliberately_invalid, **kw)
        got = reply.error
        if not isinstance(got, dict) or got.get("code") != code:
            raise CallFailed("%s (as %s) must fail with %s" % (method, self.label, self.spec.error_label(code)),
                             expected={"code": code} if reason is None else {"code": code, "data": {"reason": reason}},
                             actual=reply.json if reply.json_ok else reply.body[:300], req=req)
        if reason is not None:
            data = got.get("data") or {}
            if data.get("reason") != reason:
                raise CallFailed("%s (as %s): wrong data.reason" % (method, self.label),
                                 expected=reason, actual=got, req=req)
        got["_http_status"] = reply.status
        return got

    def batch(self, elements: List[Any], *, deliberately_invalid: bool = False, **hkw) -> Reply:
        return self.post(elements, deliberately_invalid=deliberately_invalid, **hkw)

    # -- outgoing checks (suite bugs) -----------------------------------------------------

    def _check_own_headers(self, hs: Sequence[Tuple[str, str]]) -> None:
        for k, v in hs:
            lk = k.lower()
            if lk == "assent-api-version":
                probs = self.spec.problems(self.spec.schema_ref("http", "ApiVersion"), v)
            elif lk == "authorization" and v.startswith("Bearer "):
                probs = self.spec.problems(self.spec.schema_ref("http", "BearerToken"), v[7:])
            elif lk == "assent-client-id":
                probs = self.spec.problems(self.spec.schema_ref("common", "ClientId"), v)
            elif lk == "assent-client-key":
                probs = self.spec.problems(self.spec.schema_ref("common", "ClientKey"), v)
            else:
                continue
            if probs:
                raise SuiteBug("header %s the suite meant to be valid fails the spec: %s" % (k, probs[0]))

    def _check_own_request(self, payload: Any) -> None:
        if isinstance(payload, list):
            probs = self.spec.problems(self.spec.schema_ref("envelope", "Batch"), payload)
            items = payload
        else:
            probs = self.spec.problems(self.spec.schema_ref("envelope", "Request"), payload)
            items = [payload]
        if probs:
            raise SuiteBug("request the suite meant to be valid fails envelope.json: %s" % probs[0])
        for it in items:
            m = it.get("method")
            ref = self.spec.params_ref(m)
            if ref is None:
                continue
            params = it.get("params", {})
            probs = self.spec.problems(ref, params)
            if probs:
                raise SuiteBug("params of %s the suite meant to be valid fail %s: %s" % (m, ref, probs[0]))

    # -- incoming checks -------------------------------------------------------------------

    def _violation(self, reply: Reply, req: str, message: str, expected: Any = None, actual: Any = None):
        reply.ex.notes.append("[%s] %s" % (req, message))
        if expected is None and actual is not None:
            expected = "a body valid per the spec"
        raise TargetViolation(message, expected=expected, actual=actual, req=req)

    def _check_transport(self, reply: Reply) -> None:
        if reply.ex.transport_error:
            self._violation(reply, "ASSENT-RPC-022", "no HTTP answer: %s" % reply.ex.transport_error)

    def _check_leaks(self, reply: Reply) -> None:
        blob = reply.body.decode("utf-8", "replace") + "\n" + "\n".join(v for _, v in reply.ex.resp_headers)
        for tok, label in self.target.token_labels().items():
            if tok and tok in blob:
                self._violation(reply, "ASSENT-RPC-021", "the answer contains the bearer token of %s" % label)

    def _check_json_body(self, reply: Reply) -> None:
        ct = reply.header("Content-Type") or ""
        if ct.split(";")[0].strip().lower() != "application/json":
            self._violation(reply, "ASSENT-HTTP-009", "a JSON body must carry Content-Type: application/json",
                            expected="application/json", actual=ct or "(none)")
        if not reply.json_ok:
            self._violation(reply, "ASSENT-RPC-022", "the body is not JSON",
                            actual=reply.body[:200].decode("utf-8", "replace"))

    def _check_http_error(self, reply: Reply) -> None:
        probs = self.spec.problems(self.spec.schema_ref("http", "HttpError"), reply.json)
        if probs:
            name = reply.json.get("error") if isinstance(reply.json, dict) else None
            detail = str(probs[0])
            if name in HTTP_ERROR_STATUS:
                defn = "HttpError" + "".join(w.capitalize() for w in name.split("_"))
                dp = self.spec.problems(self.spec.schema_ref("http", defn), reply.json)
                if dp:
                    detail = "%s %s" % (defn, dp[0])
            else:
                detail = "error %r is not a name of http.json#/definitions/HttpErrorName" % (name,)
            self._violation(reply, "ASSENT-HTTP-013", "HTTP error body fails http.json#/definitions/HttpError: %s" % detail,
                            actual=reply.json)
        name = reply.json.get("error")
        want = HTTP_ERROR_STATUS.get(name)
        if want is not None and reply.status != want:
            self._violation(reply, "ASSENT-HTTP-011", "HttpError %r must come with HTTP %s" % (name, want),
                            expected=want, actual=reply.status)
        if reply.status in (429, 503) and "retry_after_s" in reply.json:
            ra = reply.header("Retry-After")
            if ra is None or ra.strip() != str(reply.json["retry_after_s"]):
                self._violation(reply, "ASSENT-HTTP-020", "Retry-After must equal retry_after_s",
                                expected=str(reply.json["retry_after_s"]), actual=ra)
        if reply.status == 405:
            allow = reply.header("Allow")
            if allow is None:
                self._violation(reply, "ASSENT-HTTP-004", "405 without an Allow header")
            elif allow != reply.json.get("allow"):
                self._violation(reply, "ASSENT-HTTP-004", "the body's allow must equal the Allow header",
                                expected=allow, actual=reply.json.get("allow"))

    def _check_other_answer(self, reply: Reply, path: str, expect_json: Optional[bool]) -> None:
        p = path.split("?")[0]
        if p == "/readyz" and reply.status in (200, 503):
            self._check_json_body(reply)
            probs = self.spec.problems(self.spec.schema_ref("http", "ReadyBody"), reply.json)
            if probs:
                self._violation(reply, "ASSENT-HTTP-006", "readyz body fails ReadyBody: %s" % probs[0])
            return
        if reply.status is not None and reply.status >= 400:
            # Every error answered outside JSON-RPC is an HttpError.
            self._check_json_body(reply)
            if isinstance(reply.json, dict) and "jsonrpc" not in reply.json:
                self._check_http_error(reply)
            return
        if expect_json:
            self._check_json_body(reply)

    def _check_rpc_answer(self, reply: Reply, payload: Any, *, deliberately_invalid: bool) -> None:
        if reply.status == 204:
            if reply.body:
                self._violation(reply, "ASSENT-RPC-007", "HTTP 204 must have no body", actual=reply.body[:200].decode("utf-8", "replace"))
            return
        self._check_json_body(reply)
        body = reply.json
        if isinstance(body, dict) and "jsonrpc" not in body and "error" in body and isinstance(body.get("error"), str):
            self._check_http_error(reply)
            return
        probs = self.spec.problems(self.spec.schema_ref("envelope", "ResponseBody"), body)
        if probs:
            self._violation(reply, "ASSENT-RPC-019", "answer fails envelope.json#/definitions/ResponseBody: %s" % probs[0],
                            actual=body)
        if isinstance(body, list):
            if reply.status != 200:
                self._violation(reply, "ASSENT-RPC-012", "a batch answer must come with HTTP 200",
                                expected=200, actual=reply.status)
            responses = body
        else:
            responses = [body]
            if "error" in body:
                code = body["error"].get("code")
                want = self.spec.http_status_of(code)
                if want is not None and reply.status != want:
                    self._violation(reply, "ASSENT-RPC-018",
                                    "a single call answered with %s must get HTTP %s" % (code, want),
                                    expected=want, actual=reply.status)
            elif reply.status != 200:
                self._violation(reply, "ASSENT-RPC-018", "a single call answered with a result must get HTTP 200",
                                expected=200, actual=reply.status)
        # Map ids the suite sent to methods, to find each result's schema.
        methods: Dict[str, List[str]] = {}
        sent_ids: List[Any] = []
        if payload is not None:
            items = payload if isinstance(payload, list) else [payload]
            for it in items:
                if isinstance(it, dict) and "id" in it and isinstance(it.get("method"), str):
                    methods.setdefault(json.dumps(it["id"], sort_keys=True), []).append(it["method"])
                    sent_ids.append(it["id"])
        for resp in responses:
            if "error" in resp:
                self._check_error_object(reply, resp["error"])
            elif "result" in resp:
                ms = methods.get(json.dumps(resp.get("id"), sort_keys=True), [])
                if len(set(ms)) == 1:
                    ref = self.spec.result_ref(ms[0])
                    if ref:
                        rp = self.spec.problems(ref, resp["result"])
                        if rp:
                            self._violation(reply, "ASSENT-RPC-019", "result of %s fails %s: %s" % (ms[0], ref, rp[0]),
                                            actual=resp["result"])
        # An id sent validly comes back with its type and value.
        if not deliberately_invalid and isinstance(payload, dict) and "id" in payload and isinstance(body, dict):
            if not same_json(body.get("id"), payload["id"]):
                self._violation(reply, "ASSENT-RPC-004", "the id must be echoed with its JSON type and value",
                                expected=payload["id"], actual=body.get("id"))

    def _check_error_object(self, reply: Reply, error: Any) -> None:
        probs = self.spec.problems(self.spec.schema_ref("errors", "ErrorObject"), error)
        code = error.get("code") if isinstance(error, dict) else None
        if probs:
            # Say why in terms of the code's own definition when there is one.
            detail = str(probs[0])
            defn = self.spec.error_definition(code)
            if defn:
                dp = self.spec.problems(self.spec.schema_ref("errors", defn), error)
                if dp:
                    detail = "%s: %s" % (defn, dp[0])
            self._violation(reply, "ASSENT-RPC-020", "error object fails errors.json: %s" % detail, actual=error)
        ref = self.spec.error_data_ref(code) if code is not None else None
        if ref and "data" in error:
            dp = self.spec.problems(ref, error["data"])
            if dp:
                self._violation(reply, "ASSENT-RPC-020", "error data fails %s: %s" % (ref, dp[0]), actual=error)

"""What a case gets as its `t` argument: the target, clients per role, and helpers for the
domain flows (hello → secret → request → decide → reveal) so cases read like the spec."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import secrets as pysecrets
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from . import target as tgt
from .case import CaseMeta
from .client import Client
from .spec import Spec
from .verdict import CaseFailure, check


def parse_time(s: str) -> float:
    """RFC 3339 'Z' time → POSIX seconds."""
    base, _, frac = s.rstrip("Z").partition(".")
    t = dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise CaseFailure("timed out after %.1fs waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)


def sleep_until_wallclock(ts: float, margin_s: float = 0.05) -> None:
    """Wait until the wall clock has passed `ts` (a deadline the target gave us)."""
    while True:
        left = ts + margin_s - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.25))


class Sealed:
    """A one-time X25519 key pair for secret.reveal (ASSENT-REVEAL-005/008)."""

    def __init__(self) -> None:
        from nacl.public import PrivateKey
        self.private = PrivateKey.generate()
        self.public_b64 = base64.b64encode(bytes(self.private.public_key)).decode()

    def open(self, sealed_b64: str) -> bytes:
        from nacl.public import SealedBox
        return SealedBox(self.private).decrypt(base64.b64decode(sealed_b64, validate=True))


class Ctx:
    def __init__(self, target: tgt.Target, meta: CaseMeta, run: Any):
        self.target = target
        self.spec: Spec = target.spec
        self.meta = meta
        self.run = run
        self.notes: List[str] = []
        self._clients: Dict[str, Client] = {}

    # -- clients ---------------------------------------------------------------------

    def _role(self, role: str) -> Client:
        if role not in self._clients:
            if role not in self.target.tokens.by_role:
                pytest.skip("no %s token was given to the suite" % role)
            self._clients[role] = self.target.client(role)
        return self._clients[role]

    @property
    def admin(self) -> Client:
        return self._role("admin")

    @property
    def approver(self) -> Client:
        return self._role("approver")

    @property
    def approver2(self) -> Client:
        return self._role("approver2")

    @property
    def agent(self) -> Client:
        """The agent token without a client identity."""
        return self._role("agent")

    def anonymous(self, transport: str = "tcp", source: Optional[str] = None) -> Client:
        return self.target.client(None, transport=transport, source=source)

    def peer(self, role: Optional[str] = "admin") -> Client:
        """A client on a fresh TCP peer address (auth failures and lockouts stay there)."""
        return self.target.client(role, source=tgt.PEERS.next())

    def bad_token(self) -> str:
        """A token of valid grammar that the target does not know."""
        return "conformance-unknown-" + pysecrets.token_urlsafe(24)

    def lock_out(self, client: Client) -> str:
        """Make `client`'s peer fail authentication auth_failures_max times (ASSENT-AUTH-005)."""
        bad = client.derive(token=self.bad_token())
        n = self.spec.limits["auth_failures_max"]
        for i in range(n):
            r = bad.call("system.ping", deliberately_invalid=True)
            if r.status != 401:
                raise CaseFailure("authentication failure %d of %d must be answered 401" % (i + 1, n),
                                  expected=401, actual="%s %s" % (r.status, r.json), req="ASSENT-AUTH-002")
        return bad.token

    def unix(self, role: Optional[str] = None) -> Client:
        if self.target.unix is None:
            pytest.skip("the target has no Unix-socket listener the suite can reach")
        return self.target.client(role, transport="unix")

    def uniq(self, prefix: str = "C") -> str:
        return "%s_%s" % (prefix, pysecrets.token_hex(6))

    def reason(self) -> str:
        return "conformance reason %s" % pysecrets.token_hex(8)

    def note(self, text: str) -> None:
        """An observation shown in the report (informational)."""
        self.notes.append(text)

    def caller_for(self, method: str) -> Client:
        """A client whose role x-roles admits for `method` (an agent with a client identity
        when only agents or originators are admitted)."""
        roles = self.spec.roles_of(method)
        if "admin" in roles:
            return self.admin
        if "approver" in roles:
            return self.approver
        if "_agent_with_id" not in self._clients:
            self._clients["_agent_with_id"] = self.new_agent()
        return self._clients["_agent_with_id"]

    # -- identity --------------------------------------------------------------------

    def hello(self, client: Optional[Client] = None, kind: str = "agent", name: Optional[str] = None) -> Dict[str, Any]:
        c = client or self.agent
        return c.ok("client.hello", {"kind": kind, "name": name or self.uniq("conformance")})

    def new_agent(self, kind: str = "agent", name: Optional[str] = None, role: str = "agent",
                  transport: str = "tcp") -> Client:
        base = self._role(role) if transport == "tcp" else self.unix(role)
        r = base.ok("client.hello", {"kind": kind, "name": name or self.uniq("conformance")})
        check("client_key" in r, "client.hello without client_id must mint a key", req="ASSENT-ID-001",
              expected="client_key in the result", actual=r)
        return base.derive(identity=(r["client_id"], r["client_key"]),
                           label="%s %s…" % (role, r["client_id"][:11]))

    # -- secrets ---------------------------------------------------------------------

    def put_secret(self, name: Optional[str] = None, value: Optional[str] = None,
                   policy: Optional[Dict[str, Any]] = None, value_base64: Optional[str] = None,
                   description: Optional[str] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"name": name or self.uniq("S")}
        if value_base64 is not None:
            params["value_base64"] = value_base64
        else:
            params["value"] = value if value is not None else "value-" + pysecrets.token_hex(12)
        if policy is not None:
            params["policy"] = policy
        if description is not None:
            params["description"] = description
        r = self.admin.ok("secret.put", params)
        r["_value"] = params.get("value", params.get("value_base64"))
        return r

    # -- requests and grants -----------------------------------------------------------

    def ask(self, agent: Client, secrets: List[str], reason: Optional[str] = None, **kw) -> Dict[str, Any]:
        params = dict(kw, secrets=secrets, reason=reason or self.reason())
        return agent.ok("access.request", params)["request"]

    def approve(self, request_id: str, approver: Optional[Client] = None, **kw) -> Dict[str, Any]:
        a = approver or self.approver
        return a.ok("access.decide", dict(kw, request_id=request_id, decision="approve"))

    def granted(self, policy: Optional[Dict[str, Any]] = None, agent: Optional[Client] = None,
                value: Optional[str] = None, ttl_s: Optional[int] = None,
                approve_ttl_s: Optional[int] = None, command: Optional[Dict[str, Any]] = None,
                names: int = 1) -> Dict[str, Any]:
        """The happy path up to a live grant: secret(s), agent, request, approval."""
        agent = agent or self.new_agent()
        secrets = [self.put_secret(value=value, policy=policy) for _ in range(names)]
        kw: Dict[str, Any] = {}
        if ttl_s is not None:
            kw["ttl_s"] = ttl_s
        if command is not None:
            kw["command"] = command
        req = self.ask(agent, [s["secret"]["name"] for s in secrets], **kw)
        grant = None
        if req["state"] == "pending":
            dkw = {"ttl_s": approve_ttl_s} if approve_ttl_s is not None else {}
            d = self.approve(req["request_id"], **dkw)
            req, grant = d["request"], d["grant"]
        else:
            grant = self.grant_of(req)
        check(grant is not None and req["state"] == "approved",
              "the request should be approved with a grant", actual={"request": req, "grant": grant})
        return {"agent": agent, "secrets": secrets, "names": [s["secret"]["name"] for s in secrets],
                "values": [s["_value"] for s in secrets], "request": req, "grant": grant,
                "name": secrets[0]["secret"]["name"], "value": secrets[0]["_value"]}

    def grant_of(self, request: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        gid = request.get("grant_id")
        if not gid:
            return None
        gs = self.admin.ok("grant.list", {"request_id": request["request_id"]})["grants"]
        for g in gs:
            if g["grant_id"] == gid:
                return g
        return None

    def grant(self, grant_id: str, request_id: Optional[str] = None) -> Dict[str, Any]:
        params = {"request_id": request_id} if request_id else {}
        for g in self.admin.ok("grant.list", params)["grants"]:
            if g["grant_id"] == grant_id:
                return g
        raise CaseFailure("grant %s not found by grant.list (admin)" % grant_id)

    def reveal(self, agent: Client, grant_id: str, name: str, command: Optional[Dict[str, Any]] = None) -> Tuple[bytes, Dict[str, Any]]:
        kp = Sealed()
        params: Dict[str, Any] = {"grant_id": grant_id, "name": name, "recipient_key": kp.public_b64}
        if command is not None:
            params["command"] = command
        r = agent.ok("secret.reveal", params)
        try:
            plain = kp.open(r["sealed_value"])
        except Exception as e:
            raise CaseFailure("sealed_value does not open with the one-time private key "
                              "(crypto_box_seal to recipient_key)", req="ASSENT-REVEAL-005",
                              actual="%s: %s" % (type(e).__name__, e))
        return plain, r

    def request_state(self, request_id: str) -> str:
        return self.admin.ok("access.get", {"request_id": request_id})["request"]["state"]

    # -- audit ----------------------------------------------------------------------------

    def audit_entries(self, after_seq: int = 0) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        while True:
            r = self.admin.ok("audit.list", {"after_seq": after_seq, "limit": 1000})
            out.extend(r["entries"])
            if r["next_after_seq"] is None:
                return out
            after_seq = r["next_after_seq"]

    def audit_head_seq(self) -> int:
        v = self.admin.ok("audit.verify")
        return v["entries"]

    # -- private instances ----------------------------------------------------------------

    @contextlib.contextmanager
    def private(self, name: Optional[str] = None, tokens_mode: int = 0o600,
                expect_start: bool = True, values: Optional[Dict[str, str]] = None) -> Iterator[tgt.Target]:
        """A separate instance of a launchable target, with its own data directory.
        `values` overrides placeholders of the launch command; an optional placeholder
        (target.OPTIONAL_PLACEHOLDERS) the command does not carry skips the case: the
        target does not declare that option."""
        if self.run.launch_template is None:
            pytest.skip("needs a launch command (--launch)")
        for p in values or {}:
            if p in tgt.OPTIONAL_PLACEHOLDERS and not tgt.declares(self.run.launch_template, p):
                pytest.skip("the launch command does not declare the optional option {%s} "
                            "(PROTOCOL.md section 15, ASSENT-TGT-007)" % p)
        launcher = tgt.Launcher(self.run.launch_template, self.run.work_root,
                                name or self.uniq("private").lower(), self.spec, self.run.tokens,
                                mock=self.run.mock, timeout_s=self.run.launch_timeout,
                                tokens_mode=tokens_mode, overrides=values)
        self.run.private_launchers.append(launcher)
        try:
            target = launcher.start()
        except tgt.LaunchError:
            if expect_start:
                raise
            target = None
        try:
            yield target if target is not None else launcher
        finally:
            launcher.stop()

    def launcher_of(self, target: tgt.Target) -> tgt.Launcher:
        assert target.launcher is not None
        return target.launcher

    def restart(self, target: tgt.Target) -> tgt.Target:
        """Stop (SIGTERM) and start the same private instance on the same data directory."""
        launcher = self.launcher_of(target)
        launcher.stop()
        return launcher.start()

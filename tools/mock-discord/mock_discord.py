#!/usr/bin/python3
"""Mock of the slice of Discord's REST API v10 that assentd uses, plus Discord's side of
HTTP interactions (signed POSTs to the app's interactions endpoint) and a control API.

Run:  /usr/bin/python3 tools/mock-discord/mock_discord.py [--port 0] [--bot-token T]
          [--interactions-url URL] [--application-id ID] [--state-file F] ...
On start it prints ONE JSON line to stdout (base_url, control_url, public_key, bot_token,
application_id) and then serves until SIGTERM/SIGINT. See README.md for the wire slice
covered, the control API and what is deliberately not modelled.

Fidelity rules this file follows:
- Routes, operationIds and body schemas come from Discord's OpenAPI document; every
  accepted body is validated against it and every emitted body is checked against it
  (a mismatch in what the mock emits is reported as a mock bug in /_mock/requests and
  on stderr).
- Where Discord's prose docs are stricter than the OpenAPI document (content of at most
  2000 characters, at most 5 action rows, button custom_id rules), the docs win.
- Time-sensitive Discord behaviour is kept: the 3 s window for the initial interaction
  response, 15 min interaction tokens, nonce retention of a few minutes.

Threading: ThreadingHTTPServer, one thread per connection. All mutable state lives in
`State` behind one RLock; network calls (interaction deliveries) are made without it so
the daemon may call back into the mock while it handles an interaction.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import http.client
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import discord_schema  # noqa: E402  (local module, path set above)

# ---- limits and Discord constants (each with its reason) --------------------------------

API_PREFIX = "/api/v10"
CONTROL_PREFIX = "/_mock"
DISCORD_EPOCH_MS = 1420070400000
# Discord fails an interaction whose initial response takes longer than 3 seconds.
INTERACTION_RESPONSE_DEADLINE_S = 3.0
# Interaction tokens (webhook edits, follow-ups) stay valid for 15 minutes.
INTERACTION_TOKEN_TTL_S = 15 * 60
# Discord keeps enforce_nonce nonces "for the past few minutes".
DEFAULT_NONCE_TTL_S = 5 * 60
# Discord's documented limits that its OpenAPI document states more loosely.
CONTENT_MAX_CHARS = 2000
EMBED_TOTAL_MAX_CHARS = 6000
ACTION_ROWS_MAX = 5
# Protects the mock itself; Discord's own limit is larger (attachments), we take none.
BODY_MAX_BYTES = 8 * 1024 * 1024
# Keep-alive connections idle longer than this are closed so threads are not pinned.
CONNECTION_IDLE_TIMEOUT_S = 30
REQUEST_LOG_MAX = 10000
DEFAULT_RATE_LIMIT = 50
DEFAULT_RATE_WINDOW_S = 1.0

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_IS_COMPONENTS_V2 = 1 << 15

INTERACTION_PING = 1
INTERACTION_MESSAGE_COMPONENT = 3
CALLBACK_PONG = 1
CALLBACK_CHANNEL_MESSAGE = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE_MESSAGE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_MODAL = 9

COMPONENT_ACTION_ROW = 1
COMPONENT_BUTTON = 2
BUTTON_STYLE_LINK = 5
BUTTON_STYLE_PREMIUM = 6

UNLISTED_USER_ID = "100000000000000666"
DEFAULT_CLICK_USER_ID = "100000000000000001"
DISCORD_INTERACTIONS_UA = "Discord-Interactions/1.0 (+https://discord.com)"

# Operations served under /api/v10. "bot" = needs `Authorization: Bot <token>`;
# "url" = authenticated by the interaction/webhook token in the URL, as Discord does.
# Paths are taken from the OpenAPI document at run time, never written here.
OPERATIONS = {
    "create_message": "bot",
    "get_message": "bot",
    "update_message": "bot",
    "add_my_message_reaction": "bot",
    "delete_my_message_reaction": "bot",
    "list_message_reactions_by_emoji": "bot",
    "create_interaction_response": "url",
    "get_original_webhook_message": "url",
    "update_original_webhook_message": "url",
}
# Route names accepted in fault rules (the operationIds) plus "*".
# Major parameters: Discord computes per-route limits per top-level resource.
MAJOR_PARAMS = ("channel_id", "webhook_id", "interaction_id")


def log_err(*parts):
    print("mock-discord:", *parts, file=sys.stderr, flush=True)


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def strip_none(value):
    """Drops null members recursively: Discord does not echo nulls it was sent."""
    if isinstance(value, dict):
        return {k: strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_none(v) for v in value]
    return value


def is_snowflake(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"0|[1-9][0-9]{0,19}", value) is not None


class DiscordError(Exception):
    """An error answered in Discord's JSON error shape."""

    def __init__(self, status: int, code: int, message: str, errors=None, headers=None,
                 raw_body=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers = errors, headers or {}
        self.raw_body = raw_body  # replaces the standard shape (429 bodies, HTML pages)

    def body(self):
        if self.raw_body is not None:
            return self.raw_body
        out = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def invalid_form(errors) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


def field_error(path: List[Any], code: str, message: str) -> DiscordError:
    node: Dict[str, Any] = {}
    root = node
    for part in path:
        node = node.setdefault(str(part), {})
    node["_errors"] = [{"code": code, "message": message}]
    return invalid_form(root)


class ControlError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


# ---- ids -------------------------------------------------------------------------------

class Snowflakes:
    """Discord-shaped ids: ms since the Discord epoch << 22 | sequence; strictly rising."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0

    def next(self) -> str:
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            if ms <= self._last_ms:
                ms = self._last_ms
                self._seq += 1
                if self._seq >= 4096:
                    ms += 1
                    self._seq = 0
            else:
                self._seq = 0
            self._last_ms = ms
            return str((ms << 22) | (1 << 17) | (1 << 12) | self._seq)

    def observe(self, snowflake: str):
        """After loading state, never hand out an id at or below one already used."""
        with self._lock:
            ms = int(snowflake) >> 22
            if ms >= self._last_ms:
                self._last_ms, self._seq = ms, 4095


# ---- rate limiting ---------------------------------------------------------------------

class RateLimiter:
    """Fixed-window buckets per (route bucket, major parameter), as Discord describes:
    the window opens on the first request and resets at X-RateLimit-Reset."""

    def __init__(self, limit: int, window_s: float):
        self.default = {"limit": limit, "window_s": window_s}
        self.overrides: Dict[str, Dict[str, float]] = {}
        self._buckets: Dict[Tuple[str, str], Dict[str, float]] = {}
        self._exhausted_until: Dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def bucket_hash(op: str) -> str:
        # Opaque, stable per route, like Discord's (which does not include major params).
        return hashlib.md5(("assent-mock:" + op).encode()).hexdigest()

    def configure(self, op: Optional[str], limit: int, window_s: float):
        with self._lock:
            if op in (None, "*"):
                self.default = {"limit": int(limit), "window_s": float(window_s)}
                self.overrides.clear()
            else:
                self.overrides[op] = {"limit": int(limit), "window_s": float(window_s)}
            self._buckets.clear()

    def reset(self, limit: int, window_s: float):
        with self._lock:
            self.default = {"limit": limit, "window_s": window_s}
            self.overrides.clear()
            self._buckets.clear()
            self._exhausted_until.clear()

    def exhaust(self, op: str, seconds: Optional[float]):
        """The 'burst' fault: the route's buckets are empty until now + seconds."""
        with self._lock:
            ops = list(OPERATIONS) if op == "*" else [op]
            for o in ops:
                cfg = self.overrides.get(o, self.default)
                self._exhausted_until[o] = time.time() + (
                    cfg["window_s"] if seconds is None else float(seconds))

    def take(self, op: str, major: str, consume: bool = True):
        """Returns (allowed, headers, retry_after_s)."""
        with self._lock:
            cfg = self.overrides.get(op, self.default)
            now = time.time()
            key = (op, major)
            st = self._buckets.get(key)
            if st is None or now >= st["reset_at"]:
                st = {"reset_at": now + cfg["window_s"], "remaining": cfg["limit"]}
                self._buckets[key] = st
            until = self._exhausted_until.get(op, 0.0)
            if now < until:
                st["remaining"] = 0
                st["reset_at"] = max(st["reset_at"], until)
            allowed = True
            if consume:
                if st["remaining"] <= 0:
                    allowed = False
                else:
                    st["remaining"] -= 1
            reset_after = max(0.0, st["reset_at"] - now)
            headers = {
                "X-RateLimit-Limit": str(int(cfg["limit"])),
                "X-RateLimit-Remaining": str(int(max(0, st["remaining"]))),
                "X-RateLimit-Reset": "%.3f" % st["reset_at"],
                "X-RateLimit-Reset-After": "%.3f" % reset_after,
                "X-RateLimit-Bucket": self.bucket_hash(op),
            }
            return allowed, headers, reset_after


# ---- state -----------------------------------------------------------------------------

class State:
    """Everything the mock remembers. Guarded by `lock`; persisted to `path` if set."""

    def __init__(self, path: Optional[str]):
        self.lock = threading.RLock()
        self.path = path
        self.messages: Dict[str, dict] = {}        # id -> record
        self.order: List[str] = []
        self.nonces: Dict[str, dict] = {}          # "channel\0nonce" -> {message_id, at}
        self.interactions: Dict[str, dict] = {}    # id -> record
        self.tokens: Dict[str, str] = {}           # token -> interaction id
        self.users: Dict[str, dict] = {}
        self.requests: List[dict] = []
        self.request_seq = 0
        self.faults: List[dict] = []
        self.behaviour: Optional[dict] = None
        self.timers: List[threading.Timer] = []
        self.auto_actions: List[dict] = []
        self.identity: Dict[str, str] = {}

    def clear(self):
        with self.lock:
            for t in self.timers:
                t.cancel()
            self.timers.clear()
            self.messages.clear()
            self.order.clear()
            self.nonces.clear()
            self.interactions.clear()
            self.tokens.clear()
            self.requests.clear()
            self.faults.clear()
            self.behaviour = None
            self.auto_actions.clear()
            self.save()

    # -- persistence (optional): messages, nonces, interactions and the mock's identity --

    def save(self):
        if not self.path:
            return
        with self.lock:
            snapshot = {
                "version": 1,
                "identity": self.identity,
                "messages": self.messages,
                "order": self.order,
                "nonces": self.nonces,
                "users": self.users,
                "interactions": {
                    k: {f: v for f, v in rec.items() if f not in ("deliveries",)}
                    for k, rec in self.interactions.items()},
            }
            # The file holds the bot token and the signing seed: owner-only.
            tmp = self.path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(snapshot, f)
            os.replace(tmp, self.path)

    def load(self, snowflakes: Snowflakes):
        if not self.path or not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as f:
            snap = json.load(f)
        with self.lock:
            self.identity = snap.get("identity", {})
            self.messages = snap.get("messages", {})
            self.order = snap.get("order", [])
            self.nonces = snap.get("nonces", {})
            self.users = snap.get("users", {})
            self.interactions = snap.get("interactions", {})
            for rec in self.interactions.values():
                rec.setdefault("deliveries", [])
                self.tokens[rec["token"]] = rec["id"]
            for mid in list(self.messages) + list(self.interactions):
                snowflakes.observe(mid)


# ---- the server ------------------------------------------------------------------------

class MockDiscord(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of concurrent clients (an outbox
    # draining, a 429 storm) would see connection resets that real Discord never sends.
    request_queue_size = 128

    def __init__(self, args):
        self.args = args
        self.verbose = args.verbose
        self.schemas = discord_schema.DiscordSchemas(discord_schema.find_openapi(args.openapi))
        self.snowflakes = Snowflakes()
        self.state = State(args.state_file)
        self.state.load(self.snowflakes)
        ident = self.state.identity
        self.bot_token = args.bot_token or ident.get("bot_token") or self._fresh_token()
        self.application_id = (args.application_id or ident.get("application_id")
                               or self.snowflakes.next())
        self.guild_id = args.guild_id or ident.get("guild_id") or self.snowflakes.next()
        seed_hex = args.signing_seed or ident.get("signing_seed")
        from nacl.signing import SigningKey  # deferred import keeps start-up short
        if seed_hex:
            self.signing_key = SigningKey(bytes.fromhex(seed_hex))
        else:
            self.signing_key = SigningKey.generate()
        self.public_key = self.signing_key.verify_key.encode().hex()
        self.state.identity = {
            "bot_token": self.bot_token, "application_id": self.application_id,
            "guild_id": self.guild_id,
            "signing_seed": bytes(self.signing_key).hex(),
        }
        self.interactions_url = args.interactions_url
        self.interaction_timeout_s = INTERACTION_RESPONSE_DEADLINE_S
        self.nonce_ttl_s = DEFAULT_NONCE_TTL_S
        self.channels: Optional[set] = None
        self.limiter = RateLimiter(args.rate_limit, args.rate_window)
        self.bot_user = {
            "id": self.application_id, "username": args.bot_username, "avatar": None,
            "discriminator": "0000", "public_flags": 0, "flags": 0, "bot": True,
            "banner": None, "accent_color": None, "global_name": None,
            "avatar_decoration_data": None, "collectibles": None, "primary_guild": None,
        }
        self._routes = None
        self._routes_lock = threading.Lock()
        if ":" in args.host:
            self.address_family = socket.AF_INET6
        super().__init__((args.host, args.port), Handler)
        self.state.save()

    @staticmethod
    def _fresh_token() -> str:
        # Shaped like a real bot token (three dot-separated parts) so token handling that
        # splits or masks it is exercised; clearly marked as a mock token.
        return "mock." + secrets.token_urlsafe(9) + "." + secrets.token_urlsafe(27)

    # -- start-up info -------------------------------------------------------------------

    def info(self) -> dict:
        host, port = self.server_address[:2]
        origin = "http://%s:%d" % (host if ":" not in host else "[%s]" % host, port)
        return {
            "base_url": origin + API_PREFIX,
            "control_url": origin + CONTROL_PREFIX,
            "public_key": self.public_key,
            "bot_token": self.bot_token,
            "application_id": self.application_id,
        }

    # -- routes (built from the OpenAPI document on first use) ----------------------------

    def routes(self):
        if self._routes is not None:
            return self._routes
        with self._routes_lock:
            if self._routes is None:
                routes = []
                for op, auth in OPERATIONS.items():
                    method, template = self.schemas.operation(op)
                    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)",
                                           re.escape(template)) + "$"
                    routes.append((method, re.compile(pattern), op, auth, template))
                self._routes = routes
        return self._routes

    def match_route(self, method: str, path: str):
        """(op, auth, params) or raises DiscordError 404/405."""
        path_matched = False
        for m, rx, op, auth, _ in self.routes():
            mo = rx.match(path)
            if mo:
                path_matched = True
                if m == method:
                    return op, auth, mo.groupdict()
        if path_matched:
            raise DiscordError(405, 0, "405: Method Not Allowed")
        raise DiscordError(404, 0, "404: Not Found")

    # -- users ---------------------------------------------------------------------------

    def user_object(self, user_id: str, username: Optional[str] = None) -> dict:
        with self.state.lock:
            if user_id == self.application_id:
                return dict(self.bot_user)
            known = self.state.users.get(user_id)
            if known and (username is None or known["username"] == username):
                return dict(known)
            name = username or (known["username"] if known else "user" + user_id[-6:])
            user = {
                "id": user_id, "username": name, "avatar": None, "discriminator": "0",
                "public_flags": 0, "flags": 0, "banner": None, "accent_color": None,
                "global_name": name, "avatar_decoration_data": None, "collectibles": None,
                "primary_guild": None,
            }
            self.state.users[user_id] = user
            return dict(user)

    # -- messages ------------------------------------------------------------------------

    def message_view(self, rec: dict) -> dict:
        """The message as Discord returns it, with reactions relative to the bot."""
        msg = copy.deepcopy(rec["message"])
        reactions = []
        for emoji, users in rec["reactions"].items():
            if not users:
                continue
            name, _, eid = emoji.partition(":")
            reactions.append({
                "emoji": {"id": eid or None, "name": name},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "burst_colors": [], "me_burst": False,
                "me": self.application_id in users,
            })
        if reactions:
            msg["reactions"] = reactions
        return msg

    def control_view(self, rec: dict) -> dict:
        msg = self.message_view(rec)
        meta = copy.deepcopy(rec["meta"])
        meta["reaction_users"] = {e: list(u) for e, u in rec["reactions"].items() if u}
        msg["_mock"] = meta
        return msg

    def get_message_rec(self, channel_id: str, message_id: str) -> dict:
        rec = self.state.messages.get(message_id)
        if rec is None or rec["message"]["channel_id"] != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        return rec

    def check_channel(self, channel_id: str):
        if self.channels is not None and channel_id not in self.channels:
            raise DiscordError(404, 10003, "Unknown Channel")

    def build_components(self, components) -> list:
        """Request components -> response components: nulls dropped, numeric ids given
        to components that have none, in depth-first order, as Discord does."""
        comps = strip_none(copy.deepcopy(components or []))
        used = set()

        def collect(c):
            if isinstance(c.get("id"), int):
                used.add(c["id"])
            for child in c.get("components", []) or []:
                collect(child)
            if isinstance(c.get("accessory"), dict):
                collect(c["accessory"])

        for c in comps:
            collect(c)
        counter = [0]

        def assign(c):
            if not isinstance(c.get("id"), int):
                counter[0] += 1
                while counter[0] in used:
                    counter[0] += 1
                c["id"] = counter[0]
            for child in c.get("components", []) or []:
                assign(child)
            if isinstance(c.get("accessory"), dict):
                assign(c["accessory"])

        for c in comps:
            assign(c)
        return comps

    @staticmethod
    def build_embeds(embeds) -> list:
        out = []
        for e in strip_none(copy.deepcopy(embeds or [])):
            e.setdefault("type", "rich")
            for f in e.get("fields", []):
                f.setdefault("inline", False)
            out.append(e)
        return out

    def check_message_body(self, body: dict, *, editing: bool, existing: Optional[dict] = None,
                           content_max: int = CONTENT_MAX_CHARS):
        """Discord's documented rules that the OpenAPI schema does not carry."""
        content = body.get("content")
        if isinstance(content, str) and len(content) > content_max:
            raise field_error(["content"], "BASE_TYPE_MAX_LENGTH",
                              "Must be %d or fewer in length." % content_max)
        embeds = body.get("embeds") or []
        total = 0
        for e in embeds:
            for k in ("title", "description"):
                total += len(e.get(k) or "")
            for f in e.get("fields") or []:
                total += len(f.get("name") or "") + len(f.get("value") or "")
            total += len((e.get("footer") or {}).get("text") or "")
            total += len((e.get("author") or {}).get("name") or "")
        if total > EMBED_TOTAL_MAX_CHARS:
            raise field_error(["embeds"], "MESSAGE_EMBEDS_TOO_LARGE",
                              "Embed size exceeds maximum size of %d" % EMBED_TOTAL_MAX_CHARS)
        components = body.get("components")
        flags = body.get("flags") or (existing or {}).get("flags") or 0
        if components:
            if not flags & MESSAGE_FLAG_IS_COMPONENTS_V2:
                if len(components) > ACTION_ROWS_MAX:
                    raise field_error(["components"], "BASE_TYPE_MAX_LENGTH",
                                      "Must be %d or fewer in length." % ACTION_ROWS_MAX)
                for i, c in enumerate(components):
                    if c.get("type") != COMPONENT_ACTION_ROW:
                        raise field_error(["components", i, "type"], "UNION_TYPE_CHOICES",
                                          "Value of field \"type\" must be one of (1,).")
            seen = {}
            for path, comp in iter_components(components, ["components"]):
                if comp.get("type") != COMPONENT_BUTTON:
                    continue
                style, cid, url = comp.get("style"), comp.get("custom_id"), comp.get("url")
                if style == BUTTON_STYLE_LINK:
                    if not url:
                        raise field_error(path + ["url"], "BASE_TYPE_REQUIRED",
                                          "This field is required")
                    if cid is not None:
                        raise field_error(path + ["custom_id"], "COMPONENT_LINK_BUTTON_CUSTOM_ID",
                                          "A custom id cannot be used with link buttons")
                elif style != BUTTON_STYLE_PREMIUM:
                    if not cid:
                        raise field_error(path + ["custom_id"], "BASE_TYPE_REQUIRED",
                                          "This field is required")
                    if url is not None:
                        raise field_error(path + ["url"], "COMPONENT_BUTTON_URL_NOT_ALLOWED",
                                          "A url can only be used with link buttons")
                    if not comp.get("label") and not comp.get("emoji"):
                        raise field_error(path + ["label"], "BASE_TYPE_REQUIRED",
                                          "This field is required")
                if cid is not None:
                    if cid in seen:
                        raise field_error(path + ["custom_id"], "COMPONENT_CUSTOM_ID_DUPLICATED",
                                          "Component custom id cannot be duplicated")
                    seen[cid] = path
        if not editing:
            has = (content or embeds or components or body.get("sticker_ids")
                   or body.get("poll") or body.get("attachments"))
            if not has:
                raise DiscordError(400, 50006, "Cannot send an empty message")

    def new_message(self, channel_id: str, body: dict, *, via: str, msg_type: int = 0,
                    extra: Optional[dict] = None) -> dict:
        mid = self.snowflakes.next()
        flags = int(body.get("flags") or 0)
        msg = {
            "type": msg_type, "content": body.get("content") or "",
            "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": self.build_embeds(body.get("embeds")),
            "timestamp": now_iso(), "edited_timestamp": None, "flags": flags,
            "components": self.build_components(body.get("components")),
            "id": mid, "channel_id": channel_id, "author": dict(self.bot_user),
            "pinned": False, "mention_everyone": False, "tts": bool(body.get("tts")),
        }
        if extra:
            msg.update(extra)
        rec = {"message": msg, "reactions": {},
               "meta": {"created_via": via, "created_at": time.time(), "edits": 0,
                        "nonce": body.get("nonce"), "history": []}}
        self.state.messages[mid] = rec
        self.state.order.append(mid)
        return rec

    def apply_edit(self, rec: dict, body: dict, via: str):
        """Edit semantics shared by PATCH message, UPDATE_MESSAGE and webhook edits: a
        field present replaces the stored one (null clears it); absent fields stay."""
        msg = rec["message"]
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = self.build_embeds(body["embeds"])
        if "components" in body:
            msg["components"] = self.build_components(body["components"])
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS (1<<2) may be toggled on edit; LOADING clears on edit.
            msg["flags"] = (msg["flags"] & ~(1 << 2)) | (int(body["flags"]) & (1 << 2))
        msg["flags"] &= ~MESSAGE_FLAG_LOADING
        msg["edited_timestamp"] = now_iso()
        rec["meta"]["edits"] += 1
        rec["meta"]["history"].append({
            "at": time.time(), "via": via, "content": msg["content"],
            "components": len(msg["components"]), "embeds": len(msg["embeds"])})
        if not (msg["content"] or msg["embeds"] or msg["components"]):
            raise DiscordError(400, 50006, "Cannot send an empty message")

    # -- REST operations -----------------------------------------------------------------

    def op_create_message(self, p, body, query):
        channel_id = p["channel_id"]
        self.check_channel(channel_id)
        self.check_message_body(body, editing=False)
        nonce = body.get("nonce")
        with self.state.lock:
            if nonce is not None:
                key = channel_id + "\0" + str(nonce)
                hit = self.state.nonces.get(key)
                if hit and time.time() - hit["at"] > self.nonce_ttl_s:
                    hit = None
                if hit and body.get("enforce_nonce") and hit["message_id"] in self.state.messages:
                    rec = self.state.messages[hit["message_id"]]
                    rec["meta"]["nonce_hits"] = rec["meta"].get("nonce_hits", 0) + 1
                    self.state.save()
                    view = self.message_view(rec)
                    view["nonce"] = nonce
                    return 200, view, {"nonce_hit": True}
            rec = self.new_message(channel_id, body, via="create_message")
            if nonce is not None:
                self.state.nonces[channel_id + "\0" + str(nonce)] = {
                    "message_id": rec["message"]["id"], "at": time.time()}
            self.state.save()
            view = self.message_view(rec)
        if nonce is not None:
            view["nonce"] = nonce
        self.schedule_behaviour(rec["message"]["id"])
        return 200, view, {}

    def op_get_message(self, p, body, query):
        with self.state.lock:
            return 200, self.message_view(self.get_message_rec(p["channel_id"],
                                                               p["message_id"])), {}

    def op_update_message(self, p, body, query):
        with self.state.lock:
            rec = self.get_message_rec(p["channel_id"], p["message_id"])
            self.check_message_body(body, editing=True, existing=rec["message"])
            before = copy.deepcopy(rec)
            try:
                self.apply_edit(rec, body, "update_message")
            except DiscordError:
                self.state.messages[p["message_id"]] = before
                raise
            self.state.save()
            return 200, self.message_view(rec), {}

    @staticmethod
    def emoji_key(raw: str) -> str:
        # Unicode emoji are sent URL-encoded; custom ones as name:id. A bare ASCII word
        # (":white_check_mark:", "check") is what Discord refuses as Unknown Emoji.
        if ":" in raw:
            name, _, eid = raw.partition(":")
            if name and is_snowflake(eid):
                return name + ":" + eid
            raise DiscordError(400, 10014, "Unknown Emoji")
        if not raw or all(ord(ch) < 128 for ch in raw):
            raise DiscordError(400, 10014, "Unknown Emoji")
        return raw

    def op_add_my_message_reaction(self, p, body, query):
        key = self.emoji_key(p["emoji_name"])
        with self.state.lock:
            rec = self.get_message_rec(p["channel_id"], p["message_id"])
            users = rec["reactions"].setdefault(key, [])
            if self.application_id not in users:
                users.append(self.application_id)
            self.state.save()
        return 204, None, {}

    def op_delete_my_message_reaction(self, p, body, query):
        key = self.emoji_key(p["emoji_name"])
        with self.state.lock:
            rec = self.get_message_rec(p["channel_id"], p["message_id"])
            users = rec["reactions"].get(key, [])
            if self.application_id in users:
                users.remove(self.application_id)
            self.state.save()
        return 204, None, {}

    def op_list_message_reactions_by_emoji(self, p, body, query):
        key = self.emoji_key(p["emoji_name"])
        after = query.get("after")
        if after is not None and not is_snowflake(after):
            raise field_error(["after"], "NUMBER_TYPE_COERCE",
                              "Value \"%s\" is not snowflake." % after[:50])
        limit = 25
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                raise field_error(["limit"], "NUMBER_TYPE_COERCE",
                                  "Value \"%s\" is not int." % query["limit"][:50])
            if limit < 1 or limit > 100:
                raise field_error(["limit"], "NUMBER_TYPE_MAX" if limit > 100 else "NUMBER_TYPE_MIN",
                                  "int value should be %s." % (
                                      "less than or equal to 100" if limit > 100
                                      else "greater than or equal to 1"))
        with self.state.lock:
            rec = self.get_message_rec(p["channel_id"], p["message_id"])
            ids = sorted(rec["reactions"].get(key, []), key=int)
            if after is not None:
                ids = [i for i in ids if int(i) > int(after)]
            users = [self.user_object(i) for i in ids[:limit]]
        return 200, users, {}

    def _interaction_by_url(self, interaction_id: str, token: str) -> dict:
        rec = self.state.interactions.get(interaction_id)
        if rec is None or not secrets.compare_digest(rec["token"], token):
            raise DiscordError(404, 10062, "Unknown interaction")
        return rec

    def op_create_interaction_response(self, p, body, query):
        with self.state.lock:
            rec = self._interaction_by_url(p["interaction_id"], p["interaction_token"])
            late = time.time() - rec["sent_at"] > self.interaction_timeout_s
            if rec.get("ack_type") is None and late:
                raise DiscordError(404, 10062, "Unknown interaction")
            if rec.get("ack_type") is not None:
                raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
            outcome = self.apply_interaction_response(rec, body, via="callback")
            self.state.save()
            if query.get("with_response") in ("true", "True", "1"):
                resp = {"interaction": {"id": rec["id"], "type": rec["type"]}}
                target = self._ack_target(rec)
                if target is not None and rec["ack_type"] in (CALLBACK_CHANNEL_MESSAGE,
                                                              CALLBACK_UPDATE_MESSAGE):
                    resp["interaction"]["response_message_id"] = target["message"]["id"]
                    resp["resource"] = {"type": rec["ack_type"],
                                        "message": self.message_view(target)}
                return 200, resp, {"outcome": outcome}
        return 204, None, {"outcome": outcome}

    def _webhook_interaction(self, p) -> dict:
        if p["webhook_id"] != self.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        iid = self.state.tokens.get(p["webhook_token"])
        rec = self.state.interactions.get(iid) if iid else None
        if rec is None or time.time() - rec["sent_at"] > INTERACTION_TOKEN_TTL_S:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if rec.get("ack_type") is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return rec

    def _ack_target(self, rec: dict) -> Optional[dict]:
        """The message an interaction's @original refers to."""
        if rec.get("ack_type") in (CALLBACK_DEFERRED_UPDATE_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            return self.state.messages.get(rec.get("message_id"))
        if rec.get("response_message_id"):
            return self.state.messages.get(rec["response_message_id"])
        return None

    def op_get_original_webhook_message(self, p, body, query):
        with self.state.lock:
            rec = self._webhook_interaction(p)
            target = self._ack_target(rec)
            if target is None:
                if rec.get("ephemeral_replies"):
                    return 200, rec["ephemeral_replies"][-1]["message"], {}
                raise DiscordError(404, 10008, "Unknown Message")
            return 200, self.message_view(target), {}

    def op_update_original_webhook_message(self, p, body, query):
        with self.state.lock:
            rec = self._webhook_interaction(p)
            target = self._ack_target(rec)
            if target is None:
                if not rec.get("ephemeral_replies"):
                    raise DiscordError(404, 10008, "Unknown Message")
                eph = rec["ephemeral_replies"][-1]
                self.apply_edit({"message": eph["message"], "meta": eph["meta"]}, body,
                                "webhook_edit")
                self.state.save()
                return 200, eph["message"], {}
            self.check_message_body(body, editing=True, existing=target["message"])
            self.apply_edit(target, body, "webhook_edit")
            rec.setdefault("original_edits", 0)
            rec["original_edits"] += 1
            self.state.save()
            return 200, self.message_view(target), {}

    # -- interactions --------------------------------------------------------------------

    def apply_interaction_response(self, rec: dict, body: Any, via: str) -> str:
        """What Discord does with an app's initial response. Caller holds the lock and has
        checked it is the first. Returns an outcome name; raises DiscordError if invalid."""
        if not isinstance(body, dict):
            raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT",
                                             "message": "Only dictionaries may be used"}]})
        errs = self.schemas.validate_request("create_interaction_response", body)
        if errs:
            raise invalid_form(discord_schema.discord_field_errors(errs))
        rtype = body.get("type")
        data = body.get("data") or {}
        if rec["type"] == INTERACTION_PING:
            if rtype != CALLBACK_PONG:
                raise field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID",
                                  "A PING must be answered with PONG (type 1).")
            rec["ack_type"], rec["ack_via"] = rtype, via
            return "pong"
        if rtype == CALLBACK_PONG:
            raise field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID",
                              "PONG answers only a PING.")
        msg_rec = self.state.messages.get(rec.get("message_id"))
        if rtype == CALLBACK_UPDATE_MESSAGE:
            if msg_rec is None:
                raise DiscordError(404, 10008, "Unknown Message")
            self.check_message_body(data, editing=True, existing=msg_rec["message"])
            before = copy.deepcopy(msg_rec)
            try:
                if data:
                    self.apply_edit(msg_rec, data, "interaction_update")
            except DiscordError:
                self.state.messages[msg_rec["message"]["id"]] = before
                raise
            outcome = "updated_message"
        elif rtype == CALLBACK_DEFERRED_UPDATE_MESSAGE:
            outcome = "deferred_update"
        elif rtype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0)
            deferred = rtype == CALLBACK_DEFERRED_CHANNEL_MESSAGE
            if not deferred:
                self.check_message_body(data, editing=False)
            if flags & MESSAGE_FLAG_EPHEMERAL:
                eph = {
                    "type": 19, "content": data.get("content") or "",
                    "embeds": self.build_embeds(data.get("embeds")),
                    "components": self.build_components(data.get("components")),
                    "flags": MESSAGE_FLAG_EPHEMERAL | (MESSAGE_FLAG_LOADING if deferred else 0),
                    "id": self.snowflakes.next(), "channel_id": rec["channel_id"],
                    "author": dict(self.bot_user), "timestamp": now_iso(),
                    "edited_timestamp": None, "mentions": [], "mention_roles": [],
                    "attachments": [], "pinned": False, "mention_everyone": False,
                    "tts": False, "application_id": self.application_id,
                    "webhook_id": self.application_id,
                }
                rec.setdefault("ephemeral_replies", []).append(
                    {"message": eph, "meta": {"edits": 0, "history": []},
                     "to_user_id": rec["user_id"]})
                outcome = "deferred_ephemeral" if deferred else "ephemeral_reply"
            else:
                extra = {"application_id": self.application_id,
                         "webhook_id": self.application_id,
                         "message_reference": {"type": 0, "channel_id": rec["channel_id"],
                                               "message_id": rec.get("message_id"),
                                               "guild_id": self.guild_id}}
                if deferred:
                    data = dict(data, flags=MESSAGE_FLAG_LOADING)
                new = self.new_message(rec["channel_id"], data, via="interaction_response",
                                       msg_type=19, extra=extra)
                rec["response_message_id"] = new["message"]["id"]
                outcome = "deferred_channel_message" if deferred else "channel_message"
        elif rtype == CALLBACK_MODAL:
            outcome = "modal"
        else:
            raise field_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID",
                              "Interaction response type %s is not valid here." % rtype)
        rec["ack_type"], rec["ack_via"], rec["ack_at"] = rtype, via, time.time()
        rec["response"] = body
        return outcome

    def new_interaction(self, itype: int, *, message_rec: Optional[dict] = None,
                        custom_id: Optional[str] = None, component_id: Optional[int] = None,
                        user_id: Optional[str] = None, username: Optional[str] = None,
                        dm: bool = False) -> Tuple[dict, dict]:
        iid = self.snowflakes.next()
        token = "aW50ZXJhY3Rpb246" + iid + ":" + secrets.token_urlsafe(48)
        payload: Dict[str, Any] = {
            "application_id": self.application_id, "entitlements": [], "id": iid,
            "token": token, "type": itype, "version": 1,
        }
        rec = {"id": iid, "token": token, "type": itype, "sent_at": time.time(),
               "deliveries": [], "ack_type": None, "message_id": None, "channel_id": None,
               "user_id": user_id}
        if itype == INTERACTION_MESSAGE_COMPONENT:
            msg = message_rec["message"]
            channel_id = msg["channel_id"]
            user = self.user_object(user_id, username)
            payload.update({
                "app_permissions": "2248473465835073",
                "attachment_size_limit": 10485760,
                "channel": {"id": channel_id, "type": 1 if dm else 0, "flags": 0,
                            **({} if dm else {"guild_id": self.guild_id,
                                              "name": "assent-approvals",
                                              "nsfw": False, "parent_id": None,
                                              "position": 0, "rate_limit_per_user": 0,
                                              "topic": None,
                                              "permissions": "2248473465835073"})},
                "channel_id": channel_id,
                "data": {"component_type": COMPONENT_BUTTON, "custom_id": custom_id,
                         **({"id": component_id} if component_id is not None else {})},
                "locale": "en-US",
                "message": self.message_view(message_rec),
            })
            if dm:
                payload.update({"user": user, "context": 1,
                                "authorizing_integration_owners": {"0": self.application_id}})
            else:
                payload.update({
                    "guild": {"id": self.guild_id, "locale": "en-US", "features": []},
                    "guild_id": self.guild_id, "guild_locale": "en-US", "context": 0,
                    "authorizing_integration_owners": {"0": self.guild_id},
                    "member": {
                        "user": user, "roles": [], "premium_since": None,
                        "permissions": "2248473465835073", "pending": False, "nick": None,
                        "mute": False, "joined_at": "2024-01-01T00:00:00.000000+00:00",
                        "flags": 0, "deaf": False, "communication_disabled_until": None,
                        "banner": None, "avatar": None,
                    },
                })
            rec.update({"message_id": msg["id"], "channel_id": channel_id,
                        "custom_id": custom_id})
        errs = self.schemas.validate_interaction(payload)
        rec["payload_errors"] = discord_schema.flat_error_list(errs)
        if errs:
            log_err("MOCK BUG: interaction payload fails its schema:", rec["payload_errors"])
        with self.state.lock:
            self.state.interactions[iid] = rec
            self.state.tokens[token] = iid
            self.state.save()
        return payload, rec

    def sign(self, timestamp: str, body: bytes) -> str:
        return self.signing_key.sign(timestamp.encode() + body).signature.hex()

    def deliver(self, payload: dict, rec: dict, *, url: Optional[str] = None,
                timestamp_skew_s: float = 0, bad_signature: bool = False,
                no_signature: bool = False, tamper_body: bool = False,
                duplicate: bool = False, timeout_s: Optional[float] = None) -> List[dict]:
        """POSTs the signed interaction to the app, as Discord does, and applies the
        app's answer(s). Returns one delivery record per POST."""
        url = url or self.interactions_url
        if not url:
            raise ControlError(409, "no interactions_url configured "
                                    "(--interactions-url or POST /_mock/config)")
        body = compact(payload)
        timestamp = str(int(time.time() + float(timestamp_skew_s)))
        signature = self.sign(timestamp, body)
        if bad_signature:
            sig = bytearray(bytes.fromhex(signature))
            sig[0] ^= 0x01
            signature = bytes(sig).hex()
        if tamper_body:
            # Signed as sent by Discord, then altered in flight: the clicker is swapped.
            altered = copy.deepcopy(payload)
            holder = altered.get("member", altered)
            if isinstance(holder.get("user"), dict):
                holder["user"]["id"] = UNLISTED_USER_ID
            else:
                altered["id"] = self.snowflakes.next()
            body = compact(altered)
        headers = {"Content-Type": "application/json", "User-Agent": DISCORD_INTERACTIONS_UA}
        if not no_signature:
            headers["X-Signature-Ed25519"] = signature
            headers["X-Signature-Timestamp"] = timestamp
        out = []
        for attempt in range(2 if duplicate else 1):
            d = self._post(url, body, headers, timeout_s or self.interaction_timeout_s)
            d["attempt"] = attempt + 1
            d["timestamp"] = timestamp
            d["signed"] = not no_signature
            self._settle_delivery(rec, d)
            out.append(d)
        return out

    @staticmethod
    def _post(url: str, body: bytes, headers: dict, timeout_s: float) -> dict:
        parts = urllib.parse.urlsplit(url)
        conn_cls = (http.client.HTTPSConnection if parts.scheme == "https"
                    else http.client.HTTPConnection)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        started = time.monotonic()
        d: Dict[str, Any] = {"status": None, "body": None, "error": None}
        try:
            conn = conn_cls(parts.hostname, parts.port, timeout=timeout_s)
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                d["status"] = resp.status
                d["content_type"] = resp.getheader("Content-Type")
                try:
                    d["body"] = json.loads(raw) if raw else None
                except ValueError:
                    d["body"] = raw.decode("utf-8", "replace")[:2000]
            finally:
                conn.close()
        except socket.timeout:
            d["error"] = "timeout"
        except (OSError, http.client.HTTPException) as e:
            d["error"] = "connection_error: %s" % e.__class__.__name__
        d["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        return d

    def _settle_delivery(self, rec: dict, d: dict):
        """Applies the app's HTTP answer to an interaction, as Discord would."""
        with self.state.lock:
            d["applied"] = False
            if d["error"]:
                d["outcome"] = d["error"].split(":")[0]
            elif not 200 <= d["status"] < 300:
                d["outcome"] = "http_error"
            elif d["body"] is None:
                # No body: the app may have used the callback endpoint instead.
                d["outcome"] = "no_body"
            elif rec.get("ack_type") is not None:
                d["outcome"] = "already_acknowledged"
                d["discord_error"] = {"code": 40060,
                                      "message": "Interaction has already been acknowledged."}
            elif d.get("elapsed_ms", 0) > self.interaction_timeout_s * 1000:
                d["outcome"] = "timeout"
            else:
                try:
                    d["outcome"] = self.apply_interaction_response(rec, d["body"], via="http")
                    d["applied"] = True
                except DiscordError as e:
                    d["outcome"] = "invalid_response"
                    d["discord_error"] = e.body()
            rec["deliveries"].append({k: v for k, v in d.items()})
            self.state.save()

    # -- control helpers -----------------------------------------------------------------

    def find_button(self, rec: dict, custom_id: Optional[str], button: Optional[str]):
        buttons = [(path, c) for path, c in iter_components(rec["message"]["components"], [])
                   if c.get("type") == COMPONENT_BUTTON and c.get("custom_id")]
        if custom_id is not None:
            for _, c in buttons:
                if c["custom_id"] == custom_id:
                    return c
            return None
        word = (button or "").strip().lower()
        if not word:
            return None
        tests = [
            lambda c: (c.get("label") or "").lower() == word,
            lambda c: c["custom_id"].lower() == word,
            lambda c: (c.get("label") or "").lower().startswith(word),
            lambda c: c["custom_id"].lower().startswith(word),
            lambda c: word in re.split(r"[:_\-./|#]", c["custom_id"].lower()),
            lambda c: word in (c.get("label") or "").lower(),
        ]
        for t in tests:
            for _, c in buttons:
                if t(c):
                    return c
        return None

    def click(self, req: dict) -> dict:
        message_id = str(req.get("message_id") or "")
        with self.state.lock:
            rec = self.state.messages.get(message_id)
            if rec is None:
                raise ControlError(404, "unknown message_id %r" % message_id)
            custom_id = req.get("custom_id")
            comp = self.find_button(rec, custom_id, req.get("button"))
            if comp is None:
                if custom_id and req.get("force"):
                    comp = {"custom_id": custom_id, "id": None}
                else:
                    raise ControlError(409, "message has no button matching %r" % (
                        custom_id or req.get("button")), components=rec["message"]["components"])
            if comp.get("disabled") and not req.get("force"):
                raise ControlError(409, "button %r is disabled" % comp["custom_id"])
            user_id = str(req.get("user_id") or DEFAULT_CLICK_USER_ID)
            if not is_snowflake(user_id):
                raise ControlError(400, "user_id must be a snowflake string")
            payload, irec = self.new_interaction(
                INTERACTION_MESSAGE_COMPONENT, message_rec=rec, custom_id=comp["custom_id"],
                component_id=comp.get("id"), user_id=user_id, username=req.get("username"),
                dm=bool(req.get("dm")))
        deliveries = self.deliver(
            payload, irec, url=req.get("url"),
            timestamp_skew_s=req.get("timestamp_skew_s") or 0,
            bad_signature=bool(req.get("bad_signature")),
            no_signature=bool(req.get("no_signature")),
            tamper_body=bool(req.get("tamper_body")),
            duplicate=bool(req.get("duplicate")),
            timeout_s=req.get("timeout_s"))
        with self.state.lock:
            return {"interaction": payload, "interaction_id": irec["id"],
                    "deliveries": deliveries,
                    "ack_type": irec.get("ack_type"),
                    "ephemeral_replies": [e["message"] for e in irec.get("ephemeral_replies", [])],
                    "message": self.control_view(self.state.messages[message_id])}

    def ping(self, req: dict) -> dict:
        url = req.get("url") or self.interactions_url
        payload, rec = self.new_interaction(INTERACTION_PING)
        deliveries = self.deliver(payload, rec, url=url,
                                  timestamp_skew_s=req.get("timestamp_skew_s") or 0,
                                  bad_signature=bool(req.get("bad_signature")),
                                  no_signature=bool(req.get("no_signature")))
        d = deliveries[0]
        pong = d["status"] == 200 and d["body"] == {"type": 1}
        out = {"interaction": payload, "deliveries": deliveries, "pong": pong}
        if req.get("verify"):
            # Discord's endpoint check when the URL is saved in the developer portal: a
            # valid PING must get PONG and a PING with a bad signature must get 401.
            bad_payload, bad_rec = self.new_interaction(INTERACTION_PING)
            bad = self.deliver(bad_payload, bad_rec, url=url, bad_signature=True)[0]
            out["verification"] = {"valid_ping_pong": pong,
                                   "bad_signature_rejected": bad["status"] == 401,
                                   "bad_signature_delivery": bad}
            out["verified"] = pong and bad["status"] == 401
        return out

    def react(self, req: dict) -> dict:
        message_id = str(req.get("message_id") or "")
        user_id = str(req.get("user_id") or DEFAULT_CLICK_USER_ID)
        if not is_snowflake(user_id):
            raise ControlError(400, "user_id must be a snowflake string")
        emoji = req.get("emoji") or ""
        try:
            key = self.emoji_key(emoji)
        except DiscordError:
            raise ControlError(400, "emoji must be a unicode emoji or name:id")
        with self.state.lock:
            rec = self.state.messages.get(message_id)
            if rec is None:
                raise ControlError(404, "unknown message_id %r" % message_id)
            self.user_object(user_id, req.get("username"))
            users = rec["reactions"].setdefault(key, [])
            if req.get("remove"):
                if user_id in users:
                    users.remove(user_id)
            elif user_id not in users:
                users.append(user_id)
            self.state.save()
            return {"message": self.control_view(rec)}

    def schedule_behaviour(self, message_id: str):
        with self.state.lock:
            b = self.state.behaviour
            if not b or b.get("auto", "none") == "none":
                return
            auto = b.get("auto")
            button = b.get("button") or ("deny" if auto == "deny" else "approve")
            rec = self.state.messages.get(message_id)
            if (b.get("via", "click") == "click" and rec is not None
                    and self.find_button(rec, None, button) is None):
                return  # a notice without buttons (e.g. "timed out") is not answered
            if b.get("count") is not None:
                if b["count"] <= 0:
                    return
                b["count"] -= 1
            rule = dict(b)
            t = threading.Timer(max(0, float(rule.get("after_ms", 0))) / 1000.0,
                                self._auto_act, args=(message_id, rule))
            t.daemon = True
            self.state.timers.append(t)
        t.start()

    def _auto_act(self, message_id: str, rule: dict):
        auto = rule.get("auto")
        button = rule.get("button") or ("deny" if auto == "deny" else "approve")
        if auto == "unlisted_click":
            users = [rule.get("user_id") or UNLISTED_USER_ID]
        else:
            users = rule.get("user_ids") or [rule.get("user_id") or DEFAULT_CLICK_USER_ID]
        for i, uid in enumerate(users):
            if i and rule.get("interval_ms"):
                time.sleep(float(rule["interval_ms"]) / 1000.0)
            action = {"message_id": message_id, "rule": rule, "user_id": uid, "at": time.time()}
            try:
                if rule.get("via") == "react":
                    emoji = rule.get("emoji") or ("\u274c" if button == "deny" else "\u2705")
                    self.react({"message_id": message_id, "emoji": emoji, "user_id": uid,
                                "username": rule.get("username")})
                    action["result"] = "reacted"
                else:
                    res = self.click({"message_id": message_id, "button": button,
                                      "user_id": uid, "username": rule.get("username")})
                    action["result"] = "clicked"
                    action["interaction_id"] = res["interaction_id"]
                    action["outcomes"] = [d["outcome"] for d in res["deliveries"]]
            except ControlError as e:
                action["result"] = "error"
                action["error"] = e.message
            with self.state.lock:
                self.state.auto_actions.append(action)

    # -- fault injection -----------------------------------------------------------------

    FAULT_KINDS = ("429", "500", "502", "503", "latency", "drop", "burst")

    def add_faults(self, rules: List[dict], replace: bool) -> List[dict]:
        clean = []
        for r in rules:
            if not isinstance(r, dict):
                raise ControlError(400, "each rule must be an object")
            kind = str(r.get("kind", ""))
            route = r.get("route", "*")
            if kind not in self.FAULT_KINDS:
                raise ControlError(400, "kind must be one of %s" % (self.FAULT_KINDS,))
            if route != "*" and route not in OPERATIONS:
                raise ControlError(400, "route must be '*' or one of %s" % sorted(OPERATIONS))
            if kind == "burst":
                self.limiter.exhaust(route, r.get("retry_after_s"))
                continue
            rule = {"route": route, "kind": kind, "count": int(r.get("count", 1)),
                    "retry_after_s": float(r.get("retry_after_s", 1.0)),
                    "global": bool(r.get("global", False)),
                    "scope": r.get("scope") or ("global" if r.get("global") else "user"),
                    "latency_ms": int(r.get("latency_ms", 0)),
                    "commit": bool(r.get("commit", False)), "fired": 0}
            clean.append(rule)
        with self.state.lock:
            if replace:
                self.state.faults = []
            self.state.faults.extend(clean)
            return copy.deepcopy(self.state.faults)

    def take_faults(self, op: str) -> Tuple[Optional[dict], Optional[dict]]:
        """(latency rule, failure rule) that apply to this request; counts are consumed."""
        latency = failure = None
        with self.state.lock:
            for r in self.state.faults:
                if r["route"] not in ("*", op) or r["count"] == 0:
                    continue
                if r["kind"] == "latency":
                    if latency is None:
                        latency = r
                elif failure is None:
                    failure = r
            for r in (latency, failure):
                if r is not None:
                    r["fired"] += 1
                    if r["count"] > 0:
                        r["count"] -= 1
        return latency, failure

    # -- request log ---------------------------------------------------------------------

    def log_request(self, entry: dict):
        with self.state.lock:
            self.state.request_seq += 1
            entry["seq"] = self.state.request_seq
            self.state.requests.append(entry)
            if len(self.state.requests) > REQUEST_LOG_MAX:
                del self.state.requests[: len(self.state.requests) - REQUEST_LOG_MAX]


def iter_components(components, base):
    """Yields (path, component) depth-first through rows, containers and sections."""
    for i, c in enumerate(components or []):
        if not isinstance(c, dict):
            continue
        path = base + [i]
        yield path, c
        yield from iter_components(c.get("components"), path + ["components"])
        if isinstance(c.get("accessory"), dict):
            yield path + ["accessory"], c["accessory"]


# ---- HTTP handler ----------------------------------------------------------------------

class DropConnection(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-discord"
    sys_version = ""
    timeout = CONNECTION_IDLE_TIMEOUT_S
    server: MockDiscord

    def log_message(self, fmt, *args):
        # http.server's own access log is off: it would print paths with interaction
        # tokens. Verbose mode logs method, route and status only (never headers).
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > BODY_MAX_BYTES:
                    raise DiscordError(413, 40005, "Request entity too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_MAX_BYTES:
            self.close_connection = True
            raise DiscordError(413, 40005, "Request entity too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: Any = None, headers: Optional[dict] = None,
              content_type: str = "application/json"):
        if isinstance(body, (bytes, bytearray)):
            raw = bytes(body)
        elif body is None:
            raw = b""
        else:
            raw = compact(body)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw or status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if raw and self.command != "HEAD":
            self.wfile.write(raw)

    def _drop(self):
        """Closes the connection without an answer, as a lost response looks."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, method: str):
        parts = urllib.parse.urlsplit(self.path)
        # Decoded once: unicode emoji arrive percent-encoded; no parameter holds a '/'.
        path = urllib.parse.unquote(parts.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
        try:
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                self._api(method, path[len(API_PREFIX):], query)
            elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                self._control(method, path[len(CONTROL_PREFIX):], query)
            else:
                self._read_body()
                self._send(404, {"message": "404: Not Found", "code": 0})
        except DropConnection:
            self._drop()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- Discord REST --------------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict):
        srv = self.server
        started = time.monotonic()
        entry: Dict[str, Any] = {
            "time": time.time(), "method": method, "path": API_PREFIX + path,
            "query": query, "operation": None, "status": None, "auth": "n/a",
            "user_agent": self.headers.get("User-Agent"), "fault": None, "body": None,
        }
        rl_headers: Dict[str, str] = {}
        status, resp_body, extra_headers = 500, None, {}
        try:
            try:
                raw = self._read_body()
                if raw:
                    # Logged before any fault is injected, so a refused call still shows
                    # what was sent (tests count attempts by their body).
                    try:
                        entry["body"] = json.loads(raw)
                    except ValueError:
                        pass
                op, auth_kind, params = srv.match_route(method, path)
                entry["operation"] = op
                major = next((params[k] for k in MAJOR_PARAMS if k in params), "")
                if op == "update_original_webhook_message" or op == "get_original_webhook_message":
                    major = params["webhook_id"] + "/" + params["webhook_token"][:8]
                _, rl_headers, _ = srv.limiter.take(op, major, consume=False)

                latency, fault = srv.take_faults(op)
                if latency is not None:
                    entry["fault"] = "latency"
                    time.sleep(latency["latency_ms"] / 1000.0)
                if fault is not None:
                    entry["fault"] = fault["kind"]
                    if not fault["commit"]:
                        self._fault(fault, rl_headers)  # raises

                if auth_kind == "bot":
                    entry["auth"] = self._check_bot_auth(entry)

                body = None
                if raw:
                    ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                    if ctype.lower() != "application/json":
                        raise invalid_form({"_errors": [{
                            "code": "CONTENT_TYPE_INVALID",
                            "message": "Expected \"Content-Type\" header to be one of "
                                       "{'application/json'}."}]})
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise DiscordError(400, 50109, "The request body contains invalid JSON.")
                    entry["body"] = body

                allowed, rl_headers, retry_after = srv.limiter.take(op, major, consume=True)
                if not allowed:
                    raise self._ratelimited(retry_after, False, "user", rl_headers)

                for name, value in params.items():
                    errs = srv.schemas.validate_param(op, name, value)
                    if errs:
                        raise invalid_form(discord_schema.discord_field_errors(
                            [_reroot(e, name) for e in errs]))
                if srv.schemas.request_schema(op) is not None:
                    if body is None:
                        raise DiscordError(400, 50109,
                                           "The request body contains invalid JSON.")
                    errs = srv.schemas.validate_request(op, body)
                    if errs:
                        entry["errors"] = discord_schema.flat_error_list(errs)
                        raise invalid_form(discord_schema.discord_field_errors(errs))

                status, resp_body, info = getattr(srv, "op_" + op)(params, body, query)
                entry.update(info)
                if fault is not None and fault["commit"]:
                    # The request took effect but its answer is lost or replaced.
                    self._fault(fault, rl_headers)
            except DiscordError as e:
                status, resp_body = e.status, e.body()
                extra_headers = e.headers
                if e.errors is not None and "errors" not in entry:
                    entry["errors"] = e.errors
        except DropConnection:
            entry["status"] = None
            entry["dropped"] = True
            entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            srv.log_request(entry)
            raise
        except Exception as e:  # a bug in the mock: answer like Discord's 500, say so
            log_err("internal error:", repr(e))
            import traceback
            traceback.print_exc()
            status, resp_body = 500, {"message": "500: Internal Server Error", "code": 0}
            entry["internal_error"] = repr(e)

        entry["status"] = status
        entry["response_valid"], entry["response_errors"] = self._check_response(
            entry.get("operation"), status, resp_body)
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        headers = dict(rl_headers)
        headers.update(extra_headers)
        srv.log_request(entry)
        if srv.verbose:
            log_err(method, entry.get("operation") or path, status)
        if isinstance(resp_body, (bytes, bytearray)):
            self._send(status, resp_body, headers, content_type="text/html")
        else:
            self._send(status, resp_body, headers)

    def _check_bot_auth(self, entry: dict) -> str:
        """`Authorization: Bot <token>`; the header's value is never logged."""
        auth = self.headers.get("Authorization")
        if not auth:
            entry["auth"] = "missing"
            raise DiscordError(401, 0, "401: Unauthorized")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bot":
            entry["auth"] = "wrong_scheme"
            raise DiscordError(401, 0, "401: Unauthorized")
        if not secrets.compare_digest(token.encode(), self.server.bot_token.encode()):
            entry["auth"] = "bad_token"
            raise DiscordError(401, 0, "401: Unauthorized")
        return "ok"

    @staticmethod
    def _ratelimited(retry_after: float, is_global: bool, scope: str,
                     rl_headers: dict) -> DiscordError:
        body = {"message": "You are being rate limited.",
                "retry_after": round(max(retry_after, 0.001), 3), "global": is_global,
                "code": 0}
        headers = {"Retry-After": str(max(1, int(-(-retry_after // 1)))),
                   "X-RateLimit-Scope": scope}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset-After"] = "%.3f" % retry_after
            headers["X-RateLimit-Reset"] = "%.3f" % (time.time() + retry_after)
        return DiscordError(429, 0, "You are being rate limited.", headers=headers,
                            raw_body=body)

    def _fault(self, fault: dict, rl_headers: dict):
        kind = fault["kind"]
        if kind == "429":
            raise self._ratelimited(fault["retry_after_s"], fault["global"], fault["scope"],
                                    rl_headers)
        if kind == "500":
            raise DiscordError(500, 0, "500: Internal Server Error")
        if kind in ("502", "503"):
            # Discord's edge answers these with an HTML page, not JSON.
            html = ("<html><head><title>%s</title></head><body><center><h1>%s</h1>"
                    "</center><hr><center>cloudflare</center></body></html>") % (
                        kind + " Bad Gateway" if kind == "502" else kind + " Service Unavailable",
                        kind)
            raise DiscordError(int(kind), 0, "", raw_body=html.encode())
        if kind == "drop":
            raise DropConnection()

    def _check_response(self, op: Optional[str], status: int, body: Any):
        """Validates what the mock sends against the OpenAPI document."""
        if op is None or body is None or isinstance(body, (bytes, bytearray)):
            return None, []
        schemas = self.server.schemas
        try:
            if status == 429:
                errs = schemas.validate_named("RatelimitedResponse", body)
            elif status >= 400:
                # Discord's field errors use string codes; the document says integer.
                # Check the envelope only (see README: known deviation of the document).
                errs = schemas.validate_named("Error", body)
            else:
                errs = schemas.validate_response(op, status, body)
        except KeyError:
            return None, []
        flat = discord_schema.flat_error_list(errs)
        if flat:
            log_err("MOCK BUG: %s %d response fails its schema: %s" % (op, status, flat[:3]))
        return not flat, flat

    # -- control API ---------------------------------------------------------------------

    def _control(self, method: str, path: str, query: dict):
        try:
            raw = self._read_body()
            try:
                req = json.loads(raw) if raw else {}
            except ValueError:
                raise ControlError(400, "body is not JSON")
            if not isinstance(req, dict):
                raise ControlError(400, "body must be a JSON object")
            out = self._control_route(method, path.rstrip("/") or "/", query, req)
            self._send(200, out)
        except ControlError as e:
            self._send(e.status, dict({"error": e.message}, **e.extra))
        except DiscordError as e:
            self._send(e.status, {"error": e.message, "discord_error": e.body()})
        except Exception as e:
            log_err("control error:", repr(e))
            import traceback
            traceback.print_exc()
            self._send(500, {"error": repr(e)})

    def _control_route(self, method: str, path: str, query: dict, req: dict):
        srv, st = self.server, self.server.state
        if path in ("/", "/health") and method == "GET":
            return {"ok": True}
        if path == "/info" and method == "GET":
            return dict(srv.info(), interactions_url=srv.interactions_url,
                        guild_id=srv.guild_id,
                        rate_limit=dict(srv.limiter.default, overrides=srv.limiter.overrides),
                        interaction_timeout_s=srv.interaction_timeout_s,
                        nonce_ttl_s=srv.nonce_ttl_s,
                        channels=sorted(srv.channels) if srv.channels is not None else None,
                        behaviour=st.behaviour,
                        operations={op: list(srv.schemas.operation(op)) for op in OPERATIONS})
        if path == "/messages" and method == "GET":
            with st.lock:
                msgs = [srv.control_view(st.messages[m]) for m in st.order if m in st.messages]
            if "channel_id" in query:
                msgs = [m for m in msgs if m["channel_id"] == query["channel_id"]]
            return {"messages": msgs}
        m = re.fullmatch(r"/messages/(\d+)", path)
        if m and method == "GET":
            with st.lock:
                rec = st.messages.get(m.group(1))
                if rec is None:
                    raise ControlError(404, "unknown message")
                return srv.control_view(rec)
        if path == "/click" and method == "POST":
            return srv.click(req)
        if path == "/react" and method == "POST":
            return srv.react(req)
        if path == "/ping" and method == "POST":
            return srv.ping(req)
        if path == "/config" and method == "POST":
            return self._config(req)
        if path == "/behaviour" and method == "POST":
            return self._config({"behaviour": req})
        if path == "/faults" and method == "POST":
            return {"rules": srv.add_faults(req.get("rules") or [], bool(req.get("replace")))}
        if path == "/faults" and method == "GET":
            with st.lock:
                return {"rules": copy.deepcopy(st.faults)}
        if path == "/faults" and method == "DELETE":
            with st.lock:
                st.faults = []
            return {"rules": []}
        if path == "/requests" and method == "GET":
            since = int(query.get("since", 0))
            with st.lock:
                reqs = [copy.deepcopy(r) for r in st.requests if r["seq"] > since]
            if "operation" in query:
                reqs = [r for r in reqs if r["operation"] == query["operation"]]
            return {"requests": reqs}
        if path == "/interactions" and method == "GET":
            with st.lock:
                return {"interactions": [copy.deepcopy(r) for r in st.interactions.values()],
                        "auto_actions": copy.deepcopy(st.auto_actions)}
        m = re.fullmatch(r"/interactions/(\d+)", path)
        if m and method == "GET":
            with st.lock:
                rec = st.interactions.get(m.group(1))
                if rec is None:
                    raise ControlError(404, "unknown interaction")
                return copy.deepcopy(rec)
        if path == "/reset" and method == "POST":
            st.clear()
            srv.limiter.reset(srv.args.rate_limit, srv.args.rate_window)
            srv.channels = None
            srv.interaction_timeout_s = INTERACTION_RESPONSE_DEADLINE_S
            srv.nonce_ttl_s = DEFAULT_NONCE_TTL_S
            return {"ok": True}
        if path == "/shutdown" and method == "POST":
            threading.Thread(target=srv.shutdown, daemon=True).start()
            return {"ok": True}
        raise ControlError(404, "no control endpoint %s %s" % (method, CONTROL_PREFIX + path))

    def _config(self, req: dict) -> dict:
        srv, st = self.server, self.server.state
        known = {"interactions_url", "verify", "behaviour", "rate_limit", "rate_limits",
                 "channels", "interaction_timeout_s", "nonce_ttl_s"}
        unknown = set(req) - known
        if unknown:
            raise ControlError(400, "unknown config keys: %s" % sorted(unknown))
        result: Dict[str, Any] = {}
        if "interactions_url" in req:
            url = req["interactions_url"]
            if url is not None and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise ControlError(400, "interactions_url must be http(s)")
            if req.get("verify") and url:
                check = srv.ping({"url": url, "verify": True})
                result["verification"] = check
                if not check.get("verified"):
                    raise ControlError(400, "interactions endpoint verification failed",
                                       verification=check)
            srv.interactions_url = url
        if "behaviour" in req:
            b = req["behaviour"]
            if b is not None:
                if not isinstance(b, dict):
                    raise ControlError(400, "behaviour must be an object or null")
                if b.get("auto", "none") not in ("approve", "deny", "none", "unlisted_click"):
                    raise ControlError(400, "behaviour.auto must be approve|deny|none|"
                                            "unlisted_click")
                if b.get("via", "click") not in ("click", "react"):
                    raise ControlError(400, "behaviour.via must be click|react")
            with st.lock:
                st.behaviour = copy.deepcopy(b)
        if "rate_limit" in req:
            rl = req["rate_limit"] or {}
            srv.limiter.configure(rl.get("route", "*"), rl.get("limit", DEFAULT_RATE_LIMIT),
                                  rl.get("window_s", DEFAULT_RATE_WINDOW_S))
        for route, rl in (req.get("rate_limits") or {}).items():
            if route != "*" and route not in OPERATIONS:
                raise ControlError(400, "unknown route %r" % route)
            srv.limiter.configure(route, rl.get("limit", DEFAULT_RATE_LIMIT),
                                  rl.get("window_s", DEFAULT_RATE_WINDOW_S))
        if "channels" in req:
            srv.channels = None if req["channels"] is None else set(map(str, req["channels"]))
        if "interaction_timeout_s" in req:
            srv.interaction_timeout_s = float(req["interaction_timeout_s"])
        if "nonce_ttl_s" in req:
            srv.nonce_ttl_s = float(req["nonce_ttl_s"])
        result.update({"interactions_url": srv.interactions_url, "behaviour": st.behaviour,
                       "rate_limit": dict(srv.limiter.default,
                                          overrides=srv.limiter.overrides),
                       "channels": sorted(srv.channels) if srv.channels is not None else None,
                       "interaction_timeout_s": srv.interaction_timeout_s,
                       "nonce_ttl_s": srv.nonce_ttl_s})
        return result


def _reroot(err, name):
    """Path parameter errors are reported under the parameter's name, as Discord does."""
    err.path.appendleft(name)
    return err


# ---- main ------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--bot-token", help="bot token to accept (default: fresh random)")
    ap.add_argument("--application-id", help="application (and bot user) id")
    ap.add_argument("--guild-id", help="guild id used in interactions")
    ap.add_argument("--bot-username", default="Assent Mock Bot")
    ap.add_argument("--interactions-url", help="where signed interactions are POSTed")
    ap.add_argument("--signing-seed", help="64 hex chars: Ed25519 seed (default: fresh key)")
    ap.add_argument("--state-file", help="persist messages/nonces/identity here")
    ap.add_argument("--openapi", help="path of Discord's discord-openapi.json")
    ap.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT,
                    help="requests per window per route bucket (default %(default)s)")
    ap.add_argument("--rate-window", type=float, default=DEFAULT_RATE_WINDOW_S,
                    help="rate-limit window in seconds (default %(default)s)")
    ap.add_argument("--verbose", action="store_true", help="log method/route/status to stderr")
    args = ap.parse_args(argv)
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            ap.error("--host must be a loopback address (the mock has no authentication)")
    except ValueError:
        if args.host != "localhost":
            ap.error("--host must be a loopback address")
    if args.signing_seed is not None:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", args.signing_seed):
            ap.error("--signing-seed must be 64 hex characters")
    if args.application_id is not None and not is_snowflake(args.application_id):
        ap.error("--application-id must be a snowflake (digits)")
    if args.guild_id is not None and not is_snowflake(args.guild_id):
        ap.error("--guild-id must be a snowflake (digits)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        server = MockDiscord(args)
    except FileNotFoundError as e:
        log_err(str(e))
        return 2
    except OSError as e:
        log_err("cannot listen on %s:%s: %s" % (args.host, args.port, e))
        return 2
    sys.stdout.write(json.dumps(server.info()) + "\n")
    sys.stdout.flush()

    # Parse the OpenAPI document and build the validators after the start-up line, so
    # start-up stays fast; the first request waits for this if it comes earlier.
    threading.Thread(
        target=lambda: server.schemas.preload(
            [op for op in OPERATIONS], ["MessageResponse", "Error", "RatelimitedResponse"]),
        daemon=True, name="openapi-preload").start()

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            server.state.save()
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

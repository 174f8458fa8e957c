"""Tests of the mock Discord: its wire behaviour, its control API, and that everything it
accepts or emits matches Discord's OpenAPI document.

Run: /usr/bin/python3 -m pytest -q tools/mock-discord
The mock runs as a subprocess on port 0; readiness is its start-up line; waits poll.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from nacl.signing import SigningKey, VerifyKey
from nacl.exceptions import BadSignatureError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import discord_schema  # noqa: E402
from mockctl import MockControl, MockDiscordProcess, MockError, verify_discord_signature  # noqa: E402

SCHEMAS = discord_schema.DiscordSchemas(discord_schema.find_openapi())
CHANNEL = "1100000000000000001"
APPROVER = "1200000000000000001"
STALE_AFTER_S = 300


def approval_body(request_id="r1", **extra):
    body = {
        "content": "Agent `build-bot` asks for `DB_PASSWORD` (reason: migrate)",
        "embeds": [{"title": "Access request " + request_id, "description": "TTL 10m",
                    "fields": [{"name": "Host", "value": "devbox"}]}],
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 3, "label": "Approve", "custom_id": "assent:approve:" + request_id},
            {"type": 2, "style": 4, "label": "Deny", "custom_id": "assent:deny:" + request_id},
        ]}],
    }
    body.update(extra)
    return body


# ---- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mock():
    proc = MockDiscordProcess(application_id="1300000000000000001").start()
    try:
        yield proc
    finally:
        proc.stop()


class Receiver:
    """A tiny interactions endpoint, standing in for the daemon: verifies Discord's
    signature with PyNaCl and answers like an approver would."""

    def __init__(self, public_key_hex):
        self.verify_key = VerifyKey(bytes.fromhex(public_key_hex))
        self.received = []
        self.respond = None  # optional override: fn(payload) -> (status, body)
        self.allowlist = {APPROVER}
        receiver = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = receiver.handle(self.headers, raw)
                out = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                try:
                    self.wfile.write(out)
                except BrokenPipeError:
                    pass  # the mock gave up waiting (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/discord/interactions" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def handle(self, headers, raw):
        sig, ts = headers.get("X-Signature-Ed25519"), headers.get("X-Signature-Timestamp")
        rec = {"headers": dict(headers), "raw": raw, "signature_ok": False, "fresh": False}
        self.received.append(rec)
        if not sig or not ts:
            return 401, {"error": "missing signature"}
        try:
            self.verify_key.verify(ts.encode() + raw, bytes.fromhex(sig))
            rec["signature_ok"] = True
        except (BadSignatureError, ValueError):
            return 401, {"error": "bad signature"}
        if abs(time.time() - int(ts)) > STALE_AFTER_S:
            return 401, {"error": "stale"}
        rec["fresh"] = True
        payload = json.loads(raw)
        rec["payload"] = payload
        rec["schema_errors"] = discord_schema.flat_error_list(
            SCHEMAS.validate_interaction(payload))
        if self.respond is not None:
            status, body = self.respond(payload)
        elif payload["type"] == 1:
            status, body = 200, {"type": 1}
        else:
            user = (payload.get("member") or payload)["user"]
            if user["id"] not in self.allowlist:
                status, body = 200, {"type": 4, "data": {"content": "Not on the allowlist.",
                                                         "flags": 64}}
            else:
                verb = "Approved" if ":approve:" in payload["data"]["custom_id"] else "Denied"
                status, body = 200, {"type": 7, "data": {
                    "content": "%s by <@%s>" % (verb, user["id"]), "components": []}}
        if body is not None:
            errs = SCHEMAS.validate_request("create_interaction_response", body)
            assert not errs, "the test receiver's own answer must be valid"
        return status, body

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(mock):
    r = Receiver(mock.public_key)
    mock.config(interactions_url=r.url)
    yield r
    r.close()


@pytest.fixture(autouse=True)
def clean(mock):
    """Fresh state per test; afterwards, everything the mock emitted must be schema-valid."""
    mock.reset()
    yield
    bad = [r for r in mock.requests() if r.get("response_valid") is False]
    assert not bad, "mock sent responses its OpenAPI schema rejects: %s" % bad
    bad_i = [i for i in mock.interactions() if i.get("payload_errors")]
    assert not bad_i, "mock sent interactions that fail their schema: %s" % bad_i
    for r in mock.requests():
        assert "internal_error" not in r, r


def rest(mock, method, path, body=None, token="default", headers=None, raw=None):
    """One REST call to the mock's /api/v10; returns (status, headers, parsed body)."""
    parts = urllib.parse.urlsplit(mock.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    h = {"User-Agent": "DiscordBot (https://example.invalid/assent, 0.1)"}
    if token == "default":
        token = mock.bot_token
    if token is not None:
        h["Authorization"] = "Bot " + token
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        conn.request(method, parts.path + path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        parsed = None
        if payload:
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


def create(mock, body=None, channel=CHANNEL):
    status, headers, msg = rest(mock, "POST", "/channels/%s/messages" % channel,
                                body or approval_body())
    assert status == 200, msg
    return msg


def assert_valid(schema_name, instance):
    errs = discord_schema.flat_error_list(SCHEMAS.validate_named(schema_name, instance))
    assert not errs, errs


RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                      "x-ratelimit-reset-after", "x-ratelimit-bucket")


# ---- start-up -------------------------------------------------------------------------

def test_startup_prints_one_json_line_in_under_a_second(tmp_path):
    proc = MockDiscordProcess(bot_token="tok-startup-test")
    proc.start()
    try:
        info = proc.start_info
        print("\nmock-discord start-up (spawn to JSON line): %.0f ms" % (proc.startup_s * 1000))
        assert set(info) == {"base_url", "control_url", "public_key", "bot_token",
                             "application_id"}
        assert info["base_url"].startswith("http://127.0.0.1:")
        assert info["base_url"].endswith("/api/v10")
        assert info["control_url"].endswith("/_mock")
        assert len(bytes.fromhex(info["public_key"])) == 32
        assert info["bot_token"] == "tok-startup-test"
        assert info["application_id"].isdigit()
        assert proc.health()
        assert proc.startup_s < 2.0
    finally:
        proc.stop()


def test_signing_seed_gives_the_matching_public_key():
    seed = "11" * 32
    expected = SigningKey(bytes.fromhex(seed)).verify_key.encode().hex()
    with MockDiscordProcess(signing_seed=seed) as proc:
        assert proc.public_key == expected


def test_fresh_key_per_start_without_seed(mock):
    with MockDiscordProcess() as other:
        assert other.public_key != mock.public_key
        assert other.bot_token != mock.bot_token


def test_non_loopback_host_is_refused():
    proc = MockDiscordProcess(extra_args=("--host", "0.0.0.0"),
                              stderr=subprocess.DEVNULL)
    with pytest.raises(RuntimeError):
        proc.start()
    proc.stop()


# ---- routes and auth ------------------------------------------------------------------

def test_routes_are_discords_operation_paths(mock):
    ops = mock.info()["operations"]
    assert ops["create_message"] == ["POST", "/channels/{channel_id}/messages"]
    assert ops["update_message"] == ["PATCH", "/channels/{channel_id}/messages/{message_id}"]
    assert ops["add_my_message_reaction"] == [
        "PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"]
    assert ops["create_interaction_response"] == [
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"]
    assert ops["update_original_webhook_message"] == [
        "PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"]


@pytest.mark.parametrize("token,label", [(None, "missing"), ("wrong", "bad_token")])
def test_bad_or_missing_bot_token_is_401(mock, token, label):
    status, headers, body = rest(mock, "POST", "/channels/%s/messages" % CHANNEL,
                                 approval_body(), token=token)
    assert status == 401
    assert body == {"message": "401: Unauthorized", "code": 0}
    assert all(h in headers for h in RATE_LIMIT_HEADERS)
    assert mock.requests()[-1]["auth"] == label
    assert mock.messages() == []


def test_bearer_scheme_is_401(mock):
    status, _, _ = rest(mock, "GET", "/channels/%s/messages/1" % CHANNEL, token=None,
                        headers={"Authorization": "Bearer " + mock.bot_token})
    assert status == 401


def test_keep_alive_connection_serves_several_requests(mock):
    parts = urllib.parse.urlsplit(mock.base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    h = {"Authorization": "Bot " + mock.bot_token, "Content-Type": "application/json"}
    try:
        for _ in range(3):
            conn.request("POST", parts.path + "/channels/%s/messages" % CHANNEL,
                         body=json.dumps({"content": "x"}), headers=h)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
    finally:
        conn.close()
    assert len(mock.messages()) == 3


def test_unknown_route_404_and_wrong_method_405(mock):
    assert rest(mock, "GET", "/gateway")[0] == 404
    status, _, body = rest(mock, "DELETE", "/channels/%s/messages" % CHANNEL)
    assert status == 405 and body["code"] == 0


def test_bot_token_never_appears_in_the_request_log(mock):
    create(mock)
    rest(mock, "GET", "/channels/%s/messages/1" % CHANNEL, token="wrong-token-value")
    dump = json.dumps(mock.call("GET", "/requests"))
    assert mock.bot_token not in dump
    assert "wrong-token-value" not in dump


# ---- messages -------------------------------------------------------------------------

def test_create_get_edit_round_trip(mock):
    msg = create(mock, approval_body(nonce="n-1"))
    assert_valid("MessageResponse", msg)
    assert msg["channel_id"] == CHANNEL
    assert msg["author"]["bot"] is True and msg["author"]["id"] == mock.application_id
    assert msg["nonce"] == "n-1"
    buttons = msg["components"][0]["components"]
    assert [b["custom_id"] for b in buttons] == ["assent:approve:r1", "assent:deny:r1"]
    assert all(isinstance(c["id"], int) for c in [msg["components"][0]] + buttons)
    assert msg["embeds"][0]["type"] == "rich"
    assert msg["embeds"][0]["fields"][0]["inline"] is False

    status, _, got = rest(mock, "GET", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]))
    assert status == 200 and got["content"] == msg["content"]
    assert got["edited_timestamp"] is None

    status, _, edited = rest(mock, "PATCH", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]),
                             {"content": "Timed out", "components": []})
    assert status == 200, edited
    assert_valid("MessageResponse", edited)
    assert edited["content"] == "Timed out" and edited["components"] == []
    assert edited["embeds"] == msg["embeds"], "fields absent from an edit stay unchanged"
    assert edited["edited_timestamp"] is not None
    stored = mock.message(msg["id"])
    assert stored["_mock"]["edits"] == 1 and stored["content"] == "Timed out"


def test_message_in_another_channel_is_unknown(mock):
    msg = create(mock)
    status, _, body = rest(mock, "GET", "/channels/1999/messages/%s" % msg["id"])
    assert status == 404 and body["code"] == 10008


def test_channel_allowlist_gives_unknown_channel(mock):
    mock.config(channels=[CHANNEL])
    status, _, body = rest(mock, "POST", "/channels/1999/messages", approval_body())
    assert status == 404 and body == {"message": "Unknown Channel", "code": 10003}


@pytest.mark.parametrize("length,status", [(80, 200), (81, 400)])
def test_button_label_limit_is_80(mock, length, status):
    body = approval_body()
    body["components"][0]["components"][0]["label"] = "x" * length
    got, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, body)
    assert got == status, resp
    if status == 400:
        assert resp["code"] == 50035 and resp["message"] == "Invalid Form Body"
        err = resp["errors"]["components"]["0"]["components"]["0"]["label"]["_errors"][0]
        assert err["code"] == "BASE_TYPE_MAX_LENGTH"


def test_missing_required_field_is_50035_at_its_path(mock):
    body = approval_body()
    del body["components"][0]["components"][1]["style"]
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, body)
    assert status == 400 and resp["code"] == 50035
    err = resp["errors"]["components"]["0"]["components"]["1"]["style"]["_errors"][0]
    assert err["code"] == "BASE_TYPE_REQUIRED"
    assert_valid("Error", resp)


@pytest.mark.parametrize("length,status", [(2000, 200), (2001, 400)])
def test_content_limit_is_2000_as_documented(mock, length, status):
    got, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, {"content": "a" * length})
    assert got == status, resp


def test_button_without_custom_id_and_duplicate_custom_ids_are_refused(mock):
    body = approval_body()
    del body["components"][0]["components"][0]["custom_id"]
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, body)
    assert status == 400 and "custom_id" in resp["errors"]["components"]["0"]["components"]["0"]
    body = approval_body()
    body["components"][0]["components"][1]["custom_id"] = "assent:approve:r1"
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, body)
    assert status == 400 and resp["code"] == 50035


def test_six_action_rows_are_refused(mock):
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "c%d"}]}
    rows = [json.loads(json.dumps(row).replace("c%d", "c%d" % i)) for i in range(6)]
    assert rest(mock, "POST", "/channels/%s/messages" % CHANNEL, {"components": rows[:5]})[0] == 200
    assert rest(mock, "POST", "/channels/%s/messages" % CHANNEL, {"components": rows})[0] == 400


def test_empty_message_invalid_json_and_wrong_content_type(mock):
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, {})
    assert status == 400 and resp["code"] == 50006
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, raw=b"{nope",
                           headers={"Content-Type": "application/json"})
    assert status == 400 and resp["code"] == 50109
    status, _, resp = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, raw=b"content=hi",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and resp["code"] == 50035


def test_non_snowflake_path_parameter_is_50035(mock):
    status, _, resp = rest(mock, "GET", "/channels/abc/messages/1")
    assert status == 400 and "channel_id" in resp["errors"]


def test_enforced_nonce_returns_the_existing_message(mock):
    first = create(mock, approval_body(nonce="req-42", enforce_nonce=True))
    again = create(mock, approval_body(nonce="req-42", enforce_nonce=True))
    assert again["id"] == first["id"]
    assert len(mock.messages()) == 1
    assert mock.requests()[-1]["nonce_hit"] is True
    other_channel = create(mock, approval_body(nonce="req-42", enforce_nonce=True),
                           channel="1100000000000000002")
    assert other_channel["id"] != first["id"]
    not_enforced = create(mock, approval_body(nonce="req-42"))
    assert not_enforced["id"] != first["id"]


def test_nonce_is_forgotten_after_its_retention(mock):
    mock.config(nonce_ttl_s=0.0)
    first = create(mock, approval_body(nonce="req-43", enforce_nonce=True))
    again = create(mock, approval_body(nonce="req-43", enforce_nonce=True))
    assert again["id"] != first["id"]


# ---- reactions ------------------------------------------------------------------------

def test_reactions_add_and_list_with_paging(mock):
    msg = create(mock)
    path = "/channels/%s/messages/%s/reactions/%s" % (
        CHANNEL, msg["id"], urllib.parse.quote("\u2705"))
    status, headers, body = rest(mock, "PUT", path + "/@me")
    assert status == 204 and body is None
    assert all(h in headers for h in RATE_LIMIT_HEADERS)
    for uid in ("300", "100", "200"):
        mock.react(msg["id"], "\u2705", uid, username="u" + uid)
    status, _, users = rest(mock, "GET", path)
    assert status == 200
    assert [u["id"] for u in users] == sorted([mock.application_id, "100", "200", "300"], key=int)
    for u in users:
        assert_valid("UserResponse", u)
    status, _, users = rest(mock, "GET", path + "?after=100&limit=1")
    assert [u["id"] for u in users] == ["200"]
    assert rest(mock, "GET", path + "?limit=101")[0] == 400
    assert rest(mock, "GET", path + "?limit=0")[0] == 400
    status, _, got = rest(mock, "GET", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]))
    reaction = got["reactions"][0]
    assert reaction["emoji"] == {"id": None, "name": "\u2705"}
    assert reaction["count"] == 4 and reaction["me"] is True
    assert rest(mock, "DELETE", path + "/@me")[0] == 204
    status, _, got = rest(mock, "GET", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]))
    assert got["reactions"][0]["count"] == 3 and got["reactions"][0]["me"] is False


def test_ascii_emoji_name_is_unknown_emoji(mock):
    msg = create(mock)
    status, _, body = rest(mock, "PUT", "/channels/%s/messages/%s/reactions/white_check_mark/@me"
                           % (CHANNEL, msg["id"]))
    assert status == 400 and body["code"] == 10014


# ---- rate limits and faults -----------------------------------------------------------

def test_rate_limit_headers_and_real_bucket_exhaustion(mock):
    mock.config(rate_limits={"create_message": {"limit": 2, "window_s": 30}})
    s1, h1, _ = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    s2, h2, _ = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    s3, h3, body = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    assert (s1, s2, s3) == (200, 200, 429)
    assert (h1["x-ratelimit-limit"], h1["x-ratelimit-remaining"]) == ("2", "1")
    assert h2["x-ratelimit-remaining"] == "0"
    assert h1["x-ratelimit-bucket"] == h3["x-ratelimit-bucket"]
    assert 0 < float(h3["x-ratelimit-reset-after"]) <= 30
    assert float(h3["x-ratelimit-reset"]) > time.time()
    assert h3["x-ratelimit-scope"] == "user" and int(h3["retry-after"]) >= 1
    assert body["global"] is False and 0 < body["retry_after"] <= 30
    assert_valid("RatelimitedResponse", body)
    # Another channel is another bucket (channel_id is a major parameter).
    assert rest(mock, "POST", "/channels/1100000000000000009/messages", approval_body())[0] == 200
    assert len(mock.messages()) == 3


def test_429_fault_has_retry_after_and_scope(mock):
    mock.faults({"route": "create_message", "kind": "429", "count": 1, "retry_after_s": 1.5})
    status, headers, body = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    assert status == 429
    assert body["message"] == "You are being rate limited."
    assert body["retry_after"] == 1.5 and body["global"] is False
    assert headers["retry-after"] == "2"
    assert headers["x-ratelimit-scope"] == "user"
    assert all(h in headers for h in RATE_LIMIT_HEADERS)
    assert_valid("RatelimitedResponse", body)
    assert mock.messages() == []
    assert rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())[0] == 200


def test_global_429_fault(mock):
    mock.faults({"route": "*", "kind": "429", "retry_after_s": 0.25, "global": True})
    status, headers, body = rest(mock, "PATCH", "/channels/%s/messages/1" % CHANNEL,
                                 {"content": "x"})
    assert status == 429 and body["global"] is True
    assert headers["x-ratelimit-global"] == "true" and headers["x-ratelimit-scope"] == "global"


def test_500_fault_then_recovery(mock):
    mock.faults({"route": "create_message", "kind": "500", "count": 2})
    for _ in range(2):
        status, _, body = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
        assert status == 500 and body == {"message": "500: Internal Server Error", "code": 0}
    assert rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())[0] == 200
    assert [r["fault"] for r in mock.requests()] == ["500", "500", None]
    (rule,) = mock.call("GET", "/faults")["rules"]
    assert rule["fired"] == 2 and rule["count"] == 0


def test_unlimited_fault_until_cleared(mock):
    mock.faults({"route": "*", "kind": "503", "count": -1})
    for _ in range(3):
        assert rest(mock, "GET", "/channels/%s/messages/1" % CHANNEL)[0] == 503
    mock.clear_faults()
    assert rest(mock, "GET", "/channels/%s/messages/1" % CHANNEL)[0] == 404


def test_500_after_commit_posts_anyway(mock):
    mock.faults({"route": "create_message", "kind": "500", "commit": True})
    status, _, _ = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    assert status == 500 and len(mock.messages()) == 1


def test_502_fault_is_an_html_page(mock):
    mock.faults({"route": "update_message", "kind": "502"})
    msg = create(mock)
    status, headers, body = rest(mock, "PATCH", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]),
                                 {"content": "x"})
    assert status == 502 and headers["content-type"].startswith("text/html")
    assert "502" in body


def test_drop_fault_closes_without_an_answer(mock):
    mock.faults({"route": "create_message", "kind": "drop"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    assert mock.messages() == []
    assert mock.requests()[-1]["dropped"] is True


def test_drop_after_commit_then_nonce_retry_does_not_post_twice(mock):
    mock.faults({"route": "create_message", "kind": "drop", "commit": True})
    body = approval_body(nonce="outbox-7", enforce_nonce=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        rest(mock, "POST", "/channels/%s/messages" % CHANNEL, body)
    assert len(mock.messages()) == 1, "the post took effect although the answer was lost"
    retry = create(mock, body)
    assert retry["id"] == mock.messages()[0]["id"] and len(mock.messages()) == 1


def test_latency_fault_delays_the_answer(mock):
    mock.faults({"route": "create_message", "kind": "latency", "latency_ms": 300})
    started = time.monotonic()
    create(mock)
    assert time.monotonic() - started >= 0.3


def test_burst_exhausts_the_bucket(mock):
    mock.faults({"route": "create_message", "kind": "burst", "retry_after_s": 20})
    status, headers, body = rest(mock, "POST", "/channels/%s/messages" % CHANNEL, approval_body())
    assert status == 429 and headers["x-ratelimit-remaining"] == "0"
    assert 15 < body["retry_after"] <= 20
    # Other routes are not affected.
    assert rest(mock, "GET", "/channels/%s/messages/1" % CHANNEL)[0] == 404


def test_fault_rule_validation(mock):
    with pytest.raises(MockError) as e:
        mock.faults({"route": "create_message", "kind": "teapot"})
    assert e.value.status == 400
    with pytest.raises(MockError):
        mock.faults({"route": "delete_guild", "kind": "500"})


# ---- interactions ---------------------------------------------------------------------

def test_click_is_signed_like_discord_and_update_message_is_applied(mock, receiver):
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER, username="alice")
    (d,) = result["deliveries"]
    assert d["status"] == 200 and d["outcome"] == "updated_message" and d["applied"]
    (got,) = receiver.received
    h = got["headers"]
    assert got["signature_ok"] and got["fresh"]
    assert verify_discord_signature(mock.public_key, h["X-Signature-Timestamp"], got["raw"],
                                    h["X-Signature-Ed25519"])
    assert abs(int(h["X-Signature-Timestamp"]) - time.time()) < 5
    assert h["Content-Type"] == "application/json"
    p = got["payload"]
    assert got["schema_errors"] == []
    assert p["type"] == 3 and p["version"] == 1 and p["application_id"] == mock.application_id
    assert p["data"] == {"component_type": 2, "custom_id": "assent:approve:r1",
                         "id": msg["components"][0]["components"][0]["id"]}
    assert p["member"]["user"]["id"] == APPROVER and p["member"]["user"]["username"] == "alice"
    assert p["message"]["id"] == msg["id"] and p["message"]["components"]
    assert p["channel_id"] == CHANNEL and p["token"]
    stored = mock.message(msg["id"])
    assert stored["content"] == "Approved by <@%s>" % APPROVER
    assert stored["components"] == []
    assert stored["edited_timestamp"] is not None
    assert result["ack_type"] == 7


def test_click_matches_by_custom_id_and_dm_context_sends_user(mock, receiver):
    msg = create(mock)
    mock.click(msg["id"], custom_id="assent:deny:r1", user_id=APPROVER, dm=True)
    p = receiver.received[0]["payload"]
    assert "member" not in p and p["user"]["id"] == APPROVER
    assert p["data"]["custom_id"] == "assent:deny:r1"
    assert receiver.received[0]["schema_errors"] == []
    assert mock.message(msg["id"])["content"].startswith("Denied")


def test_click_on_missing_or_removed_button_is_refused(mock, receiver):
    msg = create(mock)
    with pytest.raises(MockError) as e:
        mock.click(msg["id"], button="maybe", user_id=APPROVER)
    assert e.value.status == 409
    mock.click(msg["id"], button="approve", user_id=APPROVER)
    with pytest.raises(MockError):
        mock.click(msg["id"], button="deny", user_id=APPROVER)  # buttons are gone
    forced = mock.click(msg["id"], custom_id="assent:deny:r1", user_id=APPROVER, force=True)
    assert forced["deliveries"][0]["status"] == 200


def test_bad_signature_is_sent_and_rejected(mock, receiver):
    msg = create(mock)
    d = mock.click(msg["id"], button="approve", user_id=APPROVER,
                   bad_signature=True)["deliveries"][0]
    assert d["status"] == 401 and d["outcome"] == "http_error" and not d["applied"]
    assert receiver.received[0]["signature_ok"] is False
    assert mock.message(msg["id"])["components"], "nothing was decided"


def test_stale_timestamp_is_validly_signed_but_old(mock, receiver):
    msg = create(mock)
    d = mock.click(msg["id"], button="approve", user_id=APPROVER,
                   timestamp_skew_s=-600)["deliveries"][0]
    got = receiver.received[0]
    assert got["signature_ok"] is True and got["fresh"] is False
    assert time.time() - int(got["headers"]["X-Signature-Timestamp"]) >= 599
    assert d["status"] == 401
    assert mock.message(msg["id"])["components"]


def test_no_signature_omits_both_headers(mock, receiver):
    msg = create(mock)
    d = mock.click(msg["id"], button="approve", user_id=APPROVER,
                   no_signature=True)["deliveries"][0]
    h = receiver.received[0]["headers"]
    assert "X-Signature-Ed25519" not in h and "X-Signature-Timestamp" not in h
    assert d["status"] == 401


def test_tampered_body_fails_verification(mock, receiver):
    msg = create(mock)
    d = mock.click(msg["id"], button="approve", user_id=APPROVER,
                   tamper_body=True)["deliveries"][0]
    assert receiver.received[0]["signature_ok"] is False and d["status"] == 401


def test_duplicate_delivery_sends_the_same_bytes_twice(mock, receiver):
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER, duplicate=True)
    first, second = receiver.received
    assert first["raw"] == second["raw"]
    assert first["headers"]["X-Signature-Ed25519"] == second["headers"]["X-Signature-Ed25519"]
    outcomes = [d["outcome"] for d in result["deliveries"]]
    assert outcomes == ["updated_message", "already_acknowledged"]


def test_unlisted_user_gets_an_ephemeral_reply_recorded_on_the_interaction(mock, receiver):
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id="1999999999999999999")
    d = result["deliveries"][0]
    assert d["outcome"] == "ephemeral_reply"
    (eph,) = result["ephemeral_replies"]
    assert eph["content"] == "Not on the allowlist." and eph["flags"] & 64
    stored = mock.message(msg["id"])
    assert stored["components"] and stored["_mock"]["edits"] == 0
    assert len(mock.messages()) == 1, "an ephemeral reply is not a channel message"


def test_non_ephemeral_type_4_posts_a_channel_message(mock, receiver):
    receiver.respond = lambda p: (200, {"type": 4, "data": {"content": "noted"}})
    msg = create(mock)
    assert mock.click(msg["id"], button="approve",
                      user_id=APPROVER)["deliveries"][0]["outcome"] == "channel_message"
    reply = mock.messages()[1]
    assert reply["content"] == "noted" and reply["type"] == 19
    assert reply["message_reference"]["message_id"] == msg["id"]


def test_invalid_update_is_recorded_and_changes_nothing(mock, receiver):
    receiver.respond = lambda p: (200, {"type": 7, "data": {"components": [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "y" * 81,
                                    "custom_id": "z"}]}]}})
    # The receiver's self-check would refuse this answer; bypass it for this test.
    original = SCHEMAS.validate_request
    SCHEMAS.validate_request = lambda op, body: []
    try:
        msg = create(mock)
        d = mock.click(msg["id"], button="approve", user_id=APPROVER)["deliveries"][0]
    finally:
        SCHEMAS.validate_request = original
    assert d["outcome"] == "invalid_response" and d["discord_error"]["code"] == 50035
    assert mock.message(msg["id"])["components"][0]["components"][0]["label"] == "Approve"


def test_deferred_update_then_webhook_edit(mock, receiver):
    receiver.respond = lambda p: (200, {"type": 6})
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER)
    assert result["deliveries"][0]["outcome"] == "deferred_update"
    assert mock.message(msg["id"])["components"], "type 6 changes nothing by itself"
    token = result["interaction"]["token"]
    path = "/webhooks/%s/%s/messages/@original" % (mock.application_id, token)
    status, _, edited = rest(mock, "PATCH", path, {"content": "Approved", "components": []},
                             token=None)
    assert status == 200, edited
    assert_valid("MessageResponse", edited)
    assert edited["id"] == msg["id"] and edited["components"] == []
    assert mock.message(msg["id"])["content"] == "Approved"
    status, _, got = rest(mock, "GET", path, token=None)
    assert status == 200 and got["content"] == "Approved"
    bad = "/webhooks/%s/%s/messages/@original" % ("1399999999999999999", token)
    assert rest(mock, "PATCH", bad, {"content": "x"}, token=None)[2]["code"] == 10015
    bad = "/webhooks/%s/%s/messages/@original" % (mock.application_id, "not-a-token")
    assert rest(mock, "PATCH", bad, {"content": "x"}, token=None)[0] == 401


def test_deferred_channel_message_is_completed_by_webhook_edit(mock, receiver):
    receiver.respond = lambda p: (200, {"type": 5})
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER)
    assert result["deliveries"][0]["outcome"] == "deferred_channel_message"
    loading = mock.messages()[1]
    assert loading["flags"] & 128 and loading["type"] == 19
    path = "/webhooks/%s/%s/messages/@original" % (mock.application_id,
                                                   result["interaction"]["token"])
    status, _, done = rest(mock, "PATCH", path, {"content": "Recorded."}, token=None)
    assert status == 200 and done["id"] == loading["id"]
    assert done["content"] == "Recorded." and not done["flags"] & 128
    assert mock.message(msg["id"])["components"], "the clicked message is untouched"


def test_callback_endpoint_acknowledges_once(mock, receiver):
    receiver.respond = lambda p: (202, None)
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER)
    assert result["deliveries"][0]["outcome"] == "no_body"
    iid, token = result["interaction"]["id"], result["interaction"]["token"]
    cb = "/interactions/%s/%s/callback" % (iid, token)
    status, headers, body = rest(mock, "POST", cb + "?with_response=true",
                                 {"type": 7, "data": {"content": "Denied", "components": []}},
                                 token=None)
    assert status == 200, body
    assert all(h in headers for h in RATE_LIMIT_HEADERS)
    assert body["resource"]["message"]["content"] == "Denied"
    assert_valid("InteractionCallbackResponse", body)
    assert mock.message(msg["id"])["components"] == []
    status, _, body = rest(mock, "POST", cb, {"type": 6}, token=None)
    assert status == 400 and body["code"] == 40060
    status, _, body = rest(mock, "POST", "/interactions/%s/wrong/callback" % iid, {"type": 6},
                           token=None)
    assert status == 404 and body["code"] == 10062
    assert mock.interaction(iid)["ack_via"] == "callback"


def test_callback_after_three_seconds_is_unknown_interaction(mock, receiver):
    mock.config(interaction_timeout_s=0.2)
    receiver.respond = lambda p: (202, None)
    msg = create(mock)
    result = mock.click(msg["id"], button="approve", user_id=APPROVER)
    sent_at = mock.interaction(result["interaction_id"])["sent_at"]
    MockControl.wait_until(lambda: time.time() > sent_at + 0.25, what="the deadline to pass")
    status, _, body = rest(mock, "POST", "/interactions/%s/%s/callback" % (
        result["interaction"]["id"], result["interaction"]["token"]), {"type": 6}, token=None)
    assert status == 404 and body["code"] == 10062


def test_slow_daemon_answer_is_a_timeout(mock, receiver):
    mock.config(interaction_timeout_s=0.3)
    release = threading.Event()

    def slow(p):
        release.wait(2)
        return 200, {"type": 6}

    receiver.respond = slow
    msg = create(mock)
    try:
        d = mock.click(msg["id"], button="approve", user_id=APPROVER)["deliveries"][0]
    finally:
        release.set()
    assert d["outcome"] == "timeout" and not d["applied"]


def test_ping_expects_pong(mock, receiver):
    result = mock.ping()
    assert result["pong"] is True
    p = receiver.received[0]["payload"]
    assert p["type"] == 1 and "data" not in p and receiver.received[0]["schema_errors"] == []


def test_endpoint_verification_like_the_developer_portal(mock, receiver):
    assert mock.ping(verify=True)["verified"] is True
    cfg = mock.config(interactions_url=receiver.url, verify=True)
    assert cfg["interactions_url"] == receiver.url
    lax = Receiver(mock.public_key)
    lax.handle = lambda headers, raw: (200, {"type": 1})  # answers PONG to forgeries too
    try:
        with pytest.raises(MockError) as e:
            mock.config(interactions_url=lax.url, verify=True)
        assert e.value.status == 400
        assert mock.info()["interactions_url"] == receiver.url, "URL unchanged on failure"
    finally:
        lax.close()


def test_click_without_interactions_url_is_409(mock):
    mock.config(interactions_url=None)
    msg = create(mock)
    with pytest.raises(MockError) as e:
        mock.click(msg["id"], button="approve")
    assert e.value.status == 409


# ---- scripted behaviour ---------------------------------------------------------------

def test_behaviour_auto_approve_after_delay(mock, receiver):
    mock.behave("approve", after_ms=50, user_id=APPROVER)
    msg = create(mock)
    edited = mock.wait_for_edit(msg["id"])
    assert edited["content"] == "Approved by <@%s>" % APPROVER and edited["components"] == []
    action = MockControl.wait_until(mock.auto_actions)[0]
    assert action["result"] == "clicked" and action["outcomes"] == ["updated_message"]


def test_behaviour_auto_deny(mock, receiver):
    mock.call("POST", "/behaviour", {"auto": "deny", "user_id": APPROVER})
    msg = create(mock)
    assert mock.wait_for_edit(msg["id"])["content"].startswith("Denied")


def test_behaviour_unlisted_click(mock, receiver):
    mock.behave("unlisted_click")
    msg = create(mock)
    action = MockControl.wait_until(mock.auto_actions)[0]
    assert action["outcomes"] == ["ephemeral_reply"]
    assert mock.message(msg["id"])["components"]


def test_behaviour_quorum_of_two_users(mock, receiver):
    receiver.respond = lambda p: (200, {"type": 4, "data": {"content": "vote counted",
                                                            "flags": 64}})
    mock.behave("approve", user_ids=["1200000000000000001", "1200000000000000002"])
    create(mock)
    actions = MockControl.wait_until(lambda: (lambda a: a if len(a) == 2 else None)(
        mock.auto_actions()))
    assert [a["user_id"] for a in actions] == ["1200000000000000001", "1200000000000000002"]


def test_behaviour_via_reaction(mock):
    mock.behave("approve", via="react", user_id=APPROVER)
    msg = create(mock)
    got = MockControl.wait_until(
        lambda: (lambda m: m if m.get("reactions") else None)(mock.message(msg["id"])))
    assert got["reactions"][0]["emoji"]["name"] == "\u2705"
    assert got["_mock"]["reaction_users"]["\u2705"] == [APPROVER]


def test_behaviour_none_never_answers(mock, receiver):
    mock.behave("none")
    create(mock)
    time.sleep(0.2)  # proving an absence needs some time to pass
    assert receiver.received == [] and mock.auto_actions() == []


def test_behaviour_ignores_messages_without_buttons(mock, receiver):
    mock.behave("approve", user_id=APPROVER, count=1)
    create(mock, {"content": "Request r0 timed out."})
    msg = create(mock)
    assert mock.wait_for_edit(msg["id"])["components"] == []
    assert len(receiver.received) == 1


def test_behaviour_validation(mock):
    with pytest.raises(MockError):
        mock.behave("maybe")


# ---- logs and persistence -------------------------------------------------------------

def test_request_log_records_every_rest_call(mock):
    msg = create(mock)
    rest(mock, "GET", "/channels/%s/messages/%s" % (CHANNEL, msg["id"]))
    reqs = mock.requests()
    assert [(r["method"], r["operation"], r["status"]) for r in reqs] == [
        ("POST", "create_message", 200), ("GET", "get_message", 200)]
    assert reqs[0]["path"] == "/api/v10/channels/%s/messages" % CHANNEL
    assert reqs[0]["body"]["components"] and reqs[0]["user_agent"].startswith("DiscordBot")
    assert all(r["response_valid"] for r in reqs)
    assert mock.requests(since=reqs[0]["seq"]) == reqs[1:]


def test_state_file_keeps_messages_nonces_and_identity(tmp_path):
    state = str(tmp_path / "mock-state.json")
    with MockDiscordProcess(state_file=state) as first:
        ident = dict(first.start_info)
        msg = create(first, approval_body(nonce="keep-1", enforce_nonce=True))
    with MockDiscordProcess(state_file=state) as second:
        assert second.public_key == ident["public_key"]
        assert second.bot_token == ident["bot_token"]
        assert second.message(msg["id"])["content"] == msg["content"]
        again = create(second, approval_body(nonce="keep-1", enforce_nonce=True))
        assert again["id"] == msg["id"]
        newer = create(second)
        assert int(newer["id"]) > int(msg["id"])
    assert os.stat(state).st_mode & 0o777 == 0o600, "holds the bot token and signing seed"


def test_concurrent_creates_get_distinct_ids(mock):
    ids, errors = [], []

    def worker():
        try:
            ids.append(create(mock)["id"])
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 20

"""Client helper for the mock Discord: start it, drive its control API, check signatures.

Standard library only, so the conformance suite and e2e tests can import it with any
Python 3.8+ interpreter (the mock itself needs /usr/bin/python3 with PyNaCl and jsonschema).

    from mockctl import MockDiscordProcess
    with MockDiscordProcess(interactions_url=daemon_url) as mock:
        # pass mock.base_url, mock.bot_token, mock.public_key to the daemon
        msg = mock.wait_for_message(lambda m: m["components"])
        result = mock.click(msg["id"], button="approve", user_id="42")
        assert result["deliveries"][0]["outcome"] == "updated_message"

`MockControl(control_url)` drives a mock someone else started.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK_SCRIPT = os.path.join(HERE, "mock_discord.py")
# The mock needs Debian's interpreter (PyNaCl, jsonschema); another python3 may come first.
DEFAULT_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class MockError(Exception):
    """A control API call failed; `status` and `body` hold the mock's answer."""

    def __init__(self, status: int, body: Any):
        super().__init__("mock-discord control API answered %s: %s" % (status, body))
        self.status, self.body = status, body


class MockControl:
    """Thin wrapper over the control API under /_mock."""

    def __init__(self, control_url: str, timeout_s: float = 15.0):
        self.control_url = control_url.rstrip("/")
        self.timeout_s = timeout_s

    # -- transport ---------------------------------------------------------------------

    def call(self, method: str, path: str, body: Optional[dict] = None,
             query: Optional[dict] = None) -> Any:
        url = self.control_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            raise MockError(e.code, parsed) from None

    # -- inspection --------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return bool(self.call("GET", "/health").get("ok"))
        except (OSError, MockError):
            return False

    def info(self) -> dict:
        return self.call("GET", "/info")

    def messages(self, channel_id: Optional[str] = None) -> List[dict]:
        q = {"channel_id": channel_id} if channel_id else None
        return self.call("GET", "/messages", query=q)["messages"]

    def message(self, message_id: str) -> dict:
        return self.call("GET", "/messages/%s" % message_id)

    def requests(self, since: int = 0, operation: Optional[str] = None) -> List[dict]:
        q: Dict[str, Any] = {"since": since}
        if operation:
            q["operation"] = operation
        return self.call("GET", "/requests", query=q)["requests"]

    def interactions(self) -> List[dict]:
        return self.call("GET", "/interactions")["interactions"]

    def interaction(self, interaction_id: str) -> dict:
        return self.call("GET", "/interactions/%s" % interaction_id)

    def auto_actions(self) -> List[dict]:
        return self.call("GET", "/interactions")["auto_actions"]

    # -- acting as Discord users -------------------------------------------------------

    def click(self, message_id: str, button: Optional[str] = None,
              custom_id: Optional[str] = None, user_id: Optional[str] = None,
              **options) -> dict:
        """options: username, timestamp_skew_s, bad_signature, no_signature, tamper_body,
        duplicate, dm, force, url, timeout_s."""
        body = dict(options, message_id=message_id)
        if button is not None:
            body["button"] = button
        if custom_id is not None:
            body["custom_id"] = custom_id
        if user_id is not None:
            body["user_id"] = str(user_id)
        return self.call("POST", "/click", body)

    def react(self, message_id: str, emoji: str, user_id: str,
              username: Optional[str] = None, remove: bool = False) -> dict:
        body = {"message_id": message_id, "emoji": emoji, "user_id": str(user_id),
                "remove": remove}
        if username:
            body["username"] = username
        return self.call("POST", "/react", body)

    def ping(self, verify: bool = False, **options) -> dict:
        return self.call("POST", "/ping", dict(options, verify=verify))

    # -- configuration -----------------------------------------------------------------

    def config(self, **settings) -> dict:
        """settings: interactions_url, verify, behaviour, rate_limit, rate_limits,
        channels, interaction_timeout_s, nonce_ttl_s."""
        return self.call("POST", "/config", settings)

    def set_interactions_url(self, url: str, verify: bool = False) -> dict:
        return self.config(interactions_url=url, verify=verify)

    def behave(self, auto: str, after_ms: int = 0, user_id: Optional[str] = None,
               **rule) -> dict:
        """Scripted answer to each new message: auto = approve|deny|none|unlisted_click;
        rule: via (click|react), user_ids, interval_ms, button, username, count, emoji."""
        rule = dict(rule, auto=auto, after_ms=after_ms)
        if user_id is not None:
            rule["user_id"] = str(user_id)
        return self.config(behaviour=rule)

    def faults(self, *rules: dict, replace: bool = False) -> List[dict]:
        """Each rule: {route, kind: 429|500|502|503|latency|drop|burst, count,
        retry_after_s, global, scope, latency_ms, commit}."""
        return self.call("POST", "/faults", {"rules": list(rules), "replace": replace})["rules"]

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def reset(self) -> None:
        self.call("POST", "/reset", {})

    # -- waiting (polls; never sleeps blindly for a fixed time) -------------------------

    @staticmethod
    def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0,
                   interval_s: float = 0.02, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout_s, what))
            time.sleep(interval_s)

    def wait_for_message(self, predicate: Optional[Callable[[dict], bool]] = None,
                         timeout_s: float = 10.0, channel_id: Optional[str] = None) -> dict:
        def find():
            for m in self.messages(channel_id):
                if predicate is None or predicate(m):
                    return m
            return None
        return self.wait_until(find, timeout_s, what="a matching message")

    def wait_for_messages(self, count: int, timeout_s: float = 10.0,
                          channel_id: Optional[str] = None) -> List[dict]:
        return self.wait_until(
            lambda: (lambda ms: ms if len(ms) >= count else None)(self.messages(channel_id)),
            timeout_s, what="%d messages" % count)

    def wait_for_edit(self, message_id: str, min_edits: int = 1,
                      timeout_s: float = 10.0) -> dict:
        return self.wait_until(
            lambda: (lambda m: m if m["_mock"]["edits"] >= min_edits else None)(
                self.message(message_id)),
            timeout_s, what="edit %d of message %s" % (min_edits, message_id))


class MockDiscordProcess(MockControl):
    """Runs mock_discord.py as a subprocess on a free port and reads its start-up line."""

    def __init__(self, *, bot_token: Optional[str] = None,
                 interactions_url: Optional[str] = None,
                 application_id: Optional[str] = None, signing_seed: Optional[str] = None,
                 state_file: Optional[str] = None, extra_args: tuple = (),
                 python: str = DEFAULT_PYTHON, startup_timeout_s: float = 10.0,
                 stderr=None):
        self.args = [python, MOCK_SCRIPT, "--host", "127.0.0.1", "--port", "0"]
        for flag, value in (("--bot-token", bot_token), ("--interactions-url", interactions_url),
                            ("--application-id", application_id),
                            ("--signing-seed", signing_seed), ("--state-file", state_file)):
            if value is not None:
                self.args += [flag, str(value)]
        self.args += list(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.stderr = stderr
        self.proc: Optional[subprocess.Popen] = None
        self.startup_s: Optional[float] = None
        self.start_info: Dict[str, str] = {}
        super().__init__("http://invalid/_mock")

    def start(self) -> "MockDiscordProcess":
        started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        line = _read_line(self.proc, self.startup_timeout_s)
        self.startup_s = time.monotonic() - started
        self.start_info = json.loads(line)
        self.control_url = self.start_info["control_url"]
        return self

    @property
    def base_url(self) -> str:
        return self.start_info["base_url"]

    @property
    def public_key(self) -> str:
        return self.start_info["public_key"]

    @property
    def bot_token(self) -> str:
        return self.start_info["bot_token"]

    @property
    def application_id(self) -> str:
        return self.start_info["application_id"]

    def stop(self, timeout_s: float = 5.0) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> "MockDiscordProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The first stdout line, or an error naming why it never came."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    buf = b""
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise TimeoutError("mock-discord printed no start-up line in %.1fs" % timeout_s)
            if sel.select(left):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("mock-discord exited with %s before its start-up line"
                                       % proc.wait())
                buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


def verify_discord_signature(public_key_hex: str, timestamp: str, body: bytes,
                             signature_hex: str) -> bool:
    """Checks an interaction signature the way an app must (needs PyNaCl)."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey
    try:
        VerifyKey(bytes.fromhex(public_key_hex)).verify(timestamp.encode() + body,
                                                        bytes.fromhex(signature_hex))
        return True
    except (BadSignatureError, ValueError):
        return False

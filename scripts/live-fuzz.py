#!/usr/bin/python3
"""Live, spec-driven fuzzer: valid and invalid calls against a running assentd.

Starts assentd (or is given one), plants secrets, then for --seconds sends calls
generated from spec/openrpc.json and spec/schemas — valid params built from each
method's x-params-schema (ids and names drawn from what the daemon has answered so
far), and invalid ones: boundary values from minLength/maxLength/minimum/maximum/enum
(N-1, N, N+1), type swaps, missing required members, extra members, multi-byte strings
at byte limits, huge strings, deep nesting, random bytes, broken envelopes and batches,
wrong headers, paths and HTTP methods — under random roles, from a few threads. Now and
then it runs a whole flow (request → decide → reveal) and opens the sealed value.

Checks (each violation is printed with the offending exchange):
  crash        the daemon keeps answering GET /healthz and its process stays up
  status       every HTTP status is one the spec documents for that path; 500 (-32603)
               is a violation: with --validate-responses it means a result off its schema
               or a handler that failed (ASSENT-RPC-022, ASSENT-TGT-005)
  schema       every JSON-RPC answer validates against envelope.json#ResponseBody, each
               result against its method's result schema, each error against ErrorObject
               and its code's x-data-schema, and the status matches the code
               (ASSENT-RPC-018..020); every HttpError body validates against http.json and
               carries the status of its name; 429/503 carry a Retry-After equal to
               retry_after_s (ASSENT-HTTP-020); JSON bodies are application/json
  events       every SSE event's data validates against its x-events schema, ids increase,
               and an agent's stream carries only its own client's events (ASSENT-EVT-008)
  desync       a request with a body the server does not read (GET, HEAD, OPTIONS,
               DELETE) leaves the keep-alive connection usable for the next request
  leak         no planted secret value (as text or base64), token or client key appears
               in any response body, SSE event, /metrics, or the daemon's log
               (ASSENT-RPC-021, ASSENT-EVT-004, ASSENT-HTTP-008); a revealed sealed box
               opens to exactly the planted value

Bounded: --seconds (wall time) and --count (calls). --seed is printed; a run with the same
seed generates the same calls (thread interleaving aside). Authentication failures are
rationed (one per lockout window) so the fuzzer does not lock itself out.

  /usr/bin/python3 scripts/live-fuzz.py --assentd build/assentd --seconds 60
  /usr/bin/python3 scripts/live-fuzz.py --url http://127.0.0.1:8750 \\
      --admin-token-file A --approver-token-file P --agent-token-file G   # a running daemon

Exit status: 0 clean, 1 violations, 2 usage or start-up failure.
"""
import argparse
import base64
import copy
import hashlib
import json
import os
import pathlib
import random
import re
import secrets as pysecrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import jsonschema
import requests
from jsonschema import Draft7Validator, RefResolver

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse

try:
    from nacl.public import PrivateKey, SealedBox
except ImportError:  # the reveal check is skipped without PyNaCl
    PrivateKey = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec"
# How much of an exchange a violation report shows.
SHOW_BYTES = 1500

# ---------------------------------------------------------------------------------------
# The spec


class Spec:
    def __init__(self, spec_dir):
        self.dir = pathlib.Path(spec_dir).resolve()
        self.openrpc = json.loads((self.dir / "openrpc.json").read_text())
        self.limits = {k: v["value"] for k, v in
                       json.loads((self.dir / "limits.json").read_text()).items()
                       if isinstance(v, dict) and "value" in v}
        self.methods = {m["name"]: m for m in self.openrpc["methods"]}
        self.errors = {e["code"]: e for e in self.openrpc["components"]["errors"].values()}
        self.events = self.openrpc.get("x-events", {})
        self.store = {(self.dir / "openrpc.json").as_uri(): self.openrpc}
        for f in sorted((self.dir / "schemas").glob("*.json")):
            self.store[f.as_uri()] = json.loads(f.read_text())
        self.base = (self.dir / "openrpc.json").as_uri()
        self._local = threading.local()
        # HttpError definitions by the name they fix ({"error": {"const": name}}), and the
        # status of each name (PROTOCOL.md §2; bad_signature and unauthorized share 401).
        self.http_error_refs = {}
        for key, d in self.store[self.uri("schemas/http.json")]["definitions"].items():
            const = d.get("properties", {}).get("error", {}).get("const")
            if const:
                self.http_error_refs[const] = "schemas/http.json#/definitions/" + key
        self.http_error_status = {
            "bad_request": 400, "unauthorized": 401, "bad_signature": 401,
            "peer_forbidden": 403, "not_found": 404, "method_not_allowed": 405,
            "payload_too_large": 413, "unsupported_media_type": 415,
            "unsupported_version": 426, "locked_out": 429, "too_many_subscribers": 503}

    def uri(self, ref):
        return self.base.rsplit("/", 1)[0] + "/" + ref

    def schema(self, ref):
        """The schema a ref (relative to openrpc.json) points at, refs inside unresolved."""
        file_part, _, pointer = ref.partition("#")
        doc = self.store[self.uri(file_part)]
        for part in [p for p in pointer.split("/") if p]:
            doc = doc[part.replace("~1", "/").replace("~0", "~")]
        return doc

    def validator(self, ref):
        # One validator per thread: a RefResolver keeps a scope stack while it resolves,
        # so sharing one between threads resolves refs against the wrong file.
        cache = getattr(self._local, "validators", None)
        if cache is None:
            cache = self._local.validators = {}
        v = cache.get(ref)
        if v is None:
            uri = self.uri(ref)
            resolver = RefResolver(base_uri=uri, referrer=self.store[uri.split("#")[0]],
                                   store=self.store)
            v = cache[ref] = Draft7Validator({"$ref": uri}, resolver=resolver)
        return v

    def errors_of(self, ref, value):
        """A short description of the first schema error, or None."""
        try:
            err = next(iter(self.validator(ref).iter_errors(value)), None)
        except (jsonschema.exceptions.RefResolutionError, RecursionError) as e:
            return "could not validate: %s" % e
        if err is None:
            return None
        path = "/" + "/".join(str(p) for p in err.absolute_path)
        return "at %s: %s" % (path, err.message[:300])

    def resolve(self, schema, base_ref):
        """Follows $ref (relative to the file of base_ref) → (schema, its ref)."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            file_part = base_ref.split("#")[0]
            if ref.startswith("#"):
                ref = file_part + ref
            elif not ref.startswith("schemas/"):
                ref = file_part.rsplit("/", 1)[0] + "/" + ref
            base_ref = ref
            schema = self.schema(ref)
            seen += 1
        return schema, base_ref


# ---------------------------------------------------------------------------------------
# Values from schemas


def gen_regex(pattern, rng, max_repeat=12):
    """A string matching a simple regex (the spec's patterns: classes, groups, repeats)."""
    def gen(tree):
        out = []
        for op, av in tree:
            if op == sre_constants.LITERAL:
                out.append(chr(av))
            elif op == sre_constants.NOT_LITERAL:
                out.append("a" if av != ord("a") else "b")
            elif op == sre_constants.ANY:
                out.append(rng.choice("abcXYZ019_-"))
            elif op == sre_constants.IN:
                choices = []
                for kind, val in av:
                    if kind == sre_constants.LITERAL:
                        choices.append(chr(val))
                    elif kind == sre_constants.RANGE:
                        choices.extend(chr(c) for c in range(val[0], val[1] + 1))
                    elif kind == sre_constants.CATEGORY:
                        choices.extend("0123456789" if "DIGIT" in str(val) else "abc_")
                out.append(rng.choice(choices) if choices else "a")
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                lo, hi, sub = av
                hi = min(hi, lo + max_repeat) if hi != sre_constants.MAXREPEAT else lo + max_repeat
                for _ in range(rng.randint(lo, max(lo, hi))):
                    out.append(gen(sub))
            elif op == sre_constants.SUBPATTERN:
                out.append(gen(av[-1]))
            elif op == sre_constants.BRANCH:
                out.append(gen(rng.choice(av[1])))
            elif op == sre_constants.AT:
                pass
        return "".join(out)
    return gen(sre_parse.parse(pattern))


class Pools:
    """What the daemon has told us: ids and names to reuse so calls get past not_found."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids = {"rq_": [], "gr_": [], "cl_": [], "sc_": []}
        self.names = []

    def learn(self, value):
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "name" and isinstance(v, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", v):
                    self.add_name(v)
                self.learn(v)
        elif isinstance(value, list):
            for v in value:
                self.learn(v)
        elif isinstance(value, str) and len(value) == 35 and value[:3] in self.ids:
            with self.lock:
                lst = self.ids[value[:3]]
                if value not in lst:
                    lst.append(value)
                    del lst[:-200]

    def add_name(self, name):
        with self.lock:
            if name not in self.names:
                self.names.append(name)
                del self.names[:-200]

    def pick(self, prefix, rng):
        with self.lock:
            lst = self.ids.get(prefix) or []
            return rng.choice(lst) if lst else None

    def pick_name(self, rng):
        with self.lock:
            return rng.choice(self.names) if self.names else None


class Generator:
    def __init__(self, spec, pools, rng, avoid_names):
        self.spec = spec
        self.pools = pools
        self.rng = rng
        self.avoid = set(avoid_names)
        self.recipient_key = base64.b64encode(os.urandom(32)).decode()

    def valid(self, schema, ref, depth=0, name=""):
        s, ref = self.spec.resolve(schema, ref)
        rng = self.rng
        if depth > 8 or not isinstance(s, dict):
            return None
        if "const" in s:
            return copy.deepcopy(s["const"])
        if "enum" in s:
            return copy.deepcopy(rng.choice(s["enum"]))
        for key in ("oneOf", "anyOf"):
            if key in s:
                base = {k: v for k, v in s.items() if k != key}
                branch = rng.choice(s[key])
                if base.get("type") == "object" or "properties" in base:
                    obj = self.valid(base, ref, depth + 1, name)
                    if isinstance(obj, dict):
                        for r in branch.get("required", []):
                            if r not in obj and r in base.get("properties", {}):
                                obj[r] = self.valid(base["properties"][r], ref, depth + 1, r)
                        # oneOf of required sets: keep only the chosen branch's members.
                        others = [m for b in s[key] if b is not branch for m in b.get("required", [])]
                        for m in others:
                            if m not in branch.get("required", []):
                                obj.pop(m, None)
                    return obj
                return self.valid(branch, ref, depth + 1, name)
        if "allOf" in s:
            merged = {}
            for part in s["allOf"]:
                p, _ = self.spec.resolve(part, ref)
                merged.update(p)
            return self.valid(merged, ref, depth + 1, name)
        t = s.get("type")
        if isinstance(t, list):
            t = rng.choice(t)
        if t == "object" or "properties" in s:
            out = {}
            props = s.get("properties", {})
            required = set(s.get("required", []))
            for k, v in props.items():
                if k in required or rng.random() < 0.5:
                    val = self.valid(v, ref, depth + 1, k)
                    if val is not None or k in required:
                        out[k] = val
            return out
        if t == "array":
            n = rng.randint(s.get("minItems", 0), min(s.get("maxItems", 4), s.get("minItems", 0) + 3))
            items = s.get("items", {})
            out = []
            for _ in range(n * 3):
                if len(out) >= n:
                    break
                v = self.valid(items, ref, depth + 1, name)
                if not s.get("uniqueItems") or v not in out:
                    out.append(v)
            return out
        if t == "integer":
            lo = s.get("minimum", 0)
            hi = s.get("maximum", lo + 1000)
            if name == "timeout_s" and "wait" in ref:
                hi = min(hi, 1)  # access.wait long-polls: keep the run moving
            return rng.choice([lo, hi, rng.randint(lo, hi)])
        if t == "number":
            return rng.uniform(s.get("minimum", 0), s.get("maximum", 1000))
        if t == "boolean":
            return rng.random() < 0.5
        if t == "null":
            return None
        if t == "string":
            return self.string(s, name)
        return None

    def string(self, s, name):
        rng = self.rng
        pattern = s.get("pattern", "")
        for prefix in ("rq_", "gr_", "cl_", "sc_"):
            if pattern.startswith("^" + prefix):
                got = self.pools.pick(prefix, rng)
                if got and rng.random() < 0.85:
                    return got
        if name in ("name",) or pattern.startswith("^[A-Za-z_][A-Za-z0-9_.-]"):
            got = self.pools.pick_name(rng)
            if got and got not in self.avoid and rng.random() < 0.7:
                return got
        if name == "recipient_key":
            return self.recipient_key
        if name == "value_base64":
            return base64.b64encode(os.urandom(rng.randint(0, 64))).decode()
        if pattern:
            for _ in range(5):
                v = gen_regex(pattern, rng)
                lo, hi = s.get("minLength", 0), s.get("maxLength", 10 ** 9)
                if lo <= len(v) <= hi and v not in self.avoid:
                    return v
            return v
        lo = s.get("minLength", 0)
        hi = min(s.get("maxLength", lo + 24), lo + 24)
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 _-é"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, max(lo, hi))))

    # ---- invalid variants -------------------------------------------------------------

    def boundary(self, s, ref):
        """A value at or just past one of the schema's bounds."""
        s, ref = self.spec.resolve(s, ref)
        rng = self.rng
        if not isinstance(s, dict):
            return None
        t = s.get("type")
        if t == "string" or "maxLength" in s or "minLength" in s:
            n = rng.choice([x for x in (s.get("minLength", 0) - 1, s.get("minLength", 0),
                                        s.get("maxLength", 64), s.get("maxLength", 64) + 1) if x >= 0])
            unit = rng.choice(["a", "é", "🔑", "\u0000", "\\", "\"", "\ud7ff"])
            return unit * n
        if t in ("integer", "number"):
            lo, hi = s.get("minimum"), s.get("maximum")
            cands = [0, -1, 2 ** 31, 2 ** 53, 2 ** 63, -2 ** 63, 2 ** 64, 1.5, 1e308]
            for b in (lo, hi):
                if b is not None:
                    cands += [b - 1, b, b + 1]
            return rng.choice(cands)
        if t == "array":
            n = rng.choice([0, s.get("minItems", 0), s.get("maxItems", 8), s.get("maxItems", 8) + 1])
            item = self.valid(s.get("items", {}), ref)
            return [item] * n
        if "enum" in s:
            v = rng.choice(s["enum"])
            return rng.choice([str(v).upper(), str(v) + " ", "", v])
        return self.swap(None)

    def swap(self, v):
        return self.rng.choice([None, True, 0, -1, 1.5, "", "x", [], {}, [v], {"v": v},
                                str(v), "A" * 5000])

    def mutate(self, params, schema, ref):
        """One schema-breaking change of valid params."""
        rng = self.rng
        s, ref = self.spec.resolve(schema, ref)
        props = s.get("properties", {}) if isinstance(s, dict) else {}
        p = copy.deepcopy(params) if isinstance(params, dict) else {}
        choice = rng.randrange(9)
        if choice == 0 and s.get("required"):
            p.pop(rng.choice(s["required"]), None)
        elif choice == 1:
            p[rng.choice(["extra", "Name", "params", "__proto__", "id", "x" * 200])] = self.swap(1)
        elif choice in (2, 3, 4) and props:
            k = rng.choice(list(props))
            p[k] = self.boundary(props[k], ref)
        elif choice == 5 and props:
            k = rng.choice(list(props))
            p[k] = self.swap(p.get(k))
        elif choice == 6:
            # Deeper documents are sent as raw bytes (odd_request): Python's encoder recurses.
            deep = rng.choice([31, 32, 33, 100, 200])
            v = "x"
            for _ in range(deep):
                v = [v] if rng.random() < 0.5 else {"a": v}
            p[rng.choice(list(props) or ["a"])] = v
        elif choice == 7:
            return self.swap(p)  # params not an object
        else:
            k = rng.choice(list(props) or ["a"])
            p[k] = "Z" * rng.choice([4096, 65536, 65537, 300000])
        return p


# ---------------------------------------------------------------------------------------
# The daemon


def token_hash(token):
    return "blake2b256:" + hashlib.blake2b(token.encode(), digest_size=32).hexdigest()


class Daemon:
    def __init__(self, args):
        self.args = args
        self.proc = None
        self.log_path = None
        self.tmp = None
        self.url = args.url
        self.tokens = {}

    def start(self):
        if self.url:
            for role in ("admin", "approver", "approver2", "agent"):
                path = getattr(self.args, role + "_token_file")
                if path:
                    self.tokens[role] = pathlib.Path(path).read_text().strip()
            missing = [r for r in ("admin", "approver", "agent") if r not in self.tokens]
            if missing:
                raise SystemExit("live-fuzz: with --url give --%s-token-file" % missing[0])
            self.tokens.setdefault("approver2", self.tokens["approver"])
            if self.args.daemon_log:
                self.log_path = self.args.daemon_log
            return
        assentd = self.args.assentd
        if not os.access(assentd, os.X_OK):
            raise SystemExit("live-fuzz: %s is not an executable assentd (build first)" % assentd)
        self.tmp = tempfile.mkdtemp(prefix="assent-live-fuzz-")
        data = os.path.join(self.tmp, "data")
        os.makedirs(data, mode=0o700)
        for role in ("admin", "approver", "approver2", "agent"):
            self.tokens[role] = "lf-%s-%s" % (role, pysecrets.token_hex(16))
        tokens_file = os.path.join(self.tmp, "tokens.json")
        names = {"admin": "lf-admin", "approver": "alice", "approver2": "bob", "agent": "lf-agent"}
        roles = {"admin": "admin", "approver": "approver", "approver2": "approver", "agent": "agent"}
        with open(tokens_file, "w") as fh:
            json.dump({"version": 1, "tokens": [
                {"name": names[r], "role": roles[r], "hash": token_hash(t)}
                for r, t in self.tokens.items()]}, fh)
        os.chmod(tokens_file, 0o600)
        self.log_path = os.path.join(self.tmp, "assentd.log")
        cmd = [assentd, "--data-dir", data, "--listen", "tcp://127.0.0.1:0",
               "--tokens-file", tokens_file, "--validate-responses", "--heartbeat-s", "1",
               "--log-level", "debug"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        discovery = os.path.join(data, "assentd.json")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("live-fuzz: assentd exited with %s at start-up:\n%s" %
                                 (self.proc.returncode, self.log_tail()))
            try:
                doc = json.loads(open(discovery).read())
                tcp = [l["address"] for l in doc["listeners"] if l["transport"] == "tcp"]
                if tcp:
                    self.url = "http://" + tcp[0]
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        raise SystemExit("live-fuzz: assentd did not become ready in 20 s:\n" + self.log_tail())

    def alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            return False, "assentd exited with status %s" % self.proc.returncode
        try:
            r = requests.get(self.url + "/healthz", timeout=10)
            if r.status_code != 200 or r.text.strip() != "ok":
                return False, "/healthz answered %s %r" % (r.status_code, r.text[:100])
        except requests.RequestException as e:
            return False, "/healthz failed: %s" % e
        return True, ""

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        return open(self.log_path, "rb").read().decode("utf-8", "replace")

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()

    def cleanup(self, keep):
        if self.tmp and not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The run


class Violation(Exception):
    pass


# Findings reported to the owners of src/ and not yet fixed: reported as "known" and not
# failing the run (unless --strict), so that CI still catches every new finding. Each
# entry: (id, kind, regex on the message). Remove an entry once its fix lands.
KNOWN = [
    # None open. Fixed: http-options-404 (OPTIONS on a known path is 405 + Allow) and
    # http-unread-body-desync (a body the server does not read ends the connection with
    # Connection: close, ASSENT-HTTP-022).
]


def show(data):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    data = data if isinstance(data, str) else json.dumps(data)
    return data if len(data) <= SHOW_BYTES else data[:SHOW_BYTES] + "…(%d bytes)" % len(data)


class Fuzzer:
    def __init__(self, args, spec, daemon):
        self.args = args
        self.spec = spec
        self.d = daemon
        self.rng = random.Random(args.seed)
        self.pools = Pools()
        self.lock = threading.Lock()
        self.violations = []
        self.kinds = {}
        self.known = {}
        self.reveals = 0
        self.events_checked = 0
        self.seen = {}
        self.count = 0
        self.statuses = {}
        self.auth_failure_at = 0.0
        self.stop = threading.Event()
        self.sse_text = {}
        self.identities = {}
        self.needles = []
        self.planted = {}

    # ---- HTTP -------------------------------------------------------------------------

    def headers(self, role, identity=None):
        h = {"Assent-Api-Version": "1", "Content-Type": "application/json",
             "Authorization": "Bearer " + self.d.tokens[role]}
        if identity:
            cid, key = self.identities[identity]
            h["Assent-Client-Id"] = cid
            h["Assent-Client-Key"] = key
        return h

    def violation(self, kind, message, exchange=None):
        if not self.args.strict:
            for known_id, known_kind, pattern in KNOWN:
                if kind == known_kind and re.search(pattern, message):
                    with self.lock:
                        self.known[known_id] = self.known.get(known_id, 0) + 1
                    return
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            # The first two of each distinct finding say enough.
            key = (kind, re.sub(r"[0-9]+|'[^']*'|\"[^\"]*\"", "_", message)[:90])
            self.seen[key] = self.seen.get(key, 0) + 1
            if self.seen[key] > 2:
                return
            text = "[%s] %s" % (kind, message)
            if exchange:
                text += "\n  request:  %s\n  response: %s" % exchange
            self.violations.append(text)
            print("VIOLATION " + text, flush=True)

    def send(self, session, method, path, headers, body, expect_json_rpc=None):
        """One exchange; returns (status, headers, body bytes) or None on transport error."""
        try:
            r = session.request(method, self.d.url + path, headers=headers, data=body,
                                timeout=self.args.request_timeout)
        except (requests.exceptions.InvalidHeader, ValueError, UnicodeError):
            return None  # the client library refused to send it
        except requests.RequestException as e:
            ok, why = self.d.alive()
            if not ok:
                raise Violation("crash: %s after %s %s\n  request: %s\n  daemon log:\n%s" %
                                (why, method, path, show(body or b""), self.d.log_tail()))
            if body is not None and len(body) <= self.spec.limits["rpc_body_bytes_max"]:
                self.violation("transport", "%s %s: the connection failed (%s) although the "
                               "daemon is up (ASSENT-RPC-022)" % (method, path, e),
                               (show(body), "-"))
            return None
        with self.lock:
            self.count += 1
            self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        if not self.check_answer(method, path, headers, body, r, expect_json_rpc):
            # After a wrong answer the connection may be out of step (a body the server
            # left unread): start a fresh one, so one finding does not cascade.
            session.close()
        return r

    def may_fail_auth(self):
        """Rations authentication failures: at most one per lockout window."""
        window = self.spec.limits.get("auth_failure_window_s", 10) + 1
        with self.lock:
            now = time.time()
            if now - self.auth_failure_at < window:
                return False
            self.auth_failure_at = now
            return True

    # ---- checks -------------------------------------------------------------------------

    def check_leak(self, where, text, exchange=None):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for label, needle in self.needles:
            if needle in text:
                self.violation("leak", "%s in %s" % (label, where), exchange)

    def check_answer(self, method, path, headers, body, r, calls):
        """Checks one answer; False when it broke a rule."""
        with self.lock:
            before = sum(self.kinds.values()) + sum(self.known.values())
        self._check_answer(method, path, headers, body, r, calls)
        with self.lock:
            return sum(self.kinds.values()) + sum(self.known.values()) == before

    def _check_answer(self, method, path, headers, body, r, calls):
        exchange = ("%s %s %s" % (method, path, show(body or b"")),
                    "%s %s %s" % (r.status_code, r.headers.get("Content-Type"), show(r.content)))
        self.check_leak("a response to %s %s" % (method, path), r.content, exchange)
        status = r.status_code
        base = path.split("?")[0]
        known = {"/rpc": "POST", "/events": "GET", "/healthz": "GET", "/readyz": "GET",
                 "/metrics": "GET", "/discord/interactions": "POST"}
        if base not in known:
            allowed = {404}  # ASSENT-HTTP-003
        elif method != known[base] and not (method == "HEAD" and known[base] == "GET"):
            allowed = {405}  # ASSENT-HTTP-004
        else:
            allowed = {
                "/rpc": {200, 204, 400, 401, 403, 404, 409, 410, 413, 415, 426, 429, 501, 503},
                "/events": {200, 400, 401, 403, 426, 429, 503},
                "/healthz": {200}, "/readyz": {200, 503},
                "/metrics": {200, 401, 429},
                "/discord/interactions": {200, 401, 404, 413},
            }[base]
        if status == 500:
            self.violation("status", "HTTP 500 (an internal error) for %s %s" % (method, path),
                           exchange)
            return
        if status not in allowed:
            self.violation("status", "HTTP %d is not a status the spec gives %s %s" %
                           (status, method, base), exchange)
            return
        if status in (429, 503) and base not in ("/readyz",):
            try:
                ra = int(r.headers.get("Retry-After", "x"))
                # A HEAD answer has no body to compare with (only the header is checked).
                if method != "HEAD" and ra != r.json().get("retry_after_s"):
                    self.violation("schema", "Retry-After %s differs from retry_after_s" % ra,
                                   exchange)
            except ValueError:
                self.violation("schema", "a %d without an integer Retry-After "
                               "(ASSENT-HTTP-020)" % status, exchange)
        if method == "HEAD":
            return
        if status == 204:
            if r.content:
                self.violation("schema", "a 204 with a body", exchange)
            return
        if base in ("/healthz", "/metrics") and status == 200:
            return
        if base == "/events" and status == 200:
            return
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            self.violation("schema", "a JSON answer with Content-Type %r (ASSENT-HTTP-009)" %
                           ctype, exchange)
            return
        try:
            doc = r.json()
        except ValueError:
            self.violation("schema", "the body is not JSON", exchange)
            return
        if base == "/readyz" and method == "GET":
            err = self.spec.errors_of("schemas/http.json#/definitions/ReadyBody", doc)
            if err:
                self.violation("schema", "/readyz body: " + err, exchange)
            return
        is_rpc = base == "/rpc" and method == "POST" and not (isinstance(doc, dict) and "error" in doc and isinstance(doc.get("error"), str))
        if not is_rpc:
            # Validate against the definition of the body's own error name, for a precise
            # message, then the status the spec gives that name.
            name = doc.get("error") if isinstance(doc, dict) else None
            ref = self.spec.http_error_refs.get(name)
            if ref is None:
                self.violation("schema", "HttpError name %r is not in http.json" % (name,),
                               exchange)
                return
            err = self.spec.errors_of(ref, doc)
            if err:
                self.violation("schema", "HttpError %s body: %s" % (name, err), exchange)
            want = self.spec.http_error_status.get(name)
            if want and status != want:
                self.violation("status", "HttpError %s with HTTP %d, the spec says %d" %
                               (name, status, want), exchange)
            return
        err = self.spec.errors_of("schemas/envelope.json#/definitions/ResponseBody", doc)
        if err:
            self.violation("schema", "envelope.json#ResponseBody: " + err, exchange)
            return
        responses = doc if isinstance(doc, list) else [doc]
        for resp in responses:
            self.check_response(resp, calls or {}, exchange)
        if isinstance(doc, dict):
            if "error" in doc:
                want = self.spec.errors.get(doc["error"]["code"], {}).get("x-http-status")
                if want is not None and want != status:
                    self.violation("status", "error %d answered with HTTP %d, the spec says %d"
                                   % (doc["error"]["code"], status, want), exchange)
            elif status != 200:
                self.violation("status", "a result with HTTP %d" % status, exchange)
        elif status != 200:
            self.violation("status", "a batch answer with HTTP %d" % status, exchange)

    def check_response(self, resp, calls, exchange):
        if "result" in resp:
            self.pools.learn(resp["result"])
            m = calls.get(json.dumps(resp.get("id")))
            if m in self.spec.methods:
                ref = self.spec.methods[m]["result"]["schema"].get("$ref")
                if ref:
                    err = self.spec.errors_of(ref, resp["result"])
                    if err:
                        self.violation("schema", "%s result off %s: %s" % (m, ref, err), exchange)
            return
        e = resp.get("error", {})
        err = self.spec.errors_of("schemas/errors.json#/definitions/ErrorObject", e)
        if err:
            self.violation("schema", "ErrorObject: " + err, exchange)
        comp = self.spec.errors.get(e.get("code"))
        if comp is None:
            self.violation("schema", "error code %s is not in the spec" % e.get("code"), exchange)
        elif "data" in e and comp.get("x-data-schema", {}).get("$ref"):
            err = self.spec.errors_of(comp["x-data-schema"]["$ref"], e["data"])
            if err:
                self.violation("schema", "error %d data: %s" % (e["code"], err), exchange)
        if e.get("code") == -32603:
            self.violation("status", "-32603: a result off its schema or a handler failure",
                           exchange)

    # ---- set-up -----------------------------------------------------------------------

    def rpc(self, session, role, method_name, params, identity=None, check=True):
        body = json.dumps({"jsonrpc": "2.0", "method": method_name, "params": params, "id": 1})
        r = self.send(session, "POST", "/rpc", self.headers(role, identity), body.encode(),
                      {"1": method_name})
        if r is None:
            return None
        try:
            doc = r.json()
        except ValueError:
            return None
        if check and "result" not in doc:
            raise SystemExit("live-fuzz: set-up call %s failed: %s" % (method_name, r.text[:500]))
        return doc

    def setup(self):
        s = requests.Session()
        plain = "planted-%s" % pysecrets.token_hex(12)
        binary = os.urandom(24) + b"planted"
        self.planted = {"LF_PLANTED_ALWAYS": plain.encode(), "LF_PLANTED_NEVER": plain.encode(),
                        "LF_PLANTED_BIN": binary}
        self.rpc(s, "admin", "secret.put", {"name": "LF_PLANTED_ALWAYS", "value": plain})
        self.rpc(s, "admin", "secret.put", {"name": "LF_PLANTED_NEVER", "value": plain,
                                            "policy": {"approval": "never", "uses_per_grant": 1000,
                                                       "ttl_s_default": 3600}})
        self.rpc(s, "admin", "secret.put", {"name": "LF_PLANTED_BIN",
                                            "value_base64": base64.b64encode(binary).decode(),
                                            "policy": {"approvals_required": 2}})
        self.needles = [("the planted value", plain),
                        ("the planted value in base64", base64.b64encode(plain.encode()).decode()),
                        ("the planted binary value in base64", base64.b64encode(binary).decode())]
        for role, tok in self.d.tokens.items():
            self.needles.append(("the %s token" % role, tok))
        for ident, kind in (("agent1", "agent"), ("agent2", "script")):
            doc = self.rpc(s, "agent", "client.hello", {"kind": kind, "name": "live-fuzz-" + ident})
            res = doc["result"]
            self.identities[ident] = (res["client_id"], res["client_key"])
            self.needles.append(("the %s client key" % ident, res["client_key"]))
        # Fuzzed puts and deletes stay away from the planted names.
        self.avoid = set(self.planted)

    # ---- SSE --------------------------------------------------------------------------

    def sse(self, name, role, identity):
        text = []
        self.sse_text[name] = text
        try:
            with requests.get(self.d.url + "/events?since=0", headers=self.headers(role, identity),
                              stream=True, timeout=(5, 5)) as r:
                if r.status_code != 200:
                    self.violation("events", "GET /events as %s answered %d" % (name, r.status_code))
                    return
                for chunk in r.iter_content(chunk_size=None):
                    text.append(chunk)
                    if self.stop.is_set():
                        return
        except requests.RequestException:
            return  # the stream ends with the run (or idles past the read timeout)

    def check_sse(self):
        for name, chunks in self.sse_text.items():
            text = b"".join(chunks).decode("utf-8", "replace")
            self.check_leak("the event stream of " + name, text)
            last = 0
            for block in text.split("\n\n"):
                fields = {}
                for line in block.split("\n"):
                    if line.startswith(":") or not line:
                        continue
                    k, _, v = line.partition(": ")
                    fields[k] = v
                if "event" not in fields:
                    continue
                t = fields["event"]
                if t not in self.spec.events:
                    self.violation("events", "%s: event type %r is not in x-events" % (name, t))
                    continue
                try:
                    data = json.loads(fields.get("data", ""))
                except ValueError:
                    self.violation("events", "%s: %s data is not JSON: %s" % (name, t, show(fields.get("data", ""))))
                    continue
                ref = self.spec.events[t]["schema"]["$ref"]
                self.events_checked += 1
                # ASSENT-EVT-008: an agent's stream carries only its own client's events.
                own = self.identities.get(name, (None,))[0]
                theirs = data.get("originator_client_id") if isinstance(data, dict) else None
                if own and theirs and theirs != own:
                    self.violation("events", "%s's stream carries an event of %s: %s" %
                                   (name, theirs, show(data)))
                err = self.spec.errors_of(ref, data)
                if err:
                    self.violation("events", "%s: %s data off its schema: %s — %s" % (name, t, err, show(data)))
                if "id" in fields and t != "gap":
                    i = int(fields["id"])
                    if i <= last:
                        self.violation("events", "%s: event id %d after %d" % (name, i, last))
                    last = i

    # ---- generation -------------------------------------------------------------------

    def pick_caller(self, rng, method):
        roles = self.spec.methods[method].get("x-roles", []) if method in self.spec.methods else []
        options = [("admin", None), ("approver", None), ("approver2", None), ("agent", "agent1"),
                   ("agent", "agent2"), ("agent", None)]
        if roles and rng.random() < 0.7:
            fitting = [o for o in options if o[0].rstrip("2") in roles or
                       ("originator" in roles and o[0] == "agent")]
            if fitting:
                return rng.choice(fitting)
        return rng.choice(options)

    def gen_call(self, gen, rng, method):
        m = self.spec.methods[method]
        ref = m.get("x-params-schema", {}).get("$ref")
        params = gen.valid({"$ref": ref}, ref) if ref else {}
        if isinstance(params, dict) and method in ("secret.put", "secret.delete") and \
                params.get("name") in self.avoid:
            params["name"] = "LF_" + pysecrets.token_hex(4)
        mode = rng.random()
        if mode < 0.45 or not ref:
            kind = "valid"
        elif mode < 0.55 and m.get("examples"):
            ex = rng.choice(m["examples"])
            params, kind = {p["name"]: p["value"] for p in ex.get("params", [])}, "example"
        else:
            params, kind = gen.mutate(params, {"$ref": ref}, ref), "invalid"
        if method == "access.wait" and isinstance(params, dict):
            # A valid wait long-polls up to long_poll_s_max (default too): keep it short
            # so the run keeps moving; out-of-range values are still sent.
            t = params.get("timeout_s", 30)
            if isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= 30:
                params["timeout_s"] = min(t, 1)
        return params, kind

    def one(self, session, gen, rng):
        r = rng.random()
        if r < 0.05:
            return self.flow(session, rng)
        if r < 0.12:
            return self.odd_request(session, rng)
        if r < 0.20:
            return self.batch(session, gen, rng)
        method = rng.choice(list(self.spec.methods))
        params, _ = self.gen_call(gen, rng, method)
        role, identity = self.pick_caller(rng, method)
        req = {"jsonrpc": "2.0", "method": method, "params": params,
               "id": rng.choice([1, "a", 2 ** 53 - 1, "x" * 100])}
        if rng.random() < 0.05:
            req.pop("id")  # a notification: 204
        body = json.dumps(req).encode()
        self.send(session, "POST", "/rpc", self.headers(role, identity), body,
                  {json.dumps(req.get("id")): method})

    def batch(self, session, gen, rng):
        calls, elems = {}, []
        for i in range(rng.choice([0, 1, 2, 5, 64, 65])):
            method = rng.choice(list(self.spec.methods))
            params, _ = self.gen_call(gen, rng, method)
            e = {"jsonrpc": "2.0", "method": method, "params": params, "id": i}
            if rng.random() < 0.1:
                e.pop("id")
            if rng.random() < 0.05:
                e = rng.choice([1, None, "x", [], {}])
            elems.append(e)
            calls[json.dumps(i)] = method
        role, identity = self.pick_caller(rng, "system.ping")
        self.send(session, "POST", "/rpc", self.headers(role, identity),
                  json.dumps(elems).encode(), calls)

    def odd_request(self, session, rng):
        """Broken envelopes, bytes, headers, paths and methods."""
        h = self.headers("admin")
        kind = rng.randrange(12)
        body = b'{"jsonrpc":"2.0","method":"system.ping","id":1}'
        method, path = "POST", "/rpc"
        if kind == 0:
            body = os.urandom(rng.randint(0, 2000))
        elif kind == 1:
            d = rng.choice([31, 32, 33, 1000, 100000])
            body = (b"[" * d) + b"1" + (b"]" * d)
        elif kind == 2:
            body = b'{"jsonrpc":"2.0","method":"system.ping","id":1,"x":"' + \
                b"A" * rng.choice([1048576 - 60, 1048577, 2000000]) + b'"}'
        elif kind == 3:
            h["Assent-Api-Version"] = rng.choice(["2", "1.x", "", "01", "1.999999999",
                                                  "9" * 40, "1 ", "v1"])
        elif kind == 4:
            h["Content-Type"] = rng.choice(["text/plain", "application/json; charset=utf-8",
                                            "APPLICATION/JSON", "", "application/jsonx"])
        elif kind == 5:
            if not self.may_fail_auth():
                return
            rng.choice([lambda: h.pop("Authorization"),
                        lambda: h.__setitem__("Authorization", "Bearer wrong-token-0123456789"),
                        lambda: h.__setitem__("Authorization", "Basic eDp5"),
                        lambda: h.update({"Assent-Client-Id": self.identities["agent1"][0]}),
                        lambda: h.update({"Assent-Client-Id": self.identities["agent1"][0],
                                          "Assent-Client-Key": self.identities["agent2"][1]})])()
        elif kind == 6:
            # A known path with another method (an open /events stream would block).
            path = rng.choice(["/rpc", "/events", "/healthz", "/metrics", "/readyz"])
            method = rng.choice([m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
                                 if m != ("POST" if path == "/rpc" else "GET") and
                                 not (path == "/events" and m == "HEAD")])
        elif kind == 7:
            path = rng.choice(["/", "/rpc/", "/RPC", "/nope", "/rpc?x=1", "/events/x",
                               "/healthz/x", "/metrics.txt", "/%00", "/" + "a" * 3000])
        elif kind == 8:
            method, path, body = "GET", rng.choice(["/readyz", "/healthz", "/metrics"]), None
        elif kind == 9:
            body = rng.choice([b"", b"null", b"[]", b"[1]", b"{}", b'{"jsonrpc":"2.0"}',
                               b'{"jsonrpc":"2.0","method":1,"id":1}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":{}}',
                               b'{"jsonrpc":"1.0","method":"system.ping","id":1}',
                               b'{"jsonrpc":"2.0","method":"rpc.x","id":null}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":"' + b"i" * 129 + b'"}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":1.5}',
                               b'\xef\xbb\xbf{"jsonrpc":"2.0","method":"system.ping","id":1}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":1}{}',
                               b'{"jsonrpc":"2.0","method":"system.ping","params":null,"id":1}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":1,"id":2}',
                               b'{"jsonrpc":"2.0","method":"system.ping","id":"\xff"}'])
        elif kind == 10:
            method, body = "GET", None
            path = "/events?since=" + rng.choice(["-1", "abc", "1.5", "", "9" * 19, "0" * 30, "0"])
            h["Last-Event-ID"] = rng.choice(["x", "1", "-5", "99999999999999999999"])
            # A stream that opens would block: ask with a short read timeout.
            try:
                r = session.get(self.d.url + path, headers=h, timeout=(5, 0.5), stream=True)
                with self.lock:
                    self.count += 1
                if r.status_code != 200:
                    self.check_answer("GET", path, h, None, r, None)
                r.close()
            except requests.RequestException:
                pass
            return
        else:
            body = json.dumps({"jsonrpc": "2.0", "method": rng.choice(
                ["system.ping", "rpc.discover", "system.info"]), "id": 7}).encode()
        r = self.send(session, method, path, h, body, {"1": "system.ping", "7": "?"})
        if r is not None and body and method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            # A body the server does not read must not leak into the next request on the
            # same keep-alive connection (it would be parsed as that request's start).
            probe = b'{"jsonrpc":"2.0","method":"system.ping","id":1}'
            try:
                p = session.post(self.d.url + "/rpc", headers=self.headers("admin"), data=probe,
                                 timeout=self.args.request_timeout)
                if p.status_code != 200:
                    self.violation("desync", "the request after a %s %s with a %d-byte body on "
                                   "the same connection was answered %d" %
                                   (method, path, len(body), p.status_code),
                                   ("%s %s %s, then POST /rpc %s" % (method, path, show(body),
                                                                      probe.decode()),
                                    "%d %s" % (p.status_code, show(p.content))))
            except requests.RequestException:
                pass
            session.close()

    def flow(self, session, rng):
        """request → decide → reveal, then open the sealed box (ASSENT-REVEAL-005)."""
        name = rng.choice(list(self.planted))
        ident = rng.choice(["agent1", "agent2"])
        doc = self.rpc(session, "agent", "access.request",
                       {"secrets": [name], "reason": "live fuzz flow", "ttl_s": 60}, ident, False)
        if not doc or "result" not in doc:
            return
        req = doc["result"]["request"]
        if req["state"] == "pending":
            for approver in ("approver", "approver2"):
                d = self.rpc(session, approver, "access.decide",
                             {"request_id": req["request_id"], "decision": "approve"}, None, False)
                if d and "result" in d:
                    req = d["result"].get("request", req)
        grant = req.get("grant_id")
        if not grant or PrivateKey is None:
            return
        sk = PrivateKey.generate()
        d = self.rpc(session, "agent", "secret.reveal",
                     {"grant_id": grant, "name": name,
                      "recipient_key": base64.b64encode(bytes(sk.public_key)).decode()}, ident, False)
        if not d or "result" not in d:
            return
        try:
            opened = SealedBox(sk).decrypt(base64.b64decode(d["result"]["sealed_value"]))
        except Exception as e:  # noqa: BLE001 — any failure to open is the finding
            self.violation("reveal", "the sealed value of %s does not open: %s" % (name, e))
            return
        if opened != self.planted[name]:
            self.violation("reveal", "the sealed value of %s opened to other bytes" % name)
        with self.lock:
            self.reveals += 1

    def worker(self, index, deadline):
        rng = random.Random("%s/%d" % (self.args.seed, index))
        gen = Generator(self.spec, self.pools, rng, self.avoid)
        session = requests.Session()
        n = 0
        while not self.stop.is_set() and time.time() < deadline:
            with self.lock:
                if self.count >= self.args.count:
                    return
            try:
                self.one(session, gen, rng)
            except RecursionError:
                continue  # a generated value too deep for Python's encoder: not sent
            except Violation as v:
                with self.lock:
                    self.violations.append(str(v))
                print("VIOLATION %s" % v, flush=True)
                self.stop.set()
                return
            n += 1
            if n % 200 == 0:
                ok, why = self.d.alive()
                if not ok:
                    with self.lock:
                        self.violations.append("crash: " + why + "\n" + self.d.log_tail())
                    self.stop.set()
                    return

    def run(self):
        self.setup()
        streams = [threading.Thread(target=self.sse, args=("admin", "admin", None), daemon=True),
                   threading.Thread(target=self.sse, args=("agent1", "agent", "agent1"), daemon=True)]
        for t in streams:
            t.start()
        deadline = time.time() + self.args.seconds
        workers = [threading.Thread(target=self.worker, args=(i, deadline))
                   for i in range(self.args.workers)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        ok, why = self.d.alive()
        if not ok:
            self.violations.append("crash: %s\n%s" % (why, self.d.log_tail()))
            return
        # /metrics, then the streams and the log.
        r = requests.get(self.d.url + "/metrics", headers=self.headers("admin"), timeout=10)
        self.check_leak("/metrics", r.text)
        for label, pattern in (("a full request id", r"rq_[0-9a-f]{32}"),
                               ("a full grant id", r"gr_[0-9a-f]{32}"),
                               ("a full client id", r"cl_[0-9a-f]{32}")):
            if re.search(pattern, r.text):
                self.violation("leak", "/metrics holds %s (ASSENT-HTTP-008)" % label)
        self.stop.set()
        time.sleep(1.2)  # a heartbeat ends the streams' reads
        self.check_sse()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assentd", default=os.path.join(os.environ.get("ASSENT_BUILD_DIR", "build"), "assentd"))
    ap.add_argument("--url", help="fuzz a running daemon instead of starting one")
    ap.add_argument("--admin-token-file")
    ap.add_argument("--approver-token-file")
    ap.add_argument("--approver2-token-file")
    ap.add_argument("--agent-token-file")
    ap.add_argument("--daemon-log", help="with --url: the daemon's log file, to check for leaks")
    ap.add_argument("--spec-dir", default=str(SPEC))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--count", type=int, default=10 ** 9, help="stop after this many calls")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--request-timeout", type=float, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and log")
    ap.add_argument("--strict", action="store_true", help="fail on the KNOWN findings too")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    print("live-fuzz: seed %d (replay with --seed %d), %g s, %d workers" %
          (args.seed, args.seed, args.seconds, args.workers), flush=True)
    random.seed(args.seed)

    spec = Spec(args.spec_dir)
    daemon = Daemon(args)
    daemon.start()
    print("live-fuzz: target %s" % daemon.url, flush=True)
    fuzzer = Fuzzer(args, spec, daemon)
    started = time.time()
    try:
        fuzzer.run()
    finally:
        daemon.stop()
        fuzzer.check_leak("the daemon's log", daemon.log_text())
        daemon.cleanup(args.keep or bool(fuzzer.violations))
    elapsed = time.time() - started
    print("live-fuzz: %d calls in %.1f s (%.0f/s); statuses %s; %d SSE events checked; "
          "%d sealed values opened" % (
              fuzzer.count, elapsed, fuzzer.count / max(elapsed, 1e-9),
              ", ".join("%d×%d" % (n, s) for s, n in sorted(fuzzer.statuses.items())),
              fuzzer.events_checked, fuzzer.reveals))
    if fuzzer.known:
        print("live-fuzz: known findings, not failing the run (see KNOWN; --strict fails on "
              "them): %s" % ", ".join("%s ×%d" % kv for kv in sorted(fuzzer.known.items())))
    if fuzzer.violations:
        print("live-fuzz: %d violation(s) (%s); seed %d%s" % (
            sum(fuzzer.kinds.values()) or len(fuzzer.violations),
            ", ".join("%s %d" % kv for kv in sorted(fuzzer.kinds.items())), args.seed,
            "; data and log kept in " + daemon.tmp if daemon.tmp else ""))
        for v in fuzzer.violations:
            print("\n" + v)
        return 1
    print("live-fuzz: no violations (seed %d)" % args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

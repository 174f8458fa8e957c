"""Tests of the protocol specification itself (spec/).

Run with: /usr/bin/python3 -m pytest -q tests/spec   (Debian's python3-jsonschema 4.10, draft-07).

What is checked:
- every schema file is draft-07 and valid against the draft-07 meta-schema; every $ref has one of
  the forms the reference daemon resolves and points at an existing definition;
- schema hygiene: no `format`, strings bounded, integers bounded, objects closed;
- spec/openrpc.json: every method of the RFC table, by-name params whose content descriptors agree
  with the method's x-params-schema, examples and error examples that validate, errors with names
  and HTTP statuses that match PROTOCOL.md, x-events with one schema per event type, every x- member
  declared and valid against its declaration;
- limits.json agrees with PROTOCOL.md's limits table, with system.info's limits object and with the
  bounds written in the schemas;
- requirements.json and PROTOCOL.md list the same requirement ids, levels and texts;
- generated negative cases: mutations of valid example params that break one constraint are rejected.
"""

import copy
import json
import pathlib
import re

import jsonschema
import pytest
from jsonschema import Draft7Validator, RefResolver

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
SCHEMAS = SPEC / "schemas"
RFC = ROOT / "docs" / "RFC" / "0001-protocol-and-daemon.md"

RFC_METHODS = [
    "rpc.discover", "system.ping", "system.info", "client.hello", "secret.put", "secret.list",
    "secret.describe", "secret.delete", "access.request", "access.get", "access.wait", "access.list",
    "access.cancel", "access.extend", "access.decide", "grant.list", "grant.revoke", "grant.revoke_all",
    "secret.reveal", "audit.list", "audit.verify",
]
RFC_ERRORS = {  # code: (name, HTTP status) -- RFC 0001 section 2
    -32700: ("parse_error", 400), -32600: ("invalid_request", 400), -32601: ("method_not_found", 404),
    -32602: ("invalid_params", 400), -32603: ("internal_error", 500), -32001: ("forbidden", 403),
    -32002: ("not_found", 404), -32003: ("invalid_state", 409), -32004: ("expired", 410),
    -32005: ("conflict", 409), -32006: ("limit_exceeded", 413), -32007: ("audit_unavailable", 503),
    -32008: ("not_implemented", 501),
}
EVENT_TYPES = [
    "request.created", "request.approved", "request.denied", "request.timed_out", "request.cancelled",
    "request.extended", "grant.used", "grant.expired", "grant.revoked", "gap", "shutdown",
]
REQ_ID = re.compile(r"^ASSENT-(HTTP|RPC|AUTH|LIM|ID|SEC|REQ|GRANT|REVEAL|EVT|AUDIT|DISC|TGT)-[0-9]{3}$")
SCHEMA_FILE_REF = re.compile(r"^([a-z]+\.json)?#/definitions/[A-Za-z][A-Za-z0-9_]*$")
DOC_SCHEMA_REF = re.compile(r"^schemas/[a-z]+\.json#/definitions/[A-Za-z][A-Za-z0-9_]*$")


# ----------------------------------------------------------------------------- loading


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


SCHEMA_FILES = sorted(p.name for p in SCHEMAS.glob("*.json"))
STORE = {(SCHEMAS / name).as_uri(): _load(SCHEMAS / name) for name in SCHEMA_FILES}
DOC = _load(SPEC / "openrpc.json")
LIMITS = _load(SPEC / "limits.json")
REQUIREMENTS = _load(SPEC / "requirements.json")["requirements"]
PROTOCOL = (SPEC / "PROTOCOL.md").read_text(encoding="utf-8")
METHODS = {m["name"]: m for m in DOC["methods"]}
EXTENSIONS = {e["name"]: e for e in DOC.get("x-extensions", [])}


def file_uri(name):
    return (SCHEMAS / name).as_uri()


def split_doc_ref(ref):
    """'schemas/access.json#/definitions/X' -> ('access.json', 'X')."""
    assert DOC_SCHEMA_REF.match(ref), "unsupported ref form in openrpc.json: %r" % ref
    path, frag = ref.split("#", 1)
    return path[len("schemas/"):], frag.rsplit("/", 1)[1]


def definition(file, name):
    return STORE[file_uri(file)]["definitions"][name]


def validator(file, name):
    """A draft-07 validator for definitions/<name> of schemas/<file>, refs resolved through the store."""
    resolver = RefResolver(base_uri=file_uri(file), referrer=STORE[file_uri(file)], store=STORE)
    return Draft7Validator({"$ref": "%s#/definitions/%s" % (file_uri(file), name)}, resolver=resolver)


def doc_validator(ref):
    return validator(*split_doc_ref(ref))


def deref(file, schema):
    """Follows $ref chains; returns (file, schema) of the first schema that is not a bare ref."""
    seen = 0
    while "$ref" in schema:
        target, frag = schema["$ref"].split("#", 1)
        file = target or file
        schema = STORE[file_uri(file)]
        for part in frag.strip("/").split("/"):
            schema = schema[part]
        seen += 1
        assert seen < 20, "ref loop"
    return file, schema


def params_object(pairing):
    return {p["name"]: p["value"] for p in pairing["params"]}


def walk(node, path=""):
    """Yields (json_pointer, node) for every dict in a JSON value."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, "%s/%s" % (path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def schema_nodes(schema, path=""):
    """Yields (pointer, subschema) for every subschema position of a draft-07 schema."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for kw in ("properties", "patternProperties", "definitions", "dependencies"):
        for k, v in (schema.get(kw) or {}).items():
            if isinstance(v, dict):
                yield from schema_nodes(v, "%s/%s/%s" % (path, kw, k))
    for kw in ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else", "contains",
               "propertyNames"):
        v = schema.get(kw)
        if isinstance(v, dict):
            yield from schema_nodes(v, "%s/%s" % (path, kw))
        elif isinstance(v, list):
            for i, s in enumerate(v):
                yield from schema_nodes(s, "%s/%s/%d" % (path, kw, i))
    for kw in ("oneOf", "anyOf", "allOf"):
        for i, s in enumerate(schema.get(kw) or []):
            yield from schema_nodes(s, "%s/%s/%d" % (path, kw, i))


def pointer(parts):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# ----------------------------------------------------------------------------- schema files


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_file_is_valid_draft07(name):
    schema = STORE[file_uri(name)]
    assert schema.get("$schema") == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)
    assert "$id" not in schema, "valijson ignores $id; resolution is by relative file path only"
    assert schema.get("definitions"), "each schema file is a set of definitions"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_ref_in_schema_file_resolves(name):
    schema = STORE[file_uri(name)]
    resolver = RefResolver(base_uri=file_uri(name), referrer=schema, store=STORE)
    for path, node in walk(schema):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        assert SCHEMA_FILE_REF.match(ref), "%s%s: ref %r must be <file>.json#/definitions/<Name> or #/definitions/<Name>" % (name, path, ref)
        target = ref.split("#")[0]
        assert not target or target in SCHEMA_FILES, "%s%s: no such file %s" % (name, path, target)
        resolver.resolve(ref)  # raises RefResolutionError if missing
        assert set(node) <= {"$ref", "description", "default"}, \
            "%s%s: keywords beside $ref are ignored by draft-07: %s" % (name, path, sorted(node))


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_hygiene(name):
    """No format; every string and integer bounded; every object with properties closed and with required."""
    schema = STORE[file_uri(name)]
    for path, node in schema_nodes(schema):
        where = "%s#%s" % (name, path)
        assert "format" not in node, "%s: use pattern, not format (valijson)" % where
        if "$ref" in node or "enum" in node or "const" in node:
            continue
        t = node.get("type")
        if t == "string":
            assert "maxLength" in node, "%s: string without maxLength" % where
        if t == "integer":
            assert "minimum" in node and "maximum" in node, "%s: integer without minimum/maximum" % where
        if t == "number" and where != "envelope.json#/definitions/Id/oneOf/1":
            pytest.fail("%s: use integer, not number (only JSON-RPC ids may be any number)" % where)
        if t == "array":
            assert "maxItems" in node or path.startswith("/definitions/DiscoverResult"), "%s: array without maxItems" % where
        if t == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, "%s: object must set additionalProperties false" % where
            assert "required" in node, "%s: object must list required (possibly [])" % where
            for r in node["required"]:
                assert r in node["properties"], "%s: required %r not in properties" % (where, r)


def test_time_and_id_patterns_match_rfc():
    common = STORE[file_uri("common.json")]["definitions"]
    assert common["Time"]["pattern"] == r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
    for name, prefix in (("ClientId", "cl_"), ("RequestId", "rq_"), ("GrantId", "gr_"), ("SecretId", "sc_")):
        assert common[name]["pattern"] == "^%s[0-9a-f]{32}$" % prefix
    assert common["SecretName"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
    assert common["ClientKey"]["pattern"] == "^[A-Za-z0-9_-]{43}$"
    assert common["Base64Key32"]["pattern"] == "^[A-Za-z0-9+/]{43}=$"
    assert common["ClientKind"]["enum"] == ["agent", "script", "cli"]
    http = STORE[file_uri("http.json")]["definitions"]
    assert http["ApiVersion"]["pattern"] == r"^[0-9]+(\.[0-9]+)?$"
    assert http["BearerToken"]["pattern"] == "^[A-Za-z0-9_.~-]{16,256}$"


@pytest.mark.parametrize("value,ok", [
    ("2025-03-14T09:26:53Z", True), ("2025-03-14T09:26:53.123456789Z", True),
    ("2025-03-14T09:26:53+00:00", False), ("2025-03-14 09:26:53Z", False), ("2025-03-14T09:26:53.Z", False),
])
def test_time_pattern(value, ok):
    assert validator("common.json", "Time").is_valid(value) is ok


# ----------------------------------------------------------------------------- OpenRPC document


def test_document_header():
    assert DOC["openrpc"] == "1.3.2"
    assert DOC["info"]["version"] == "1.0.0"
    assert DOC["servers"] and DOC["servers"][0]["url"] == "http://127.0.0.1:8750/rpc"


def test_methods_are_exactly_the_rfc_table():
    assert sorted(METHODS) == sorted(RFC_METHODS)
    assert len(DOC["methods"]) == len(METHODS), "duplicate method names"
    if RFC.exists():
        table = set(re.findall(r"^\| `([a-z_.]+)` \|", RFC.read_text(encoding="utf-8"), re.M))
        assert table == set(RFC_METHODS), "RFC 0001 method table changed: update the spec"


@pytest.mark.parametrize("name", RFC_METHODS)
def test_method_shape(name):
    m = METHODS[name]
    assert m["paramStructure"] == "by-name"
    assert m.get("summary") and m.get("description")
    assert m["examples"], "every method has at least one example pairing"
    assert m["x-error-examples"], "every method has at least one error example"
    assert m["x-roles"]
    assert DOC_SCHEMA_REF.match(m["x-params-schema"]["$ref"])
    assert DOC_SCHEMA_REF.match(m["result"]["schema"]["$ref"])
    codes = {DOC["components"]["errors"][e["$ref"].rsplit("/", 1)[1]]["code"] for e in m["errors"]}
    assert -32602 in codes, "every method can fail params validation"


@pytest.mark.parametrize("name", RFC_METHODS)
def test_param_descriptors_agree_with_params_schema(name):
    m = METHODS[name]
    file, pdef = split_doc_ref(m["x-params-schema"]["$ref"])
    file, schema = deref(file, definition(file, pdef))
    props = schema.get("properties", {})
    assert schema.get("additionalProperties") is False
    assert [p["name"] for p in m["params"]] == list(props), "params descriptors and schema properties differ"
    for p in m["params"]:
        assert p["required"] == (p["name"] in schema.get("required", [])), p["name"]
        want = props[p["name"]]["$ref"]
        target, frag = want.split("#", 1)
        assert p["schema"]["$ref"] == "schemas/%s#%s" % (target or file, frag), p["name"]


@pytest.mark.parametrize("name", RFC_METHODS)
def test_examples_validate(name):
    m = METHODS[name]
    pv = doc_validator(m["x-params-schema"]["$ref"])
    rv = doc_validator(m["result"]["schema"]["$ref"])
    descriptors = {p["name"]: p for p in m["params"]}
    names = set()
    for ex in m["examples"]:
        assert ex["name"] not in names, "duplicate example name"
        names.add(ex["name"])
        params = params_object(ex)
        errs = sorted(pv.iter_errors(params), key=str)
        assert not errs, "%s/%s params: %s" % (name, ex["name"], errs[0].message)
        for p in ex["params"]:
            assert p["name"] in descriptors
            doc_validator(descriptors[p["name"]]["schema"]["$ref"]).validate(p["value"])
        assert ex["result"]["name"] == m["result"]["name"]
        errs = sorted(rv.iter_errors(ex["result"]["value"]), key=str)
        assert not errs, "%s/%s result: %s at %s" % (name, ex["name"], errs[0].message, list(errs[0].absolute_path))


@pytest.mark.parametrize("name", RFC_METHODS)
def test_error_examples_validate(name):
    m = METHODS[name]
    pv = doc_validator(m["x-params-schema"]["$ref"])
    ev = validator("errors.json", "ErrorObject")
    declared = {DOC["components"]["errors"][e["$ref"].rsplit("/", 1)[1]]["code"] for e in m["errors"]}
    names = set()
    for ex in m["x-error-examples"]:
        assert ex["name"] not in names
        names.add(ex["name"])
        err = ex["error"]
        ev.validate(err)
        assert err["code"] in declared, "%s/%s: code %d not in the method's errors" % (name, ex["name"], err["code"])
        params = params_object(ex)
        errors = list(pv.iter_errors(params))
        if err["code"] == -32602:
            assert errors, "%s/%s: an invalid_params example must have invalid params" % (name, ex["name"])
            paths = {pointer(e.absolute_path) for e in errors}
            for e in errors:  # errors inside oneOf/anyOf branches count too
                for c in e.context or []:
                    paths.add(pointer(c.absolute_path))
            assert err["data"]["instance_path"] in paths, \
                "%s/%s: instance_path %r is not where validation fails (%s)" % (name, ex["name"], err["data"]["instance_path"], paths)
        else:
            assert not errors, "%s/%s: params of a non-32602 error example must be valid: %s" % (name, ex["name"], errors[0].message)


def test_components_errors_match_rfc_and_protocol():
    comps = DOC["components"]["errors"]
    by_code = {e["code"]: e for e in comps.values()}
    assert len(by_code) == len(comps)
    assert set(by_code) == set(RFC_ERRORS)
    enum = STORE[file_uri("errors.json")]["definitions"]["ErrorCode"]["enum"]
    assert sorted(enum) == sorted(RFC_ERRORS)
    table = {int(c): (n, int(h)) for c, n, h in
             re.findall(r"^\| (-32[0-9]{3}) \| `([a-z_]+)` \| ([0-9]{3}) \|", PROTOCOL, re.M)}
    for code, (name, status) in RFC_ERRORS.items():
        e = by_code[code]
        assert e["x-name"] == name and e["x-http-status"] == status, code
        assert table.get(code) == (name, status), "PROTOCOL.md errors table disagrees for %d" % code
        if "x-data-schema" in e:
            doc_validator(e["x-data-schema"]["$ref"])
    assert -32042 not in by_code


def test_every_error_code_has_an_example():
    seen = {ex["error"]["code"] for m in DOC["methods"] for ex in m["x-error-examples"]}
    app = {c for c in RFC_ERRORS if c > -32100 and c not in (-32008,)}
    assert app - seen == set(), "application codes without an error example: %s" % sorted(app - seen)


def test_every_x_member_is_declared_and_valid():
    for path, node in walk(DOC):
        for k, v in node.items():
            if not k.startswith("x-") or k == "x-extensions":
                continue
            assert k in EXTENSIONS, "%s/%s: undeclared extension" % (path, k)
            Draft7Validator(EXTENSIONS[k]["schema"]).validate(v)
    for e in EXTENSIONS.values():
        assert e["openrpcExtension"] == "0.0.0-development" and e["version"]
        Draft7Validator.check_schema(e["schema"])


def test_x_events():
    events = DOC["x-events"]
    assert list(events) == EVENT_TYPES
    assert STORE[file_uri("events.json")]["definitions"]["EventType"]["enum"] == EVENT_TYPES
    for t, e in events.items():
        doc_validator(e["schema"]["$ref"])
        assert "`%s`" % t in PROTOCOL, "event %s not described in PROTOCOL.md" % t


def test_x_requirements_exist():
    ids = {r["id"] for r in REQUIREMENTS}
    for m in DOC["methods"]:
        for rid in m["x-requirements"]:
            assert rid in ids, "%s cites unknown requirement %s" % (m["name"], rid)


# ----------------------------------------------------------------------------- events, files, http bodies

GOOD_EVENTS = {
    "request.created": {"request_id": "rq_" + "a" * 32, "originator_client_id": "cl_" + "b" * 32, "state": "pending",
                        "secrets": ["GITHUB_TOKEN"], "mode": "interactive", "ttl_s": 300, "approvals_required": 1,
                        "command_bound": False, "expires_at": "2025-03-14T09:56:53Z", "time": "2025-03-14T09:26:53Z"},
    "gap": {"from_id": 1, "to_id": 41},
    "shutdown": {"reason": "signal"},
    "grant.used": {"grant_id": "gr_" + "c" * 32, "request_id": "rq_" + "a" * 32, "originator_client_id": "cl_" + "b" * 32,
                   "secret_name": "GITHUB_TOKEN", "uses_left": 0, "state": "exhausted", "time": "2025-03-14T09:26:53Z"},
}


@pytest.mark.parametrize("etype", sorted(GOOD_EVENTS))
def test_event_data_examples(etype):
    v = doc_validator(DOC["x-events"][etype]["schema"]["$ref"])
    v.validate(GOOD_EVENTS[etype])
    bad = dict(GOOD_EVENTS[etype], reason="leaks reason text")
    assert not v.is_valid(bad), "event data must not accept extra members such as reason"


def test_discovery_and_tokens_files():
    disc = validator("discovery.json", "DiscoveryFile")
    good = {"pid": 4242, "daemon_version": "0.1.0", "protocol_version": "1.0.0",
            "listeners": [{"transport": "tcp", "address": "127.0.0.1:40123"},
                          {"transport": "unix", "address": "/tmp/d/run/assentd.sock"}]}
    disc.validate(good)
    assert not disc.is_valid(dict(good, listeners=[{"transport": "tcp", "address": "127.0.0.1:0"}]))
    assert not disc.is_valid(dict(good, listeners=[{"transport": "unix", "address": "relative.sock"}]))
    tokens = validator("tokens.json", "TokensFile")
    tok = {"version": 1, "tokens": [{"name": "admin-1", "role": "admin", "hash": "blake2b256:" + "0" * 64}]}
    tokens.validate(tok)
    assert not tokens.is_valid({"version": 2, "tokens": []})
    assert not tokens.is_valid({"version": 1, "tokens": [{"name": "a", "role": "root", "hash": "blake2b256:" + "0" * 64}]})
    assert not tokens.is_valid({"version": 1, "tokens": [{"name": "a", "role": "admin", "hash": "sha256:" + "0" * 64}]})


def test_http_error_bodies():
    v = validator("http.json", "HttpError")
    v.validate({"error": "unsupported_version",
                "message": "Assent-Api-Version 2 is not supported; this server speaks major version 1",
                "expected": "1", "received": "2"})
    v.validate({"error": "locked_out", "message": "too many authentication failures", "retry_after_s": 60})
    v.validate({"error": "payload_too_large", "message": "body larger than 1048576 bytes", "limit_bytes": 1048576})
    assert not v.is_valid({"error": "unsupported_version", "message": "m"}), "426 names expected and received"
    assert not v.is_valid({"error": "locked_out", "message": "m"}), "429 has retry_after_s"
    assert not v.is_valid({"error": "teapot", "message": "m"})
    statuses = set(int(s) for s in re.findall(r"^\| ([0-9]{3}) \| `[a-z_]+` \|", PROTOCOL, re.M))
    assert {400, 401, 403, 404, 405, 413, 415, 426, 429, 503} <= statuses


def test_envelope():
    req = validator("envelope.json", "Request")
    req.validate({"jsonrpc": "2.0", "method": "system.ping", "id": 1})
    req.validate({"jsonrpc": "2.0", "method": "system.ping", "id": None})
    req.validate({"jsonrpc": "2.0", "method": "system.ping"})
    for bad in ({"jsonrpc": "1.0", "method": "m", "id": 1}, {"jsonrpc": "2.0", "method": "m", "id": {}},
                {"jsonrpc": "2.0", "method": "m", "id": [1]}, {"jsonrpc": "2.0", "method": "m", "id": True},
                {"jsonrpc": "2.0", "method": "m", "id": 1, "extra": 1}, {"jsonrpc": "2.0", "method": "m", "id": "x" * 129},
                {"jsonrpc": "2.0", "method": "m" * 65, "id": 1}):
        assert not req.is_valid(bad), bad
    batch = validator("envelope.json", "Batch")
    assert not batch.is_valid([])
    assert not batch.is_valid([{"jsonrpc": "2.0", "method": "system.ping", "id": i} for i in range(65)])
    body = validator("envelope.json", "ResponseBody")
    body.validate({"jsonrpc": "2.0", "id": 1, "result": {"pong": True}})
    body.validate({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
    body.validate([{"jsonrpc": "2.0", "id": "a", "error": {"code": -32600, "message": "invalid request",
                                                           "data": {"reason": "not an object"}}}])
    assert not body.is_valid({"jsonrpc": "2.0", "id": 1, "result": 1, "error": {"code": -32603, "message": "x"}})
    assert not body.is_valid({"jsonrpc": "2.0", "id": 1, "error": {"code": -32042, "message": "x"}})


# ----------------------------------------------------------------------------- limits

LIMIT_BOUNDS = [  # (limit, schema file, pointer to a keyword whose value must equal the limit)
    ("secret_value_bytes_max", "secret.json", "/definitions/SecretValue/maxLength"),
    ("secret_value_bytes_max", "secret.json", "/definitions/SecretMeta/properties/size_bytes/maximum"),
    ("secret_name_bytes_max", "common.json", "/definitions/SecretName/maxLength"),
    ("reason_bytes_max", "common.json", "/definitions/Reason/maxLength"),
    ("note_bytes_max", "common.json", "/definitions/Note/maxLength"),
    ("client_name_bytes_max", "common.json", "/definitions/ClientName/maxLength"),
    ("description_bytes_max", "common.json", "/definitions/Description/maxLength"),
    ("secrets_per_request_max", "common.json", "/definitions/SecretNames/maxItems"),
    ("argv_items_max", "common.json", "/definitions/Command/properties/argv/maxItems"),
    ("argv_item_bytes_max", "common.json", "/definitions/Command/properties/argv/items/maxLength"),
    ("cwd_bytes_max", "common.json", "/definitions/Command/properties/cwd/maxLength"),
    ("client_request_id_bytes_max", "common.json", "/definitions/ClientRequestId/maxLength"),
    ("ttl_s_max", "common.json", "/definitions/TtlS/maximum"),
    ("timeout_s_max", "common.json", "/definitions/TimeoutS/maximum"),
    ("long_poll_s_max", "access.json", "/definitions/WaitTimeoutS/maximum"),
    ("list_page_max", "access.json", "/definitions/ListLimit/maximum"),
    ("list_page_max", "access.json", "/definitions/ListResult/properties/requests/maxItems"),
    ("list_page_max", "grant.json", "/definitions/ListResult/properties/grants/maxItems"),
    ("audit_page_max", "audit.json", "/definitions/AuditLimit/maximum"),
    ("audit_page_max", "audit.json", "/definitions/ListResult/properties/entries/maxItems"),
    ("batch_length_max", "envelope.json", "/definitions/Batch/maxItems"),
    ("id_string_bytes_max", "envelope.json", "/definitions/Id/oneOf/0/maxLength"),
    ("method_name_bytes_max", "envelope.json", "/definitions/MethodName/maxLength"),
    ("approvals_required_max", "common.json", "/definitions/ApprovalsRequired/maximum"),
    ("uses_per_grant_max", "common.json", "/definitions/UsesPerGrant/maximum"),
    ("rpc_body_bytes_max", None, None),
]


def test_limits_file_shape():
    assert len(LIMITS) >= 34
    for name, entry in LIMITS.items():
        assert re.match(r"^[a-z][a-z0-9_]*$", name)
        assert set(entry) == {"value", "unit", "error", "reason"}, name
        assert isinstance(entry["value"], int) and entry["value"] >= 0, name
        assert entry["unit"] in ("bytes", "items", "seconds", "count", "levels"), name
        assert entry["error"] and entry["reason"], name


def test_required_limits_present():
    want = {"rpc_body_bytes_max": 1048576, "batch_length_max": 64, "json_depth_max": 32,
            "secret_value_bytes_max": 65536, "secret_name_bytes_max": 128, "reason_bytes_max": 2048,
            "note_bytes_max": 1024, "client_name_bytes_max": 128, "description_bytes_max": 512,
            "secrets_per_request_max": 16, "argv_items_max": 256, "argv_item_bytes_max": 4096,
            "cwd_bytes_max": 4096, "client_request_id_bytes_max": 128, "ttl_s_max": 86400, "timeout_s_max": 86400,
            "pending_requests_per_client_max": 16, "long_poll_s_max": 30, "sse_subscribers_max": 64,
            "list_page_max": 500, "audit_page_max": 1000, "auth_failures_max": 3, "auth_failure_window_s": 10,
            "lockout_s": 60, "heartbeat_s_default": 15, "heartbeat_s_min": 1, "timeout_interactive_s_default": 1800,
            "timeout_unattended_s_default": 300, "event_retention_count_max": 100000, "event_retention_s": 86400,
            "id_string_bytes_max": 128, "method_name_bytes_max": 64, "approvals_required_max": 10,
            "uses_per_grant_max": 1000}
    for k, v in want.items():
        assert LIMITS[k]["value"] == v, k


def test_limits_table_in_protocol_matches():
    rows = {n: (int(v), u) for n, v, u in
            re.findall(r"^\| `([a-z0-9_]+)` \| ([0-9]+) \| ([a-z]+) \|", PROTOCOL, re.M)}
    assert set(rows) == set(LIMITS), "PROTOCOL.md limits table and limits.json list different names"
    for name, entry in LIMITS.items():
        assert rows[name] == (entry["value"], entry["unit"]), name


def test_system_info_limits_cover_limits_json():
    lim = STORE[file_uri("system.json")]["definitions"]["Limits"]
    assert set(lim["required"]) == set(LIMITS) == set(lim["properties"])


@pytest.mark.parametrize("limit,file,ptr", [b for b in LIMIT_BOUNDS if b[1]])
def test_schema_bounds_mirror_limits(limit, file, ptr):
    node = STORE[file_uri(file)]
    for part in ptr.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert node == LIMITS[limit]["value"], "%s%s = %r, limits.json %s = %r" % (file, ptr, node, limit, LIMITS[limit]["value"])


def test_base64_bounds_follow_value_limit():
    n = LIMITS["secret_value_bytes_max"]["value"]
    b64 = lambda k: 4 * ((k + 2) // 3)
    assert definition("secret.json", "SecretValueBase64")["maxLength"] == b64(n)
    assert definition("secret.json", "SealedValue")["maxLength"] == b64(n + 48)


# ----------------------------------------------------------------------------- requirements


REQ_LINE = re.compile(r"^- \*\*(ASSENT-[A-Z]+-[0-9]{3})\*\* \((MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\) (.+)$", re.M)


def test_requirement_ids_agree_both_ways():
    prose = REQ_LINE.findall(PROTOCOL)
    prose_ids = [p[0] for p in prose]
    json_ids = [r["id"] for r in REQUIREMENTS]
    assert len(prose_ids) == len(set(prose_ids)), "duplicate ids in PROTOCOL.md"
    assert len(json_ids) == len(set(json_ids)), "duplicate ids in requirements.json"
    assert set(prose_ids) == set(json_ids), "only in PROTOCOL.md: %s; only in requirements.json: %s" % (
        sorted(set(prose_ids) - set(json_ids)), sorted(set(json_ids) - set(prose_ids)))
    mentioned = set(re.findall(r"ASSENT-[A-Z]+-[0-9]{3}", PROTOCOL))
    assert mentioned == set(prose_ids), "ids mentioned but never defined: %s" % sorted(mentioned - set(prose_ids))
    by_id = {r["id"]: r for r in REQUIREMENTS}
    for rid, kw, text in prose:
        r = by_id[rid]
        assert r["level"] == kw.split()[0], rid
        assert r["text"] == text.strip(), "%s: text differs between PROTOCOL.md and requirements.json" % rid


def test_requirement_entries():
    for r in REQUIREMENTS:
        assert set(r) == {"id", "level", "section", "text", "profile"}, r["id"]
        assert REQ_ID.match(r["id"]), r["id"]
        assert r["level"] in ("MUST", "SHOULD", "MAY")
        assert r["profile"] in ("core", "events", "discord")
        assert r["section"] and r["text"]
        assert r["level"] in r["text"] or r["level"] == "MUST" and "MUST" in r["text"], \
            "%s: the text must use its RFC 2119 keyword" % r["id"]
        if r["id"].startswith("ASSENT-EVT-"):
            assert r["profile"] == "events", r["id"]
        if r["id"].startswith("ASSENT-DISC-"):
            assert r["profile"] == "discord", r["id"]


# ----------------------------------------------------------------------------- generated negative cases


def _wrong_type(value):
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return "not-an-array"
    if isinstance(value, dict):
        return ["not-an-object"]
    return 0


def _mutations(name):
    """(label, params) pairs, each breaking exactly one constraint of a valid example's params."""
    m = METHODS[name]
    file, pdef = split_doc_ref(m["x-params-schema"]["$ref"])
    file, schema = deref(file, definition(file, pdef))
    props = schema.get("properties", {})
    out = []
    seen = set()
    for ex in m["examples"]:
        base = params_object(ex)
        out.append(("%s: unknown member" % ex["name"], dict(base, unknown_member=1)))
        for req in schema.get("required", []):
            if req in base and ("drop", req) not in seen:
                seen.add(("drop", req))
                p = dict(base)
                del p[req]
                out.append(("%s: drop required %s" % (ex["name"], req), p))
        for key, value in base.items():
            if ("type", key) not in seen:
                seen.add(("type", key))
                out.append(("%s: wrong type for %s" % (ex["name"], key), dict(base, **{key: _wrong_type(value)})))
            pfile, pschema = deref(file, props[key])
            if pschema.get("type") == "string" and "maxLength" in pschema and ("long", key) not in seen:
                seen.add(("long", key))
                out.append(("%s: %s one character too long" % (ex["name"], key),
                            dict(base, **{key: "a" * (pschema["maxLength"] + 1)})))
            if pschema.get("type") == "integer" and ("range", key) not in seen:
                seen.add(("range", key))
                out.append(("%s: %s above maximum" % (ex["name"], key), dict(base, **{key: pschema["maximum"] + 1})))
                out.append(("%s: %s below minimum" % (ex["name"], key), dict(base, **{key: pschema["minimum"] - 1})))
            if pschema.get("type") == "array" and "maxItems" in pschema and ("items", key) not in seen:
                seen.add(("items", key))
                out.append(("%s: %s too many items" % (ex["name"], key),
                            dict(base, **{key: [value[0]] * (pschema["maxItems"] + 1)})))
            if "enum" in pschema and ("enum", key) not in seen:
                seen.add(("enum", key))
                out.append(("%s: %s not in enum" % (ex["name"], key), dict(base, **{key: "no-such-value"})))
    return out


NEGATIVE_CASES = [(n, label, params) for n in RFC_METHODS for label, params in _mutations(n)]


@pytest.mark.parametrize("method,label,params", NEGATIVE_CASES, ids=["%s|%s" % (c[0], c[1]) for c in NEGATIVE_CASES])
def test_params_schema_rejects_mutation(method, label, params):
    assert not doc_validator(METHODS[method]["x-params-schema"]["$ref"]).is_valid(params), label


def test_enough_negative_cases():
    assert len(NEGATIVE_CASES) >= 100
    assert {c[0] for c in NEGATIVE_CASES} == set(RFC_METHODS)


@pytest.mark.parametrize("method", RFC_METHODS)
def test_integer_bounds_are_accepted(method):
    """Boundary values N (maximum) and minimum of every integer param are valid where the example is."""
    m = METHODS[method]
    file, pdef = split_doc_ref(m["x-params-schema"]["$ref"])
    file, schema = deref(file, definition(file, pdef))
    v = doc_validator(m["x-params-schema"]["$ref"])
    for ex in m["examples"]:
        base = params_object(ex)
        for key in base:
            _, ps = deref(file, schema["properties"][key])
            if ps.get("type") == "integer":
                assert v.is_valid(dict(base, **{key: ps["maximum"]})), (key, "maximum")
                assert v.is_valid(dict(base, **{key: ps["minimum"]})), (key, "minimum")


def test_secret_put_value_rules():
    v = validator("secret.json", "PutParams")
    assert v.is_valid({"name": "A", "value": "x" * 65536})
    assert not v.is_valid({"name": "A", "value": "x" * 65537})
    assert v.is_valid({"name": "A", "value_base64": "A" * 87384})
    assert not v.is_valid({"name": "A", "value_base64": "A" * 87388})
    assert not v.is_valid({"name": "A"}), "one of value, value_base64 is required"
    assert not v.is_valid({"name": "A", "value": "x", "value_base64": "eA=="}), "not both"
    assert not v.is_valid({"name": "A", "value": "x", "policy": {"approval": "sometimes"}})
    assert not v.is_valid({"name": "A", "value": "x", "policy": {"ttl_s_max": 86401}})
    assert not v.is_valid({"name": "A", "value": "x", "policy": {"client_kinds": []}})
    assert not v.is_valid({"name": "A" * 129, "value": "x"})
    assert v.is_valid({"name": "A" * 128, "value": "x"})


def test_hello_resume_needs_both_id_and_key():
    v = validator("client.json", "HelloParams")
    assert v.is_valid({"kind": "agent", "name": "n"})
    assert not v.is_valid({"kind": "agent", "name": "n", "client_id": "cl_" + "0" * 32})
    assert not v.is_valid({"kind": "agent", "name": "n", "client_key": "A" * 43})
    assert not v.is_valid({"kind": "agent", "name": ""})
    assert not v.is_valid({"kind": "agent", "name": "n" * 129})


def test_access_request_secret_list_rules():
    v = validator("access.json", "RequestParams")
    ok = {"secrets": ["A"], "reason": "r"}
    assert v.is_valid(ok)
    assert not v.is_valid(dict(ok, secrets=[]))
    assert not v.is_valid(dict(ok, secrets=["A", "A"])), "secrets are unique"
    assert v.is_valid(dict(ok, secrets=["S%d" % i for i in range(16)]))
    assert not v.is_valid(dict(ok, secrets=["S%d" % i for i in range(17)]))
    assert not v.is_valid(dict(ok, reason=""))
    assert v.is_valid(dict(ok, reason="r" * 2048))
    assert not v.is_valid(dict(ok, reason="r" * 2049))
    assert not v.is_valid(dict(ok, command={"argv": [], "cwd": "/"}))
    assert not v.is_valid(dict(ok, command={"argv": ["ls"], "cwd": "relative"}))
    assert v.is_valid(dict(ok, command={"argv": ["x"] * 256, "cwd": "/"}))
    assert not v.is_valid(dict(ok, command={"argv": ["x"] * 257, "cwd": "/"}))
    assert not v.is_valid(dict(ok, client_request_id="has space"))


def test_results_never_carry_values():
    """No result schema (other than reveal's sealed_value) has a member that could carry a secret value."""
    forbidden = {"value", "value_base64", "token", "client_key_hash", "plaintext"}
    for m in DOC["methods"]:
        file, name = split_doc_ref(m["result"]["schema"]["$ref"])
        for path, node in schema_nodes(definition(file, name)):
            assert not forbidden & set(node.get("properties", {})), "%s result at %s" % (m["name"], path)
    for n, d in STORE[file_uri("events.json")]["definitions"].items():
        assert "reason" not in d.get("properties", {}) or n == "Shutdown", n


def test_x_roles_match_protocol_role_table():
    section = PROTOCOL.split("## 5. ", 1)[1].split("\n## ", 1)[0]
    table = {}
    for cell_methods, cell_roles in re.findall(r"^\| (`[a-z_.]+`(?:, `[a-z_.]+`)*) \| ([^|]+) \|$", section, re.M):
        words = re.findall(r"[a-z]+", cell_roles.split("(", 1)[0])
        roles = {"admin", "approver", "agent"} if words == ["any"] else set(words)
        for name in re.findall(r"`([a-z_.]+)`", cell_methods):
            table[name] = roles
    assert set(table) == set(RFC_METHODS), "PROTOCOL.md role table must list every method once"
    for name, roles in table.items():
        assert set(METHODS[name]["x-roles"]) == roles, name


@pytest.mark.parametrize("name", RFC_METHODS)
def test_restricted_methods_declare_forbidden(name):
    m = METHODS[name]
    codes = {DOC["components"]["errors"][e["$ref"].rsplit("/", 1)[1]]["code"] for e in m["errors"]}
    if set(m["x-roles"]) != {"admin", "approver", "agent"}:
        assert -32001 in codes, "%s is restricted by role but does not list forbidden" % name
    if m["x-roles"] != ["admin", "approver", "agent"] and any(
            x in name for x in ("put", "delete", "request", "cancel", "extend", "decide", "revoke", "reveal")):
        assert -32007 in codes, "%s changes state and must list audit_unavailable" % name


def test_http_error_names_match_protocol():
    names = set(STORE[file_uri("http.json")]["definitions"]["HttpErrorName"]["enum"])
    table = set(re.findall(r"^\| [0-9]{3} \| `([a-z_]+)` \|", PROTOCOL, re.M))
    assert names == table


def test_no_orphan_definitions():
    """Every definition of the method-area files is used by the document or by another definition."""
    used = set()
    for path, node in walk(DOC):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("schemas/"):
            used.add(tuple(split_doc_ref(ref)))
    for name in SCHEMA_FILES:
        for path, node in walk(STORE[file_uri(name)]):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target, frag = ref.split("#", 1)
                used.add((target or name, frag.rsplit("/", 1)[1]))
    entry_files = {"envelope.json", "http.json", "discovery.json", "tokens.json", "events.json", "errors.json"}
    orphans = [(f, d) for f in SCHEMA_FILES if f not in entry_files
               for d in STORE[file_uri(f)]["definitions"] if (f, d) not in used]
    assert not orphans, orphans

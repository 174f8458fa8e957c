"""Validation of Discord payloads against Discord's own OpenAPI 3.1 document.

The mock checks every body it accepts and every body it emits against the schemas in
`discord-openapi.json` (Discord's public `discord-api-spec`), so the mock cannot drift from
what Discord really accepts and sends. OpenAPI 3.1 schemas are JSON Schema 2020-12, which
Debian's python3-jsonschema (4.10) validates with `Draft202012Validator`.

Design:
- The document (1.1 MB) is parsed once, lazily or by `preload()` in a background thread, so
  the mock's start-up line is printed before any of this work happens.
- One validator per (operation, direction) or component schema, built on first use and
  cached. A validator is the operation's schema with the document's `components` attached,
  so `#/components/...` references resolve inside it.
- jsonschema's RefResolver keeps a mutable scope stack, so one validator must not run on
  two threads at once: each cached validator carries its own lock.
- Errors are turned into Discord's `50035 Invalid Form Body` shape. The OpenAPI document
  models field errors with an integer `code`, but Discord really sends string codes such
  as `BASE_TYPE_REQUIRED` (its prose docs show this; the docs win where they differ).

The interaction payloads Discord POSTs to an app are not described by the OpenAPI document
(they are outgoing webhooks, not endpoints). `INTERACTION_SCHEMA` describes them from
Discord's prose docs, reusing the document's component schemas for every part it has
(message, user, guild member, snowflakes, enums).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))

# Repository root is two levels up (tools/mock-discord/); the shared reference directory
# sits beside the checkout (see BRIEF.md: ../shared/reference/discord-openapi.json).
DEFAULT_OPENAPI_CANDIDATES = (
    os.path.join(_HERE, "discord-openapi.json"),
    os.path.normpath(os.path.join(_HERE, "..", "..", "..", "shared", "reference",
                                  "discord-openapi.json")),
    "/work/shared/reference/discord-openapi.json",
)

SUPPORTED_METHODS = ("get", "put", "post", "patch", "delete")


def find_openapi(explicit: Optional[str] = None) -> str:
    """Returns the path of Discord's OpenAPI document or raises FileNotFoundError."""
    candidates = []
    if explicit:
        candidates.append(explicit)
    env = os.environ.get("ASSENT_DISCORD_OPENAPI")
    if env:
        candidates.append(env)
    candidates.extend(DEFAULT_OPENAPI_CANDIDATES)
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        "Discord OpenAPI document not found; tried: " + ", ".join(candidates)
        + " (pass --openapi PATH or set ASSENT_DISCORD_OPENAPI)")


def _snowflake():
    return {"$ref": "#/components/schemas/SnowflakeType"}


# The interaction Discord sends to an app's interactions endpoint, from Discord's docs
# ("Interaction Object"). Parts the OpenAPI document defines are referenced from it.
INTERACTION_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "required": ["id", "application_id", "type", "token", "version"],
    "properties": {
        "id": _snowflake(),
        "application_id": _snowflake(),
        "type": {"$ref": "#/components/schemas/InteractionTypes"},
        "data": {"type": "object"},
        "guild": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": _snowflake(), "locale": {"type": "string"},
                           "features": {"type": "array", "items": {"type": "string"}}},
        },
        "guild_id": _snowflake(),
        "channel": {
            "type": "object",
            "required": ["id", "type"],
            "properties": {"id": _snowflake(), "type": {"type": "integer"},
                           "guild_id": _snowflake(), "name": {"type": "string"}},
        },
        "channel_id": _snowflake(),
        "member": {
            "allOf": [{"$ref": "#/components/schemas/GuildMemberResponse"}],
            "properties": {"permissions": {"type": "string"}},
            "required": ["permissions"],
        },
        "user": {"$ref": "#/components/schemas/UserResponse"},
        "token": {"type": "string", "minLength": 1},
        "version": {"const": 1},
        "message": {"$ref": "#/components/schemas/MessageResponse"},
        "app_permissions": {"type": "string"},
        "locale": {"type": "string"},
        "guild_locale": {"type": "string"},
        "entitlements": {"type": "array"},
        "authorizing_integration_owners": {
            "type": "object", "additionalProperties": _snowflake()},
        "context": {"$ref": "#/components/schemas/InteractionContextType"},
        "attachment_size_limit": {"type": "integer"},
    },
    "allOf": [
        {   # MESSAGE_COMPONENT: the message, the clicked component, and exactly one of
            # member (guild) or user (DM).
            "if": {"properties": {"type": {"const": 3}}},
            "then": {
                "required": ["data", "message", "channel_id", "channel"],
                "properties": {"data": {
                    "type": "object",
                    "required": ["custom_id", "component_type"],
                    "properties": {
                        "custom_id": {"type": "string", "minLength": 1, "maxLength": 100},
                        "component_type": {"$ref": "#/components/schemas/MessageComponentTypes"},
                        "id": {"type": "integer"},
                    },
                }},
                "oneOf": [{"required": ["member", "guild_id"]}, {"required": ["user"]}],
            },
        },
        {   # PING carries no data.
            "if": {"properties": {"type": {"const": 1}}},
            "then": {"not": {"required": ["data"]}},
        },
    ],
}


class _CachedValidator:
    def __init__(self, validator):
        self.validator = validator
        self.lock = threading.Lock()

    def errors(self, instance):
        with self.lock:
            return list(self.validator.iter_errors(instance))


class DiscordSchemas:
    """Lazily loaded, thread-safe access to Discord's OpenAPI schemas."""

    def __init__(self, path: str):
        self.path = path
        self._load_lock = threading.Lock()
        self._doc: Optional[dict] = None
        self._ops: Dict[str, Tuple[str, str, dict, dict]] = {}
        self._cache: Dict[Tuple, _CachedValidator] = {}
        self._cache_lock = threading.Lock()
        self._validator_cls = None

    # -- loading -----------------------------------------------------------------------

    def _ensure(self) -> dict:
        if self._doc is not None:
            return self._doc
        with self._load_lock:
            if self._doc is None:
                from jsonschema import Draft202012Validator  # deferred: ~60 ms import
                self._validator_cls = Draft202012Validator
                with open(self.path, "rb") as f:
                    doc = json.load(f)
                ops = {}
                for path, item in doc.get("paths", {}).items():
                    common = item.get("parameters", [])
                    for method, op in item.items():
                        if method in SUPPORTED_METHODS and "operationId" in op:
                            params = list(common) + list(op.get("parameters", []))
                            ops[op["operationId"]] = (method.upper(), path, op, params)
                self._ops = ops
                self._doc = doc
        return self._doc

    def preload(self, operation_ids=(), schema_names=()):
        """Parses the document and builds validators; meant for a background thread."""
        self._ensure()
        for op_id in operation_ids:
            if self.request_schema(op_id) is not None:
                self._validator(("request", op_id), self.request_schema(op_id))
        for name in schema_names:
            self._validator(("schema", name), {"$ref": "#/components/schemas/" + name})

    # -- lookups -----------------------------------------------------------------------

    def operation(self, op_id: str) -> Tuple[str, str]:
        """(METHOD, path template) of an operationId."""
        self._ensure()
        method, path, _, _ = self._ops[op_id]
        return method, path

    def parameters(self, op_id: str) -> List[dict]:
        self._ensure()
        return self._ops[op_id][3]

    def request_schema(self, op_id: str) -> Optional[dict]:
        self._ensure()
        op = self._ops[op_id][2]
        body = op.get("requestBody")
        if not body:
            return None
        return body["content"]["application/json"]["schema"]

    def response_schema(self, op_id: str, status: int) -> Optional[dict]:
        """The JSON schema of a response, following `#/components/responses/` refs."""
        doc = self._ensure()
        responses = self._ops[op_id][2].get("responses", {})
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
        if resp is None:
            return None
        if "$ref" in resp:
            name = resp["$ref"].rsplit("/", 1)[-1]
            resp = doc["components"]["responses"][name]
        content = resp.get("content", {}).get("application/json")
        return content["schema"] if content else None

    def has_operation(self, op_id: str) -> bool:
        self._ensure()
        return op_id in self._ops

    # -- validation --------------------------------------------------------------------

    def _validator(self, key, schema) -> _CachedValidator:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        doc = self._ensure()
        full = dict(schema)
        full["components"] = doc["components"]
        v = _CachedValidator(self._validator_cls(full))
        with self._cache_lock:
            return self._cache.setdefault(key, v)

    def validate_request(self, op_id: str, body: Any) -> List[Any]:
        schema = self.request_schema(op_id)
        if schema is None:
            return []
        return self._validator(("request", op_id), schema).errors(body)

    def validate_response(self, op_id: str, status: int, body: Any) -> List[Any]:
        schema = self.response_schema(op_id, status)
        if schema is None:
            return []
        return self._validator(("response", op_id, status), schema).errors(body)

    def validate_named(self, name: str, instance: Any) -> List[Any]:
        """Validates against `#/components/schemas/<name>`."""
        return self._validator(("schema", name),
                               {"$ref": "#/components/schemas/" + name}).errors(instance)

    def validate_param(self, op_id: str, name: str, value: Any) -> List[Any]:
        for p in self.parameters(op_id):
            if p.get("name") == name:
                return self._validator(("param", op_id, name), p["schema"]).errors(value)
        return []

    def validate_interaction(self, payload: dict) -> List[Any]:
        return self._validator(("interaction",), INTERACTION_SCHEMA).errors(payload)


# -- Discord's error shape ---------------------------------------------------------------

def _is_wrong_branch(err, branch_errors) -> bool:
    """True when a oneOf/anyOf branch failed on its discriminator, i.e. it is not the
    branch the sender meant (wrong `type` value, or wrong JSON type at the root)."""
    base = list(err.absolute_path)
    for e in branch_errors:
        path = list(e.absolute_path)
        if e.validator == "type" and path == base:
            return True
        if e.validator in ("enum", "const") and path == base + ["type"]:
            return True
    return False


def leaf_errors(err) -> List[Any]:
    """Descends through oneOf/anyOf to the errors of the branch the sender meant."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        branches: Dict[Any, List[Any]] = {}
        for c in err.context:
            branches.setdefault(c.relative_schema_path[0], []).append(c)
        meant = [errs for errs in branches.values() if not _is_wrong_branch(err, errs)]
        if 1 <= len(meant) < len(branches):
            out = []
            for c in min(meant, key=len):  # the closest of the branches meant
                out.extend(leaf_errors(c))
            return out
        return [err]
    if err.validator == "allOf" and err.context:
        out = []
        for c in err.context:
            out.extend(leaf_errors(c))
        return out
    return [err]


def _describe(err) -> Tuple[List[Any], str, str]:
    """(path, Discord error code, message) for one jsonschema error."""
    path = list(err.absolute_path)
    v, val = err.validator, err.validator_value
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else "?"
        return path + [missing], "BASE_TYPE_REQUIRED", "This field is required"
    if v in ("maxLength", "maxItems"):
        return path, "BASE_TYPE_MAX_LENGTH", "Must be %s or fewer in length." % val
    if v in ("minLength", "minItems"):
        return path, "BASE_TYPE_MIN_LENGTH", "Must be %s or more in length." % val
    if v == "maximum":
        return path, "NUMBER_TYPE_MAX", "int value should be less than or equal to %s." % val
    if v == "minimum":
        return path, "NUMBER_TYPE_MIN", "int value should be greater than or equal to %s." % val
    if v in ("enum", "const"):
        choices = val if isinstance(val, list) else [val]
        return path, "BASE_TYPE_CHOICES", "Value must be one of %s." % (
            "(" + ", ".join(json.dumps(c) for c in choices) + ")")
    if v == "type":
        types = val if isinstance(val, list) else [val]
        wanted = [t for t in types if t != "null"] or types
        code = {"string": "BASE_TYPE_STRING", "integer": "NUMBER_TYPE_COERCE",
                "number": "NUMBER_TYPE_COERCE", "boolean": "BASE_TYPE_BOOLEAN",
                "array": "BASE_TYPE_ARRAY", "object": "DICT_TYPE_CONVERT"}.get(wanted[0],
                                                                             "BASE_TYPE_BAD")
        return path, code, "Could not interpret %s as %s." % (
            json.dumps(err.instance)[:100], wanted[0])
    if v == "pattern":
        return path, "NUMBER_TYPE_COERCE", "Value %s is not snowflake." % json.dumps(
            err.instance)[:100]
    if v in ("oneOf", "anyOf"):
        return path, "UNION_TYPE_CHOICES", "Value does not match any allowed shape."
    return path, "BASE_TYPE_BAD", err.message[:200]


def discord_field_errors(errors) -> Dict[str, Any]:
    """Nests jsonschema errors into Discord's `errors` object:
    {"components": {"0": {"label": {"_errors": [{"code": ..., "message": ...}]}}}}."""
    out: Dict[str, Any] = {}
    seen = set()
    for top in errors:
        for err in leaf_errors(top):
            path, code, message = _describe(err)
            key = (tuple(str(p) for p in path), code)
            if key in seen:
                continue
            seen.add(key)
            node = out
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
    return out


def flat_error_list(errors) -> List[Dict[str, str]]:
    """A flat, readable list of errors (pointer + message) for logs and the control API."""
    out = []
    for top in errors:
        for err in leaf_errors(top):
            path, code, message = _describe(err)
            out.append({"path": "/" + "/".join(str(p) for p in path), "code": code,
                        "message": message})
    return out

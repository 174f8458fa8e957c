"""The protocol as machine-readable data: openrpc.json, schemas/, limits.json, requirements.json.

Everything the suite checks on the wire comes from here, never from a copy inside the suite:
an implementation is judged against the spec files it ships with (`--spec-dir`).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import threading
import urllib.parse
from typing import Any, Dict, List, Optional

import jsonschema
from jsonschema import Draft7Validator, RefResolver

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_SPEC_DIR = HERE.parent.parent / "spec"


class SchemaProblem:
    """One validation error, phrased for a report."""

    def __init__(self, err: jsonschema.ValidationError):
        self.instance_path = "/" + "/".join(str(p) for p in err.absolute_path) if err.absolute_path else ""
        self.schema_path = "#/" + "/".join(str(p) for p in err.absolute_schema_path)
        msg = err.message
        if len(msg) > 300:
            msg = msg[:300] + "…"
        self.message = msg
        # oneOf failures are unreadable without the best branch's reason.
        if err.context:
            best = jsonschema.exceptions.best_match(err.context)
            if best is not None:
                sub = best.message if len(best.message) < 300 else best.message[:300] + "…"
                bp = "/" + "/".join(str(p) for p in best.absolute_path) if best.absolute_path else ""
                self.message += " [closest branch: at '%s': %s]" % (bp, sub)

    def __str__(self) -> str:
        return "at '%s': %s (schema %s)" % (self.instance_path, self.message, self.schema_path)


class Spec:
    """Loaded once per run."""

    def __init__(self, spec_dir: os.PathLike = DEFAULT_SPEC_DIR):
        self.dir = pathlib.Path(spec_dir).resolve()
        self.openrpc_path = self.dir / "openrpc.json"
        self.openrpc: Dict[str, Any] = json.loads(self.openrpc_path.read_text())
        self.limits_doc: Dict[str, Any] = json.loads((self.dir / "limits.json").read_text())
        self.limits: Dict[str, int] = {k: v["value"] for k, v in self.limits_doc.items()
                                       if isinstance(v, dict) and "value" in v}
        req_doc = json.loads((self.dir / "requirements.json").read_text())
        self.requirements: List[Dict[str, Any]] = req_doc["requirements"]
        self.requirement_by_id = {r["id"]: r for r in self.requirements}
        self.methods: Dict[str, Dict[str, Any]] = {m["name"]: m for m in self.openrpc["methods"]}
        self.errors_by_code: Dict[int, Dict[str, Any]] = {}
        for name, e in self.openrpc["components"]["errors"].items():
            self.errors_by_code[e["code"]] = dict(e, component=name)
        self.error_code_by_name = {e["x-name"]: c for c, e in self.errors_by_code.items()}
        self.events: Dict[str, Dict[str, Any]] = self.openrpc.get("x-events", {})

        # Every schema file under its file:// URI, so relative $refs resolve as valijson's do.
        self.store: Dict[str, Any] = {}
        self.base_uri = self.openrpc_path.as_uri()
        self.store[self.base_uri] = self.openrpc
        for f in sorted((self.dir / "schemas").glob("*.json")):
            self.store[f.as_uri()] = json.loads(f.read_text())
        self._validators: Dict[str, Draft7Validator] = {}
        self._lock = threading.Lock()

    # -- schemas ----------------------------------------------------------------------

    def absolute_ref(self, ref: str, relative_to: str = "openrpc") -> str:
        """'schemas/x.json#/definitions/Y' (relative to openrpc.json) or 'x.json#/...'
        (relative to schemas/) → an absolute file:// URI."""
        if ref.startswith("file:"):
            return ref
        if relative_to == "openrpc":
            base = self.dir
        else:
            base = self.dir / "schemas"
        path, _, frag = ref.partition("#")
        return (base / path).resolve().as_uri() + "#" + frag

    def validator(self, ref: str, relative_to: str = "openrpc") -> Draft7Validator:
        uri = self.absolute_ref(ref, relative_to)
        with self._lock:
            v = self._validators.get(uri)
            if v is None:
                schema = {"$ref": uri}
                resolver = RefResolver(base_uri=uri, referrer=schema, store=self.store)
                v = Draft7Validator(schema, resolver=resolver)
                self._validators[uri] = v
            return v

    def problems(self, ref: str, instance: Any, relative_to: str = "openrpc") -> List[SchemaProblem]:
        v = self.validator(ref, relative_to)
        errs = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [SchemaProblem(e) for e in errs[:5]]

    def schema_ref(self, file: str, definition: str) -> str:
        """Ref relative to openrpc.json, e.g. schema_ref('envelope', 'Request')."""
        return "schemas/%s.json#/definitions/%s" % (file, definition)

    def params_ref(self, method: str) -> Optional[str]:
        m = self.methods.get(method)
        return m["x-params-schema"]["$ref"] if m else None

    def result_ref(self, method: str) -> Optional[str]:
        m = self.methods.get(method)
        return m["result"]["schema"]["$ref"] if m else None

    def error_data_ref(self, code: int) -> Optional[str]:
        e = self.errors_by_code.get(code)
        if e and "x-data-schema" in e:
            return e["x-data-schema"]["$ref"]
        return None

    def error_definition(self, code: Any) -> Optional[str]:
        """Name of the per-code definition in errors.json (e.g. 'ForbiddenError')."""
        if not hasattr(self, "_error_defs"):
            self._error_defs = {}
            defs = self.store[(self.dir / "schemas" / "errors.json").as_uri()]["definitions"]
            for name, d in defs.items():
                c = d.get("properties", {}).get("code", {}).get("const") if isinstance(d, dict) else None
                if isinstance(c, int):
                    self._error_defs[c] = name
        return self._error_defs.get(code)

    def error_label(self, code: int) -> str:
        e = self.errors_by_code.get(code)
        return "%s %s" % (code, e["x-name"]) if e else str(code)

    def http_status_of(self, code: int) -> Optional[int]:
        e = self.errors_by_code.get(code)
        return e["x-http-status"] if e else None

    def event_ref(self, event_type: str) -> Optional[str]:
        e = self.events.get(event_type)
        return e["schema"]["$ref"] if e else None

    def roles_of(self, method: str) -> List[str]:
        return list(self.methods[method].get("x-roles", []))

    def locate(self, ref: str) -> "tuple":
        """(node, uri of the document holding it) for a ref, following $refs."""
        uri = ref if ref.startswith("file:") else self.absolute_ref(ref)
        doc_uri, _, frag = uri.partition("#")
        node = self.store[doc_uri]
        for part in [p for p in frag.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return self.follow(node, doc_uri)

    def follow(self, node: Any, doc_uri: str) -> "tuple":
        while isinstance(node, dict) and "$ref" in node:
            inner = node["$ref"]
            target = doc_uri + inner if inner.startswith("#") else urllib.parse.urljoin(doc_uri, inner)
            doc_uri, _, frag = target.partition("#")
            node = self.store[doc_uri]
            for part in [p for p in frag.split("/") if p]:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, doc_uri

    def resolve(self, ref: str) -> Any:
        """The schema a ref points at (for reading maxLength etc. in generated cases);
        a node that is only a $ref is followed."""
        uri = ref if ref.startswith("file:") else self.absolute_ref(ref)
        doc_uri, _, frag = uri.partition("#")
        node = self.store[doc_uri]
        for part in [p for p in frag.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        if isinstance(node, dict) and "$ref" in node:
            inner = node["$ref"]
            target = doc_uri + inner if inner.startswith("#") else urllib.parse.urljoin(doc_uri, inner)
            return self.resolve(target)
        return copy.deepcopy(node)

    def discover_document(self) -> Dict[str, Any]:
        return copy.deepcopy(self.openrpc)

"""Cases generated from the spec (Schemathesis-style): for every method and every member of
its `x-params-schema`, the boundary values of each constraint (N accepted, N+1 refused with
-32602 pointing at the member), UTF-8 byte-length variants (ASSENT-LIM-003), and
schema-breaking mutations (wrong type, value outside an enum, unknown member, missing
required member) that must be refused with -32602 before anything runs (ASSENT-RPC-029).

The generator builds valid params from the method's OpenRPC example pairings, checks every
value it builds against the spec's own schema (a value it cannot make valid is skipped, never
guessed), and names each case params/<method>/<member path>/<variant>."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .spec import Spec

SEEDS = ["A", "a", "/a", "x", "GITHUB_TOKEN", "cl_" + "0" * 32, "rq_" + "0" * 32, "gr_" + "0" * 32,
         "sc_" + "0" * 32, "A" * 43, "A" * 43 + "=", "1"]


def _ptr(path: List[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _rename_secrets(v: Any) -> Any:
    """Example params name real-looking secrets (GITHUB_TOKEN); never touch such a name on a
    target: use a name of the suite's own."""
    if isinstance(v, str) and v == "GITHUB_TOKEN":
        return "conformance_gen_secret"
    if isinstance(v, list):
        return [_rename_secrets(x) for x in v]
    if isinstance(v, dict):
        return {k: _rename_secrets(x) for k, x in v.items()}
    return v


def _get(obj: Any, path: List[str]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _set(obj: Any, path: List[str], value: Any) -> Any:
    out = copy.deepcopy(obj)
    cur = out
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return out


def _del(obj: Any, path: List[str]) -> Any:
    out = copy.deepcopy(obj)
    cur = out
    for p in path[:-1]:
        cur = cur[p]
    del cur[path[-1]]
    return out


class Generator:
    def __init__(self, spec: Spec):
        self.spec = spec

    def valid(self, method: str, params: Any) -> bool:
        return not self.spec.problems(self.spec.params_ref(method), params)

    def resolve_prop(self, params_ref: str, path: List[str]) -> Dict[str, Any]:
        """The schema of a member, following $refs; '_base' holds its document's URI."""
        node, base = self.spec.locate(params_ref)
        for p in path:
            node, base = self.spec.follow(node["properties"][p], base)
        node = dict(node)
        node["_base"] = base
        return node

    def examples(self, method: str) -> List[Dict[str, Any]]:
        out = []
        for ex in self.spec.methods[method].get("examples", []):
            out.append(_rename_secrets({p["name"]: p["value"] for p in ex.get("params", [])}))
        return out or [{}]

    def base_with(self, method: str, path: List[str]) -> Optional[Dict[str, Any]]:
        """Valid params that contain the member at `path` (from an example, or built)."""
        exs = self.examples(method)
        for ex in exs:
            try:
                _get(ex, path)
                if self.valid(method, ex):
                    return copy.deepcopy(ex)
            except (KeyError, TypeError):
                continue
        ref = self.spec.params_ref(method)
        for ex in exs:
            cand = copy.deepcopy(ex)
            # Build the missing members along the path.
            cur = cand
            ok = True
            for i, p in enumerate(path):
                if isinstance(p, int):
                    if not isinstance(cur, list) or len(cur) <= p:
                        ok = False
                        break
                    cur = cur[p]
                    continue
                if not isinstance(cur, dict):
                    ok = False
                    break
                if p not in cur:
                    sch = self.resolve_prop(ref, path[:i + 1])
                    v = self.synth(sch, sch["_base"], path[:i + 1])
                    if v is None:
                        ok = False
                        break
                    cur[p] = v
                cur = cur[p]
            if ok and self.valid(method, cand):
                return cand
        return None

    def synth(self, sch: Dict[str, Any], ref: str, path: List[str]) -> Any:
        """A small value valid for `sch` (None when unsure); `ref` is the URI of the document
        holding `sch`, against which its $refs resolve."""
        if "_base" in sch:
            ref = sch["_base"]
        if "$ref" in sch:
            sch, ref = self.spec.follow(sch, ref)
        if "oneOf" in sch:
            for alt in sch["oneOf"]:
                v = self.synth(alt, ref, path)
                if v is not None:
                    return v
            return None
        if "const" in sch:
            return sch["const"]
        if "enum" in sch:
            return sch["enum"][0]
        if "default" in sch and sch.get("type") != "object":
            return sch["default"]
        typ = sch.get("type")
        if typ == "integer":
            return max(sch.get("minimum", 1), 1)
        if typ == "boolean":
            return False
        if typ == "string":
            for s in SEEDS:
                if len(s) >= sch.get("minLength", 0) and len(s) <= sch.get("maxLength", 1 << 30):
                    if "pattern" not in sch or self._matches(sch["pattern"], s):
                        return s
            return None
        if typ == "array":
            item = self.synth(sch.get("items", {}), ref, path + ["0"])
            if item is None:
                return None
            return [item] * max(1, sch.get("minItems", 1)) if not sch.get("uniqueItems") else [item]
        if typ == "object":
            out = {}
            for req in sch.get("required", []):
                sub = sch["properties"][req]
                v = self.synth(sub, ref, path + [req])
                if v is None:
                    return None
                out[req] = v
            return out
        return None

    @staticmethod
    def _matches(pattern: str, s: str) -> bool:
        import re
        return re.search(pattern, s) is not None

    # -- the cases -------------------------------------------------------------------------

    def members(self, method: str) -> Iterator[Tuple[List[Any], Dict[str, Any]]]:
        node, base = self.spec.locate(self.spec.params_ref(method))
        yield from self._walk(node, base, [], 0)

    def _walk(self, node: Dict[str, Any], base: str, path: List[Any], depth: int):
        for name in sorted(node.get("properties", {})):
            sch, b = self.spec.follow(node["properties"][name], base)
            yield path + [name], dict(sch, _base=b)
            if depth < 1 and sch.get("type") == "object":
                yield from self._walk(sch, b, path + [name], depth + 1)
            if sch.get("type") == "array" and isinstance(sch.get("items"), dict):
                it, ib = self.spec.follow(sch["items"], b)
                if it.get("type") == "string":
                    yield path + [name, 0], dict(it, _base=ib)

    def grow_string(self, method: str, base: Dict[str, Any], path: List[str], n: int) -> Optional[Dict[str, Any]]:
        """Params whose member at `path` is a string of exactly n characters, valid except
        possibly for its length."""
        seed = _get(base, path)
        if not isinstance(seed, str):
            return None
        for filler in ([seed[-1]] if seed else []) + ["a", "0", "_", "A"]:
            if len(seed) >= n:
                v = seed[:n]
            else:
                v = seed + filler * (n - len(seed))
            p = _set(base, path, v)
            probs = self.spec.problems(self.spec.params_ref(method), p)
            if not probs or any(pr.schema_path.endswith("maxLength") for pr in probs):
                return p
        return None

    def grow_array(self, method: str, base: Dict[str, Any], path: List[str], n: int, unique: bool) -> Optional[Dict[str, Any]]:
        seed = _get(base, path)
        if not isinstance(seed, list) or not seed:
            return None
        first = seed[0]
        items = []
        for i in range(n):
            if unique:
                if not isinstance(first, str):
                    return None
                items.append("%s_%d" % (first, i) if i else first)
            else:
                items.append(first)
        p = _set(base, path, items)
        probs = self.spec.problems(self.spec.params_ref(method), p)
        if all(pr.schema_path.endswith(("maxItems", "minItems")) for pr in probs):
            return p
        return None

    def cases(self) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for method in sorted(self.spec.methods):
            out.extend(self.cases_of(method))
        return out

    def cases_of(self, method: str) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        ref = self.spec.params_ref(method)
        top, _ = self.spec.locate(ref)

        def add(variant: str, path: List[str], params: Any, expect: str, reqs: List[str], title: str,
                keyword: Optional[str] = None, pointer: Optional[str] = None):
            pid = "/".join(str(x) for x in path)
            out.append({"id": "/".join(x for x in (method, pid, variant) if x), "method": method, "params": params,
                        "expect": expect, "reqs": reqs, "title": title, "keyword": keyword,
                        "pointer": _ptr(path) if pointer is None else pointer})

        base0 = self.examples(method)[0]
        if self.valid(method, base0):
            add("unknown-member", [], dict(base0, __conformance_unknown__=1), "reject", ["ASSENT-RPC-029"],
                "an unknown params member is refused with -32602", pointer="")
            for req in top.get("required", []):
                add("missing-" + req, [], _del(base0, [req]), "reject", ["ASSENT-RPC-029", "ASSENT-RPC-025"],
                    "params without the required member %s are refused with -32602" % req, pointer="")
        for path, sch in self.members(method):
            base = self.base_with(method, path)
            if base is None:
                continue
            name = "/".join(str(x) for x in path)
            typ = sch.get("type")
            # Wrong JSON type.
            wrong = {"string": 12345, "integer": "1", "boolean": "true", "array": {"x": 1}, "object": [1]}.get(typ)
            if wrong is not None:
                p = _set(base, path, wrong)
                if not self.valid(method, p):
                    add("wrong-type", path, p, "reject", ["ASSENT-RPC-029", "ASSENT-RPC-025"],
                        "%s of the wrong JSON type is refused with -32602 at %s" % (name, _ptr(path)))
            if "enum" in sch:
                p = _set(base, path, "__not_in_enum__")
                add("not-in-enum", path, p, "reject", ["ASSENT-RPC-029", "ASSENT-RPC-025"],
                    "%s outside its enum is refused with -32602" % name)
            if typ == "string" and "maxLength" in sch and sch.get("minLength") != sch["maxLength"] \
                    and sch["maxLength"] <= 100000:
                n = sch["maxLength"]
                at = self.grow_string(method, base, path, n)
                over = self.grow_string(method, base, path, n + 1)
                if at is not None and self.valid(method, at) and over is not None and not self.valid(method, over) \
                        and not name.endswith("base64"):
                    add("max-length-at", path, at, "accept", ["ASSENT-LIM-001"],
                        "%s of exactly maxLength (%d) passes validation" % (name, n))
                    add("max-length-over", path, over, "reject", ["ASSENT-LIM-001", "ASSENT-RPC-025"],
                        "%s of maxLength + 1 (%d) is refused with -32602 at %s" % (name, n + 1, _ptr(path)),
                        keyword="maxLength")
                if "pattern" not in sch and n >= 2 and not name.endswith("base64"):
                    k = n // 2 + 1  # characters <= n, UTF-8 bytes > n
                    p = _set(base, path, "\u00e9" * k)
                    if self.valid(method, p):
                        add("utf8-bytes-over", path, p, "reject", ["ASSENT-LIM-003", "ASSENT-RPC-028"],
                            "%s of %d characters but %d UTF-8 bytes (> %d) is refused with -32602, schema_path "
                            "ending in maxLength" % (name, k, 2 * k, n), keyword="maxLength")
                        p = _set(base, path, "\u00e9" * (n // 2))
                        if self.valid(method, p):
                            add("utf8-bytes-at", path, p, "accept", ["ASSENT-LIM-003"],
                                "%s of %d UTF-8 bytes (<= %d) passes validation" % (name, 2 * (n // 2), n))
            if typ == "string" and sch.get("minLength", 0) >= 1 and sch.get("minLength") != sch.get("maxLength"):
                p = _set(base, path, "")
                if not self.valid(method, p):
                    add("empty", path, p, "reject", ["ASSENT-RPC-029", "ASSENT-RPC-025"],
                        "an empty %s is refused with -32602" % name)
            if typ == "integer":
                if "maximum" in sch:
                    mx = sch["maximum"]
                    at = _set(base, path, mx)
                    if path[-1] == "ttl_s_default" and len(path) == 2:
                        # Semantic rule (ASSENT-SEC-003): ttl_s_default <= ttl_s_max.
                        at = _set(at, path[:-1] + ["ttl_s_max"], mx)
                    over = _set(base, path, mx + 1)
                    if self.valid(method, at) and not self.valid(method, over):
                        add("maximum-at", path, at, "accept", ["ASSENT-LIM-001"],
                            "%s = maximum (%d) passes validation" % (name, mx))
                        add("maximum-over", path, over, "reject", ["ASSENT-LIM-001", "ASSENT-RPC-025"],
                            "%s = maximum + 1 (%d) is refused with -32602" % (name, mx + 1), keyword="maximum")
                if "minimum" in sch:
                    mn = sch["minimum"]
                    under = _set(base, path, mn - 1)
                    if not self.valid(method, under):
                        add("minimum-under", path, under, "reject", ["ASSENT-RPC-029", "ASSENT-RPC-025"],
                            "%s = minimum - 1 (%d) is refused with -32602" % (name, mn - 1), keyword="minimum")
                p = _set(base, path, 1.5)
                if not self.valid(method, p):
                    add("fraction", path, p, "reject", ["ASSENT-RPC-029"],
                        "%s = 1.5 (not an integer) is refused with -32602" % name)
            if typ == "array" and "maxItems" in sch:
                n = sch["maxItems"]
                unique = bool(sch.get("uniqueItems"))
                at = self.grow_array(method, base, path, n, unique)
                over = self.grow_array(method, base, path, n + 1, unique)
                if at is not None and self.valid(method, at) and over is not None and not self.valid(method, over):
                    add("max-items-at", path, at, "accept", ["ASSENT-LIM-001"],
                        "%s of maxItems (%d) items passes validation" % (name, n))
                    add("max-items-over", path, over, "reject", ["ASSENT-LIM-001", "ASSENT-RPC-025"],
                        "%s of maxItems + 1 (%d) items is refused with -32602" % (name, n + 1), keyword="maxItems")
                if sch.get("minItems", 0) >= 1:
                    p = _set(base, path, [])
                    if not self.valid(method, p):
                        add("empty-array", path, p, "reject", ["ASSENT-RPC-029"],
                            "an empty %s is refused with -32602" % name)
                if unique:
                    seed = _get(base, path)
                    p = _set(base, path, [seed[0], seed[0]])
                    if not self.valid(method, p):
                        add("duplicate-items", path, p, "reject", ["ASSENT-RPC-029"],
                            "%s with a duplicate item is refused with -32602" % name)
        return out


def generated_params_cases(spec: Spec) -> List[Dict[str, Any]]:
    return Generator(spec).cases()

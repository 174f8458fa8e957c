#!/usr/bin/python3
"""Generates the rpc_body fuzz seed corpus and dictionary from spec/.

Seeds: one JSON-RPC call per example pairing and error example of spec/openrpc.json, plus
envelope edge cases. Dictionary: method names, parameter and member names, enum values
and error codes. Re-run after changing the spec:  /usr/bin/python3 scripts/gen-fuzz-seeds.py
"""
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    spec = json.load(open(os.path.join(ROOT, "spec/openrpc.json")))
    out = os.path.join(ROOT, "fuzz/corpus/rpc_body")
    os.makedirs(out, exist_ok=True)
    seeds = []
    for m in spec["methods"]:
        for i, ex in enumerate(m.get("examples", [])):
            params = {p["name"]: p["value"] for p in ex.get("params", [])}
            seeds.append(json.dumps({"jsonrpc": "2.0", "method": m["name"], "params": params, "id": i}))
        for i, ex in enumerate(m.get("x-error-examples", [])):
            raw = ex.get("params", {})
            params = {p["name"]: p["value"] for p in raw} if isinstance(raw, list) else raw
            seeds.append(json.dumps({"jsonrpc": "2.0", "method": m["name"], "params": params, "id": "e%d" % i}))
    seeds += ["[]", "[1]", "{", "", "null", '[{"jsonrpc":"2.0","method":"system.ping"}]',
              '{"jsonrpc":"2.0","method":"system.ping","id":{}}',
              '{"jsonrpc":"2.0","method":"rpc.x","id":null}', "[" * 40 + "]" * 40,
              '{"jsonrpc":"2.0","method":"system.ping","params":[],"id":1}']
    for s in seeds:
        with open(os.path.join(out, hashlib.sha1(s.encode()).hexdigest()), "w") as fh:
            fh.write(s)

    words = {'"jsonrpc"', '"2.0"', '"method"', '"params"', '"id"', "null", "true", "false",
             "[", "]", "{", "}", ":", ","}
    for m in spec["methods"]:
        words.add(json.dumps(m["name"]))
        for p in m.get("params", []):
            words.add(json.dumps(p["name"]))

    def walk(n):
        if isinstance(n, dict):
            for k, v in n.items():
                if k == "properties" and isinstance(v, dict):
                    words.update(json.dumps(name) for name in v)
                if k == "enum" and isinstance(v, list):
                    words.update(json.dumps(e) for e in v if isinstance(e, str))
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    for f in sorted(os.listdir(os.path.join(ROOT, "spec/schemas"))):
        walk(json.load(open(os.path.join(ROOT, "spec/schemas", f))))
    for c in [-32700, -32600, -32601, -32602, -32603] + list(range(-32008, -32000)):
        words.add(str(c))
    os.makedirs(os.path.join(ROOT, "fuzz/dict"), exist_ok=True)
    with open(os.path.join(ROOT, "fuzz/dict/rpc_body.dict"), "w") as fh:
        fh.write("# Generated from spec/ by scripts/gen-fuzz-seeds.py.\n")
        for w in sorted(words):
            fh.write('"%s"\n' % w.replace("\\", "\\\\").replace('"', '\\"'))
    print("%d seeds, %d dictionary entries" % (len(seeds), len(words)))


if __name__ == "__main__":
    main()

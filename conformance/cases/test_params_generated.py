"""Cases generated from the spec's schemas (see harness/generate.py): boundary values of
every constraint of every method's params at N and N+1, UTF-8 byte lengths, and
schema-breaking mutations. Each is its own case: params/<method>/<member>/<variant>."""

from conformance.harness import expect
from conformance.harness.case import generated
from conformance.harness.generate import generated_params_cases
from conformance.harness.verdict import CaseFailure, check


@generated("params", generator=generated_params_cases)
def test_params(t, gen):
    """Generated boundary or mutation case."""
    method = gen["method"]
    c = t.caller_for(method)
    reject = gen["expect"] == "reject"
    r = c.call(method, gen["params"], deliberately_invalid=reject, timeout=40)
    req = gen["reqs"][0]
    if reject:
        err = expect.single_error(r, -32602, http=400, req=req)
        data = err.get("data") or {}
        ip = data.get("instance_path")
        allowed = {gen["pointer"]}
        if gen["id"].split("/")[-1].startswith("missing-"):
            allowed |= {"", "/" + gen["id"].split("/")[-1][len("missing-"):]}
        if gen["id"].endswith("/unknown-member"):
            allowed |= {"", "/__conformance_unknown__"}
        check(ip in allowed, "data.instance_path must point at the failing value",
              expected=" or ".join(repr(a) for a in sorted(allowed)), actual=data, req="ASSENT-RPC-025")
        if gen.get("keyword") and "ASSENT-LIM-003" in gen["reqs"]:
            check(str(data.get("schema_path", "")).endswith(gen["keyword"]),
                  "schema_path must end in %s" % gen["keyword"], expected="…/" + gen["keyword"],
                  actual=data.get("schema_path"), req="ASSENT-LIM-003")
    else:
        code = r.code
        if code in (-32602, -32600, -32603):
            raise CaseFailure("a value at the limit must pass validation", expected="anything but %s" % code,
                              actual=r.json, req=req)

#!/usr/bin/env node
// External check (issue 7): @open-rpc/test-coverage runs the example pairings of
// spec/openrpc.json against a live daemon and every pairing must pass.
//
//   ASSENT_URL=http://127.0.0.1:PORT ASSENT_TOKEN_ADMIN=… ASSENT_TOKEN_APPROVER=… \
//   ASSENT_TOKEN_AGENT=… node scripts/openrpc-coverage.js
//
// (scripts/openrpc-coverage.sh starts assentd from a build directory and calls this.)
//
// The library is used as a library (build/index.js): its coverage runner, its ExamplesRule
// (a pairing passes when the result equals the example's result or, failing that, validates
// against the method's result schema; an error answer fails), with three things of ours:
//
// 1. The transport. The daemon needs `Assent-Api-Version: 1` and `Authorization: Bearer`,
//    and its role gate follows each method's `x-roles`. The caller is chosen from them: an
//    agent with a proven client identity (Assent-Client-Id/-Key) when `agent` or
//    `originator` is admitted (client.hello: the agent token alone), else the approver,
//    else the admin. The url is the daemon's, not the spec's example server.
// 2. By-name params. test-coverage 2.2.4 builds by-name params by POSITION
//    (build/utils/params-to-obj.js maps the example's i-th value to the method's i-th
//    param), which sends wrong members for examples that give a subset of the params (six of
//    ours, e.g. secret.put "create": its description would be sent as value_base64). Our
//    rule builds them from each example param's own name, as OpenRPC defines pairings.
// 3. The state the examples expect, seeded before each pairing (beforeRequest):
//    - secrets the params name by name are put first, with the policy their secret.put
//      example gives (STAGING_DB_URL with approval "never", as the policy-never example
//      says; the others with the default policy);
//    - ids the server mints cannot be given by a client, so an example's illustrative
//      request, grant or client id (and key) is replaced by a real one, seeded in the state
//      the example describes (a pending request to decide, an approved one to wait on, a live
//      grant to reveal or revoke, the agent's own identity to resume). Each replacement is
//      printed. A pairing naming a minted id with no seed here is excluded with its reason
//      printed, and the run fails if any pairing is excluded without a written reason.
//
// Exit status: 0 when every pairing passes; 1 otherwise (each failure with the library's
// reason); 2 on a usage or setup error.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

const coverage = require("@open-rpc/test-coverage").default;
const ExamplesRule = require("@open-rpc/test-coverage/build/rules/examples-rule").default;
const { parseOpenRPCDocument } = require("@open-rpc/schema-utils-js");

const specDir = path.resolve(__dirname, "..", "spec");
const env = process.env;

function die(msg) {
  console.error(`openrpc-coverage: ${msg}`);
  process.exit(2);
}

const baseUrl = env.ASSENT_URL;
const tokens = { admin: env.ASSENT_TOKEN_ADMIN, approver: env.ASSENT_TOKEN_APPROVER, agent: env.ASSENT_TOKEN_AGENT };
if (!baseUrl || !/^http:\/\/127\.[0-9.]+:[0-9]+\/?$/.test(baseUrl)) die("ASSENT_URL must be http://127.x.y.z:PORT (loopback only)");
for (const [role, tok] of Object.entries(tokens)) if (!tok) die(`ASSENT_TOKEN_${role.toUpperCase()} is not set`);
const rpcUrl = baseUrl.replace(/\/$/, "") + "/rpc";

// ---- the spec, bundled and dereferenced (as scripts/validate-openrpc.js does) -------------

function mapRefs(value, fn) {
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, fn));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === "$ref" && typeof v === "string" ? fn(v) : mapRefs(v, fn);
    return out;
  }
  return value;
}

async function loadSpec() {
  const doc = JSON.parse(fs.readFileSync(path.join(specDir, "openrpc.json"), "utf8"));
  const schemas = {};
  for (const name of fs.readdirSync(path.join(specDir, "schemas")).filter((f) => f.endsWith(".json"))) {
    const file = JSON.parse(fs.readFileSync(path.join(specDir, "schemas", name), "utf8"));
    const stem = name.replace(/\.json$/, "");
    for (const [def, body] of Object.entries(file.definitions || {})) {
      schemas[`${stem}_${def}`] = mapRefs(body, (r) => {
        const m = /^([^#]*)#\/definitions\/([A-Za-z0-9_]+)$/.exec(r);
        if (!m) die(`schemas/${name}: unsupported $ref ${r}`);
        return `#/components/schemas/${m[1] ? m[1].replace(/\.json$/, "") : stem}_${m[2]}`;
      });
    }
  }
  const bundled = mapRefs(doc, (r) => {
    if (r.startsWith("#/components/")) return r;
    const m = /^schemas\/([a-z]+)\.json#\/definitions\/([A-Za-z0-9_]+)$/.exec(r);
    if (!m) die(`openrpc.json: unsupported $ref ${r}`);
    return `#/components/schemas/${m[1]}_${m[2]}`;
  });
  bundled.components = Object.assign({}, bundled.components, { schemas });
  const parsed = await parseOpenRPCDocument(bundled, { dereference: true, validate: true });
  parsed.servers = [{ name: "under-test", url: rpcUrl }];
  return { raw: doc, parsed };
}

// ---- talking to the daemon ------------------------------------------------------------------

let nextId = 1;
let agentIdentity = null; // {client_id, client_key} of the agent the pairings act as

function post(method, params, who) {
  const body = JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params });
  const headers = {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Assent-Api-Version": "1",
    Authorization: `Bearer ${tokens[who.role]}`,
  };
  if (who.identity) {
    headers["Assent-Client-Id"] = who.identity.client_id;
    headers["Assent-Client-Key"] = who.identity.client_key;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(rpcUrl, { method: "POST", headers, timeout: 60000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`${method}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method}: no answer within 60 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

let rolesOf = {};
function callerFor(method) {
  const roles = rolesOf[method] || [];
  if (roles.includes("originator") || roles.includes("agent"))
    return { role: "agent", identity: method === "client.hello" ? null : agentIdentity };
  if (roles.includes("approver")) return { role: "approver" };
  return { role: "admin" };
}

// The library's transport contract: (url, method, params) => Promise of the JSON-RPC response.
function transport(url, method, params) {
  return post(method, params, callerFor(method));
}

// A seeding call that must succeed.
async function must(method, params, who) {
  const r = await post(method, params, who || callerFor(method));
  if (!r || r.error || r.result === undefined)
    throw new Error(`seeding ${method} ${JSON.stringify(params)} failed: ${JSON.stringify(r && r.error)}`);
  return r.result;
}

// ---- seeding --------------------------------------------------------------------------------

const MINTED = /^(rq|gr|cl)_[0-9a-f]{32}$/;
// Policies of the secrets the examples name: the policy-never example's secret has approval
// "never"; the others have the policy their secret.put example gives (filled in by main()).
const POLICY_OF = { STAGING_DB_URL: { approval: "never" } };
let seedNo = 0;

async function putSecret(name, policy) {
  const params = { name, value: `openrpc-coverage value of ${name}` };
  if (policy) params.policy = policy;
  await must("secret.put", params, { role: "admin" });
}

// A request of the agent in `state` (pending | approved), on a fresh secret of `policy`.
async function seedRequest(state, policy) {
  const name = `OPENRPC_SEED_${++seedNo}`;
  await putSecret(name, policy);
  const req = (await must("access.request", { secrets: [name], reason: `openrpc-coverage seed ${seedNo}` },
    { role: "agent", identity: agentIdentity })).request;
  if (state === "approved" && req.state !== "approved")
    return (await must("access.decide", { request_id: req.request_id, decision: "approve" }, { role: "approver" })).request;
  return req;
}

async function seedGrantOn(secretName) {
  await putSecret(secretName);
  const req = (await must("access.request", { secrets: [secretName], reason: "openrpc-coverage seed grant" },
    { role: "agent", identity: agentIdentity })).request;
  const d = await must("access.decide", { request_id: req.request_id, decision: "approve" }, { role: "approver" });
  return d.grant.grant_id;
}

// method/example -> what the example's minted ids stand for, seeded for real.
const SEEDS = {
  "client.hello/resume": async () => ({ client_id: agentIdentity.client_id, client_key: agentIdentity.client_key }),
  "access.get/get": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.get/delivery-failed": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.wait/decided-while-waiting": async () => ({ request_id: (await seedRequest("approved")).request_id }),
  "access.wait/nothing-happened": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.cancel/cancel": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.extend/extend": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.decide/approve": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "access.decide/first-of-two-votes": async () =>
    ({ request_id: (await seedRequest("pending", { approvals_required: 2 })).request_id }),
  "access.decide/deny": async () => ({ request_id: (await seedRequest("pending")).request_id }),
  "grant.revoke/revoke": async () => ({ grant_id: await seedGrantOn("GITHUB_TOKEN") }),
  "secret.reveal/reveal": async (params) => ({ grant_id: await seedGrantOn(params.name) }),
};
// Pairings left out, each with the reason (printed; the run fails on one without a reason).
const EXCLUDED = {};

function mintedIn(params) {
  return Object.entries(params || {}).filter(([, v]) => typeof v === "string" && MINTED.test(v)).map(([k]) => k);
}

class SeededExamplesRule extends ExamplesRule {
  getTitle() {
    return "example";
  }

  getCalls(doc, method) {
    const calls = super.getCalls(doc, method);
    (method.examples || []).forEach((ex, i) => {
      const call = calls[i];
      call.example = `${method.name}/${ex.name}`;
      if (method.paramStructure === "by-name") {
        const byName = {};
        for (const p of ex.params) byName[p.name] = p.value;
        const positional = JSON.stringify(call.params);
        call.params = byName;
        if (JSON.stringify(byName) !== positional) call.notes = ["params mapped by name (the library maps them by position)"];
      }
    });
    return calls;
  }

  async beforeRequest(options, call) {
    call.notes = call.notes || [];
    const params = call.params || {};
    // Secrets named by name exist, as the example assumes (not for the methods that make them).
    if (call.methodName === "access.request" || call.methodName === "secret.describe" || call.methodName === "secret.delete") {
      const names = call.methodName === "access.request" ? params.secrets || [] : [params.name];
      for (const n of names) await putSecret(n, POLICY_OF[n]);
      call.notes.push(`seeded secret(s) ${names.join(", ")}`);
    }
    const minted = mintedIn(params);
    if (minted.length === 0) return;
    const seed = SEEDS[call.example];
    if (!seed) {
      call.excluded = EXCLUDED[call.example] || null;
      return;
    }
    const real = await seed(params);
    for (const k of minted) {
      if (!(k in real)) throw new Error(`${call.example}: no seeded value for ${k}`);
      call.notes.push(`${k} ${params[k].slice(0, 11)}… -> ${String(real[k]).slice(0, 11)}…`);
    }
    Object.assign(params, real);
    call.params = params;
  }

  validateCall(call) {
    if (call.excluded !== undefined) {
      call.valid = call.excluded !== null;
      call.reason = call.excluded || `the params name server-minted ids (${mintedIn(call.params).join(", ")}) and ` +
        "there is neither a seed nor a written exclusion for this pairing";
      return call;
    }
    super.validateCall(call);
    if (call.valid && call.reason === undefined) {
      const exact = JSON.stringify(call.result) === JSON.stringify(call.expectedResult);
      call.notes.push(exact ? "result equals the example" : "result valid against the result schema");
    }
    return call;
  }
}

// ---- the run --------------------------------------------------------------------------------

async function main() {
  const { raw, parsed } = await loadSpec();
  rolesOf = Object.fromEntries(raw.methods.map((m) => [m.name, m["x-roles"] || []]));
  for (const ex of raw.methods.find((m) => m.name === "secret.put").examples || []) {
    const p = Object.fromEntries(ex.params.map((x) => [x.name, x.value]));
    if (p.policy && !(p.name in POLICY_OF)) POLICY_OF[p.name] = p.policy;
  }
  const hello = await must("client.hello", { kind: "agent", name: "openrpc-coverage" }, { role: "agent" });
  agentIdentity = { client_id: hello.client_id, client_key: hello.client_key };

  const reporter = { onBegin() {}, onTestBegin() {}, onTestEnd() {}, onEnd() {} };
  const calls = await coverage({
    openrpcDocument: parsed,
    transport,
    reporters: [reporter],
    rules: [new SeededExamplesRule()],
  });
  const total = raw.methods.reduce((n, m) => n + (m.examples || []).length, 0);
  let passed = 0, failed = 0, excluded = 0;
  for (const c of calls) {
    const who = callerFor(c.methodName).role;
    if (c.excluded) {
      excluded++;
      console.log(`EXCLUDED ${c.example}: ${c.excluded}`);
      continue;
    }
    const ok = c.valid === true;
    ok ? passed++ : failed++;
    const why = ok ? (c.notes || []).join("; ") : c.reason || (c.requestError && String(c.requestError)) || "no result";
    console.log(`${ok ? "pass" : "FAIL"} ${c.example} (as ${who})${why ? ": " + why : ""}`);
  }
  const methodsWithout = raw.methods.filter((m) => !(m.examples || []).length).map((m) => m.name);
  console.log(`@open-rpc/test-coverage ${require("@open-rpc/test-coverage/package.json").version}: ` +
    `${calls.length} example pairings of ${total} in the spec (${raw.methods.length} methods` +
    `${methodsWithout.length ? ", without examples: " + methodsWithout.join(" ") : ""}): ` +
    `${passed} passed, ${failed} failed, ${excluded} excluded`);
  if (calls.length !== total) {
    console.error("openrpc-coverage: the library ran a different number of pairings than the spec has");
    return 1;
  }
  return failed === 0 ? 0 : 1;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`openrpc-coverage: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});

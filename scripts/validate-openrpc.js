#!/usr/bin/env node
// Validates spec/openrpc.json with the OpenRPC reference tooling (@open-rpc/schema-utils-js).
//
// What it checks, in order:
//   1. validateOpenRPCDocument on the document as written (OpenRPC 1.3 meta-schema extended with
//      the x-extensions it declares: each declared extension's schema is enforced on the objects
//      it is restricted to; an undeclared x- member on an error object is rejected).
//   2. Every "$ref" in the document and in spec/schemas/*.json resolves to an existing
//      definition (relative file refs, "<file>.json#/definitions/<Name>" or "#/definitions/<Name>").
//   3. The bundled document (see below) passes validateOpenRPCDocument and parseOpenRPCDocument
//      with dereferencing on.
//
// Bundling: schema-utils-js's resolver treats a relative "$ref" such as
// "schemas/common.json#/definitions/Time" as a path relative to the process's working directory,
// and the schema files refer to one another relative to their own folder, so the document is NOT
// dereferenced from disk. Instead every definition of spec/schemas/*.json is copied in memory into
// components.schemas under "<file>_<Name>" with all refs rewritten to "#/components/schemas/...",
// and the bundled document is what parseOpenRPCDocument dereferences. The files on disk are unchanged.
//
// Exit status: 0 when every check passes, 1 otherwise (with the reasons on stderr).
"use strict";

const fs = require("fs");
const path = require("path");
const {
  validateOpenRPCDocument,
  parseOpenRPCDocument,
} = require("@open-rpc/schema-utils-js");

const specDir = path.resolve(__dirname, "..", "spec");
const schemasDir = path.join(specDir, "schemas");
const failures = [];

function fail(msg) {
  failures.push(msg);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    fail(`${path.relative(specDir, file)}: not valid JSON: ${e.message}`);
    return null;
  }
}

const doc = readJson(path.join(specDir, "openrpc.json"));
const schemaFiles = {};
for (const name of fs.readdirSync(schemasDir).filter((f) => f.endsWith(".json")).sort()) {
  const s = readJson(path.join(schemasDir, name));
  if (s) schemaFiles[name] = s;
}

function report(label, result) {
  if (result !== true) fail(`${label}: ${result.message || String(result)}`);
}

// Visits every {"$ref": string} in a JSON value; fn returns a replacement ref or undefined.
function mapRefs(value, fn) {
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, fn));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") {
        const r = fn(v);
        out[k] = r === undefined ? v : r;
      } else {
        out[k] = mapRefs(v, fn);
      }
    }
    return out;
  }
  return value;
}

// Splits a ref relative to `fromFile` (a file name in spec/schemas, or null for openrpc.json)
// into [schema file name, definition name]; records a failure and returns null if it cannot.
function splitRef(ref, fromFile) {
  const m = /^([^#]*)#\/definitions\/([A-Za-z0-9_]+)$/.exec(ref);
  if (!m) return null;
  let file = m[1];
  if (fromFile === null) {
    if (!file.startsWith("schemas/")) return null;
    file = file.slice("schemas/".length);
  } else if (file === "") {
    file = fromFile;
  }
  if (file.includes("/")) return null;
  return [file, m[2]];
}

function checkTarget(ref, from) {
  const parts = splitRef(ref, from);
  if (!parts) {
    fail(`${from || "openrpc.json"}: unsupported $ref form "${ref}" (use "<file>.json#/definitions/<Name>" or "#/definitions/<Name>")`);
    return null;
  }
  const [file, def] = parts;
  if (!schemaFiles[file] || !schemaFiles[file].definitions || !(def in schemaFiles[file].definitions)) {
    fail(`${from || "openrpc.json"}: $ref "${ref}" does not resolve`);
    return null;
  }
  return `#/components/schemas/${file.replace(/\.json$/, "")}_${def}`;
}

async function main() {
  if (!doc) return;

  // 1. The document as written.
  report("validateOpenRPCDocument(openrpc.json)", validateOpenRPCDocument(doc));

  // 2 + 3. Bundle in memory, resolving every ref on the way.
  const bundledSchemas = {};
  for (const [file, schema] of Object.entries(schemaFiles)) {
    for (const [def, body] of Object.entries(schema.definitions || {})) {
      const key = `${file.replace(/\.json$/, "")}_${def}`;
      bundledSchemas[key] = mapRefs(body, (r) => checkTarget(r, file) || r);
    }
  }
  const bundled = mapRefs(doc, (r) => {
    if (r.startsWith("#/components/")) return undefined; // document-internal
    return checkTarget(r, null) || r;
  });
  // x-events and x-params-schema hold refs too; mapRefs rewrote them like the rest.
  bundled.components = Object.assign({}, bundled.components, { schemas: bundledSchemas });

  report("validateOpenRPCDocument(bundled)", validateOpenRPCDocument(bundled));
  if (failures.length) return;
  try {
    const parsed = await parseOpenRPCDocument(bundled, { dereference: true, validate: true });
    if (!parsed || !Array.isArray(parsed.methods) || parsed.methods.length !== doc.methods.length) {
      fail("parseOpenRPCDocument: dereferenced document lost methods");
    }
  } catch (e) {
    fail(`parseOpenRPCDocument(bundled, dereference): ${e && e.message ? e.message : e}`);
  }
}

main()
  .catch((e) => fail(`unexpected: ${e && e.stack ? e.stack : e}`))
  .finally(() => {
    if (failures.length) {
      console.error(`spec/openrpc.json: ${failures.length} problem(s):`);
      for (const f of failures) console.error(`- ${f}`);
      process.exit(1);
    }
    console.log(
      `spec/openrpc.json: valid OpenRPC ${doc.openrpc} (${doc.methods.length} methods, ` +
        `${Object.keys(schemaFiles).length} schema files, refs resolved, bundled and dereferenced)`
    );
  });

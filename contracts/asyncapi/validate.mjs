// Validates AsyncAPI documents with the reference parser (@asyncapi/parser, pinned in
// package-lock.json). Usage: node validate.mjs <file.json>... Prints one JSON line per file:
// {"file", "errors": [...], "warnings": [...], "operations": n, "channels": n}; exit 1 on any error.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const describe = (d) => ({ code: d.code, message: d.message, path: d.path.join(".") });
  const errors = diagnostics.filter((d) => d.severity === 0).map(describe);
  const warnings = diagnostics.filter((d) => d.severity === 1).map(describe);
  if (errors.length || !document) failed = true;
  console.log(JSON.stringify({
    file, errors, warnings,
    version: document ? document.version() : null,
    channels: document ? document.channels().length : 0,
    operations: document ? document.operations().all().map((o) => ({
      id: o.id(), action: o.action(), channel: o.channels().all().map((c) => c.address()),
    })) : [],
  }));
}
process.exit(failed ? 1 : 0);

// validate_asyncapi.mjs FILE — validates an AsyncAPI 3 document with @asyncapi/parser (the
// specification's own parser: structure, $refs into the JSON Schemas beside it resolved).
// Exit 0 and "valid: TITLE VERSION" plus one "message NAME" line per message on success;
// exit 1 and the errors on failure.
import { Parser, fromFile } from "@asyncapi/parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_asyncapi.mjs FILE");
  process.exit(2);
}
const { document, diagnostics } = await fromFile(new Parser(), file).parse();
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length) {
  for (const d of errors) console.error(`invalid: ${d.message} at ${JSON.stringify(d.path)}`);
  process.exit(1);
}
console.log(`valid: ${document.info().title()} ${document.info().version()}`);
for (const m of document.allMessages()) {
  const p = m.payload();
  const schema = p && p.json().schema;
  console.log(`message ${m.name()} ${schema && schema.properties ? "resolved" : "unresolved"}`);
}

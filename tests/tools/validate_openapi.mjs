// validate_openapi.mjs FILE — validates an OpenAPI 3.x document (YAML or JSON) with
// @apidevtools/swagger-parser (schema + structural checks, $refs resolved).
// Exit 0 and "valid: TITLE VERSION" on success; exit 1 and the error on failure.
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_openapi.mjs FILE");
  process.exit(2);
}
try {
  const api = await SwaggerParser.validate(file);
  console.log(`valid: ${api.info.title} ${api.info.version} (openapi ${api.openapi})`);
} catch (err) {
  console.error(`invalid: ${err.message}`);
  process.exit(1);
}

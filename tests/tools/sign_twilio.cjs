// sign_twilio.cjs — signs a Twilio webhook with the published npm twilio package
// (getExpectedTwilioSignature), so the test suite never checks the broker with its own code.
// Input (stdin, JSON): {"key": "...", "url": "https://.../twilio/sub?q=1",
//   "params": {"Name": "value" | ["v1", "v2"]} (a form body's parameters), or "body": "..." (a
//   JSON body: the URL then gets bodySHA256 from getExpectedBodyHash and the params are {}),
//   "algorithm": "HMAC_SHA1" | "HMAC_SHA256"}
// Output (stdout, JSON): {"url": the URL signed, "signature": X-Twilio-Signature}
const twilio = require("twilio");

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const { key, url, params, body, algorithm } = JSON.parse(input);
  let signedUrl = url;
  let signedParams = params || {};
  if (body !== undefined) {
    signedUrl += (url.includes("?") ? "&" : "?") + "bodySHA256=" + twilio.getExpectedBodyHash(body);
    signedParams = {};
  }
  const signature = twilio.getExpectedTwilioSignature(key, signedUrl, signedParams, algorithm);
  // Self-check with the same library's validators.
  const ok = body !== undefined
    ? twilio.validateRequestWithBody(key, signature, signedUrl, body, algorithm)
    : twilio.validateRequest(key, signature, signedUrl, signedParams, algorithm);
  if (!ok) {
    process.stderr.write("twilio's own validator refuses the signature\n");
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ url: signedUrl, signature }));
});

// sign_webhook.mjs — signs a webhook body with the published Standard Webhooks library,
// so the test suite never checks the broker with its own implementation of the scheme.
// Input (stdin, JSON): {"secret": "whsec_...", "id": "msg_1", "timestamp": 1700000000, "body": "..."}
// Output (stdout, JSON): {"webhook-id", "webhook-timestamp", "webhook-signature"}
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, id, timestamp, body } = JSON.parse(input);
const wh = new Webhook(secret);
const signature = wh.sign(id, new Date(timestamp * 1000), body);
// Self-check with the same library's verifier (only when the timestamp is fresh).
if (Math.abs(Date.now() / 1000 - timestamp) < 300) {
  wh.verify(body, { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature });
}
process.stdout.write(JSON.stringify({
  "webhook-id": id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature,
}));

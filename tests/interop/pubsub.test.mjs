// nats.js receives an Event that noesis::ship publishes and replies to its request.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { connectTo, expectMessage, runHelperJson, startServer } from "./lib.mjs";

let server;
let nc;

before(async () => {
  server = await startServer();
  nc = await connectTo(server.url);
});

after(async () => {
  await nc?.close();
  await server?.stop();
});

test("C++ event and request reach nats.js", async () => {
  const echoRequests = [];
  nc.subscribe("interop.echo", {
    callback: (err, msg) => {
      if (err) return;
      echoRequests.push(msg.string());
      msg.respond(`echo: ${msg.string()}`);
    },
  });
  const heartbeat = expectMessage(nc, "heartbeat");
  await nc.flush();

  const [line] = await runHelperJson("pubsub_helper", ["--url", server.url, "--source", "agent-7"]);
  const msg = await heartbeat;
  const event = msg.json();

  assert.deepEqual(Object.keys(event), ["event_type", "source", "payload", "timestamp", "correlation_id"]);
  assert.equal(event.event_type, "heartbeat");
  assert.equal(event.source, "agent-7");
  assert.deepEqual(event.payload, { seq: 1, status: "alive" });
  assert.equal(event.correlation_id, null);
  assert.match(event.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 60_000,
            `timestamp ${event.timestamp} is not within a minute of now`);
  assert.deepEqual(event, line.published);

  assert.deepEqual(echoRequests, ["ping from C++"]);
  assert.equal(line.reply, "echo: ping from C++");
});

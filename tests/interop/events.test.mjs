// nats.js (@nats-io/jetstream) reads the ShipEvents noesis::ship's EventBus stores in
// SHIP_EVENTS, and an EventBus subscriber receives a ShipEvent that nats.js publishes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { AckPolicy, DeliverPolicy, jetstream } from "@nats-io/jetstream";

import { connectTo, helperPath, runHelperJson, startServer } from "./lib.mjs";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const HELPER_TIMEOUT_MS = 20_000;

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

test("nats.js consumer reads a C++ event", async () => {
  const [line] = await runHelperJson("events_helper", ["--url", server.url, "emit", "interop.item.created",
                                                       "cpp-agent"]);
  assert.equal(line.stream, "SHIP_EVENTS");

  const js = jetstream(nc);
  const jsm = await js.jetstreamManager();
  const stream = await jsm.streams.info("SHIP_EVENTS");
  assert.deepEqual(stream.config.subjects, ["ship.events.>"]);

  await jsm.consumers.add("SHIP_EVENTS", {
    durable_name: "js-reader",
    filter_subject: "ship.events.interop.>",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const consumer = await js.consumers.get("SHIP_EVENTS", "js-reader");
  const msg = await consumer.next({ expires: 5_000 });
  assert.ok(msg !== null, "nats.js consumer received no event within 5 s");
  msg.ack();

  assert.equal(msg.subject, "ship.events.interop.item.created");
  assert.equal(msg.seq, line.sequence);
  const event = msg.json();
  assert.deepEqual(Object.keys(event), ["event_type", "timestamp", "source", "payload", "correlation_id", "version"]);
  assert.equal(event.event_type, "interop.item.created");
  assert.equal(event.source, "cpp-agent");
  assert.deepEqual(event.payload, { item: "EX-3001", count: 3 });
  assert.match(event.correlation_id, /^[0-9a-f]{8}$/);
  assert.equal(event.version, "1.0");
  assert.match(event.timestamp, RFC3339);
  assert.ok(Math.abs(Date.parse(event.timestamp) - Date.now()) < 60_000,
            `timestamp ${event.timestamp} is not within a minute of now`);
  assert.deepEqual(event, line.published);

  const nothingMore = await consumer.next({ expires: 1_000 });
  assert.equal(nothingMore, null, "the stream holds a second interop event");
});

// Starts `interop_events_helper receive ...` and returns { ready, lines, exited }: `ready`
// resolves when the helper's durable consumer exists, `exited` resolves to the exit status after
// the helper's stdout has ended, and `lines` contains the parsed event lines.
function startReceiver(args) {
  const child = spawn(helperPath("events_helper"), args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => { stderr += chunk; });

  let signalReady;
  let failReady;
  const ready = new Promise((resolve, reject) => {
    signalReady = resolve;
    failReady = reject;
  });
  const outputEnded = new Promise((resolve) => {
    createInterface({ input: child.stdout }).on("line", (text) => {
      const line = JSON.parse(text);
      if (line.ready === true) signalReady();
      else lines.push(line);
    }).on("close", resolve);
  });
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)))
    .then(async (code) => {
      await outputEnded;
      failReady(new Error(`interop_events_helper exited with status ${code} before it was ready\n${stderr}`));
      if (code !== 0) throw new Error(`interop_events_helper exited with status ${code}\n${stderr}`);
      return code;
    });
  const timer = setTimeout(() => child.kill("SIGKILL"), HELPER_TIMEOUT_MS);
  timer.unref();
  return { ready, lines, exited };
}

test("C++ subscriber receives nats.js events", async () => {
  const receiver = startReceiver(["--url", server.url, "receive", "interop.js.*", "cpp-reader", "2"]);
  await receiver.ready;

  // The envelope format the Rust noesis-ship writes, with a nanosecond timestamp and an
  // explicit UTC offset.
  const js = jetstream(nc);
  const sent = [];
  for (const [type, count] of [["interop.js.first", 1], ["interop.js.second", 2]]) {
    const event = {
      event_type: type,
      timestamp: "2026-03-20T04:37:32.123456789+00:00",
      source: "js-agent",
      payload: { item: "EX-3002", count },
      correlation_id: `0000000${count}`,
      version: "1.0",
    };
    const ack = await js.publish(`ship.events.${type}`, JSON.stringify(event));
    assert.equal(ack.stream, "SHIP_EVENTS");
    sent.push({ subject: `ship.events.${type}`, sequence: ack.seq, event });
  }

  const status = await receiver.exited;
  assert.equal(status, 0);
  assert.deepEqual(receiver.lines, sent);
});

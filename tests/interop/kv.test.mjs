// nats.js (@nats-io/kv) reads values, delete markers and purge markers that noesis::ship writes,
// and noesis::ship reads and watches what nats.js writes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

import { connectTo, helperPath, runHelperJson, startServer } from "./lib.mjs";

// Generous, because the C++ helper processes start slowly on a loaded machine; a hung watch still
// fails the test.
const WATCH_TIMEOUT_MS = 30_000;

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

// Runs one interop_kv_helper command on `bucket` and resolves to its JSON lines.
function kvHelper(bucket, ...args) {
  return runHelperJson("kv_helper", ["--url", server.url, "--bucket", bucket, ...args]);
}

// Starts collecting `count` entries from a nats.js watch iterator in the background. Call
// `result()` once the writes are done: it waits at most WATCH_TIMEOUT_MS from then, so the time
// the helper processes take to start (seconds on a loaded machine) does not count.
function startCollect(iterator, count) {
  const entries = [];
  const reading = (async () => {
    for await (const entry of iterator) {
      entries.push({ key: entry.key, operation: entry.operation, value: entry.string(), revision: entry.revision });
      if (entries.length === count) break;
    }
  })();
  reading.catch(() => {});  // a failed read is reported by result(), not as an unhandled rejection
  async function result() {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nats.js watch: ${entries.length} of ${count} entries ` +
                                                `within ${WATCH_TIMEOUT_MS} ms after the last write`)),
                         WATCH_TIMEOUT_MS);
    });
    try {
      await Promise.race([reading, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return entries;
  }
  return { result };
}

// Starts `interop_kv_helper watch COUNT` and returns { initial, later }: promises of the entries
// before its end-of-initial-values marker and of the entries after it.
function startCppWatch(bucket, count) {
  const child = spawn(helperPath("kv_helper"), ["--url", server.url, "--bucket", bucket, "watch", String(count)],
                      { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  const killTimer = setTimeout(() => child.kill("SIGKILL"), WATCH_TIMEOUT_MS);

  const initial = [];
  const later = [];
  let resolveInitial;
  let rejectInitial;
  const initialDone = new Promise((resolve, reject) => {
    resolveInitial = resolve;
    rejectInitial = reject;
  });
  let markerSeen = false;
  createInterface({ input: child.stdout }).on("line", (text) => {
    const line = JSON.parse(text);
    if (line.marker && !markerSeen) {
      markerSeen = true;
      resolveInitial(initial);
    } else if (markerSeen) {
      later.push(line);
    } else {
      initial.push(line);
    }
  });
  const laterDone = new Promise((resolve, reject) => {
    child.once("exit", (code, signal) => {
      clearTimeout(killTimer);
      const failure = new Error(`interop_kv_helper watch exited with status ${code} (${signal ?? "no signal"})` +
                                `\nstderr:\n${stderr}`);
      if (code !== 0) {
        rejectInitial(failure);
        reject(failure);
      } else {
        resolve(later);
      }
    });
  });
  return { initial: initialDone, later: laterDone };
}

test("nats.js reads and watches what noesis::ship writes", async () => {
  const [first] = await kvHelper("from_cpp", "put", "greeting", "hello from C++");

  // The bucket noesis::ship created is the stream ADR-8 describes.
  const jsm = await jetstream(nc).jetstreamManager();
  const stream = await jsm.streams.info("KV_from_cpp");
  assert.deepEqual(stream.config.subjects, ["$KV.from_cpp.>"]);
  assert.equal(stream.config.max_msgs_per_subject, 5);
  assert.equal(stream.config.allow_rollup_hdrs, true);
  assert.equal(stream.config.deny_delete, true);
  assert.equal(stream.config.allow_direct, true);
  assert.equal(stream.config.discard, "new");

  const kv = await new Kvm(nc).open("from_cpp");
  const watcher = await kv.watch();
  const watched = startCollect(watcher, 6);

  const [config] = await kvHelper("from_cpp", "put", "config.json", JSON.stringify({ n: 42 }));
  const [doomed] = await kvHelper("from_cpp", "put", "doomed", "x");
  const [doomedDel] = await kvHelper("from_cpp", "delete", "doomed");
  const [purged] = await kvHelper("from_cpp", "put", "purged", "y");
  const [purgedPurge] = await kvHelper("from_cpp", "purge", "purged");

  const greeting = await kv.get("greeting");
  assert.equal(greeting.string(), "hello from C++");
  assert.equal(greeting.revision, first.revision);
  assert.equal(greeting.operation, "PUT");
  assert.deepEqual((await kv.get("config.json")).json(), { n: 42 });
  const deleted = await kv.get("doomed");
  assert.equal(deleted.operation, "DEL");
  assert.equal(deleted.revision, doomedDel.revision);
  const purgedEntry = await kv.get("purged");
  assert.equal(purgedEntry.operation, "PURGE");
  // The purge marker rolled up the key's earlier revisions.
  const purgedHistory = [];
  for await (const entry of await kv.history({ key: "purged" })) purgedHistory.push(entry.operation);
  assert.deepEqual(purgedHistory, ["PURGE"]);

  const keys = [];
  for await (const key of await kv.keys()) keys.push(key);
  assert.deepEqual(keys.sort(), ["config.json", "greeting"]);

  const entries = await watched.result();
  watcher.stop();
  assert.deepEqual(entries.map((e) => [e.key, e.operation, e.revision]), [
    ["greeting", "PUT", first.revision],
    ["config.json", "PUT", config.revision],
    ["doomed", "PUT", doomed.revision],
    ["doomed", "DEL", doomedDel.revision],
    ["purged", "PUT", purged.revision],
    ["purged", "PURGE", purgedPurge.revision],
  ]);
  assert.equal(entries[0].value, "hello from C++");
  assert.equal(entries[3].value, "");
});

test("noesis::ship reads and watches what nats.js writes", async () => {
  const kv = await new Kvm(nc).create("from_js", { history: 5 });
  const greetingRev = await kv.put("greeting", "hello from nats.js");
  const settingsRev = await kv.put("settings", JSON.stringify({ n: 7 }));
  await kv.put("gone", "soon deleted");
  await kv.delete("gone");

  // The C++ watch delivers the newest entry of each key, the delete marker included, then its
  // end-of-initial-values marker, then every change.
  const watch = startCppWatch("from_js", 4);
  const initial = await watch.initial;
  assert.deepEqual(initial.map((e) => [e.key, e.operation]), [
    ["greeting", "PUT"],
    ["settings", "PUT"],
    ["gone", "DEL"],
  ]);
  assert.equal(initial[0].value, "hello from nats.js");
  assert.equal(initial[0].revision, greetingRev);
  assert.equal(initial[1].revision, settingsRev);

  const secondRev = await kv.put("greeting", "second");
  await kv.delete("settings");
  const freshRev = await kv.put("fresh", "new");
  await kv.purge("gone");

  const later = await watch.later;
  assert.deepEqual(later.map((e) => [e.key, e.operation]), [
    ["greeting", "PUT"],
    ["settings", "DEL"],
    ["fresh", "PUT"],
    ["gone", "PURGE"],
  ]);
  assert.equal(later[0].value, "second");
  assert.equal(later[0].revision, secondRev);
  assert.equal(later[2].revision, freshRev);

  const lines = await kvHelper("from_js", "read", "greeting", "settings", "fresh", "gone");
  assert.deepEqual(lines.slice(0, 4).map((l) => [l.key, l.found, l.value]), [
    ["greeting", true, "second"],
    ["settings", false, null],
    ["fresh", true, "new"],
    ["gone", false, null],
  ]);
  assert.deepEqual(lines[4].keys.sort(), ["fresh", "greeting"]);
});

test("noesis::ship reports a missing bucket", async () => {
  await assert.rejects(kvHelper("never_created", "delete", "k"), /bucket not found/);
});

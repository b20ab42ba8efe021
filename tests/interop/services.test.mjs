// nats.js (@nats-io/services) discovers, calls and monitors a noesis::ship ServiceBuilder
// service through the NATS micro protocol, and noesis::ship calls a nats.js service.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { ServiceError, ServiceErrorCodeHeader, ServiceErrorHeader, Svcm } from "@nats-io/services";

import { connectTo, helperPath, runHelperJson, startServer } from "./lib.mjs";

// Generous, because the machine may be loaded. A helper that misses these is broken, not slow.
const HELPER_READY_TIMEOUT_MS = 20_000;
const HELPER_STOP_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;
// Discovery requests end as soon as the expected number of instances replied, else after this.
const DISCOVERY_MAX_WAIT_MS = 10_000;

let server;
let nc;

// Helpers still running when node exits are killed here, so a failed test leaves none behind.
const runningHelpers = new Set();
process.on("exit", () => {
  for (const child of runningHelpers) child.kill("SIGKILL");
});

before(async () => {
  server = await startServer();
  nc = await connectTo(server.url);
});

after(async () => {
  for (const child of runningHelpers) child.kill("SIGKILL");
  await nc?.close();
  await server?.stop();
});

// Starts `interop_services_helper serve NAME` and returns { ready, stop }. `ready` resolves to
// the helper's ready line. stop() sends SIGTERM and, once the helper exited, resolves to
// { code, signal, lines, stderr } with every JSON line it printed.
function startCppService(name) {
  const child = spawn(helperPath("services_helper"), ["--url", server.url, "serve", name],
                      { stdio: ["ignore", "pipe", "pipe"] });
  runningHelpers.add(child);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => { stderr += chunk; });

  const lines = [];
  let resolveReady;
  let rejectReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const readyTimer = setTimeout(() => rejectReady(new Error(`service '${name}' not ready within ` +
                                                            `${HELPER_READY_TIMEOUT_MS} ms\nstderr:\n${stderr}`)),
                                HELPER_READY_TIMEOUT_MS);
  readyTimer.unref();
  createInterface({ input: child.stdout }).on("line", (text) => {
    const line = JSON.parse(text);
    lines.push(line);
    if (line.ready) {
      clearTimeout(readyTimer);
      resolveReady(line);
    }
  });

  // Resolves after the process exited and its stdout was read to the end.
  const exited = new Promise((resolve) => {
    child.once("close", (code, signal) => {
      runningHelpers.delete(child);
      clearTimeout(readyTimer);
      rejectReady(new Error(`service '${name}' exited with status ${code} (${signal ?? "no signal"}) ` +
                            `before it was ready\nstderr:\n${stderr}`));
      resolve({ code, signal });
    });
  });

  const stop = async () => {
    child.kill("SIGTERM");
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`service '${name}' still running ${HELPER_STOP_TIMEOUT_MS} ms after SIGTERM`));
      }, HELPER_STOP_TIMEOUT_MS);
    });
    try {
      const { code, signal } = await Promise.race([exited, timeout]);
      return { code, signal, lines, stderr };
    } finally {
      clearTimeout(timer);
    }
  };
  return { ready, stop };
}

// A nats.js service client that waits until `count` instances replied, or DISCOVERY_MAX_WAIT_MS.
function serviceClient(count) {
  return new Svcm(nc).client({ strategy: "count", maxMessages: count, maxWait: DISCOVERY_MAX_WAIT_MS });
}

async function collect(iterator) {
  const items = [];
  for await (const item of await iterator) items.push(item);
  return items;
}

// Sends one request through nats.js and returns the reply message.
function request(subject, payload) {
  return nc.request(subject, payload, { timeout: REQUEST_TIMEOUT_MS });
}

// The JSON types of `value`: objects become { key: type } with sorted keys, arrays the list of
// their elements' types, and other values their typeof.
function shape(value) {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shape(value[key])]));
  }
  return value === null ? "null" : typeof value;
}

// Per-endpoint counters of a STATS response, keyed by endpoint name.
function countersByEndpoint(stats) {
  return Object.fromEntries(stats.endpoints.map((e) => [e.name, {
    num_requests: e.num_requests,
    num_errors: e.num_errors,
    last_error: e.last_error,
  }]));
}

test("nats.js discovers, calls and monitors a service", async () => {
  const startedAfter = Date.now();
  const service = startCppService("interop");
  const ready = await service.ready;
  assert.equal(ready.name, "interop");
  assert.match(ready.id, /^[A-Za-z0-9]+$/);

  // PING on all three subjects: every instance, one kind, one instance.
  const client = serviceClient(1);
  for (const [name, id] of [["", ""], ["interop", ""], ["interop", ready.id]]) {
    const pings = (await collect(client.ping(name, id))).filter((p) => p.name === "interop");
    assert.equal(pings.length, 1, `PING '${name}' '${id}'`);
    assert.deepEqual(pings[0], {
      name: "interop",
      id: ready.id,
      version: "1.2.3",
      metadata: { lang: "c++" },
      type: "io.nats.micro.v1.ping_response",
    });
  }

  const [info] = await collect(client.info("interop", ready.id));
  assert.equal(info.type, "io.nats.micro.v1.info_response");
  assert.equal(info.name, "interop");
  assert.equal(info.id, ready.id);
  assert.equal(info.version, "1.2.3");
  assert.equal(info.description, "noesis::ship interop service");
  assert.deepEqual(info.metadata, { lang: "c++" });
  assert.deepEqual(info.endpoints, [
    { name: "check", subject: "interop.cmd.check", queue_group: "q", metadata: {} },
    { name: "count", subject: "interop.cmd.count", queue_group: "q", metadata: {} },
    { name: "echo", subject: "interop.cmd.echo", queue_group: "q", metadata: {} },
    { name: "pr_merge", subject: "interop.cmd.pr.merge", queue_group: "q", metadata: {} },
  ]);

  // Calls: 3 echo, 2 count, 2 check (one good, one failing with 400), 1 pr.merge, 1 unknown.
  for (const word of ["one", "two", "three"]) {
    assert.equal((await request("interop.cmd.echo", word)).string(), word);
  }
  assert.equal((await request("interop.cmd.count", "")).string(), "1");
  assert.equal((await request("interop.cmd.count", "")).string(), "2");

  const good = await request("interop.cmd.check", "fine");
  assert.equal(good.string(), "ok");
  assert.equal(ServiceError.isServiceError(good), false);
  assert.equal(good.headers?.get(ServiceErrorHeader) ?? "", "");
  assert.equal(good.headers?.get(ServiceErrorCodeHeader) ?? "", "");

  const bad = await request("interop.cmd.check", "bad");
  const badError = ServiceError.toServiceError(bad);
  assert.ok(badError instanceof ServiceError, "the failed request carries the service error headers");
  assert.equal(badError.code, 400);
  assert.equal(badError.message, "bad input");
  assert.equal(bad.headers.get(ServiceErrorHeader), "bad input");
  assert.equal(bad.headers.get(ServiceErrorCodeHeader), "400");
  assert.deepEqual(bad.json(), { error: "bad input", code: 400 });

  assert.deepEqual((await request("interop.cmd.pr.merge", "feature")).json(), { merged: "feature" });

  const unknown = await request("interop.cmd.nope", "");
  assert.deepEqual(unknown.json(), { error: "UNKNOWN_COMMAND: nope", code: 404 });
  assert.equal(ServiceError.toServiceError(unknown)?.code, 404);

  // STATS: exact counters per endpoint. The unknown command counts in none of them.
  const [stats] = await collect(client.stats("interop", ready.id));
  assert.equal(stats.type, "io.nats.micro.v1.stats_response");
  assert.equal(stats.id, ready.id);
  assert.equal(stats.version, "1.2.3");
  assert.deepEqual(countersByEndpoint(stats), {
    check: { num_requests: 2, num_errors: 1, last_error: "bad input" },
    count: { num_requests: 2, num_errors: 0, last_error: "" },
    echo: { num_requests: 3, num_errors: 0, last_error: "" },
    pr_merge: { num_requests: 1, num_errors: 0, last_error: "" },
  });
  for (const endpoint of stats.endpoints) {
    assert.equal(endpoint.queue_group, "q", endpoint.name);
    assert.ok(Number.isInteger(endpoint.processing_time), endpoint.name);
    assert.ok(endpoint.processing_time > 0, `${endpoint.name}: processing_time ${endpoint.processing_time}`);
    assert.equal(endpoint.average_processing_time, Math.trunc(endpoint.processing_time / endpoint.num_requests),
                 endpoint.name);
  }
  // JavaScript reads the nanosecond timestamp as a Date (to the millisecond).
  const started = Date.parse(stats.started);
  assert.ok(Number.isFinite(started), `started '${stats.started}' is not a date`);
  assert.ok(started >= startedAfter - 1000, `started '${stats.started}' is before the helper was spawned`);
  assert.ok(started <= Date.now() + 1000, `started '${stats.started}' is in the future`);

  const stopped = await service.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.deepEqual(stopped.lines.at(-1), { shutdown: true, handled: 8 });
});

test("responses have the JSON types of nats.js", async () => {
  const cpp = startCppService("typed");
  const ready = await cpp.ready;

  // A nats.js service shaped like the C++ one, with an endpoint that has failed once, so that
  // nats.js writes every optional field the C++ service always writes.
  const js = await new Svcm(nc).add({
    name: "typedjs",
    version: "1.2.3",
    description: "nats.js reference service",
    metadata: { lang: "js" },
  });
  js.addGroup("typedjs.cmd").addEndpoint("check", {
    metadata: {},
    handler: (err, msg) => {
      if (err) throw err;
      if (msg.string() === "bad") throw new ServiceError(400, "bad input");
      msg.respond("ok");
    },
  });
  for (const prefix of ["typed.cmd", "typedjs.cmd"]) {
    await request(`${prefix}.check`, "fine");
    await request(`${prefix}.check`, "bad");
  }

  const client = serviceClient(1);
  for (const verb of ["ping", "info", "stats"]) {
    const [ours] = await collect(client[verb]("typed", ready.id));
    const [theirs] = await collect(client[verb]("typedjs", js.id));
    assert.ok(ours, `no ${verb} reply from the C++ service`);
    assert.ok(theirs, `no ${verb} reply from the nats.js service`);
    assert.equal(ours.type, theirs.type, verb);
    // The C++ service has 4 endpoints and the nats.js one has 1. Each C++ endpoint must have the
    // types of the nats.js endpoint.
    const { endpoints: ourEndpoints = [], ...ourService } = ours;
    const { endpoints: theirEndpoints = [], ...theirService } = theirs;
    assert.deepEqual(shape(ourService), shape(theirService), `${verb} service fields`);
    assert.equal(ourEndpoints.length, verb === "ping" ? 0 : 4, `${verb} endpoints of the C++ service`);
    assert.equal(theirEndpoints.length, verb === "ping" ? 0 : 1, `${verb} endpoints of the nats.js service`);
    for (const endpoint of ourEndpoints) {
      assert.deepEqual(shape(endpoint), shape(theirEndpoints[0]), `${verb} endpoint '${endpoint.name}'`);
    }
  }

  await js.stop();
  const stopped = await cpp.stop();
  assert.equal(stopped.code, 0, stopped.stderr);
});

test("replicas split requests and answer discovery", async () => {
  const replicas = [startCppService("replica"), startCppService("replica")];
  const ids = (await Promise.all(replicas.map((r) => r.ready))).map((line) => line.id);
  assert.notEqual(ids[0], ids[1]);

  const client = serviceClient(2);
  const pings = await collect(client.ping("replica"));
  assert.deepEqual(pings.map((p) => p.id).sort(), [...ids].sort());

  const requests = 100;
  const replies = await Promise.all(
    Array.from({ length: requests }, (_, i) => request("replica.cmd.echo", `${i}`)));
  assert.deepEqual(replies.map((m) => m.string()), Array.from({ length: requests }, (_, i) => `${i}`));

  // The queue group gives each request to one replica, so the counts add up to the requests.
  const stats = await collect(client.stats("replica"));
  assert.equal(stats.length, 2);
  const echoCounts = stats.map((s) => s.endpoints.find((e) => e.name === "echo").num_requests);
  assert.equal(echoCounts[0] + echoCounts[1], requests);

  const handled = [];
  for (const replica of replicas) {
    const stopped = await replica.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    handled.push(stopped.lines.at(-1).handled);
  }
  assert.equal(handled[0] + handled[1], requests);
});

test("noesis::ship calls a nats.js service", async () => {
  const js = await new Svcm(nc).add({ name: "jsecho", version: "2.0.0", metadata: { lang: "js" } });
  const group = js.addGroup("jsecho");
  group.addEndpoint("echo", (err, msg) => {
    if (err) throw err;
    msg.respond(msg.data);
  });
  group.addEndpoint("check", (err, msg) => {
    if (err) throw err;
    if (msg.string() === "bad") throw new ServiceError(400, "bad input");
    msg.respond("ok");
  });

  const cppRequest = async (subject, payload) => {
    const [line] = await runHelperJson("services_helper", ["--url", server.url, "request", subject, payload]);
    return line;
  };

  const echoed = await cppRequest("jsecho.echo", "from C++");
  assert.equal(echoed.data, "from C++");
  assert.equal(echoed.headers[ServiceErrorCodeHeader], undefined);

  const failed = await cppRequest("jsecho.check", "bad");
  assert.equal(failed.headers[ServiceErrorHeader], "bad input");
  assert.equal(failed.headers[ServiceErrorCodeHeader], "400");

  // A plain request reaches the control subjects of one instance.
  const ping = JSON.parse((await cppRequest(`$SRV.PING.jsecho.${js.id}`, "")).data);
  assert.equal(ping.id, js.id);
  assert.equal(ping.type, "io.nats.micro.v1.ping_response");

  const stats = await js.stats();
  const counters = countersByEndpoint(stats);
  assert.equal(counters.echo.num_requests, 1);
  assert.equal(counters.check.num_requests, 1);
  assert.equal(counters.check.num_errors, 1);
  assert.equal(counters.check.last_error, "bad input");
  await js.stop();
});

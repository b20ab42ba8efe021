// nats.js (@nats-io/obj) reads objects noesis::ship writes, byte for byte, and the reverse.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";

import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";

import { connectTo, runHelperJson, startServer } from "./lib.mjs";

const SIZES = [0, 1, 128 * 1024 + 1, 16 * 1024 * 1024];
// NOTE: once, under heavy CPU load (a library build running beside it), the C++ read of the
// 16 MiB object written by nats.js hung until this timeout, and that run's output was not kept.
// Two ordered consumer hangs were found and fixed since: deliveries lost at the end of the data
// with a broken connection, and a full subscription queue under a busy executor. Neither is shown
// to be that one. A timed-out helper's log is printed, with a line for each ordered consumer
// recreation and its reason.
const HELPER_TIMEOUT_MS = 120_000;

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

// Byte i is (i * 31 + 7) mod 256, as obj_helper.cpp writes and checks it.
function pattern(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function natsDigest(bytes) {
  return "SHA-256=" + createHash("sha256").update(bytes).digest("base64url") + "=";
}

test("nats.js reads objects written by noesis::ship", async () => {
  const os = await new Objm(nc).create("from_cpp");
  for (const size of SIZES) {
    const name = `cpp object ${size}.bin`;
    const [line] = await runHelperJson("obj_helper", ["--url", server.url, "--bucket", "from_cpp", "put", name,
                                                      String(size)], { timeoutMs: HELPER_TIMEOUT_MS });
    const expected = pattern(size);
    assert.equal(line.size, size);
    assert.equal(line.digest, natsDigest(expected));

    const info = await os.info(name);
    assert.equal(info.size, size);
    assert.equal(info.digest, line.digest);
    const read = await os.getBlob(name);
    assert.equal(read.length, size, `${name}: length`);
    assert.ok(Buffer.from(read).equals(Buffer.from(expected)), `${name}: bytes differ`);
  }
  const names = (await os.list()).map((entry) => entry.name).sort();
  assert.deepEqual(names, SIZES.map((size) => `cpp object ${size}.bin`).sort());
});

test("noesis::ship reads objects written by nats.js", async () => {
  const os = await new Objm(nc).create("from_js");
  for (const size of SIZES) {
    const name = `js/object ${size}.bin`;
    await os.putBlob({ name }, pattern(size));
    const [line] = await runHelperJson("obj_helper", ["--url", server.url, "--bucket", "from_js", "get", name],
                                       { timeoutMs: HELPER_TIMEOUT_MS });
    assert.equal(line.size, size, `${name}: length`);
    assert.equal(line.matches, true, `${name}: bytes differ`);
  }
  // The bucket nats.js created is the stream ADR-20 describes.
  const jsm = await jetstream(nc).jetstreamManager();
  const stream = await jsm.streams.info("OBJ_from_js");
  assert.deepEqual(stream.config.subjects.sort(), ["$O.from_js.C.>", "$O.from_js.M.>"]);
});

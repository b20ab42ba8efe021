// Shared helpers of the interop tests: a private nats-server per test file, a nats.js
// connection to it, and runners for the C++ helper programs (tests/interop/*.cpp, built as
// interop_<name> into the directory named by NOESIS_INTEROP_BIN).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { connect } from "@nats-io/transport-node";

const SERVER_START_TIMEOUT_MS = 10_000;
const DEFAULT_HELPER_TIMEOUT_MS = 30_000;

// Servers still running when node exits are killed here, so a failed test leaves none behind.
const runningServers = new Set();
process.on("exit", () => {
  for (const server of runningServers) server.kill("SIGKILL");
});

// Starts nats-server with JetStream on 127.0.0.1 and a port the kernel picks, with its store
// in a fresh temporary directory. Resolves to { url, port, stop } once the server logs that it
// listens for clients; stop() kills it and removes the store.
export function startServer({ extraArgs = [] } = {}) {
  const storeDir = mkdtempSync(join(tmpdir(), "noesis-interop-"));
  const child = spawn(
    "nats-server",
    ["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", storeDir, ...extraArgs],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  runningServers.add(child);

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    runningServers.delete(child);
    rmSync(storeDir, { recursive: true, force: true });
  };

  return new Promise((resolve, reject) => {
    let log = "";
    const fail = (reason) => {
      clearTimeout(timer);
      stop().finally(() => reject(new Error(`nats-server failed to start: ${reason}\n${log}`)));
    };
    const timer = setTimeout(() => fail(`no client port within ${SERVER_START_TIMEOUT_MS} ms`),
                             SERVER_START_TIMEOUT_MS);
    child.once("error", (err) => fail(err.message));
    child.once("exit", (code) => fail(`exited with status ${code}`));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match === null) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      // Keep draining the log so the server never blocks on a full pipe.
      child.stderr.removeAllListeners("data");
      child.stderr.resume();
      const port = Number(match[1]);
      resolve({ url: `nats://127.0.0.1:${port}`, port, stop });
    });
  });
}

// Connects nats.js to `url`; the caller closes or drains the connection.
export function connectTo(url, options = {}) {
  return connect({ servers: url, name: "noesis-interop-test", ...options });
}

// Returns the path of the C++ helper interop_<name>.
export function helperPath(name) {
  const dir = process.env.NOESIS_INTEROP_BIN;
  if (!dir) {
    throw new Error("NOESIS_INTEROP_BIN is not set: run the interop tests through ctest, " +
                    "or set it to the build directory that contains the interop_* helpers");
  }
  return join(dir, `interop_${name}`);
}

// Runs the C++ helper interop_<name> with `args` and resolves to { stdout, stderr } when it
// exits with status 0. Rejects with its status and output otherwise, or when it runs longer
// than timeoutMs.
export function runHelper(name, args = [], { timeoutMs = DEFAULT_HELPER_TIMEOUT_MS } = {}) {
  const path = helperPath(name);
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const failure = err.killed ? `timed out after ${timeoutMs} ms` : `failed (status ${err.code})`;
        reject(new Error(`${path} ${args.join(" ")} ${failure}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

// Runs a helper like runHelper and parses each non-empty line of its stdout as JSON.
export async function runHelperJson(name, args = [], options = {}) {
  const { stdout } = await runHelper(name, args, options);
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

// Subscribes to `subject` and returns a promise of its first message, rejected after timeoutMs.
// Flush the connection before triggering the publish, so the server has registered the
// subscription first.
export function expectMessage(nc, subject, timeoutMs = 10_000) {
  let timer;
  return new Promise((resolve, reject) => {
    const subscription = nc.subscribe(subject, {
      max: 1,
      callback: (err, msg) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(msg);
      },
    });
    timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`no message on '${subject}' within ${timeoutMs} ms`));
    }, timeoutMs);
    // A pending timer must not keep node running after the tests have finished.
    timer.unref();
  });
}

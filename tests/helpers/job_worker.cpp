// A worker process for the durable job queue's multi-process tests.
//
//   job_worker --url URL --prefix P --worker W [--name N] [--lease-ms 30000] [--max-attempts 3]
//              [--hold-ms 0] [--out FILE] [--mode run|wait]
//
// mode run (default): prints "ready", then claims and runs jobs for W until SIGTERM. For each
// job it prints "started <id> <attempt>", sleeps hold-ms, appends "<id>" to FILE, and returns
// {"by": N} as the result.
// mode wait: prints "ready", waits for one job with next(W), prints "got <id> <unix ms>",
// completes it and exits 0.
// Every line on stdout is flushed at once, so the test can read it through a pipe.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/durable_job_queue.hpp>

namespace ship = noesis::ship;

namespace {

struct Options {
  std::string url;
  std::string prefix = "JOB";
  std::string worker = "worker";
  std::string name = "worker";
  std::string out;
  std::string mode = "run";
  long lease_ms = 30000;
  long max_attempts = 3;
  long hold_ms = 0;
};

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

asio::awaitable<void> work(ship::DurableJobQueue<nlohmann::json> queue, Options options) {
  co_await queue.connect();
  say("ready");
  if (options.mode == "wait") {
    ship::Job<nlohmann::json> job = co_await queue.next(options.worker);
    say("got " + job.id + " " + std::to_string(unix_ms()));
    nlohmann::json result = nlohmann::json::object();
    result["by"] = options.name;
    co_await queue.complete(job, result);
    queue.close();
    co_return;
  }
  auto handler = [options](ship::Job<nlohmann::json> job) -> asio::awaitable<nlohmann::json> {
    say("started " + job.id + " " + std::to_string(job.attempts));
    if (options.hold_ms > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(options.hold_ms));
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (!options.out.empty()) {
      std::ofstream out(options.out, std::ios::app);
      out << job.id << "\n";
    }
    nlohmann::json result_value = nlohmann::json::object();
    result_value["by"] = options.name;
    co_return result_value;
  };
  co_await queue.run(options.worker, handler);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--url") options.url = value;
    else if (flag == "--prefix") options.prefix = value;
    else if (flag == "--worker") options.worker = value;
    else if (flag == "--name") options.name = value;
    else if (flag == "--out") options.out = value;
    else if (flag == "--mode") options.mode = value;
    else if (flag == "--lease-ms") options.lease_ms = std::stol(value);
    else if (flag == "--max-attempts") options.max_attempts = std::stol(value);
    else if (flag == "--hold-ms") options.hold_ms = std::stol(value);
    else {
      std::fprintf(stderr, "job_worker: unknown option '%s'\n", flag.c_str());
      return 2;
    }
  }
  if (options.url.empty()) {
    std::fprintf(stderr, "job_worker: --url is required\n");
    return 2;
  }

  asio::io_context io;
  ship::NatsConfig nats(options.url);
  nats.reconnect.wait = std::chrono::milliseconds(100);
  ship::Connection conn(io.get_executor(), nats);

  ship::DurableJobQueueConfig config;
  config.prefix = options.prefix;
  config.lease = std::chrono::milliseconds(options.lease_ms);
  config.max_attempts = static_cast<std::uint32_t>(options.max_attempts);
  ship::DurableJobQueue<nlohmann::json> queue(conn, config);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](std::error_code, int) {
    queue.close();
    conn.close();
    io.stop();
  });

  int status = EXIT_SUCCESS;
  asio::co_spawn(io, work(queue, options), [&](std::exception_ptr failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "job_worker %s: %s\n", options.name.c_str(), e.what());
      }
      status = EXIT_FAILURE;
    }
    signals.cancel();
    conn.close();
    io.stop();
  });
  io.run();
  return status;
}

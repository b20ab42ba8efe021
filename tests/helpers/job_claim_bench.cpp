// Claims per second of the durable job queue with several workers competing for the same jobs.
//
//   job_claim_bench [--jobs 2000] [--workers 4] [--url nats://127.0.0.1:PORT]
//
// Without --url it starts a private nats-server (testing::Server, file store) on 127.0.0.1.
// It submits the jobs first, then starts the workers, each a thread with its own io_context,
// connection and queue instance, which claim and complete until no job is left. It prints the
// claims per second over that phase (claim + complete per job) and the submits per second.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/testing/server.hpp>

namespace ship = noesis::ship;
using Clock = std::chrono::steady_clock;

namespace {

ship::DurableJobQueueConfig bench_config() {
  ship::DurableJobQueueConfig config;
  config.prefix = "BENCH";
  config.emit_events = true;
  return config;
}

// Runs `make()` on a fresh io_context until it finishes; returns false on an exception.
template <class Make>
bool run_on_own_context(const std::string& url, Make make) {
  asio::io_context io;
  ship::NatsConfig nats(url);
  ship::Connection conn(io.get_executor(), nats);
  bool ok = true;
  asio::co_spawn(io, make(conn), [&](std::exception_ptr failure) {
    if (failure) {
      ok = false;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "job_claim_bench: %s\n", e.what());
      }
    }
    conn.close();
  });
  io.run();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  long jobs = 2000;
  long workers = 4;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--jobs") jobs = std::stol(argv[i + 1]);
    else if (flag == "--workers") workers = std::stol(argv[i + 1]);
    else if (flag == "--url") url = argv[i + 1];
  }
  // Bounded load: at most 100,000 jobs and 64 workers.
  if (jobs < 1 || jobs > 100000 || workers < 1 || workers > 64) {
    std::fprintf(stderr, "job_claim_bench: --jobs 1..100000, --workers 1..64\n");
    return 2;
  }

  std::optional<ship::testing::Server> server;
  if (url.empty()) {
    server.emplace();
    url = server->url();
  }

  const auto submit_start = Clock::now();
  const bool submitted = run_on_own_context(url, [jobs](ship::Connection conn) -> asio::awaitable<void> {
    co_await conn.connect();
    ship::DurableJobQueue<nlohmann::json> queue(conn, bench_config());
    co_await queue.connect();
    for (long i = 0; i < jobs; ++i) {
      nlohmann::json payload = nlohmann::json::object();
      payload["n"] = i;
      co_await queue.submit(payload, "bench", "job_claim_bench");
    }
    queue.close();
  });
  if (!submitted) return 1;
  const double submit_seconds = std::chrono::duration<double>(Clock::now() - submit_start).count();

  std::atomic<long> claimed{0};
  std::atomic<bool> failed{false};
  const auto claim_start = Clock::now();
  std::vector<std::thread> threads;
  for (long w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      const bool ok = run_on_own_context(url, [&](ship::Connection conn) -> asio::awaitable<void> {
        co_await conn.connect();
        ship::DurableJobQueue<nlohmann::json> queue(conn, bench_config());
        co_await queue.connect();
        while (true) {
          std::optional<ship::Job<nlohmann::json>> job = co_await queue.claim("bench");
          if (!job) break;
          nlohmann::json result = nlohmann::json::object();
          result["ok"] = true;
          co_await queue.complete(*job, result);
          claimed.fetch_add(1);
        }
        queue.close();
      });
      if (!ok) failed = true;
    });
  }
  for (auto& thread : threads) thread.join();
  const double claim_seconds = std::chrono::duration<double>(Clock::now() - claim_start).count();

  std::printf("submitted %ld jobs in %.2f s: %.0f submits/s\n", jobs, submit_seconds,
              static_cast<double>(jobs) / submit_seconds);
  std::printf("%ld workers claimed and completed %ld jobs in %.2f s: %.0f claims/s\n", workers, claimed.load(),
              claim_seconds, static_cast<double>(claimed.load()) / claim_seconds);
  return failed || claimed.load() != jobs ? 1 : 0;
}

// A durable job queue worker: claims jobs for one worker name and runs them until Ctrl-C.
//
//   job_worker [--nats-url nats://127.0.0.1:4222] [--prefix BUILD] [--worker ci-server]
//              [--submit N]
//
// With --submit N it first queues N example jobs, so a single run shows the whole cycle. Start
// several copies (in different terminals or on different machines): each job runs on one of
// them, and a job whose worker is killed runs again elsewhere after its lease (30 s).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/durable_job_queue.hpp>

namespace ship = noesis::ship;

// The payload of a job: what to build.
struct Build {
  std::string repo;
  std::string branch;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Build, repo, branch)

namespace {

asio::awaitable<nlohmann::json> build(ship::Job<Build> job) {
  std::printf("%s: building %s@%s (attempt %u)\n", job.id.c_str(), job.payload.repo.c_str(),
              job.payload.branch.c_str(), job.attempts);
  // Stands in for real work; run() extends the lease meanwhile.
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
  co_await timer.async_wait(asio::use_awaitable);
  nlohmann::json result_value = nlohmann::json::object();
  result_value["artifact"] = job.payload.repo + ".tar.gz";
  co_return result_value;
}

asio::awaitable<void> work(ship::DurableJobQueue<Build> queue, std::string worker, int submit_count) {
  co_await queue.connect();
  for (int i = 0; i < submit_count; ++i) {
    Build payload{"app" + std::to_string(i), "main"};
    std::string id = co_await queue.submit(payload, worker, "job_worker example");
    std::printf("queued %s\n", id.c_str());
  }
  auto [queued, running, complete, failed] = co_await queue.counts();
  std::printf("queue %s: %zu queued, %zu running, %zu complete, %zu failed\n", queue.bucket().c_str(), queued,
              running, complete, failed);
  std::fflush(stdout);
  co_await queue.run(worker, build);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222";
  std::string prefix = "BUILD";
  std::string worker = "ci-server";
  int submit_count = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--nats-url") url = argv[i + 1];
    else if (flag == "--prefix") prefix = argv[i + 1];
    else if (flag == "--worker") worker = argv[i + 1];
    else if (flag == "--submit") submit_count = std::stoi(argv[i + 1]);
  }

  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(url));
  ship::DurableJobQueueConfig config;
  config.prefix = prefix;
  ship::DurableJobQueue<Build> queue(conn, config);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    queue.close();  // run() returns after the current job
  });

  int status = 0;
  asio::co_spawn(io, work(queue, worker, submit_count), [&](std::exception_ptr failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "job_worker: %s\n", e.what());
      }
      status = 1;
    }
    signals.cancel();
    conn.close();
  });
  io.run();
  return status;
}

// The fleet demo: several agents in one process, plus worker processes started from this same
// program, talk over one NATS server and check each step as they go.
//
//   fleet_demo [--nats-url URL] [--agents N] [--job-workers N]   coordinator (the default role)
//   fleet_demo --role worker --name w9 [--nats-url URL]            join a running coordinator's fleet
//   fleet_demo --role job-worker --name j1 --job-prefix P [--nats-url URL]
//                                       claim and complete the coordinator's jobs of queue P
//
// The coordinator starts the worker processes itself, and the other roles are for those processes.
// The coordinator prints one line per step and a summary table, and exits with status 1 when any
// step failed. The steps of each building block live in fleet/<block>_steps.hpp; a new block
// adds its header and one add_<block>_steps() call below.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/names.hpp>

#include "fleet/event_steps.hpp"
#include "fleet/fleet.hpp"
#include "fleet/job_steps.hpp"
#include "fleet/service_steps.hpp"
#include "fleet/kv_steps.hpp"
#include "fleet/object_steps.hpp"
#include "fleet/process.hpp"
#include "fleet/pubsub_steps.hpp"
#include "fleet/steps.hpp"

namespace ship = noesis::ship;

namespace {

// Runs `operation` on `io` until it finishes and returns its exit status; an exception is
// printed and gives EXIT_FAILURE. Stops `io` then, so responders and subscribers that a failed
// step left waiting do not keep the program alive.
int run_to_completion(asio::io_context& io, asio::awaitable<int> operation, const std::string& what) {
  int status = EXIT_FAILURE;
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr failure, int result) {
    io.stop();
    if (!failure) {
      status = result;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      fmt::print(stderr, "{} failed: {}\n", what, e.what());
    }
  });
  io.run();
  return status;
}

asio::awaitable<int> run_coordinator(fleet::Fleet& fleet) {
  fmt::print("fleet demo: {} agents, one worker process and {} job worker processes\n", fleet.options.agent_count,
             fleet.options.job_worker_count);
  std::fflush(stdout);

  fleet::StepRunner runner;
  fleet::add_pubsub_steps(runner, fleet);
  fleet::add_worker_steps(runner, fleet);
  fleet::add_job_steps(runner, fleet);
  fleet::add_object_steps(runner, fleet);
  fleet::add_kv_steps(runner, fleet);
  fleet::add_event_steps(runner, fleet);
  fleet::add_service_steps(runner, fleet);
  fleet::add_shutdown_steps(runner, fleet);

  const bool all_passed = co_await runner.run_all();
  runner.print_summary();
  co_return all_passed ? EXIT_SUCCESS : EXIT_FAILURE;
}

// Stops and reaps the worker processes that a failed step left running.
void reap_workers(fleet::Fleet& fleet) {
  fleet::stop_and_reap(fleet.worker_pid);
  fleet.worker_pid = -1;
  for (auto& worker : fleet.job_workers) {
    fleet::stop_and_reap(worker.pid);
    worker.pid = -1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"noesis-ship fleet demo: agents exchange heartbeats, statuses and requests over NATS"};
  std::string nats_url = ship::default_nats_url();
  int agent_count = 3;
  int job_worker_count = 2;
  std::string role = "coordinator";
  std::string name;
  std::string job_prefix;
  int lifetime_seconds = 30;
  bool verbose = false;
  app.add_option("--nats-url", nats_url, "NATS server URL; defaults to $NATS_URL or nats://localhost:4222");
  app.add_option("--agents", agent_count, "number of agents the coordinator runs in this process")
      ->check(CLI::Range(1, 64));
  app.add_option("--job-workers", job_worker_count, "number of job worker processes the coordinator starts")
      ->check(CLI::Range(1, 8));
  app.add_option("--role", role,
                 "coordinator runs the steps; worker joins a coordinator's fleet; job-worker runs its jobs")
      ->check(CLI::IsMember({"coordinator", "worker", "job-worker"}));
  app.add_option("--name", name, "agent name of a worker (letters, digits, _ and -); default <role>-<pid>");
  app.add_option("--job-prefix", job_prefix,
                 "job-worker: id prefix of the coordinator's job queue (letters, digits, _ and -)");
  app.add_option("--lifetime", lifetime_seconds, "seconds a worker waits for a leave request before it gives up")
      ->check(CLI::Range(1, 3600));
  app.add_flag("--verbose", verbose, "show the library's info log lines (connects, reconnects)");
  CLI11_PARSE(app, argc, argv);

  ship::logger()->set_level(verbose ? spdlog::level::info : spdlog::level::warn);
  asio::io_context io;

  if (role == "worker" || role == "job-worker") {
    if (name.empty()) name = fmt::format("{}-{}", role, ::getpid());
    if (!ship::is_valid_agent_name(name)) {
      fmt::print(stderr, "invalid --name '{}': use 1 to {} letters, digits, _ or -\n", name,
                 ship::max_agent_name_length);
      return EXIT_FAILURE;
    }
    ship::Connection conn(io.get_executor(), ship::NatsConfig(nats_url).with_name(name));
    const auto lifetime = std::chrono::seconds(lifetime_seconds);
    if (role == "job-worker") {
      if (job_prefix.empty()) {
        fmt::print(stderr, "missing --job-prefix: the job-worker role needs the coordinator's job id prefix\n");
        return EXIT_FAILURE;
      }
      return run_to_completion(io, fleet::run_job_worker(conn, name, job_prefix, lifetime), "job worker " + name);
    }
    return run_to_completion(io, fleet::run_worker(conn, name, lifetime), "worker " + name);
  }

  fleet::Options options;
  options.nats_url = nats_url;
  options.agent_count = agent_count;
  options.job_worker_count = job_worker_count;
  fleet::Fleet fleet(io.get_executor(), options);
  const int status = run_to_completion(io, run_coordinator(fleet), "fleet demo");
  reap_workers(fleet);
  return status;
}

// DurableJobQueue against private nats-servers: wrong transitions, events, worker processes
// (2,000 jobs on 4 processes, a SIGKILLed worker), lease expiry, server restarts and wake-ups
// across processes. The worker processes are tests/helpers/job_worker.cpp.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

#ifndef NOESIS_JOB_WORKER_PATH
#error "NOESIS_JOB_WORKER_PATH must name the job_worker helper (tests/helpers/CMakeLists.txt sets it)"
#endif

extern char** environ;

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using Payload = nlohmann::json;

namespace {

DurableJobQueueConfig queue_config(const std::string& prefix, std::chrono::milliseconds lease = 30s,
                                   std::uint32_t max_attempts = 3) {
  DurableJobQueueConfig config;
  config.prefix = prefix;
  config.lease = lease;
  config.max_attempts = max_attempts;
  config.reap_period = 250ms;
  return config;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A job_worker child process with its stdout on a non-blocking pipe.
class Worker {
 public:
  explicit Worker(const std::vector<std::string>& args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> all{NOESIS_JOB_WORKER_PATH};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : all) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
    ::fcntl(out_, F_SETFL, ::fcntl(out_, F_GETFL) | O_NONBLOCK);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    stop(SIGKILL);
    if (out_ >= 0) ::close(out_);
  }

  // Sends `signal` and reaps the process; returns its wait status.
  int stop(int signal) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // Waits (without blocking the io_context) for the next line that starts with `prefix`.
  awaitable<std::optional<std::string>> line_starting(std::string prefix, std::chrono::milliseconds timeout) {
    const auto stop_at = std::chrono::steady_clock::now() + timeout;
    while (true) {
      for (auto pos = buffer_.find('\n'); pos != std::string::npos; pos = buffer_.find('\n')) {
        std::string line = buffer_.substr(0, pos);
        buffer_.erase(0, pos + 1);
        if (line.rfind(prefix, 0) == 0) co_return line;
      }
      char chunk[512];
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (std::chrono::steady_clock::now() > stop_at) co_return std::nullopt;
      co_await test::sleep_for(10ms);
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

std::vector<std::string> worker_args(const testing::Server& server, const std::string& prefix,
                                     const std::string& worker, const std::string& name) {
  std::vector<std::string> args;
  args.push_back("--url");
  args.push_back(server.url());
  args.push_back("--prefix");
  args.push_back(prefix);
  args.push_back("--worker");
  args.push_back(worker);
  args.push_back("--name");
  args.push_back(name);
  return args;
}

void add_option(std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  args.push_back(flag);
  args.push_back(value);
}

// Waits until `pred(job)` holds for job `id`, reading it every 100 ms, or `timeout` passes.
template <class Pred>
awaitable<std::optional<Job<Payload>>> wait_for_job(DurableJobQueue<Payload> queue, std::string id, Pred pred,
                                                    std::chrono::milliseconds timeout) {
  const auto stop_at = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < stop_at) {
    std::optional<Job<Payload>> job;
    try {
      job = co_await queue.get(id);
    } catch (const error&) {
      // The server may be restarting; try again.
    }
    if (job && pred(*job)) co_return job;
    co_await test::sleep_for(100ms);
  }
  co_return std::nullopt;
}

// counts() through a server restart: retries for up to 15 s.
awaitable<JobCounts> counts_when_back(DurableJobQueue<Payload> queue) {
  const auto stop_at = std::chrono::steady_clock::now() + 15s;
  while (true) {
    try {
      JobCounts counts = co_await queue.counts();
      co_return counts;
    } catch (const error&) {
      if (std::chrono::steady_clock::now() > stop_at) throw;
    }
    co_await test::sleep_for(200ms);
  }
}

// {"<key>": value}, built outside the coroutines (GCC 12 miscompiles braced JSON there).
Payload obj(const std::string& key, Payload value) {
  Payload j = Payload::object();
  j[key] = std::move(value);
  return j;
}

// Built outside the coroutine: GCC 12 miscompiles braced lists of strings inside coroutines.
std::vector<std::string> expected_events(const std::string& low, const std::string& high) {
  return {"job.queued " + low,     "job.queued " + high, "job.started " + high,
          "job.completed " + high, "job.started " + low, "job.failed " + low};
}

}  // namespace

TEST_CASE("wrong transitions change nothing and report false or nullopt") {
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(test::shared_server()));
    co_await conn.connect();
    DurableJobQueue<Payload> queue(conn, queue_config("WRONG"));
    co_await queue.connect();
    CHECK(queue.bucket() == "jobs_wrong");

    Payload payload = obj("n", 1);
    const std::string id = co_await queue.submit(payload, "w", "tester");
    CHECK(id == "WRONG-001");

    const bool completed_queued = co_await queue.complete(id, obj("r", 1));
    CHECK_FALSE(completed_queued);
    const bool failed_queued = co_await queue.fail(id, "no");
    CHECK_FALSE(failed_queued);
    std::optional<Job<Payload>> unknown_worker = co_await queue.claim("nobody");
    CHECK_FALSE(unknown_worker);
    const bool extended_queued = co_await queue.extend_lease(id);
    CHECK_FALSE(extended_queued);

    std::optional<Job<Payload>> job = co_await queue.get(id);
    REQUIRE(job);
    CHECK(job->status == JobStatus::queued);
    CHECK(job->attempts == 0);

    std::optional<Job<Payload>> claimed = co_await queue.claim("w");
    REQUIRE(claimed);
    CHECK(claimed->id == id);
    CHECK(claimed->status == JobStatus::running);
    CHECK(claimed->attempts == 1);
    CHECK(claimed->lease_expires_at);
    CHECK(claimed->payload == payload);
    std::optional<Job<Payload>> second = co_await queue.claim("w");
    CHECK_FALSE(second);

    const bool cancelled_running = co_await queue.cancel(id);
    CHECK_FALSE(cancelled_running);
    const bool completed = co_await queue.complete(*claimed, obj("r", 1));
    CHECK(completed);
    const bool failed_complete = co_await queue.fail(id, "late");
    CHECK_FALSE(failed_complete);
    const bool completed_twice = co_await queue.complete(id, obj("r", 2));
    CHECK_FALSE(completed_twice);

    job = co_await queue.get(id);
    REQUIRE(job);
    CHECK(job->status == JobStatus::complete);
    CHECK(job->result == obj("r", 1));
    CHECK_FALSE(job->error);

    const bool unknown_complete = co_await queue.complete("WRONG-999", Payload());
    CHECK_FALSE(unknown_complete);
    // An id that no job can have is bad input, rejected before anything is sent.
    auto [odd_id_error, odd_id] =
        co_await queue.fail("not a key!", "x", asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(odd_id_error == errc::invalid_argument);
    CHECK_FALSE(odd_id);
    std::optional<Job<Payload>> missing = co_await queue.get("WRONG-999");
    CHECK_FALSE(missing);

    const std::string to_cancel = co_await queue.submit(payload, "w", "tester");
    const bool cancelled = co_await queue.cancel(to_cancel);
    CHECK(cancelled);
    job = co_await queue.get(to_cancel);
    REQUIRE(job);
    CHECK(job->status == JobStatus::failed);
    CHECK(job->error == "cancelled before it started");
    std::optional<Job<Payload>> after_cancel = co_await queue.claim("w");
    CHECK_FALSE(after_cancel);

    JobCounts counts = co_await queue.counts();
    CHECK(counts == JobCounts{0, 0, 1, 1});
    queue.close();
  });
}

TEST_CASE("priority first, then oldest, and lifecycle events on the bus") {
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(test::shared_server()));
    co_await conn.connect();
    Subscription events = conn.subscribe("ship.events.job.>");
    co_await conn.flush();

    DurableJobQueue<Payload> queue(conn, queue_config("PRIO"));
    co_await queue.connect();
    Payload payload = obj("n", 0);
    const std::string low = co_await queue.submit(payload, "w", "t");
    const std::string high = co_await queue.submit(payload, "w", "t", 5);

    std::optional<Job<Payload>> first = co_await queue.claim("w");
    REQUIRE(first);
    CHECK(first->id == high);
    CHECK(first->priority == 5);
    co_await queue.complete(*first, Payload("done"));
    std::optional<Job<Payload>> second = co_await queue.claim("w");
    REQUIRE(second);
    CHECK(second->id == low);
    co_await queue.fail(second->id, "broken");

    // queued x2, started, completed, started, failed.
    std::vector<std::string> seen;
    for (int i = 0; i < 6; ++i) {
      Message msg = co_await events.next();
      const auto event = nlohmann::json::parse(msg.data());
      CHECK(msg.subject() == "ship.events." + event.at("event_type").get<std::string>());
      seen.push_back(event.at("event_type").get<std::string>() + " " +
                     event.at("payload").at("id").get<std::string>());
    }
    const std::vector<std::string> expected = expected_events(low, high);
    CHECK(seen == expected);
    queue.close();
  });
}

TEST_CASE("4 worker processes complete 2000 jobs exactly once") {
  constexpr int job_count = 2000;
  constexpr int worker_count = 4;
  const auto dir = std::filesystem::temp_directory_path() / ("noesis_jobs_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  asio::io_context io;
  test::run(
      io,
      [&]() -> awaitable<void> {
        Connection conn(io.get_executor(), test::config_for(test::shared_server()));
        co_await conn.connect();
        DurableJobQueue<Payload> queue(conn, queue_config("MANY"));
        co_await queue.connect();

        std::vector<std::unique_ptr<Worker>> workers;
        for (int i = 0; i < worker_count; ++i) {
          auto args = worker_args(test::shared_server(), "MANY", "w", "p" + std::to_string(i));
          add_option(args, "--out", (dir / ("p" + std::to_string(i) + ".txt")).string());
          workers.push_back(std::make_unique<Worker>(args));
        }
        for (auto& worker : workers) {
          std::optional<std::string> ready = co_await worker->line_starting("ready", 20s);
          REQUIRE(ready);
        }

        const auto start = std::chrono::steady_clock::now();
        std::set<std::string> submitted;
        for (int i = 0; i < job_count; ++i) {
          Payload payload = obj("n", i);
          std::string id = co_await queue.submit(payload, "w", "tester");
          submitted.insert(std::move(id));
        }
        const double submit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        JobCounts counts;
        const auto limit = start + 120s;
        while (std::chrono::steady_clock::now() < limit) {
          counts = co_await queue.counts();
          if (counts.complete == job_count) break;
          std::fprintf(stderr, "jobs: %zu queued, %zu running, %zu complete\n", counts.queued, counts.running,
                       counts.complete);
          co_await test::sleep_for(250ms);
        }
        const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("2000 jobs on 4 worker processes: submitted in %.2f s, all complete after %.2f s\n", submit_s,
                    total_s);
        std::fflush(stdout);
        CHECK(counts == JobCounts{0, 0, job_count, 0});
        for (auto& worker : workers) {
          const int status = worker->stop(SIGTERM);
          CHECK(WIFEXITED(status));
        }

        // Every job ran once: the workers' logs together hold each id exactly once.
        std::map<std::string, int> runs;
        std::set<std::string> runners;
        for (int i = 0; i < worker_count; ++i) {
          std::ifstream in(dir / ("p" + std::to_string(i) + ".txt"));
          for (std::string line; std::getline(in, line);) ++runs[line];
        }
        std::size_t ran_twice = 0;
        std::set<std::string> ran;
        for (const auto& [id, n] : runs) {
          ran.insert(id);
          if (n != 1) ++ran_twice;
        }
        CHECK(ran_twice == 0);
        CHECK(ran == submitted);

        std::vector<Job<Payload>> jobs = co_await queue.list(JobStatus::complete);
        REQUIRE(jobs.size() == job_count);
        std::size_t not_first_attempt = 0;
        for (const auto& job : jobs) {
          if (job.attempts != 1) ++not_first_attempt;
          runners.insert(job.result.at("by").get<std::string>());
        }
        CHECK(not_first_attempt == 0);
        CHECK(runners.size() == worker_count);  // every process took part
        queue.close();
      },
      150s);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a SIGKILLed worker's job runs again after the lease and completes once") {
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(test::shared_server()));
    co_await conn.connect();
    DurableJobQueue<Payload> queue(conn, queue_config("KILL", 2s, 3));
    co_await queue.connect();

    auto args = worker_args(test::shared_server(), "KILL", "w", "victim");
    add_option(args, "--lease-ms", "2000");
    add_option(args, "--hold-ms", "60000");
    Worker victim(args);
    std::optional<std::string> ready = co_await victim.line_starting("ready", 20s);
    REQUIRE(ready);

    Payload payload = obj("n", 1);
    const std::string id = co_await queue.submit(payload, "w", "tester");
    std::optional<std::string> started = co_await victim.line_starting("started", 10s);
    REQUIRE(started);
    CHECK(*started == "started " + id + " 1");
    victim.stop(SIGKILL);
    const auto killed_at = std::chrono::steady_clock::now();

    // This process is the other worker; its reaper notices the expired lease.
    Job<Payload> job = co_await queue.next("w");
    const auto waited = std::chrono::steady_clock::now() - killed_at;
    CHECK(job.id == id);
    CHECK(job.attempts == 2);
    CHECK(waited < 5s);  // lease 2 s + reap period 250 ms + margin
    const bool completed = co_await queue.complete(job, Payload("second try"));
    CHECK(completed);
    const bool again = co_await queue.complete(job, Payload("third"));
    CHECK_FALSE(again);

    std::optional<Job<Payload>> stored = co_await queue.get(id);
    REQUIRE(stored);
    CHECK(stored->status == JobStatus::complete);
    CHECK(stored->result == Payload("second try"));
    JobCounts counts = co_await queue.counts();
    CHECK(counts == JobCounts{0, 0, 1, 0});
    queue.close();
  });
}

TEST_CASE("max attempts 1: a killed worker's job fails, and stays failed after a restart") {
  testing::Server server;
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(server));
    co_await conn.connect();
    DurableJobQueue<Payload> queue(conn, queue_config("ONCE", 2s, 1));
    co_await queue.connect();

    auto args = worker_args(server, "ONCE", "w", "victim");
    add_option(args, "--lease-ms", "2000");
    add_option(args, "--max-attempts", "1");
    add_option(args, "--hold-ms", "60000");
    Worker victim(args);
    std::optional<std::string> ready = co_await victim.line_starting("ready", 20s);
    REQUIRE(ready);
    Payload payload = obj("n", 1);
    const std::string id = co_await queue.submit(payload, "w", "tester");
    std::optional<std::string> started = co_await victim.line_starting("started", 10s);
    REQUIRE(started);
    victim.stop(SIGKILL);

    auto is_failed = [](const Job<Payload>& job) { return job.status == JobStatus::failed; };
    std::optional<Job<Payload>> failed = co_await wait_for_job(queue, id, is_failed, 10s);
    REQUIRE(failed);
    CHECK(failed->error == "lease expired after 1 attempt");
    CHECK(failed->attempts == 1);

    server.restart();
    JobCounts counts = co_await counts_when_back(queue);
    CHECK(counts == JobCounts{0, 0, 0, 1});

    // A fresh instance (a new process would be the same) never claims it either.
    DurableJobQueue<Payload> fresh(conn, queue_config("ONCE", 2s, 1));
    co_await fresh.connect();
    std::optional<Job<Payload>> claimed = co_await fresh.claim("w");
    CHECK_FALSE(claimed);
    co_await test::sleep_for(600ms);  // two reap periods
    claimed = co_await queue.claim("w");
    CHECK_FALSE(claimed);
    std::optional<Job<Payload>> after = co_await fresh.get(id);
    REQUIRE(after);
    CHECK(after->status == JobStatus::failed);
    CHECK(after->error == "lease expired after 1 attempt");
    fresh.close();
    queue.close();
  });
}

TEST_CASE("server restart keeps queued and running jobs") {
  testing::Server server;
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(server));
    co_await conn.connect();
    DurableJobQueue<Payload> queue(conn, queue_config("RESTART"));
    co_await queue.connect();
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) {
      Payload payload = obj("n", i);
      std::string id = co_await queue.submit(payload, "w", "tester");
      ids.push_back(std::move(id));
    }
    std::vector<Job<Payload>> running;
    for (int i = 0; i < 3; ++i) {
      std::optional<Job<Payload>> job = co_await queue.claim("w");
      REQUIRE(job);
      running.push_back(*job);
    }
    JobCounts before = co_await queue.counts();
    CHECK(before == JobCounts{7, 3, 0, 0});

    server.restart();
    JobCounts after = co_await counts_when_back(queue);
    CHECK(after == before);

    // The running jobs are still ours to finish, and the queued ones are claimable.
    for (const auto& job : running) {
      const bool completed = co_await queue.complete(job, Payload("ok"));
      CHECK(completed);
    }
    std::set<std::string> claimed;
    for (int i = 0; i < 7; ++i) {
      Job<Payload> job = co_await queue.next("w");
      claimed.insert(job.id);
      co_await queue.complete(job, Payload("ok"));
    }
    CHECK(claimed.size() == 7);
    JobCounts done = co_await queue.counts();
    CHECK(done == JobCounts{0, 0, 10, 0});
    // The id counter survived too: the next id follows the last one.
    Payload payload = obj("n", 10);
    const std::string next_id = co_await queue.submit(payload, "w", "tester");
    CHECK(next_id == "RESTART-011");
    queue.close();
  });
}

TEST_CASE("next() in another process wakes within a second of a submit") {
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Connection conn(io.get_executor(), test::config_for(test::shared_server()));
    co_await conn.connect();
    DurableJobQueue<Payload> queue(conn, queue_config("WAKE"));
    co_await queue.connect();

    auto args = worker_args(test::shared_server(), "WAKE", "w", "waiter");
    add_option(args, "--mode", "wait");
    Worker waiter(args);
    std::optional<std::string> ready = co_await waiter.line_starting("ready", 20s);
    REQUIRE(ready);
    co_await test::sleep_for(300ms);  // the waiter is now blocked in next()

    Payload payload = obj("n", 1);
    const auto submitted_at = unix_ms();
    const std::string id = co_await queue.submit(payload, "w", "tester");
    std::optional<std::string> got = co_await waiter.line_starting("got", 5s);
    REQUIRE(got);
    const auto space = got->rfind(' ');
    CHECK(got->substr(4, space - 4) == id);
    const auto woke_at = std::stoll(got->substr(space + 1));
    const auto latency_ms = woke_at - submitted_at;
    std::printf("next() in another process woke %lld ms after submit\n", static_cast<long long>(latency_ms));
    CHECK(latency_ms < 1000);

    auto is_complete = [](const Job<Payload>& job) { return job.status == JobStatus::complete; };
    std::optional<Job<Payload>> done = co_await wait_for_job(queue, id, is_complete, 5s);
    CHECK(done);
    queue.close();
  });
}

TEST_CASE("invalid configuration is rejected with the value named") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  DurableJobQueueConfig bad_prefix;
  bad_prefix.prefix = "a.b";
  CHECK_THROWS_WITH(DurableJobQueue<Payload>(conn, bad_prefix), Catch::Contains("'a.b'"));
  DurableJobQueueConfig zero_attempts;
  zero_attempts.max_attempts = 0;
  CHECK_THROWS_AS(DurableJobQueue<Payload>(conn, zero_attempts), error);
  DurableJobQueueConfig short_lease;
  short_lease.lease = 1ms;
  CHECK_THROWS_WITH(DurableJobQueue<Payload>(conn, short_lease), Catch::Contains("1 ms"));
}

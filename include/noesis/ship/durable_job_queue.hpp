// DurableJobQueue<T>: the job queue of job_queue.hpp stored in JetStream, shared by every
// process and machine connected to the same NATS system.
//
//   DurableJobQueueConfig config;
//   config.prefix = "BUILD";                   // ids BUILD-001, ...; bucket jobs_build
//   config.lease = std::chrono::seconds(30);
//   DurableJobQueue<Build> queue(conn, config);
//   co_await queue.connect();
//   std::string id = co_await queue.submit(Build{"myapp", "main"}, "ci-server", "developer-1");
//   Job<Build> job = co_await queue.next("ci-server");   // waits for a job, no polling
//   co_await queue.complete(job.id, {{"artifact", "myapp.tar.gz"}});
//
// Jobs are records in the KV bucket `jobs_<prefix lowercased>` under `job.<id>`. Every state
// change is a compare-and-set on the record's revision, so only one worker claims a job, even
// when many processes claim at once. Ids come from a compare-and-set counter under
// `meta.next_id`. Each queue instance watches the bucket to learn about queued jobs, which wake
// next(), and to find running jobs whose lease expired. Any live instance requeues such a job
// within lease + reap_period of the worker's last lease extension. docs/job_queue.md explains
// the design.
//
// Lifecycle events go to the EventBus as ShipEvent JSON on `ship.events.job.<event>` (queued,
// started, completed, failed, requeued) with the job's JSON as payload.
//
// Threading: run the connection's io_context on one thread. The queue's shared state is
// touched only from coroutines on the connection's executor.
// NOTE: a multi-threaded io_context would need a strand around that state; not done yet.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/job.hpp>
#include <noesis/ship/job_queue.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

// Settings of a DurableJobQueue. Every instance sharing a bucket should use the same lease,
// max_attempts and prefix: they decide how that instance reaps and numbers jobs.
struct DurableJobQueueConfig {
  // Job id prefix; ASCII letters, digits, '_' and '-'. Ids are "<prefix>-<n>", n >= 001.
  std::string prefix = "JOB";
  // KV bucket of the jobs; empty means "jobs_" + the prefix lowercased.
  std::string bucket;
  // Time a claimed job stays reserved for its worker without a lease extension. run() extends
  // it every lease / 3 while the handler runs.
  std::chrono::milliseconds lease{30000};
  // Claims a job may have. A lease that expires on the last one fails the job with
  // "lease expired after N attempts"; earlier ones put it back to queued. At least 1.
  std::uint32_t max_attempts = 3;
  // Period of the reaper that looks for expired leases (and of the safety re-check of next()
  // waiters). Between 10 ms and 60 s.
  std::chrono::milliseconds reap_period{1000};
  // Storage and replicas of the bucket when connect() creates it.
  StorageType storage = StorageType::file;
  int replicas = 1;
  // Lifecycle events on the EventBus (stream SHIP_EVENTS, `ship.events.job.<event>`).
  bool emit_events = true;
  // Waits for the stream's ack of each event. Off by default, so events are published without
  // an ack, which halves the round trips per transition. An event can then be lost if the server
  // fails at that moment, but the job record is written with an ack either way.
  bool wait_for_event_ack = false;
  // The ShipEvent source of the events.
  std::string event_source = "job-queue";
};

namespace detail {

// The durable queue's payload-independent core: jobs with their payload as JSON. The typed
// DurableJobQueue<T> converts payloads at its edge. A cheap handle; copies share the state.
class DurableJobStore {
 public:
  using RawJob = Job<nlohmann::json>;

  // Throws errc::invalid_name for a bad prefix or bucket and errc::invalid_argument for a
  // lease, max_attempts or reap_period out of range.
  DurableJobStore(Connection conn, DurableJobQueueConfig config);

  const DurableJobQueueConfig& config() const noexcept;
  const std::string& bucket() const noexcept;
  asio::any_io_executor executor() const;
  bool closed() const noexcept;
  void close();

  static asio::awaitable<void> do_connect(DurableJobStore self);
  static asio::awaitable<std::string> do_submit(DurableJobStore self, nlohmann::json payload, std::string worker,
                                                std::string queued_by, int priority);
  static asio::awaitable<std::optional<RawJob>> do_claim(DurableJobStore self, std::string worker);
  static asio::awaitable<RawJob> do_next(DurableJobStore self, std::string worker);
  static asio::awaitable<bool> do_complete(DurableJobStore self, std::string id, nlohmann::json result,
                                           std::optional<std::uint32_t> attempt);
  static asio::awaitable<bool> do_fail(DurableJobStore self, std::string id, std::string error_text,
                                       std::optional<std::uint32_t> attempt);
  static asio::awaitable<bool> do_cancel(DurableJobStore self, std::string id);
  static asio::awaitable<bool> do_extend_lease(DurableJobStore self, std::string id,
                                               std::optional<std::uint32_t> attempt);
  static asio::awaitable<std::optional<RawJob>> do_get(DurableJobStore self, std::string id);
  static asio::awaitable<std::vector<RawJob>> do_list(DurableJobStore self, std::optional<JobStatus> filter);
  static asio::awaitable<JobCounts> do_counts(DurableJobStore self);
  static asio::awaitable<std::size_t> do_reap(DurableJobStore self);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Converts the stored job to the caller's payload type; errc::serialization naming the job
// when the payload does not decode.
template <class T>
Job<T> typed_job(DurableJobStore::RawJob raw) {
  Job<T> job;
  try {
    job.payload = raw.payload.template get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::serialization, "job '" + raw.id + "': field 'payload' does not decode: " + e.what());
  }
  job.id = std::move(raw.id);
  job.status = raw.status;
  job.worker = std::move(raw.worker);
  job.queued_by = std::move(raw.queued_by);
  job.queued_at = raw.queued_at;
  job.started_at = raw.started_at;
  job.completed_at = raw.completed_at;
  job.result = std::move(raw.result);
  job.error = std::move(raw.error);
  job.attempts = raw.attempts;
  job.priority = raw.priority;
  job.lease_expires_at = raw.lease_expires_at;
  return job;
}

}  // namespace detail

// A handle on a durable job queue; copies share the connection and the watch. T is the payload
// type: nlohmann to_json/from_json and a default constructor.
//
// Every operation is asynchronous and takes any completion token; with the default token a
// failure throws noesis::ship::error. Wrong transitions are not errors: complete(), fail(),
// cancel() and extend_lease() return false and claim() returns std::nullopt, as in JobQueue.
// Bad input fails before anything is sent: a worker name that validate_worker_name() rejects
// gives errc::invalid_name, and a job id that no job can have (empty, or a byte other than
// letters, digits, '_' and '-') gives errc::invalid_argument.
template <class T>
class DurableJobQueue {
 public:
  using Store = detail::DurableJobStore;

  // Does not contact the server; call connect(). Throws as DurableJobStore does.
  DurableJobQueue(Connection conn, DurableJobQueueConfig config) : store_(std::move(conn), std::move(config)) {}
  explicit DurableJobQueue(Connection conn) : DurableJobQueue(std::move(conn), DurableJobQueueConfig()) {}

  const DurableJobQueueConfig& config() const noexcept { return store_.config(); }
  const std::string& bucket() const noexcept { return store_.bucket(); }

  // Opens (or creates) the bucket and the event stream, reads the current jobs, and starts the
  // watch and the reaper. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return detail::run_awaitable<void>(store_.executor(), std::forward<Token>(token), Store::do_connect(store_));
  }

  // Stops the watch, the reaper and every run() loop; waiting next() calls fail with
  // errc::not_connected. Jobs stay in the bucket. Leaves the connection open.
  void close() { store_.close(); }
  bool closed() const noexcept { return store_.closed(); }

  // Stores a queued job for `worker` and returns its id. Higher `priority` is claimed first.
  // Signature: void(std::error_code, std::string).
  template <typename Token = use_awaitable_t>
  auto submit(T payload, std::string worker, std::string queued_by, int priority = 0, Token&& token = {}) {
    nlohmann::json json_payload = std::move(payload);
    return detail::run_awaitable<std::string>(
        store_.executor(), std::forward<Token>(token),
        Store::do_submit(store_, std::move(json_payload), std::move(worker), std::move(queued_by), priority));
  }

  // Claims a queued job for `worker` and marks it running with a lease. Returns std::nullopt
  // when this instance's copy of the bucket has no queued job for `worker`. The job is picked
  // at random among the first 8 in claim order (highest priority, then oldest, then lowest id
  // number) that share the top priority, so that concurrent claimers rarely compete for one
  // record. Exactly one of several concurrent claimers wins a job.
  // Signature: void(std::error_code, std::optional<Job<T>>).
  template <typename Token = use_awaitable_t>
  auto claim(std::string worker, Token&& token = {}) {
    return detail::run_awaitable<std::optional<Job<T>>>(store_.executor(), std::forward<Token>(token),
                                                         do_claim(store_, std::move(worker)));
  }

  // Waits until a job for `worker` is available and claims it. Wakes on the bucket's watch,
  // not by polling. Signature: void(std::error_code, Job<T>).
  template <typename Token = use_awaitable_t>
  auto next(std::string worker, Token&& token = {}) {
    return detail::run_awaitable<Job<T>>(store_.executor(), std::forward<Token>(token),
                                         do_next(store_, std::move(worker)));
  }

  // running -> complete. False when the id is unknown or the job is not running.
  template <typename Token = use_awaitable_t>
  auto complete(std::string id, nlohmann::json result, Token&& token = {}) {
    return detail::run_awaitable<bool>(store_.executor(), std::forward<Token>(token),
                                       Store::do_complete(store_, std::move(id), std::move(result), std::nullopt));
  }

  // Completes `job` only if it is still the attempt that was claimed (job.attempts). A worker
  // whose lease expired therefore cannot complete the job that another worker now runs.
  template <typename Token = use_awaitable_t>
  auto complete(const Job<T>& job, nlohmann::json result, Token&& token = {}) {
    return detail::run_awaitable<bool>(store_.executor(), std::forward<Token>(token),
                                       Store::do_complete(store_, job.id, std::move(result), job.attempts));
  }

  // running -> failed with `error_text`. False when the id is unknown or the job is not running.
  template <typename Token = use_awaitable_t>
  auto fail(std::string id, std::string error_text, Token&& token = {}) {
    return detail::run_awaitable<bool>(store_.executor(), std::forward<Token>(token),
                                       Store::do_fail(store_, std::move(id), std::move(error_text), std::nullopt));
  }

  // queued -> failed with the error "cancelled before it started". False otherwise.
  template <typename Token = use_awaitable_t>
  auto cancel(std::string id, Token&& token = {}) {
    return detail::run_awaitable<bool>(store_.executor(), std::forward<Token>(token),
                                       Store::do_cancel(store_, std::move(id)));
  }

  // Moves a running job's lease to now + config().lease. False when it is not running.
  template <typename Token = use_awaitable_t>
  auto extend_lease(std::string id, Token&& token = {}) {
    return detail::run_awaitable<bool>(store_.executor(), std::forward<Token>(token),
                                       Store::do_extend_lease(store_, std::move(id), std::nullopt));
  }

  // Reads one job from the server. Signature: void(std::error_code, std::optional<Job<T>>).
  template <typename Token = use_awaitable_t>
  auto get(std::string id, Token&& token = {}) {
    return detail::run_awaitable<std::optional<Job<T>>>(store_.executor(), std::forward<Token>(token),
                                                         do_get(store_, std::move(id)));
  }

  // Reads every job (or those with status `filter`) from the server, oldest first.
  template <typename Token = use_awaitable_t>
  auto list(std::optional<JobStatus> filter = std::nullopt, Token&& token = {}) {
    return detail::run_awaitable<std::vector<Job<T>>>(store_.executor(), std::forward<Token>(token),
                                                      do_list(store_, filter));
  }

  // Counts the jobs of each status, read from the server.
  template <typename Token = use_awaitable_t>
  auto counts(Token&& token = {}) {
    return detail::run_awaitable<JobCounts>(store_.executor(), std::forward<Token>(token), Store::do_counts(store_));
  }

  // Runs one reaper pass now and returns how many expired leases it handled. The reaper task
  // does this every reap_period; tests call it to avoid waiting.
  template <typename Token = use_awaitable_t>
  auto reap(Token&& token = {}) {
    return detail::run_awaitable<std::size_t>(store_.executor(), std::forward<Token>(token), Store::do_reap(store_));
  }

  // Claims and runs jobs for `worker` until close(): for each job calls `handler(Job<T>)`, which
  // returns asio::awaitable<nlohmann::json> (the result). While it runs, the lease is extended
  // every lease / 3. A returned result completes the job, an exception fails it with what().
  // Server errors (a restart) are logged and retried after reap_period. Returns after close().
  template <class Handler>
  asio::awaitable<void> run(std::string worker, Handler handler) {
    return do_run(store_, std::move(worker), std::move(handler));
  }

 private:
  static asio::awaitable<std::optional<Job<T>>> do_claim(Store store, std::string worker) {
    std::optional<Store::RawJob> raw = co_await Store::do_claim(store, std::move(worker));
    if (!raw) co_return std::nullopt;
    co_return detail::typed_job<T>(std::move(*raw));
  }

  static asio::awaitable<Job<T>> do_next(Store store, std::string worker) {
    Store::RawJob raw = co_await Store::do_next(store, std::move(worker));
    co_return detail::typed_job<T>(std::move(raw));
  }

  static asio::awaitable<std::optional<Job<T>>> do_get(Store store, std::string id) {
    std::optional<Store::RawJob> raw = co_await Store::do_get(store, std::move(id));
    if (!raw) co_return std::nullopt;
    co_return detail::typed_job<T>(std::move(*raw));
  }

  static asio::awaitable<std::vector<Job<T>>> do_list(Store store, std::optional<JobStatus> filter) {
    std::vector<Store::RawJob> raw = co_await Store::do_list(store, filter);
    std::vector<Job<T>> jobs;
    jobs.reserve(raw.size());
    for (auto& job : raw) jobs.push_back(detail::typed_job<T>(std::move(job)));
    co_return jobs;
  }

  // Shared between run() and its keep-alive task: stopping cancels the timer.
  struct KeepAlive {
    explicit KeepAlive(asio::any_io_executor executor) : timer(std::move(executor)) {}
    asio::steady_timer timer;
    bool stopped = false;
  };

  static asio::awaitable<void> keep_alive(Store store, std::string id, std::uint32_t attempt,
                                          std::shared_ptr<KeepAlive> control) {
    const auto period = store.config().lease / 3;
    while (!control->stopped && !store.closed()) {
      control->timer.expires_after(period);
      std::error_code ec;
      co_await control->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (control->stopped || store.closed()) co_return;
      try {
        const bool extended = co_await Store::do_extend_lease(store, id, attempt);
        if (!extended) {
          logger()->warn("job '{}' lost its lease (attempt {}); its result will be ignored", id, attempt);
          co_return;
        }
      } catch (const std::exception& e) {
        logger()->warn("extending the lease of job '{}' failed: {}", id, e.what());
      }
    }
  }

  // Records the outcome, retrying through a server restart for up to one lease: after that the
  // reaper has requeued the job anyway.
  static asio::awaitable<void> finish(Store store, std::string id, std::uint32_t attempt,
                                      std::optional<std::string> failure, nlohmann::json result) {
    const auto give_up_at = std::chrono::steady_clock::now() + store.config().lease;
    while (!store.closed()) {
      try {
        if (failure) {
          co_await Store::do_fail(store, id, *failure, attempt);
        } else {
          co_await Store::do_complete(store, id, result, attempt);
        }
        co_return;
      } catch (const std::exception& e) {
        if (std::chrono::steady_clock::now() > give_up_at) {
          logger()->warn("recording the outcome of job '{}' failed, giving up: {}", id, e.what());
          co_return;
        }
        logger()->debug("recording the outcome of job '{}' failed, retrying: {}", id, e.what());
      }
      asio::steady_timer pause(store.executor(), store.config().reap_period);
      std::error_code ec;
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  template <class Handler>
  static asio::awaitable<void> do_run(Store store, std::string worker, Handler handler) {
    while (!store.closed()) {
      std::optional<Store::RawJob> raw;
      try {
        raw = co_await Store::do_next(store, worker);
      } catch (const std::exception& e) {
        if (store.closed()) co_return;
        logger()->warn("claiming a job for worker '{}' failed, retrying: {}", worker, e.what());
      }
      if (!raw) {
        asio::steady_timer pause(store.executor(), store.config().reap_period);
        std::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }

      const std::string id = raw->id;
      const std::uint32_t attempt = raw->attempts;
      auto control = std::make_shared<KeepAlive>(store.executor());
      asio::co_spawn(store.executor(), keep_alive(store, id, attempt, control), asio::detached);

      std::optional<std::string> failure;
      nlohmann::json result;
      try {
        Job<T> job = detail::typed_job<T>(std::move(*raw));
        result = co_await handler(std::move(job));
      } catch (const std::exception& e) {
        failure = e.what();
      }
      control->stopped = true;
      control->timer.cancel();
      co_await finish(store, id, attempt, std::move(failure), std::move(result));
    }
  }

  Store store_;
};

}  // namespace noesis::ship

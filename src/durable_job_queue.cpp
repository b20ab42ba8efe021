// DurableJobStore: the durable job queue's core over a KV bucket. See durable_job_queue.hpp
// for the model and docs/job_queue.md for the design.
#include <noesis/ship/durable_job_queue.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <system_error>

#include <asio/redirect_error.hpp>

#include <noesis/ship/detail/job_lifecycle.hpp>
#include <noesis/ship/detail/job_order.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/ship_event.hpp>

namespace noesis::ship::detail {

namespace {

constexpr const char* counter_key = "meta.next_id";
constexpr const char* job_key_prefix = "job.";
// A claim picks at random among this many best candidates of the top priority, so that
// concurrent claimers in different processes rarely race for the same record.
constexpr std::size_t claim_spread = 8;
// Compare-and-set retries of one transition before giving up; each lost round means another
// writer changed the job, so reaching this means a livelock, not bad luck.
constexpr int max_cas_rounds = 1000;

std::string job_key(const std::string& id) {
  return job_key_prefix + id;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Ids are KV key tokens; anything outside the prefix alphabet cannot be a job of this queue.
bool plausible_id(const std::string& id) {
  return is_valid_job_prefix(id);
}

// Rejects, before anything is sent, an id that no job can have.
void check_job_id(const std::string& id, const std::string& operation) {
  if (!plausible_id(id)) {
    throw error(errc::invalid_argument,
                operation + ": job id '" + id + "' is invalid; " + std::string(allowed_prefix_text));
  }
}

DurableJobStore::RawJob decode_job(const KvEntry& entry) {
  const auto where = "job record '" + entry.key + "' in bucket '" + entry.bucket + "'";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(entry.value);
  } catch (const nlohmann::json::parse_error& e) {
    throw error(errc::serialization, where + ": invalid JSON: " + e.what());
  }
  return job_from_json<nlohmann::json>(j, where);
}

std::string encode_job(const DurableJobStore::RawJob& job) {
  nlohmann::json j = job;
  return j.dump();
}

bool is_cas_conflict(const std::error_code& code) {
  return code == errc::wrong_last_sequence || code == errc::key_exists;
}

}  // namespace

struct DurableJobStore::State {
  State(Connection c, DurableJobQueueConfig cfg, KvBucketConfig bucket_config)
      : conn(c),
        config(std::move(cfg)),
        kv(c, std::move(bucket_config)),
        bus(EventBus(c).with_source(config.event_source)),
        reap_timer(c.get_executor()),
        wake(std::make_shared<asio::steady_timer>(c.get_executor(), asio::steady_timer::time_point::max())) {}

  // The last known revision and content of a job, from the watch or our own writes.
  struct Known {
    std::uint64_t revision = 0;
    RawJob job;
    std::uint64_t number = 0;  // id number for ordering, or foreign_job_sequence for foreign ids
  };

  Connection conn;
  DurableJobQueueConfig config;
  KvStore kv;
  EventBus bus;
  KvWatcher watcher;
  asio::steady_timer reap_timer;
  // Waiters of next() wait on the current timer; notify() cancels it and installs a new one.
  std::shared_ptr<asio::steady_timer> wake;
  // Counts notify() calls. A waiter compares it before and after its claim attempt, because
  // cancelling a timer does not affect an async_wait that starts after the cancel.
  std::uint64_t generation = 0;
  bool connected = false;
  bool closed = false;

  std::map<std::string, Known> jobs;
  // Queued jobs per worker, in claim order: priority first.
  QueuedJobIndex queued;

  // Cached counter: the next number and the revision it was read at (0 = unknown).
  std::uint64_t counter_next = 0;
  std::uint64_t counter_revision = 0;

  std::mt19937 random{std::random_device{}()};

  static JobOrderKey claim_key(const Known& known) {
    return job_order_key(known.job, known.number, JobPriority::honoured);
  }

  std::uint64_t number_of(const std::string& id) const {
    return parse_job_number(id, config.prefix).value_or(foreign_job_sequence);
  }

  // Records a revision of a job unless a newer one is known already.
  void learn(std::uint64_t revision, RawJob job) {
    auto& known = jobs[job.id];
    if (known.revision >= revision && known.revision != 0) return;
    if (known.revision != 0 && known.job.status == JobStatus::queued) {
      queued.erase(known.job.worker, claim_key(known));
    }
    known.revision = revision;
    known.number = number_of(job.id);
    known.job = std::move(job);
    if (known.job.status == JobStatus::queued) queued.insert(known.job.worker, claim_key(known));
  }

  void forget(const std::string& id, std::uint64_t revision) {
    const auto it = jobs.find(id);
    if (it == jobs.end() || it->second.revision >= revision) return;
    if (it->second.job.status == JobStatus::queued) queued.erase(it->second.job.worker, claim_key(it->second));
    jobs.erase(it);
  }

  void notify() {
    ++generation;
    wake->cancel();
    wake = std::make_shared<asio::steady_timer>(conn.get_executor(), asio::steady_timer::time_point::max());
  }

  // Picks a claim candidate for `worker`: at random among the first claim_spread queued jobs of
  // the highest priority present.
  std::optional<std::string> candidate(const std::string& worker) {
    const std::vector<const JobOrderKey*> best = queued.first_of_top_priority(worker, claim_spread);
    if (best.empty()) return std::nullopt;
    std::uniform_int_distribution<std::size_t> pick(0, best.size() - 1);
    return best[pick(random)]->id;
  }
};

DurableJobStore::DurableJobStore(Connection conn, DurableJobQueueConfig config) {
  if (!is_valid_job_prefix(config.prefix)) {
    throw error(errc::invalid_name, "durable job queue prefix: '" + config.prefix + "' is invalid; " +
                                        std::string(allowed_prefix_text));
  }
  if (config.bucket.empty()) config.bucket = "jobs_" + lowercase(config.prefix);
  validate_bucket_name(config.bucket);
  if (config.lease < std::chrono::milliseconds(30)) {
    throw error(errc::invalid_argument, "durable job queue lease: " + std::to_string(config.lease.count()) +
                                            " ms is too short; allowed: at least 30 ms");
  }
  if (config.max_attempts < 1) {
    throw error(errc::invalid_argument, "durable job queue max_attempts: 0; allowed: at least 1");
  }
  if (config.reap_period < std::chrono::milliseconds(10) || config.reap_period > std::chrono::seconds(60)) {
    throw error(errc::invalid_argument, "durable job queue reap_period: " +
                                            std::to_string(config.reap_period.count()) +
                                            " ms; allowed: 10 ms to 60000 ms");
  }
  KvBucketConfig bucket_config(config.bucket);
  // Only the newest revision of a job matters; compare-and-set needs no history.
  bucket_config.history = 1;
  bucket_config.storage = config.storage;
  bucket_config.replicas = config.replicas;
  bucket_config.description = "noesis-ship durable job queue " + config.prefix;
  state_ = std::make_shared<State>(std::move(conn), std::move(config), std::move(bucket_config));
}

const DurableJobQueueConfig& DurableJobStore::config() const noexcept {
  return state_->config;
}

const std::string& DurableJobStore::bucket() const noexcept {
  return state_->config.bucket;
}

asio::any_io_executor DurableJobStore::executor() const {
  return state_->conn.get_executor();
}

bool DurableJobStore::closed() const noexcept {
  return state_->closed;
}

void DurableJobStore::close() {
  auto& s = *state_;
  if (s.closed) return;
  s.closed = true;
  s.reap_timer.cancel();
  if (s.connected) s.watcher.stop();
  s.notify();
}

namespace {

void require_open(const DurableJobStore::State& s, const std::string& what) {
  if (s.closed) throw error(errc::not_connected, what + ": job queue '" + s.config.bucket + "' is closed");
  if (!s.connected) throw error(errc::not_connected, what + ": call connect() on job queue '" + s.config.bucket + "' first");
}

// Publishes a lifecycle event. The transition is already stored, so a failure here is only
// logged.
asio::awaitable<void> emit(DurableJobStore::State& s, JobEvent event, const DurableJobStore::RawJob& job) {
  if (!s.config.emit_events) co_return;
  std::string type = "job." + std::string(to_string(event));
  nlohmann::json payload = job;
  ShipEvent<nlohmann::json> envelope = make_ship_event(std::move(type), s.config.event_source, std::move(payload));
  try {
    if (s.config.wait_for_event_ack) {
      co_await s.bus.publish_event(envelope);
    } else {
      std::string subject = s.bus.subject_for(envelope.event_type);
      std::string data = encode_json(envelope);
      s.conn.publish(subject, data);
    }
  } catch (const std::exception& e) {
    logger()->warn("job event '{}' for job '{}' was not published: {}", envelope.event_type, job.id, e.what());
  }
}

// Follows the bucket after the initial values: every change updates the known jobs and wakes
// next() waiters. Ends when the watch is stopped.
asio::awaitable<void> follow(std::shared_ptr<DurableJobStore::State> state) {
  auto& s = *state;
  while (!s.closed) {
    std::optional<KvEntry> entry;
    try {
      entry = co_await s.watcher.next();
    } catch (const std::exception& e) {
      if (!s.closed) logger()->warn("watch of job queue '{}' ended: {}", s.config.bucket, e.what());
      co_return;
    }
    if (!entry || entry->key.rfind(job_key_prefix, 0) != 0) continue;
    const auto id = entry->key.substr(std::char_traits<char>::length(job_key_prefix));
    if (entry->operation != KvOperation::put) {
      s.forget(id, entry->revision);
    } else {
      try {
        s.learn(entry->revision, decode_job(*entry));
      } catch (const std::exception& e) {
        logger()->warn("ignoring job record '{}': {}", entry->key, e.what());
      }
    }
    s.notify();
  }
}

asio::awaitable<void> reap_periodically(DurableJobStore self, std::shared_ptr<DurableJobStore::State> state) {
  auto& s = *state;
  while (!s.closed) {
    s.reap_timer.expires_after(s.config.reap_period);
    std::error_code ec;
    co_await s.reap_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (s.closed) co_return;
    try {
      co_await DurableJobStore::do_reap(self);
    } catch (const std::exception& e) {
      logger()->debug("reaping job queue '{}' failed, retrying in {} ms: {}", s.config.bucket,
                      s.config.reap_period.count(), e.what());
    }
    // Also a safety net for next() waiters: they re-check at least once a period.
    s.notify();
  }
}

// A change of one job: returns the event to announce, or std::nullopt when the job's state does
// not allow it (nothing is written then).
using Change = std::function<std::optional<JobEvent>(DurableJobStore::RawJob&)>;

// Reads the job, applies `change` and writes it back with compare-and-set, re-reading after a
// lost race. Returns false when the job is unknown or `change` refuses.
asio::awaitable<bool> transition(std::shared_ptr<DurableJobStore::State> state, std::string id, Change change) {
  auto& s = *state;
  if (!plausible_id(id)) co_return false;
  const auto key = job_key(id);
  for (int round = 0; round < max_cas_rounds; ++round) {
    std::optional<KvEntry> entry = co_await s.kv.get(key);
    if (!entry) co_return false;
    DurableJobStore::RawJob job = decode_job(*entry);
    s.learn(entry->revision, job);
    const std::optional<JobEvent> event = change(job);
    if (!event) co_return false;
    std::string value = encode_job(job);
    std::uint64_t revision = 0;
    try {
      revision = co_await s.kv.update(key, value, entry->revision);
    } catch (const error& e) {
      if (!is_cas_conflict(e.code())) throw;
      continue;
    }
    s.learn(revision, job);
    co_await emit(s, *event, job);
    co_return true;
  }
  throw error(errc::wrong_last_sequence, "update job '" + id + "': lost " + std::to_string(max_cas_rounds) +
                                             " compare-and-set rounds in a row");
}

std::int64_t now_ms() {
  return system_clock_ms();
}

}  // namespace

asio::awaitable<void> DurableJobStore::do_connect(DurableJobStore self) {
  auto state = self.state_;
  auto& s = *state;
  if (s.closed) throw error(errc::not_connected, "connect job queue '" + s.config.bucket + "': it is closed");
  if (s.connected) co_return;
  if (!s.conn.is_connected()) co_await s.conn.connect();
  co_await s.kv.connect();
  if (s.config.emit_events) co_await s.bus.connect();

  KvWatchOptions options;
  options.ignore_deletes = false;
  std::string pattern = std::string(job_key_prefix) + ">";
  s.watcher = co_await s.kv.watch(pattern, options);
  // Reads the initial values before returning, so claim() right after connect() sees every
  // job queued before.
  while (true) {
    std::optional<KvEntry> entry = co_await s.watcher.next();
    if (!entry) break;
    if (entry->operation != KvOperation::put) continue;
    try {
      s.learn(entry->revision, decode_job(*entry));
    } catch (const std::exception& e) {
      logger()->warn("ignoring job record '{}': {}", entry->key, e.what());
    }
  }
  s.connected = true;
  asio::co_spawn(s.conn.get_executor(), follow(state), asio::detached);
  asio::co_spawn(s.conn.get_executor(), reap_periodically(self, state), asio::detached);
}

asio::awaitable<std::string> DurableJobStore::do_submit(DurableJobStore self, nlohmann::json payload,
                                                        std::string worker, std::string queued_by, int priority) {
  validate_worker_name(worker);
  auto state = self.state_;
  auto& s = *state;
  require_open(s, "submit a job for worker '" + worker + "'");

  // Allocates the number by compare-and-set on the counter, trying the cached revision first so
  // that a lone submitter needs one round trip.
  std::uint64_t number = 0;
  for (int round = 0; number == 0; ++round) {
    if (round == max_cas_rounds) {
      throw error(errc::wrong_last_sequence, "allocate a job id in '" + s.config.bucket + "': lost " +
                                                 std::to_string(max_cas_rounds) + " rounds in a row");
    }
    if (s.counter_revision == 0) {
      std::optional<KvEntry> entry = co_await s.kv.get(counter_key);
      if (!entry) {
        try {
          std::string first_next = "2";
          s.counter_revision = co_await s.kv.create(counter_key, first_next);
          s.counter_next = 2;
          number = 1;
        } catch (const error& e) {
          if (!is_cas_conflict(e.code())) throw;
        }
        continue;
      }
      std::uint64_t stored = 0;
      const auto& text = entry->value;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), stored);
      if (ec != std::errc{} || end != text.data() + text.size() || stored == 0) {
        throw error(errc::serialization, "job id counter '" + std::string(counter_key) + "' in bucket '" +
                                             s.config.bucket + "': '" + text + "' is not a positive integer");
      }
      s.counter_next = stored;
      s.counter_revision = entry->revision;
    }
    const std::uint64_t candidate = s.counter_next;
    if (candidate >= max_job_number) {
      throw error(errc::invalid_argument, "submit to job queue '" + s.config.bucket + "': next id number " +
                                              std::to_string(candidate) + " reached the u32 limit");
    }
    std::string next_text = std::to_string(candidate + 1);
    try {
      const std::uint64_t revision = co_await s.kv.update(counter_key, next_text, s.counter_revision);
      s.counter_revision = revision;
      s.counter_next = candidate + 1;
      number = candidate;
    } catch (const error& e) {
      if (!is_cas_conflict(e.code())) throw;
      s.counter_revision = 0;
    }
  }

  RawJob job;
  job.id = format_job_id(s.config.prefix, number);
  job.payload = std::move(payload);
  job.worker = std::move(worker);
  job.queued_by = std::move(queued_by);
  job.queued_at = now_ms();
  job.priority = priority;
  std::string value = encode_job(job);
  const std::uint64_t revision = co_await s.kv.create(job_key(job.id), value);
  s.learn(revision, job);
  s.notify();
  co_await emit(s, JobEvent::queued, job);
  co_return job.id;
}

asio::awaitable<std::optional<DurableJobStore::RawJob>> DurableJobStore::do_claim(DurableJobStore self,
                                                                                  std::string worker) {
  validate_worker_name(worker);
  auto state = self.state_;
  auto& s = *state;
  require_open(s, "claim a job for worker '" + worker + "'");
  for (int round = 0; round < max_cas_rounds; ++round) {
    const auto id = s.candidate(worker);
    if (!id) co_return std::nullopt;
    const auto known = s.jobs.at(*id);
    RawJob job = known.job;
    if (!start_job(job, now_ms(), s.config.lease)) co_return std::nullopt;  // unreachable: indexed as queued
    const auto key = job_key(job.id);
    std::string value = encode_job(job);
    try {
      const std::uint64_t revision = co_await s.kv.update(key, value, known.revision);
      s.learn(revision, job);
      co_await emit(s, JobEvent::started, job);
      co_return job;
    } catch (const error& e) {
      if (!is_cas_conflict(e.code())) throw;
    }
    // Lost the race or the record was stale: read the newest revision and choose again.
    std::optional<KvEntry> entry = co_await s.kv.get(key);
    if (entry) {
      s.learn(entry->revision, decode_job(*entry));
    } else {
      s.forget(*id, std::numeric_limits<std::uint64_t>::max());
    }
  }
  throw error(errc::wrong_last_sequence, "claim a job for worker '" + worker + "': lost " +
                                             std::to_string(max_cas_rounds) + " compare-and-set rounds in a row");
}

asio::awaitable<DurableJobStore::RawJob> DurableJobStore::do_next(DurableJobStore self, std::string worker) {
  validate_worker_name(worker);
  auto state = self.state_;
  auto& s = *state;
  while (true) {
    // A change during the claim bumps the generation; then claim again at once instead of
    // waiting on a timer that was already cancelled.
    const std::uint64_t generation = s.generation;
    std::optional<RawJob> job = co_await do_claim(self, worker);
    if (job) co_return std::move(*job);
    if (s.generation != generation) continue;
    auto wake = s.wake;
    std::error_code ec;
    co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    require_open(s, "wait for a job for worker '" + worker + "'");
  }
}

asio::awaitable<bool> DurableJobStore::do_complete(DurableJobStore self, std::string id, nlohmann::json result,
                                                   std::optional<std::uint32_t> attempt) {
  check_job_id(id, "complete job");
  require_open(*self.state_, "complete job '" + id + "'");
  Change change = [result = std::move(result), attempt](RawJob& job) -> std::optional<JobEvent> {
    if (!complete_job(job, result, now_ms(), attempt)) return std::nullopt;
    return JobEvent::completed;
  };
  co_return co_await transition(self.state_, std::move(id), std::move(change));
}

asio::awaitable<bool> DurableJobStore::do_fail(DurableJobStore self, std::string id, std::string error_text,
                                               std::optional<std::uint32_t> attempt) {
  check_job_id(id, "fail job");
  require_open(*self.state_, "fail job '" + id + "'");
  Change change = [error_text = std::move(error_text), attempt](RawJob& job) -> std::optional<JobEvent> {
    if (!fail_job(job, error_text, now_ms(), attempt)) return std::nullopt;
    return JobEvent::failed;
  };
  co_return co_await transition(self.state_, std::move(id), std::move(change));
}

asio::awaitable<bool> DurableJobStore::do_cancel(DurableJobStore self, std::string id) {
  check_job_id(id, "cancel job");
  require_open(*self.state_, "cancel job '" + id + "'");
  Change change = [](RawJob& job) -> std::optional<JobEvent> {
    if (!cancel_job(job, now_ms())) return std::nullopt;
    return JobEvent::failed;
  };
  co_return co_await transition(self.state_, std::move(id), std::move(change));
}

asio::awaitable<bool> DurableJobStore::do_extend_lease(DurableJobStore self, std::string id,
                                                       std::optional<std::uint32_t> attempt) {
  check_job_id(id, "extend the lease of job");
  require_open(*self.state_, "extend the lease of job '" + id + "'");
  const auto lease = self.state_->config.lease;
  // Written without an event: a lease extension is not a lifecycle change.
  auto state = self.state_;
  auto& s = *state;
  if (!plausible_id(id)) co_return false;
  const auto key = job_key(id);
  for (int round = 0; round < max_cas_rounds; ++round) {
    std::optional<KvEntry> entry = co_await s.kv.get(key);
    if (!entry) co_return false;
    RawJob job = decode_job(*entry);
    s.learn(entry->revision, job);
    if (!extend_job_lease(job, now_ms(), lease, attempt)) co_return false;
    std::string value = encode_job(job);
    try {
      const std::uint64_t revision = co_await s.kv.update(key, value, entry->revision);
      s.learn(revision, job);
      co_return true;
    } catch (const error& e) {
      if (!is_cas_conflict(e.code())) throw;
    }
  }
  throw error(errc::wrong_last_sequence, "extend the lease of job '" + id + "': lost " +
                                             std::to_string(max_cas_rounds) + " compare-and-set rounds in a row");
}

asio::awaitable<std::optional<DurableJobStore::RawJob>> DurableJobStore::do_get(DurableJobStore self,
                                                                                std::string id) {
  check_job_id(id, "get job");
  auto state = self.state_;
  require_open(*state, "get job '" + id + "'");
  if (!plausible_id(id)) co_return std::nullopt;
  std::optional<KvEntry> entry = co_await state->kv.get(job_key(id));
  if (!entry) co_return std::nullopt;
  co_return decode_job(*entry);
}

asio::awaitable<std::vector<DurableJobStore::RawJob>> DurableJobStore::do_list(DurableJobStore self,
                                                                               std::optional<JobStatus> filter) {
  auto state = self.state_;
  auto& s = *state;
  require_open(s, "list jobs");
  // Reads every job by key instead of KvStore::entries(): under concurrent updates a listing
  // by watch showed one key twice (2,001 of 2,000 jobs) and once did not end. Every id that
  // submit() made is below the counter; ids of other forms come from this instance's copy.
  // NOTE: one request per job, so a listing of N jobs costs N round trips.
  std::set<std::string> ids;
  std::optional<KvEntry> counter = co_await s.kv.get(counter_key);
  if (counter) {
    std::uint64_t next = 0;
    const auto& text = counter->value;
    std::from_chars(text.data(), text.data() + text.size(), next);
    for (std::uint64_t number = 1; number < next; ++number) ids.insert(format_job_id(s.config.prefix, number));
  }
  for (const auto& [id, known] : s.jobs) ids.insert(id);

  std::vector<std::pair<JobOrderKey, RawJob>> sorted;
  sorted.reserve(ids.size());
  for (const auto& id : ids) {
    std::optional<KvEntry> entry = co_await s.kv.get(job_key(id));
    if (!entry) continue;
    RawJob job = decode_job(*entry);
    if (filter && job.status != *filter) continue;
    JobOrderKey order = job_order_key(job, s.number_of(job.id), JobPriority::ignored);
    sorted.emplace_back(std::move(order), std::move(job));
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<RawJob> jobs;
  jobs.reserve(sorted.size());
  for (auto& item : sorted) jobs.push_back(std::move(item.second));
  co_return jobs;
}

asio::awaitable<JobCounts> DurableJobStore::do_counts(DurableJobStore self) {
  std::vector<RawJob> jobs = co_await do_list(self, std::nullopt);
  JobCounts counts;
  for (const auto& job : jobs) {
    switch (job.status) {
      case JobStatus::queued:
        ++counts.queued;
        break;
      case JobStatus::running:
        ++counts.running;
        break;
      case JobStatus::complete:
        ++counts.complete;
        break;
      case JobStatus::failed:
        ++counts.failed;
        break;
    }
  }
  co_return counts;
}

asio::awaitable<std::size_t> DurableJobStore::do_reap(DurableJobStore self) {
  auto state = self.state_;
  auto& s = *state;
  require_open(s, "reap expired job leases");
  const auto now = now_ms();
  std::vector<std::string> expired;
  for (const auto& [id, known] : s.jobs) {
    if (lease_expired(known.job, now)) expired.push_back(id);
  }
  std::size_t handled = 0;
  const auto max_attempts = s.config.max_attempts;
  for (auto& id : expired) {
    Change change = [max_attempts](RawJob& job) { return expire_job_lease(job, now_ms(), max_attempts); };
    const bool changed = co_await transition(state, id, std::move(change));
    if (changed) {
      ++handled;
      logger()->info("job '{}' in '{}': lease expired", id, s.config.bucket);
    }
  }
  if (handled > 0) s.notify();
  co_return handled;
}

}  // namespace noesis::ship::detail

// BeingRegistry: registry records in the `beings_status` KV bucket, written compare-and-set.
#include <noesis/ship/being_registry.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/logger.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

namespace {

// Attempts of one compare-and-set update before it gives up with errc::wrong_last_sequence.
// Each lost race means another writer succeeded, so this bounds only pathological contention.
constexpr int update_attempts = 100;

KvBucketConfig registry_bucket() {
  return KvBucketConfig(std::string(BeingRegistry::bucket_name)).with_ttl(BeingRegistry::record_ttl).with_history(5);
}

std::string context_for(const std::string& id) { return "being '" + id + "' in registry '" + std::string(BeingRegistry::bucket_name) + "'"; }

// Decodes a record, or logs and returns nullopt for a value that is not a registry record.
std::optional<BeingStatus> decode_record(const KvEntry& entry) {
  try {
    return entry.json<BeingStatus>();
  } catch (const error& e) {
    logger()->warn("skipping registry record '{}' (revision {}): {}", entry.key, entry.revision, e.what());
    return std::nullopt;
  }
}

// A pause of 1..8 ms after a lost compare-and-set race, so racing writers spread out.
std::chrono::milliseconds retry_pause() {
  thread_local std::minstd_rand random(std::random_device{}());
  return std::chrono::milliseconds(1 + random() % 8);
}

}  // namespace

namespace detail {

std::uint64_t next_uptime(const BeingStatus& previous, std::chrono::system_clock::time_point now,
                          std::optional<std::chrono::system_clock::time_point> registered_at) {
  using std::chrono::duration;
  if (registered_at) {
    const auto since = std::chrono::duration_cast<std::chrono::seconds>(now - *registered_at).count();
    return since > 0 ? static_cast<std::uint64_t>(since) : 0;
  }
  const auto last = parse_rfc3339(previous.last_heartbeat);
  if (!last || *last >= now) return previous.uptime_seconds;
  const double seconds = duration<double>(now - *last).count();
  return previous.uptime_seconds + static_cast<std::uint64_t>(std::llround(seconds));
}

bool passes(const BeingStatus& status, const OnlineFilter& filter, std::chrono::system_clock::time_point now) {
  if (!filter.states.empty() &&
      std::find(filter.states.begin(), filter.states.end(), status.state) == filter.states.end()) {
    return false;
  }
  if (filter.max_heartbeat_age) {
    const auto last = parse_rfc3339(status.last_heartbeat);
    if (!last || now - *last > *filter.max_heartbeat_age) return false;
  }
  return true;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// BeingRegistryWatcher

struct BeingRegistryWatcher::state {
  asio::any_io_executor executor;
  KvWatcher watcher;
  std::unordered_set<std::string> known;  // ids with a live record, as far as the watch has seen
};

asio::any_io_executor BeingRegistryWatcher::executor() const { return state_->executor; }

void BeingRegistryWatcher::stop() {
  if (state_) state_->watcher.stop();
}

asio::awaitable<BeingChange> BeingRegistryWatcher::do_next(std::shared_ptr<state> s) {
  for (;;) {
    std::optional<KvEntry> entry = co_await s->watcher.next();
    if (!entry) continue;  // the end of the initial records needs no change of its own

    BeingChange change;
    change.being_id = entry->key;
    change.revision = entry->revision;
    if (entry->operation != KvOperation::put) {
      // A marker for a being never seen live (for example one left before the watch started).
      if (s->known.erase(entry->key) == 0) continue;
      change.kind = BeingChangeKind::left;
      co_return change;
    }

    change.status = decode_record(*entry);
    if (!change.status) continue;
    change.kind = s->known.insert(entry->key).second ? BeingChangeKind::joined : BeingChangeKind::updated;
    co_return change;
  }
}

// ---------------------------------------------------------------------------------------------
// BeingRegistry

struct BeingRegistry::state {
  KvStore kv;
  // Registration times of the beings registered through this object, for uptime_seconds.
  std::mutex mutex;
  std::unordered_map<std::string, std::chrono::system_clock::time_point> registered_at;

  explicit state(KvStore store) : kv(std::move(store)) {}

  std::optional<std::chrono::system_clock::time_point> registration_of(const std::string& id) {
    std::lock_guard lock(mutex);
    const auto found = registered_at.find(id);
    if (found == registered_at.end()) return std::nullopt;
    return found->second;
  }
};

BeingRegistry::BeingRegistry(Connection conn, JetStreamOptions options)
    : state_(std::make_shared<state>(KvStore(std::move(conn), registry_bucket(), std::move(options)))) {}

KvStore& BeingRegistry::store() noexcept { return state_->kv; }
asio::any_io_executor BeingRegistry::executor() const { return state_->kv.jetstream().connection().get_executor(); }

asio::awaitable<BeingStatus> BeingRegistry::do_register(BeingRegistry self, std::string id,
                                                        std::vector<std::string> caps) {
  const auto now = std::chrono::system_clock::now();
  BeingStatus status;
  status.being_id = id;
  status.state = BeingState::idle;
  status.last_heartbeat = format_rfc3339(now);
  status.uptime_seconds = 0;
  status.capabilities = std::move(caps);

  co_await self.state_->kv.put(id, status);
  {
    std::lock_guard lock(self.state_->mutex);
    self.state_->registered_at[id] = now;
  }
  co_return status;
}

asio::awaitable<BeingStatus> BeingRegistry::do_update(BeingRegistry self, std::string id, change what) {
  auto& s = *self.state_;
  for (int attempt = 0; attempt < update_attempts; ++attempt) {
    std::optional<KvEntry> entry = co_await s.kv.get(id);
    if (!entry) {
      throw error(errc::key_not_found, context_for(id) + ": not registered, or its record expired " +
                                           std::to_string(record_ttl.count()) + " s after its last write; " +
                                           "register it again");
    }

    BeingStatus status = entry->json<BeingStatus>();
    const auto now = std::chrono::system_clock::now();
    if (what.set_state) {
      status.state = what.state;
      status.current_task = what.current_task;
    }
    status.uptime_seconds = detail::next_uptime(status, now, s.registration_of(id));
    status.last_heartbeat = format_rfc3339(now);

    bool lost_race = false;
    try {
      co_await s.kv.update(id, status, entry->revision);
      co_return status;
    } catch (const error& e) {
      if (e.code() != errc::wrong_last_sequence) throw;
      lost_race = true;
    }
    if (lost_race) {
      // Another writer changed the record first: read it again and reapply this change to it.
      asio::steady_timer pause(co_await asio::this_coro::executor, retry_pause());
      co_await pause.async_wait(asio::use_awaitable);
    }
  }
  throw error(errc::wrong_last_sequence, "update " + context_for(id) + ": gave up after " +
                                             std::to_string(update_attempts) + " writers changed it first");
}

asio::awaitable<void> BeingRegistry::do_unregister(BeingRegistry self, std::string id) {
  co_await self.state_->kv.erase(id);
  std::lock_guard lock(self.state_->mutex);
  self.state_->registered_at.erase(id);
}

asio::awaitable<std::optional<BeingStatus>> BeingRegistry::do_get_status(BeingRegistry self, std::string id) {
  std::optional<KvEntry> entry = co_await self.state_->kv.get(id);
  if (!entry) co_return std::nullopt;
  co_return entry->json<BeingStatus>();
}

asio::awaitable<std::vector<BeingStatus>> BeingRegistry::do_get_online(BeingRegistry self, OnlineFilter filter) {
  if (filter.max_heartbeat_age && filter.max_heartbeat_age->count() < 0) {
    throw error(errc::invalid_argument, "get_online: max_heartbeat_age " +
                                            std::to_string(filter.max_heartbeat_age->count()) +
                                            " s is invalid; allowed: 0 s or more");
  }
  std::vector<KvEntry> entries = co_await self.state_->kv.entries();
  const auto now = std::chrono::system_clock::now();
  std::vector<BeingStatus> online;
  for (const auto& entry : entries) {
    auto status = decode_record(entry);
    if (status && detail::passes(*status, filter, now)) online.push_back(std::move(*status));
  }
  co_return online;
}

asio::awaitable<BeingRegistryWatcher> BeingRegistry::do_watch(BeingRegistry self) {
  KvWatcher watcher = co_await self.state_->kv.watch();
  auto s = std::make_shared<BeingRegistryWatcher::state>();
  s->executor = self.executor();
  s->watcher = std::move(watcher);
  co_return BeingRegistryWatcher(std::move(s));
}

}  // namespace noesis::ship

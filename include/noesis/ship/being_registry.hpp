// BeingRegistry: who is in the fleet and what each being is doing, in the KV bucket
// `beings_status` (TTL 300 s, history 5), with the Rust noesis-ship's record format.
//
//   BeingRegistry registry(conn);
//   co_await registry.connect();
//   co_await registry.register_being("worker-1", {"build", "test"});
//   co_await registry.update_status("worker-1", BeingState::working, "BUILD-001");
//   co_await registry.heartbeat("worker-1");              // at least every 300 s
//   auto online = co_await registry.get_online({.max_heartbeat_age = 60s});
//
// Unlike the Rust library, updates are compare-and-set: two writers never lose each other's
// change, because a writer that loses the race reads the record again and reapplies its change.
// Every write also refreshes last_heartbeat and uptime_seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <noesis/ship/being_status.hpp>
#include <noesis/ship/kv.hpp>

namespace noesis::ship {

// Which records get_online() returns. The default returns every record still stored, as the
// Rust library does: a record expires 300 s after its last write.
struct OnlineFilter {
  // Leave out records whose last_heartbeat is older than this; none keeps them all.
  std::optional<std::chrono::seconds> max_heartbeat_age;
  // Keep only records in one of these states; empty keeps every state.
  std::vector<BeingState> states;
};

// What happened to a being, as a registry watch reports it.
enum class BeingChangeKind {
  joined,   // a record appeared (or existed when the watch started)
  updated,  // an existing record was written again
  left,     // the record was deleted by unregister() or purged
};

struct BeingChange {
  BeingChangeKind kind = BeingChangeKind::joined;
  std::string being_id;
  std::optional<BeingStatus> status;  // the new record; nullopt for `left`
  std::uint64_t revision = 0;
};

// A running registry watch. Cheap to copy; copies share the stream.
class BeingRegistryWatcher {
 public:
  BeingRegistryWatcher() = default;

  // Waits for the next change. The records stored when the watch started come first, each as
  // `joined`. Records that fail to decode are logged and skipped.
  // Signature: void(std::error_code, BeingChange).
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    return detail::run_awaitable<BeingChange>(executor(), std::forward<Token>(token), do_next(state_));
  }

  void stop();

  struct state;
  explicit BeingRegistryWatcher(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<BeingChange> do_next(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

class BeingRegistry {
 public:
  static constexpr std::string_view bucket_name = "beings_status";
  static constexpr std::chrono::seconds record_ttl{300};

  // Uses the bucket `beings_status` with TTL 300 s and history 5.
  explicit BeingRegistry(Connection conn, JetStreamOptions options = JetStreamOptions());

  KvStore& store() noexcept;

  // Opens the bucket, creating it when missing. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return store().connect(std::forward<Token>(token));
  }

  // Writes a fresh record (state idle, no task, uptime 0), replacing any existing one.
  // Throws errc::invalid_key for an id that is not a valid KV key.
  // Signature: void(std::error_code, BeingStatus).
  // Overloads replace default arguments of class type throughout this class: GCC 12 destroys
  // such a defaulted argument wrongly when the call is inside co_await.
  asio::awaitable<BeingStatus> register_being(std::string being_id) {
    return do_register(*this, std::move(being_id), std::vector<std::string>());
  }

  template <typename Token = use_awaitable_t>
  auto register_being(std::string being_id, std::vector<std::string> capabilities, Token&& token = {}) {
    return run<BeingStatus>(std::forward<Token>(token), do_register(*this, std::move(being_id), std::move(capabilities)));
  }

  // Sets state and current task. Fails with errc::key_not_found when the being is not registered,
  // including a record that expired 300 s after its last write.
  asio::awaitable<BeingStatus> update_status(std::string being_id, BeingState state) {
    return do_update(*this, std::move(being_id), change{state, std::nullopt, true});
  }

  template <typename Token = use_awaitable_t>
  auto update_status(std::string being_id, BeingState state, std::optional<std::string> current_task,
                     Token&& token = {}) {
    return run<BeingStatus>(std::forward<Token>(token),
                            do_update(*this, std::move(being_id), change{state, std::move(current_task), true}));
  }

  // Refreshes last_heartbeat and uptime_seconds. Fails with errc::key_not_found like update_status.
  template <typename Token = use_awaitable_t>
  auto heartbeat(std::string being_id, Token&& token = {}) {
    return run<BeingStatus>(std::forward<Token>(token), do_update(*this, std::move(being_id), change{}));
  }

  // Deletes the record (a KV delete marker, so watches see the being leave).
  template <typename Token = use_awaitable_t>
  auto unregister(std::string being_id, Token&& token = {}) {
    return run<void>(std::forward<Token>(token), do_unregister(*this, std::move(being_id)));
  }

  // Returns the record, or nullopt when the being is not registered or its record expired.
  template <typename Token = use_awaitable_t>
  auto get_status(std::string being_id, Token&& token = {}) {
    return run<std::optional<BeingStatus>>(std::forward<Token>(token), do_get_status(*this, std::move(being_id)));
  }

  // Returns the records that pass `filter`, read in one pass over the bucket.
  // Signature: void(std::error_code, std::vector<BeingStatus>).
  asio::awaitable<std::vector<BeingStatus>> get_online() { return do_get_online(*this, OnlineFilter()); }

  template <typename Token = use_awaitable_t>
  auto get_online(OnlineFilter filter, Token&& token = {}) {
    return run<std::vector<BeingStatus>>(std::forward<Token>(token), do_get_online(*this, std::move(filter)));
  }

  // Starts a watch of beings joining, changing and leaving.
  // NOTE: a record that expires by the bucket's TTL disappears without a `left` change, because
  // the server removes expired messages without writing a marker.
  template <typename Token = use_awaitable_t>
  auto watch(Token&& token = {}) {
    return run<BeingRegistryWatcher>(std::forward<Token>(token), do_watch(*this));
  }

  struct state;

 private:
  // A modification update_status() or heartbeat() applies to the newest record.
  struct change {
    BeingState state = BeingState::idle;
    std::optional<std::string> current_task;
    bool set_state = false;
  };

  template <typename T, typename Token>
  auto run(Token&& token, asio::awaitable<T> op) {
    return detail::run_awaitable<T>(executor(), std::forward<Token>(token), std::move(op));
  }
  asio::any_io_executor executor() const;

  static asio::awaitable<BeingStatus> do_register(BeingRegistry self, std::string id, std::vector<std::string> caps);
  static asio::awaitable<BeingStatus> do_update(BeingRegistry self, std::string id, change what);
  static asio::awaitable<void> do_unregister(BeingRegistry self, std::string id);
  static asio::awaitable<std::optional<BeingStatus>> do_get_status(BeingRegistry self, std::string id);
  static asio::awaitable<std::vector<BeingStatus>> do_get_online(BeingRegistry self, OnlineFilter filter);
  static asio::awaitable<BeingRegistryWatcher> do_watch(BeingRegistry self);

  std::shared_ptr<state> state_;
};

namespace detail {

// Computes uptime_seconds for a write at `now`. With the registration time known to this process
// it is the whole seconds since then. Otherwise it adds the time since the record's
// last_heartbeat, rounded to whole seconds, to the stored uptime.
std::uint64_t next_uptime(const BeingStatus& previous, std::chrono::system_clock::time_point now,
                          std::optional<std::chrono::system_clock::time_point> registered_at);

// Whether a record passes an OnlineFilter at `now`. A record whose last_heartbeat is not
// RFC 3339 fails a max_heartbeat_age check.
bool passes(const BeingStatus& status, const OnlineFilter& filter, std::chrono::system_clock::time_point now);

}  // namespace detail

}  // namespace noesis::ship

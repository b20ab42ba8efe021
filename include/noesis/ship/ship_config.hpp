// ShipConfig: fleet-wide settings as JSON values in the KV bucket `ship_config` (no TTL,
// history 5), readable by the Rust noesis-ship.
//
//   ShipConfig config(conn);
//   co_await config.connect();
//   co_await config.set("build.parallelism", 4);
//   int jobs = co_await config.get("build.parallelism", 1);   // 1 when the key is missing
//   auto watcher = co_await config.watch();                    // changes made from now on
//
// Every value is JSON, strings included (a std::string is stored as a JSON string), as the
// Rust library stores serde_json values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/kv.hpp>

namespace noesis::ship {

// One change of a setting.
struct ConfigChange {
  std::string key;
  std::optional<nlohmann::json> value;  // nullopt when the key was deleted or purged
  std::uint64_t revision = 0;

  // Converts the value to T. Throws errc::key_not_found for a deletion and errc::serialization
  // when the value does not have the shape of T.
  template <class T>
  T value_as() const {
    if (!value) throw error(errc::key_not_found, "setting '" + key + "' was deleted");
    try {
      return value->get<T>();
    } catch (const nlohmann::json::exception& e) {
      throw error(errc::serialization, "setting '" + key + "': " + e.what());
    }
  }
};

// A running watch of settings. Cheap to copy; copies share the stream.
class ConfigWatcher {
 public:
  ConfigWatcher() = default;

  // Waits for the next change. A value that is not JSON is logged and skipped.
  // Signature: void(std::error_code, ConfigChange).
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    return detail::run_awaitable<ConfigChange>(executor(), std::forward<Token>(token), do_next(watcher_));
  }

  void stop() { watcher_.stop(); }

  ConfigWatcher(asio::any_io_executor executor, KvWatcher watcher)
      : executor_(std::move(executor)), watcher_(std::move(watcher)) {}

 private:
  asio::any_io_executor executor() const { return executor_; }
  static asio::awaitable<ConfigChange> do_next(KvWatcher watcher);

  asio::any_io_executor executor_;
  KvWatcher watcher_;
};

class ShipConfig {
 public:
  static constexpr std::string_view bucket_name = "ship_config";

  explicit ShipConfig(Connection conn, JetStreamOptions options = JetStreamOptions());

  KvStore& store() noexcept { return kv_; }

  // Opens the bucket, creating it when missing. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return kv_.connect(std::forward<Token>(token));
  }

  // Stores the JSON encoding of `value` and returns its revision.
  template <typename T, typename Token = use_awaitable_t>
  auto set(std::string key, const T& value, Token&& token = {}) {
    return kv_.put(std::move(key), encode_json(value), std::forward<Token>(token));
  }

  // Returns the setting converted to T, or `default_value` when the key is missing or deleted.
  // Errors other than "not found" are thrown (the Rust library returns the default for them).
  // Signature: void(std::error_code, T).
  template <typename T, typename Token = use_awaitable_t>
  auto get(std::string key, T default_value, Token&& token = {}) {
    return detail::run_awaitable<T>(executor(), std::forward<Token>(token),
                                    do_get<T>(kv_, std::move(key), std::move(default_value)));
  }

  // Removes a setting (a delete marker; watches see a change with no value).
  template <typename Token = use_awaitable_t>
  auto remove(std::string key, Token&& token = {}) {
    return kv_.erase(std::move(key), std::nullopt, std::forward<Token>(token));
  }

  // Lists the keys that have a value.
  template <typename Token = use_awaitable_t>
  auto keys(Token&& token = {}) {
    return kv_.keys(">", std::forward<Token>(token));
  }

  // Starts a watch of the settings matching `key_pattern`: changes made from now on, or with
  // `include_current` the current values first. Signature: void(std::error_code, ConfigWatcher).
  // Overloads replace a default `key_pattern` argument: GCC 12 destroys a defaulted std::string
  // argument wrongly when the call is inside co_await. watch() watches every setting.
  asio::awaitable<ConfigWatcher> watch() const { return do_watch(kv_, std::string(">"), false); }

  template <typename Token = use_awaitable_t>
  auto watch(std::string key_pattern, bool include_current = false, Token&& token = {}) {
    return detail::run_awaitable<ConfigWatcher>(executor(), std::forward<Token>(token),
                                                do_watch(kv_, std::move(key_pattern), include_current));
  }

 private:
  asio::any_io_executor executor() const { return kv_.jetstream().connection().get_executor(); }

  template <typename T>
  static asio::awaitable<T> do_get(KvStore kv, std::string key, T default_value) {
    std::optional<KvEntry> entry = co_await kv.get(key);
    if (!entry) co_return default_value;
    co_return entry->json<T>();
  }

  static asio::awaitable<ConfigWatcher> do_watch(KvStore kv, std::string key_pattern, bool include_current);

  KvStore kv_;
};

}  // namespace noesis::ship

// HealthMetrics: the newest health report of each source, as JSON in the KV bucket
// `ship_health` (TTL 120 s, history 5). A source that stops reporting disappears after 120 s.
//
//   HealthMetrics health(conn);
//   co_await health.connect();
//   co_await health.report("worker-1", nlohmann::json{{"cpu", 0.4}, {"queue", 3}});
//   auto all = co_await health.get_all();     // (source, report) pairs
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/kv.hpp>

namespace noesis::ship {

class HealthMetrics {
 public:
  static constexpr std::string_view bucket_name = "ship_health";
  static constexpr std::chrono::seconds report_ttl{120};

  explicit HealthMetrics(Connection conn, JetStreamOptions options = JetStreamOptions());

  KvStore& store() noexcept { return kv_; }

  // Opens the bucket, creating it when missing. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return kv_.connect(std::forward<Token>(token));
  }

  // Stores the JSON encoding of `metrics` as the source's newest report; returns its revision.
  template <typename T, typename Token = use_awaitable_t>
  auto report(std::string source, const T& metrics, Token&& token = {}) {
    return kv_.put(std::move(source), encode_json(metrics), std::forward<Token>(token));
  }

  // Returns the source's newest report, or nullopt when it has none (or it expired).
  // Signature: void(std::error_code, std::optional<nlohmann::json>).
  template <typename Token = use_awaitable_t>
  auto get(std::string source, Token&& token = {}) {
    return kv_.get<nlohmann::json>(std::move(source), std::forward<Token>(token));
  }

  // Returns (source, report) for every source with a report, read in one pass over the bucket.
  // Reports that are not JSON are logged and skipped.
  // Signature: void(std::error_code, std::vector<std::pair<std::string, nlohmann::json>>).
  template <typename Token = use_awaitable_t>
  auto get_all(Token&& token = {}) {
    return detail::run_awaitable<std::vector<std::pair<std::string, nlohmann::json>>>(
        kv_.jetstream().connection().get_executor(), std::forward<Token>(token), do_get_all(kv_));
  }

 private:
  static asio::awaitable<std::vector<std::pair<std::string, nlohmann::json>>> do_get_all(KvStore kv);

  KvStore kv_;
};

}  // namespace noesis::ship

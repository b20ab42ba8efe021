// ShipConfig and HealthMetrics: JSON values in the `ship_config` and `ship_health` buckets.
#include <noesis/ship/health_metrics.hpp>
#include <noesis/ship/ship_config.hpp>

#include <noesis/ship/logger.hpp>

namespace noesis::ship {

namespace {

std::optional<nlohmann::json> decode_or_log(const KvEntry& entry) {
  try {
    return entry.json<nlohmann::json>();
  } catch (const error& e) {
    logger()->warn("skipping '{}' in KV bucket '{}' (revision {}): {}", entry.key, entry.bucket, entry.revision,
                   e.what());
    return std::nullopt;
  }
}

}  // namespace

ShipConfig::ShipConfig(Connection conn, JetStreamOptions options)
    : kv_(std::move(conn), KvBucketConfig(std::string(bucket_name)), std::move(options)) {}

asio::awaitable<ConfigWatcher> ShipConfig::do_watch(KvStore kv, std::string key_pattern, bool include_current) {
  KvWatchOptions options;
  options.updates_only = !include_current;
  KvWatcher watcher = co_await kv.watch(std::move(key_pattern), options);
  co_return ConfigWatcher(kv.jetstream().connection().get_executor(), std::move(watcher));
}

asio::awaitable<ConfigChange> ConfigWatcher::do_next(KvWatcher watcher) {
  for (;;) {
    std::optional<KvEntry> entry = co_await watcher.next();
    if (!entry) continue;  // end of the current values: not a change

    ConfigChange change;
    change.key = entry->key;
    change.revision = entry->revision;
    if (entry->operation == KvOperation::put) {
      change.value = decode_or_log(*entry);
      if (!change.value) continue;
    }
    co_return change;
  }
}

HealthMetrics::HealthMetrics(Connection conn, JetStreamOptions options)
    : kv_(std::move(conn), KvBucketConfig(std::string(bucket_name)).with_ttl(report_ttl), std::move(options)) {}

asio::awaitable<std::vector<std::pair<std::string, nlohmann::json>>> HealthMetrics::do_get_all(KvStore kv) {
  std::vector<KvEntry> entries = co_await kv.entries();
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  reports.reserve(entries.size());
  for (const auto& entry : entries) {
    if (auto value = decode_or_log(entry)) reports.emplace_back(entry.key, std::move(*value));
  }
  co_return reports;
}

}  // namespace noesis::ship

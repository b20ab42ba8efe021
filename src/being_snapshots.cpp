#include <noesis/ship/being_snapshots.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <random>

#include <noesis/ship/names.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

using asio::awaitable;

namespace {

// Starts at a random value so that two processes rarely draw the same digits.
std::uint16_t next_snapshot_suffix() {
  static std::atomic<std::uint16_t> counter{static_cast<std::uint16_t>(std::random_device()())};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool all_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0 || (c >= 'a' && c <= 'f'); });
}

// `YYYYMMDD_HHMMSS`, the Rust id form, optionally followed by `_mmm_xxxx`.
bool is_snapshot_time_key(std::string_view key) {
  if (key.size() != 15 && key.size() != 24) return false;
  if (!all_digits(key.substr(0, 8)) || key[8] != '_' || !all_digits(key.substr(9, 6))) return false;
  if (key.size() == 15) return true;
  return key[15] == '_' && all_digits(key.substr(16, 3)) && key[19] == '_' && all_lower_hex(key.substr(20, 4));
}

SnapshotInfo snapshot_info(const ObjectInfo& object, std::string being_id) {
  SnapshotInfo info;
  info.snapshot_id = object.name;
  info.being_id = std::move(being_id);
  info.reason = object.description;
  info.created = format_rfc3339(object.mtime);
  info.size = object.size;
  return info;
}

}  // namespace

std::string make_snapshot_id(std::string_view being_id, std::chrono::system_clock::time_point time,
                             std::uint16_t suffix) {
  const auto since_epoch = time.time_since_epoch();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - std::chrono::seconds(seconds)).count();
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  std::snprintf(text, sizeof text, "_%04d%02d%02d_%02d%02d%02d_%03d_%04x", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis), static_cast<unsigned>(suffix));
  return std::string(being_id) + text;
}

std::optional<std::string> snapshot_id_time_key(std::string_view snapshot_id, std::string_view being_id) {
  if (snapshot_id.size() <= being_id.size() + 1 || !snapshot_id.starts_with(being_id) ||
      snapshot_id[being_id.size()] != '_') {
    return std::nullopt;
  }
  std::string_view key = snapshot_id.substr(being_id.size() + 1);
  if (!is_snapshot_time_key(key)) return std::nullopt;
  return std::string(key);
}

BeingSnapshots::BeingSnapshots(Connection conn, SnapshotsConfig config)
    : conn_(conn), store_(conn, [&config] {
        ObjectStoreConfig store_config;
        store_config.bucket = std::move(config.bucket);
        store_config.storage = config.storage;
        return store_config;
      }()) {}

awaitable<std::string> BeingSnapshots::do_take(BeingSnapshots self, std::string being_id, nlohmann::json state,
                                               std::string reason) {
  validate_agent_name(being_id);
  const auto now = std::chrono::system_clock::now();
  std::string id = make_snapshot_id(being_id, now, next_snapshot_suffix());

  // nlohmann::json keeps object keys sorted, which gives the Rust library's alphabetical order.
  nlohmann::json snapshot;
  snapshot["being_id"] = being_id;
  snapshot["created"] = format_rfc3339(now);
  snapshot["reason"] = reason;
  snapshot["state"] = std::move(state);
  std::string body = snapshot.dump();
  co_await self.store_.put(id, std::move(body), std::move(reason));
  co_return id;
}

awaitable<nlohmann::json> BeingSnapshots::do_restore(BeingSnapshots self, std::string snapshot_id) {
  std::string body = co_await self.store_.get(snapshot_id);
  nlohmann::json snapshot = nlohmann::json::parse(body, nullptr, false);
  if (snapshot.is_discarded() || !snapshot.is_object() || !snapshot.contains("state")) {
    throw error(errc::serialization, "restore snapshot '" + snapshot_id + "' from bucket '" + self.store_.bucket() +
                                         "': it is not a JSON object with a \"state\" member");
  }
  co_return std::move(snapshot["state"]);
}

awaitable<std::vector<SnapshotInfo>> BeingSnapshots::do_list(BeingSnapshots self, std::string being_id) {
  validate_agent_name(being_id);
  std::vector<ObjectInfo> objects = co_await self.store_.list();
  std::vector<std::pair<std::string, SnapshotInfo>> keyed;
  for (const auto& object : objects) {
    auto key = snapshot_id_time_key(object.name, being_id);
    if (key) keyed.emplace_back(std::move(*key), snapshot_info(object, being_id));
  }
  // Newest first: by the time in the id, then by the time the server stored it.
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second.created > b.second.created;
  });
  std::vector<SnapshotInfo> snapshots;
  snapshots.reserve(keyed.size());
  for (auto& entry : keyed) snapshots.push_back(std::move(entry.second));
  co_return snapshots;
}

awaitable<std::optional<SnapshotInfo>> BeingSnapshots::do_latest(BeingSnapshots self, std::string being_id) {
  std::vector<SnapshotInfo> snapshots = co_await do_list(self, std::move(being_id));
  if (snapshots.empty()) co_return std::nullopt;
  co_return std::move(snapshots.front());
}

}  // namespace noesis::ship

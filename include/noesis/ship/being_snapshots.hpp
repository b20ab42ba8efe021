// BeingSnapshots: saved agent states in the object store bucket `snapshots`, the Rust
// noesis-ship's BeingSnapshots with listing added.
//
//   BeingSnapshots snapshots(conn);
//   co_await snapshots.connect();
//   std::string id = co_await snapshots.take("agent-7", state, "before upgrade");
//   nlohmann::json restored = co_await snapshots.restore(id);
//
// Each snapshot is an object holding {"being_id", "created", "reason", "state"} (keys in that
// alphabetical order, as the Rust library writes them), with the reason as its description.
//
// Snapshot ids are `<being>_<YYYYMMDD_HHMMSS>_<mmm>_<xxxx>`: the Rust library's
// `<being>_<YYYYMMDD_HHMMSS>` (UTC), then the milliseconds and 4 hex digits from a per-process
// counter that starts at a random value. Two snapshots taken by one process never share an id
// (until 65,536 ids fall in one millisecond); two processes share one only if they take a
// snapshot of the same being in the same millisecond and draw the same digits (1 in 65,536).
// Rust ids, without the suffix, are listed and restored too.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/object_store.hpp>

namespace noesis::ship {

struct SnapshotsConfig {
  std::string bucket = "snapshots";
  StorageType storage = StorageType::file;
};

// A stored snapshot, as list() and latest() return it.
struct SnapshotInfo {
  std::string snapshot_id;
  std::string being_id;
  std::string reason;
  std::string created;  // RFC 3339: the time the server stored the snapshot
  std::uint64_t size = 0;  // bytes of the stored JSON
};

// Builds a snapshot id for `being_id` at `time` with the 4 hex digits `suffix`.
std::string make_snapshot_id(std::string_view being_id, std::chrono::system_clock::time_point time,
                             std::uint16_t suffix);

// Returns the sort key of a snapshot id of `being_id` (the part after `<being_id>_`), or nullopt
// when the id is not one of that being's: both id forms sort by time as plain strings.
std::optional<std::string> snapshot_id_time_key(std::string_view snapshot_id, std::string_view being_id);

class BeingSnapshots {
 public:
  explicit BeingSnapshots(Connection conn, SnapshotsConfig config = SnapshotsConfig());

  ObjectStore& store() noexcept { return store_; }

  // Opens or creates the bucket. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return store_.connect(std::forward<Token>(token));
  }

  // Stores `state` and returns the new snapshot id. Throws errc::invalid_name for a being id
  // outside `[A-Za-z0-9_-]+`. Signature: void(std::error_code, std::string).
  template <typename Token = use_awaitable_t>
  auto take(std::string being_id, nlohmann::json state, std::string reason, Token&& token = {}) {
    return run<std::string>(std::forward<Token>(token), do_take(*this, std::move(being_id), std::move(state), std::move(reason)));
  }

  // Returns the `state` member of a snapshot. A missing snapshot gives errc::object_not_found;
  // one that is not a JSON object with `state` gives errc::serialization.
  // Signature: void(std::error_code, nlohmann::json).
  template <typename Token = use_awaitable_t>
  auto restore(std::string snapshot_id, Token&& token = {}) {
    return run<nlohmann::json>(std::forward<Token>(token), do_restore(*this, std::move(snapshot_id)));
  }

  // Lists the snapshots of one being, newest first. Throws errc::invalid_name for a being id that
  // take() would reject. Signature: void(std::error_code, std::vector<SnapshotInfo>).
  template <typename Token = use_awaitable_t>
  auto list(std::string being_id, Token&& token = {}) {
    return run<std::vector<SnapshotInfo>>(std::forward<Token>(token), do_list(*this, std::move(being_id)));
  }

  // Returns the newest snapshot of one being, or nullopt when it has none. Throws like list().
  // Signature: void(std::error_code, std::optional<SnapshotInfo>).
  template <typename Token = use_awaitable_t>
  auto latest(std::string being_id, Token&& token = {}) {
    return run<std::optional<SnapshotInfo>>(std::forward<Token>(token), do_latest(*this, std::move(being_id)));
  }

  // Deletes a snapshot; a missing one gives errc::object_not_found. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto delete_snapshot(std::string snapshot_id, Token&& token = {}) {
    return store_.delete_object(std::move(snapshot_id), std::forward<Token>(token));
  }

 private:
  template <typename T, typename Token>
  auto run(Token&& token, asio::awaitable<T> op) {
    return detail::run_awaitable<T>(conn_.get_executor(), std::forward<Token>(token), std::move(op));
  }

  static asio::awaitable<std::string> do_take(BeingSnapshots self, std::string being_id, nlohmann::json state,
                                              std::string reason);
  static asio::awaitable<nlohmann::json> do_restore(BeingSnapshots self, std::string snapshot_id);
  static asio::awaitable<std::vector<SnapshotInfo>> do_list(BeingSnapshots self, std::string being_id);
  static asio::awaitable<std::optional<SnapshotInfo>> do_latest(BeingSnapshots self, std::string being_id);

  Connection conn_;
  ObjectStore store_;
};

}  // namespace noesis::ship

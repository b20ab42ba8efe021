// ObjectStore: large objects in a NATS object store bucket (ADR-20), readable and writable by
// every NATS client (the Rust noesis-ship's ShipObjectStore).
//
//   ObjectStoreConfig config;
//   config.bucket = "artifacts";
//   ObjectStore store(conn, config);
//   co_await store.connect();                                  // opens or creates the bucket
//   ObjectMeta meta = co_await store.put("report.txt", "hello world");
//   std::string bytes = co_await store.get("report.txt");       // checked against size and digest
//   co_await store.put_file("model.bin", "/data/model.bin");    // streamed, bounded memory
//
// Content travels in chunks (128 KiB by default) on `$O.<bucket>.C.<nuid>` and the object info
// on `$O.<bucket>.M.<base64url name>`. Writes and reads are streamed: memory stays within a few
// chunks whatever the object size. A missing or deleted object gives errc::object_not_found,
// which compares equal to condition::key_not_found; content that does not match its recorded
// size or digest gives errc::size_mismatch or errc::digest_mismatch.
//
// ObjectStore is a cheap handle: copies share the bucket. Object names are any non-empty UTF-8
// string (spaces, slashes and dots included); others fail with errc::invalid_name.
// NOTE: every operation assumes the connection's executor runs one handler at a time (an
// io_context run by one thread, or a strand), like the rest of the library's composed
// operations.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/object_info.hpp>
#include <noesis/ship/detail/unique_function.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/object_meta.hpp>

namespace noesis::ship {

using detail::ObjectInfo;
using detail::ObjectLink;

// A bucket's settings, used when connect() creates the bucket. An existing bucket is opened as
// it is: its stream settings are never changed and its objects never removed.
struct ObjectStoreConfig {
  std::string bucket;       // `[A-Za-z0-9_-]+`; the stream is `OBJ_<bucket>`
  std::string description;  // stream description
  std::chrono::seconds ttl{0};  // age after which the server removes objects; 0 keeps them
  std::int64_t max_bytes = -1;  // bytes in the whole bucket, -1 unlimited
  StorageType storage = StorageType::file;
  int replicas = 1;  // 1..5

  // Size of the chunks this handle writes, in bytes; at most the server's max_payload (1 MiB by
  // default) minus room for headers.
  std::size_t chunk_size = detail::default_object_chunk_size;
  // Chunks published but not yet acknowledged during a put; memory use is about this many chunks.
  std::size_t max_chunks_in_flight = 8;
};

// Settings of one put.
struct PutOptions {
  std::string description;
  Headers headers;                              // stored in the object info
  std::map<std::string, std::string> metadata;  // stored in the object info
  std::size_t chunk_size = 0;                   // bytes; 0 uses ObjectStoreConfig::chunk_size
};

// What update_meta() sets. The description and headers replace the stored ones.
struct ObjectMetaUpdate {
  std::string name;  // a new name for the object; empty keeps the name
  std::string description;
  Headers headers;
};

// A source of object content: each call returns the next piece (any size, empty pieces are
// skipped), or nullopt at the end. An exception it throws fails the put.
using ObjectSource = detail::unique_function<asio::awaitable<std::optional<std::string>>()>;

struct ObjectWatchOptions {
  bool include_history = false;  // every stored info, not only the newest per object
  bool ignore_deletes = false;   // skip infos of deleted objects
  bool updates_only = false;     // only changes made after the watch starts
};

// A stream of object info changes of one bucket. Not copyable into two readers: one next() at a
// time.
class ObjectWatcher {
 public:
  ObjectWatcher() = default;

  // Waits for the next object info. Returns nullopt exactly once, after the infos stored when the
  // watch started (at once for an empty bucket or with updates_only); later calls wait for
  // changes. Signature: void(std::error_code, std::optional<ObjectInfo>).
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    return detail::run_awaitable<std::optional<ObjectInfo>>(executor(), std::forward<Token>(token), do_next(state_));
  }

  // Deletes the consumer on the server (best effort); a waiting next() fails.
  void stop();

  struct state;
  explicit ObjectWatcher(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<std::optional<ObjectInfo>> do_next(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

class ObjectStore {
 public:
  // Throws errc::invalid_name for a bucket name outside `[A-Za-z0-9_-]+`, and
  // errc::invalid_argument for a chunk size or window of 0, a negative ttl, max_bytes below -1
  // or replicas outside 1..5.
  ObjectStore(Connection conn, ObjectStoreConfig config);

  const std::string& bucket() const noexcept;
  const ObjectStoreConfig& config() const noexcept;
  // The bucket's stream name, `OBJ_<bucket>`.
  std::string stream_name() const;
  JetStream jetstream() const;

  // Opens the bucket, creating it with the config's settings when missing.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return run<void>(std::forward<Token>(token), do_connect(*this));
  }

  // Deletes the bucket with every object. Returns false when it did not exist.
  template <typename Token = use_awaitable_t>
  auto delete_bucket(Token&& token = {}) {
    return run<bool>(std::forward<Token>(token), do_delete_bucket(*this));
  }

  // Stores `bytes` under `name`, replacing any previous version, whose chunks are purged once the
  // new info is stored. Signature: void(std::error_code, ObjectMeta).
  template <typename Token = use_awaitable_t>
  auto put(std::string name, std::string bytes, std::string description = {}, Token&& token = {}) {
    PutOptions options;
    options.description = std::move(description);
    return put(std::move(name), std::move(bytes), std::move(options), std::forward<Token>(token));
  }

  template <typename Token = use_awaitable_t>
  auto put(std::string name, std::string bytes, PutOptions options, Token&& token = {}) {
    return run<ObjectMeta>(std::forward<Token>(token),
                           do_put(*this, std::move(name), bytes_source(std::move(bytes)),
                                  std::move(options)));
  }

  // Stores the content of the file at `path`, read one chunk at a time. A file that cannot be
  // opened or read fails with a std::errc code naming the path; one that cannot be opened fails
  // before anything is sent.
  template <typename Token = use_awaitable_t>
  auto put_file(std::string name, std::filesystem::path path, std::string description = {}, Token&& token = {}) {
    PutOptions options;
    options.description = std::move(description);
    return run<ObjectMeta>(std::forward<Token>(token),
                           do_put(*this, std::move(name), file_source(std::move(path), chunk_size(options)),
                                  std::move(options)));
  }

  // Stores the content `source` produces, as it produces it.
  template <typename Token = use_awaitable_t>
  auto put_stream(std::string name, ObjectSource source, PutOptions options = PutOptions(), Token&& token = {}) {
    return run<ObjectMeta>(std::forward<Token>(token), do_put(*this, std::move(name), std::move(source), std::move(options)));
  }

  // Reads the whole object into memory. Signature: void(std::error_code, std::string).
  template <typename Token = use_awaitable_t>
  auto get(std::string name, Token&& token = {}) {
    return run<std::string>(std::forward<Token>(token), do_get(*this, std::move(name)));
  }

  // Writes the object to `path` through a temporary file next to it, renamed into place only
  // when size and digest match; on any failure no file is left behind and an existing file at
  // `path` stays as it was. Signature: void(std::error_code, ObjectInfo).
  template <typename Token = use_awaitable_t>
  auto get_to_file(std::string name, std::filesystem::path path, Token&& token = {}) {
    return run<ObjectInfo>(std::forward<Token>(token), do_get_to_file(*this, std::move(name), std::move(path)));
  }

  // Returns the object's info, with mtime set to the time the server stored it. A deleted
  // object counts as missing unless `include_deleted`. Signature: void(std::error_code, ObjectInfo).
  template <typename Token = use_awaitable_t>
  auto info(std::string name, bool include_deleted = false, Token&& token = {}) {
    return run<ObjectInfo>(std::forward<Token>(token), do_info(*this, std::move(name), include_deleted));
  }

  // Returns the info of every object, in stream order of their newest info; deleted objects only
  // with `include_deleted`. Signature: void(std::error_code, std::vector<ObjectInfo>).
  template <typename Token = use_awaitable_t>
  auto list(bool include_deleted = false, Token&& token = {}) {
    return run<std::vector<ObjectInfo>>(std::forward<Token>(token), do_list(*this, include_deleted));
  }

  // Marks the object deleted (an info with deleted true, size 0, no chunks and no digest), then
  // purges its chunks. Deleting a deleted object does nothing; a missing one fails with
  // errc::object_not_found. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto delete_object(std::string name, Token&& token = {}) {
    return run<void>(std::forward<Token>(token), do_delete(*this, std::move(name)));
  }

  // Changes an object's name, description and headers without touching its content. Renaming
  // onto a live object fails with errc::invalid_argument. Signature: void(std::error_code, ObjectInfo).
  template <typename Token = use_awaitable_t>
  auto update_meta(std::string name, ObjectMetaUpdate update, Token&& token = {}) {
    return run<ObjectInfo>(std::forward<Token>(token), do_update_meta(*this, std::move(name), std::move(update)));
  }

  // Watches the bucket's object infos. Signature: void(std::error_code, ObjectWatcher).
  template <typename Token = use_awaitable_t>
  auto watch(ObjectWatchOptions options = ObjectWatchOptions(), Token&& token = {}) {
    return run<ObjectWatcher>(std::forward<Token>(token), do_watch(*this, options));
  }

  struct state;

 private:
  template <typename T, typename Token>
  auto run(Token&& token, asio::awaitable<T> op) {
    return detail::run_awaitable<T>(conn_.get_executor(), std::forward<Token>(token), std::move(op));
  }

  std::size_t chunk_size(const PutOptions& options) const noexcept;
  static ObjectSource bytes_source(std::string bytes);
  static ObjectSource file_source(std::filesystem::path path, std::size_t piece_size);

  static asio::awaitable<void> do_connect(ObjectStore self);
  static asio::awaitable<bool> do_delete_bucket(ObjectStore self);
  static asio::awaitable<ObjectMeta> do_put(ObjectStore self, std::string name, ObjectSource source,
                                            PutOptions options);
  static asio::awaitable<std::string> do_get(ObjectStore self, std::string name);
  static asio::awaitable<ObjectInfo> do_get_to_file(ObjectStore self, std::string name, std::filesystem::path path);
  static asio::awaitable<ObjectInfo> do_info(ObjectStore self, std::string name, bool include_deleted);
  static asio::awaitable<std::vector<ObjectInfo>> do_list(ObjectStore self, bool include_deleted);
  static asio::awaitable<void> do_delete(ObjectStore self, std::string name);
  static asio::awaitable<ObjectInfo> do_update_meta(ObjectStore self, std::string name, ObjectMetaUpdate update);
  static asio::awaitable<ObjectWatcher> do_watch(ObjectStore self, ObjectWatchOptions options);

  Connection conn_;
  std::shared_ptr<state> state_;
};

}  // namespace noesis::ship

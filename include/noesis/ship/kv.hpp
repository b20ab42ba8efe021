// KvStore: a NATS key-value bucket (ADR-8), readable and writable by every NATS client.
//
//   KvStore kv(conn, KvBucketConfig("agents").with_ttl(300s));
//   co_await kv.connect();                              // opens the bucket, creates it if missing
//   std::uint64_t rev = co_await kv.put("a1", Status{...});   // JSON-encoded
//   std::optional<Status> s = co_await kv.get<Status>("a1");
//   co_await kv.update("a1", Status{...}, rev);         // compare-and-set
//
// Values are bytes. std::string values are stored and read back as they are; any other type
// goes through its nlohmann to_json/from_json. Keys are `[-/_=.A-Za-z0-9]+` without a leading
// or trailing dot; they are checked before anything is sent (errc::invalid_key).
//
// Every operation is asynchronous and accepts any completion token. With the default token a
// failure throws noesis::ship::error naming the key and bucket; "not found" is never an error
// for reads, which return std::nullopt instead.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/kv_entry.hpp>

namespace noesis::ship {

namespace detail {

// Types stored as raw bytes rather than JSON.
template <class T>
concept kv_bytes = std::same_as<std::remove_cvref_t<T>, std::string> ||
                   std::same_as<std::remove_cvref_t<T>, std::string_view> ||
                   std::same_as<std::decay_t<T>, const char*> || std::same_as<std::decay_t<T>, char*>;

template <class T>
std::string kv_encode(const T& value) {
  if constexpr (kv_bytes<T>) {
    return std::string(value);
  } else {
    return encode_json(value);
  }
}

}  // namespace detail

// A running watch: an asynchronous stream of entries. Cheap to copy; copies share the stream.
//
// next() returns each matching entry, then std::nullopt exactly once when the initial values
// are complete (also at once for an empty range or updates_only), then every later change,
// delete and purge markers included unless ignore_deletes is set. The watch survives server
// restarts and reconnects: its ordered consumer resumes after the last revision delivered.
// NOTE: a single server does not keep that consumer across a restart, and the watch notices only
// after three missed heartbeats (6 s). Revisions that the bucket's history pushed out of a key in
// that time are not delivered.
class KvWatcher {
 public:
  KvWatcher() = default;

  // Waits for the next entry, or std::nullopt for the end-of-initial-values marker.
  // Fails with errc::subscription_closed after stop(). Signature:
  // void(std::error_code, std::optional<KvEntry>). One next() at a time.
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    return detail::run_awaitable<std::optional<KvEntry>>(executor(), std::forward<Token>(token), do_next(state_));
  }

  // Ends the watch and deletes its consumer on the server (best effort).
  void stop();

  struct state;
  explicit KvWatcher(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<std::optional<KvEntry>> do_next(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

class KvStore {
 public:
  // Does not contact the server; call connect() or open() first. Throws
  // noesis::ship::error(errc::invalid_name / invalid_argument) for an invalid configuration.
  KvStore(Connection conn, KvBucketConfig config, JetStreamOptions options = JetStreamOptions());

  const std::string& bucket() const noexcept;
  const KvBucketConfig& config() const noexcept;
  JetStream& jetstream() const noexcept;

  // Opens the bucket, creating it with config() when it is missing. An existing bucket is used
  // as it is: neither its configuration nor its contents change. The connection must be
  // connected. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return run<void>(std::forward<Token>(token), do_open(*this, true));
  }

  // Opens an existing bucket; fails with errc::bucket_not_found when it is missing.
  template <typename Token = use_awaitable_t>
  auto open(Token&& token = {}) {
    return run<void>(std::forward<Token>(token), do_open(*this, false));
  }

  // Stores a value and returns its revision. A value larger than the bucket's max_value_size
  // fails with errc::payload_too_large before anything is sent, as does one larger than the
  // server's max_payload. Signature: void(std::error_code, std::uint64_t).
  template <typename T, typename Token = use_awaitable_t>
  auto put(std::string key, const T& value, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token),
                              do_write(*this, write_kind::put, std::move(key), detail::kv_encode(value), {}));
  }

  // Stores a value only when the key has no live value (missing, deleted or purged). Fails with
  // errc::key_exists otherwise.
  template <typename T, typename Token = use_awaitable_t>
  auto create(std::string key, const T& value, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token), do_create(*this, std::move(key), detail::kv_encode(value)));
  }

  // Stores a value only when the key's newest revision is `revision` (compare-and-set). Fails
  // with errc::wrong_last_sequence when another write came first. The write carries the
  // Nats-Msg-Id "<key>@<revision>", so a replicated bucket stores only one write from a given
  // revision even on nats-server before 2.11, whose own check lets through every such write in
  // flight at the same time. erase() and purge() with a revision do the same.
  template <typename T, typename Token = use_awaitable_t>
  auto update(std::string key, const T& value, std::uint64_t revision, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token),
                              do_write(*this, write_kind::put, std::move(key), detail::kv_encode(value), revision));
  }

  // Writes a delete marker (a tombstone): get() then returns nullopt and history() keeps the
  // earlier revisions. With `last_revision`, only when the key's newest revision is that one
  // (errc::wrong_last_sequence otherwise). Returns the marker's revision.
  template <typename Token = use_awaitable_t>
  auto erase(std::string key, std::optional<std::uint64_t> last_revision = std::nullopt, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token),
                              do_write(*this, write_kind::del, std::move(key), {}, last_revision));
  }

  // Writes a purge marker that removes every earlier revision of the key.
  template <typename Token = use_awaitable_t>
  auto purge(std::string key, std::optional<std::uint64_t> last_revision = std::nullopt, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token),
                              do_write(*this, write_kind::purge, std::move(key), {}, last_revision));
  }

  // Returns the newest value of `key`, or nullopt when it is missing, deleted or purged.
  // With T = KvEntry (the default) the whole entry; with T = std::string the raw bytes; with any
  // other T the value decoded from JSON (errc::serialization when it does not decode).
  // Signature: void(std::error_code, std::optional<T>).
  template <typename T = KvEntry, typename Token = use_awaitable_t>
  auto get(std::string key, Token&& token = {}) {
    if constexpr (std::same_as<T, KvEntry>) {
      return run<std::optional<KvEntry>>(std::forward<Token>(token), do_get(*this, std::move(key), 0));
    } else {
      return run<std::optional<T>>(std::forward<Token>(token), do_get_as<T>(*this, std::move(key)));
    }
  }

  // Returns the entry stored at `revision` for `key`, or nullopt when that revision is gone,
  // belongs to another key, or is a delete or purge marker. Fails with errc::invalid_argument
  // for revision 0, because revisions start at 1.
  template <typename Token = use_awaitable_t>
  auto get_revision(std::string key, std::uint64_t revision, Token&& token = {}) {
    return run<std::optional<KvEntry>>(std::forward<Token>(token), do_get_revision(*this, std::move(key), revision));
  }

  // Lists the keys with a live value that match `filter` (a key, or a pattern with `*` tokens
  // and a final `>`). Returns an empty list for an empty bucket.
  // Signature: void(std::error_code, std::vector<std::string>).
  // keys(), entries() and watch() without a filter cover the whole bucket (">") and return an
  // awaitable, so another completion token needs the filter spelled out. They are overloads,
  // not default arguments, because GCC 12 destroys a defaulted std::string argument wrongly
  // when the call is inside co_await.
  asio::awaitable<std::vector<std::string>> keys() const { return do_keys(*this, std::string(">")); }

  template <typename Token = use_awaitable_t>
  auto keys(std::string filter, Token&& token = {}) {
    return run<std::vector<std::string>>(std::forward<Token>(token), do_keys(*this, std::move(filter)));
  }

  // Returns the newest live entry of every key matching `filter`, in key order of the stream,
  // read in one pass of one consumer (no request per key). Delete and purge markers are left out.
  asio::awaitable<std::vector<KvEntry>> entries() const { return do_entries(*this, std::string(">")); }

  template <typename Token = use_awaitable_t>
  auto entries(std::string filter, Token&& token = {}) {
    return run<std::vector<KvEntry>>(std::forward<Token>(token), do_entries(*this, std::move(filter)));
  }

  // Returns every stored revision of the keys matching `key` (a key or a pattern), markers
  // included, in ascending revision order; empty when none is stored.
  template <typename Token = use_awaitable_t>
  auto history(std::string key, Token&& token = {}) {
    return run<std::vector<KvEntry>>(std::forward<Token>(token), do_history(*this, std::move(key)));
  }

  // Starts a watch of the keys matching `key_pattern` (">" = the whole bucket).
  // Signature: void(std::error_code, KvWatcher).
  asio::awaitable<KvWatcher> watch() const { return do_watch(*this, std::string(">"), KvWatchOptions()); }
  asio::awaitable<KvWatcher> watch(std::string key_pattern) const {
    return do_watch(*this, std::move(key_pattern), KvWatchOptions());
  }

  template <typename Token = use_awaitable_t>
  auto watch(std::string key_pattern, KvWatchOptions options, Token&& token = {}) {
    return run<KvWatcher>(std::forward<Token>(token), do_watch(*this, std::move(key_pattern), options));
  }

  // Returns the bucket's configuration and size. Signature: void(std::error_code, KvStatus).
  template <typename Token = use_awaitable_t>
  auto status(Token&& token = {}) {
    return run<KvStatus>(std::forward<Token>(token), do_status(*this));
  }

  // Deletes the bucket and every value in it. Returns false when it did not exist.
  template <typename Token = use_awaitable_t>
  auto destroy(Token&& token = {}) {
    return run<bool>(std::forward<Token>(token), do_destroy(*this));
  }

  struct state;

 private:
  enum class write_kind { put, del, purge };

  template <typename T, typename Token>
  auto run(Token&& token, asio::awaitable<T> op) const {
    return detail::run_awaitable<T>(executor(), std::forward<Token>(token), std::move(op));
  }
  asio::any_io_executor executor() const;

  template <typename T>
  static asio::awaitable<std::optional<T>> do_get_as(KvStore self, std::string key) {
    std::optional<KvEntry> entry = co_await do_get(self, std::move(key), 0);
    if (!entry) co_return std::nullopt;
    if constexpr (std::same_as<T, std::string>) {
      co_return std::move(entry->value);
    } else {
      co_return entry->template json<T>();
    }
  }

  static asio::awaitable<void> do_open(KvStore self, bool create_missing);
  static asio::awaitable<std::uint64_t> do_write(KvStore self, write_kind kind, std::string key, std::string value,
                                                 std::optional<std::uint64_t> last_revision);
  static asio::awaitable<std::uint64_t> do_create(KvStore self, std::string key, std::string value);
  static asio::awaitable<std::optional<KvEntry>> do_get(KvStore self, std::string key, std::uint64_t revision);
  static asio::awaitable<std::optional<KvEntry>> do_get_revision(KvStore self, std::string key,
                                                                 std::uint64_t revision);
  static asio::awaitable<std::vector<std::string>> do_keys(KvStore self, std::string filter);
  static asio::awaitable<std::vector<KvEntry>> do_entries(KvStore self, std::string filter);
  static asio::awaitable<std::vector<KvEntry>> do_history(KvStore self, std::string key);
  static asio::awaitable<KvWatcher> do_watch(KvStore self, std::string key_pattern, KvWatchOptions options);
  static asio::awaitable<KvStatus> do_status(KvStore self);
  static asio::awaitable<bool> do_destroy(KvStore self);

  std::shared_ptr<state> state_;
};

}  // namespace noesis::ship

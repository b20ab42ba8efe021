// KvStore and KvWatcher: the I/O around the sans-I/O pieces of detail/kv_protocol.hpp.
#include <noesis/ship/kv.hpp>

#include <unordered_set>

#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/detail/kv_protocol.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/names.hpp>

namespace noesis::ship {

namespace {

constexpr int wrong_last_sequence_code = 10071;
constexpr int no_message_found_code = 10037;
constexpr int stream_not_found_code = 10059;
constexpr int stream_name_in_use_code = 10058;

// Attempts of create() when racing writers keep changing the key between its steps.
constexpr int create_attempts = 5;

bool is_stream_missing(const std::error_code& code) {
  return is_jetstream_error(code, stream_not_found_code) || code == errc::stream_not_found;
}

std::string describe(const std::string& key, const std::string& bucket) {
  return "key '" + key + "' in KV bucket '" + bucket + "'";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KvWatcher

struct KvWatcher::state {
  Connection conn;
  std::string bucket;
  std::string pattern;
  OrderedConsumer consumer;
  detail::KvWatchState machine;
  bool marker_due = false;  // the end-of-initial-values marker is the next item
  bool stopped = false;

  state(Connection c, std::string b, std::string p, OrderedConsumer oc, const KvWatchOptions& options)
      : conn(std::move(c)),
        bucket(std::move(b)),
        pattern(std::move(p)),
        consumer(std::move(oc)),
        machine(consumer.initial_pending(), options) {
    marker_due = machine.take_marker_at_start();
  }

  state(const state&) = delete;
  state& operator=(const state&) = delete;

  ~state() {
    try {
      consumer.stop();
    } catch (const std::exception& e) {
      logger()->debug("stopping the watch of '{}' in KV bucket '{}' failed: {}", pattern, bucket, e.what());
    }
  }
};

asio::any_io_executor KvWatcher::executor() const { return state_->conn.get_executor(); }

void KvWatcher::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  state_->consumer.stop();
}

asio::awaitable<std::optional<KvEntry>> KvWatcher::do_next(std::shared_ptr<state> s) {
  if (!s) throw error(errc::subscription_closed, "KV watch: the watcher was never started");
  const auto context = [&] { return "watch of '" + s->pattern + "' in KV bucket '" + s->bucket + "'"; };
  for (;;) {
    if (s->stopped) throw error(errc::subscription_closed, context());
    if (s->marker_due) {
      s->marker_due = false;
      co_return std::nullopt;
    }

    JsMessage msg = co_await s->consumer.next();
    detail::KvDelivered delivered;
    delivered.subject = msg.subject();
    delivered.data = msg.data();
    delivered.operation_header = msg.header(detail::header::kv_operation.data());
    delivered.stream_sequence = msg.stream_sequence();
    delivered.timestamp_ns = msg.metadata().timestamp_ns;
    delivered.num_pending = msg.num_pending();
    KvEntry entry = detail::kv_entry_from_delivered(s->bucket, delivered);

    const auto step = s->machine.on_entry(entry.operation, delivered.num_pending);
    if (step.emit_entry) {
      s->marker_due = step.end_of_initial;
      co_return entry;
    }
    if (step.end_of_initial) co_return std::nullopt;
  }
}

// ---------------------------------------------------------------------------------------------
// KvStore

struct KvStore::state {
  Connection conn;
  JetStream js;
  KvBucketConfig config;
  std::string stream;
};

KvStore::KvStore(Connection conn, KvBucketConfig config, JetStreamOptions options) {
  detail::kv_stream_config(config);  // validates before anything is sent
  JetStream js(conn, std::move(options));
  std::string stream = detail::kv_stream_name(config.bucket);
  state_ = std::make_shared<state>(state{std::move(conn), std::move(js), std::move(config), std::move(stream)});
}

const std::string& KvStore::bucket() const noexcept { return state_->config.bucket; }
const KvBucketConfig& KvStore::config() const noexcept { return state_->config; }
JetStream& KvStore::jetstream() const noexcept { return state_->js; }
asio::any_io_executor KvStore::executor() const { return state_->conn.get_executor(); }

asio::awaitable<void> KvStore::do_open(KvStore self, bool create_missing) {
  auto& s = *self.state_;
  StreamInfo info;
  bool missing = false;
  try {
    info = co_await s.js.stream_info(s.stream);
  } catch (const error& e) {
    if (!is_stream_missing(e.code())) throw;
    missing = true;
  }

  if (missing && !create_missing) throw error(errc::bucket_not_found, "open KV bucket '" + s.config.bucket + "'");
  if (missing) {
    bool lost_race = false;
    try {
      info = co_await s.js.create_stream(detail::kv_stream_config(s.config));
      logger()->info("created KV bucket '{}'", s.config.bucket);
    } catch (const error& e) {
      // Another client created the bucket between our info and create requests.
      if (!is_jetstream_error(e.code(), stream_name_in_use_code)) throw;
      lost_race = true;
    }
    if (lost_race) info = co_await s.js.stream_info(s.stream);
  }

  // An existing bucket is used as it is, so config() reports what the server stores.
  s.config = detail::kv_bucket_config(s.config.bucket, info.config);
}

asio::awaitable<std::uint64_t> KvStore::do_write(KvStore self, write_kind kind, std::string key, std::string value,
                                                 std::optional<std::uint64_t> last_revision) {
  auto& s = *self.state_;
  validate_kv_key(key, KeyUse::write);
  const auto max_value_size = s.config.max_value_size;
  if (max_value_size >= 0 && value.size() > static_cast<std::size_t>(max_value_size)) {
    throw error(errc::payload_too_large, "write " + describe(key, s.config.bucket) + ": value of " +
                                             std::to_string(value.size()) + " bytes exceeds the bucket's max_value_size of " +
                                             std::to_string(max_value_size) + " bytes");
  }

  OutgoingMessage msg(detail::kv_key_subject(s.config.bucket, key), std::move(value));
  if (kind == write_kind::del) {
    msg.with_header(std::string(detail::header::kv_operation), std::string(detail::header::kv_operation_delete));
  } else if (kind == write_kind::purge) {
    msg.with_header(std::string(detail::header::kv_operation), std::string(detail::header::kv_operation_purge));
    msg.with_header(std::string(detail::header::rollup), std::string(detail::header::rollup_subject));
  }
  PublishOptions options;
  options.expected_last_subject_sequence = last_revision;
  // A replicated bucket on nats-server before 2.11 checks the expected revision only on the
  // stream leader before replication, against the writes it has applied so far. So every write
  // from one revision that is in flight at the same moment passes, and so does one sent to a
  // newly elected leader that has not applied the last writes yet. The message id makes the
  // stream keep only the first of them: each replica drops the others as duplicates, in log
  // order. Revision 0 (create) needs no id, because the server checks it again when storing.
  if (last_revision && *last_revision > 0) options.msg_id = detail::kv_revision_msg_id(key, *last_revision);
  const auto lost_race = [&] {
    return error(errc::wrong_last_sequence, "write " + describe(key, s.config.bucket) + ": revision " +
                                                std::to_string(last_revision.value_or(0)) +
                                                " is not the newest; read the key again and retry");
  };

  PubAck ack;
  try {
    ack = co_await s.js.publish(std::move(msg), std::move(options));
  } catch (const error& e) {
    // A publish to a deleted bucket finds no stream to store it (no responders).
    if (is_stream_missing(e.code())) throw error(errc::bucket_not_found, "write " + describe(key, s.config.bucket));
    if (!is_jetstream_error(e.code(), wrong_last_sequence_code)) throw;
    throw lost_race();
  }
  // A duplicate means another write from the same revision was stored first.
  if (ack.duplicate) throw lost_race();
  co_return ack.sequence;
}

namespace {

// Reads the newest entry of a key, delete and purge markers included.
//
// Uses the STREAM.MSG.GET API rather than direct get. For a deleted stream the API replies with
// error 10059, mapped here to errc::bucket_not_found, while a direct get request receives no
// reply and would wait the whole request timeout. The cost is the API's JSON and base64 framing
// of the value, and that only the stream leader answers.
asio::awaitable<std::optional<KvEntry>> read_last(JetStream js, std::string stream, std::string bucket,
                                                  std::string key) {
  StoredMessage stored;
  const std::string subject = detail::kv_key_subject(bucket, key);
  try {
    stored = co_await js.get_last_message(stream, subject, false);
  } catch (const error& e) {
    if (is_jetstream_error(e.code(), no_message_found_code)) co_return std::nullopt;
    if (is_stream_missing(e.code())) throw error(errc::bucket_not_found, "read " + describe(key, bucket));
    throw;
  }
  co_return detail::kv_entry_from_stored(bucket, std::move(stored));
}

asio::awaitable<std::optional<KvEntry>> read_revision(JetStream js, std::string stream, std::string bucket,
                                                      std::string key, std::uint64_t revision) {
  StoredMessage stored;
  try {
    stored = co_await js.get_message(stream, revision);
  } catch (const error& e) {
    if (is_jetstream_error(e.code(), no_message_found_code)) co_return std::nullopt;
    if (is_stream_missing(e.code())) throw error(errc::bucket_not_found, "read " + describe(key, bucket));
    throw;
  }
  if (detail::kv_key_from_subject(bucket, stored.subject) != key) co_return std::nullopt;
  co_return detail::kv_entry_from_stored(bucket, std::move(stored));
}

}  // namespace

asio::awaitable<std::uint64_t> KvStore::do_create(KvStore self, std::string key, std::string value) {
  auto& s = *self.state_;
  validate_kv_key(key, KeyUse::write);

  for (int attempt = 0; attempt < create_attempts; ++attempt) {
    std::optional<std::uint64_t> expected = 0;
    if (attempt > 0) {
      // The key has a message: a delete or purge marker may be replaced, a live value may not.
      auto last = co_await read_last(s.js, s.stream, s.config.bucket, key);
      if (last && last->operation == KvOperation::put) break;
      expected = last ? last->revision : 0;
    }

    try {
      co_return co_await do_write(self, write_kind::put, key, value, expected);
    } catch (const error& e) {
      // Another writer changed the key first: read it again on the next attempt.
      if (e.code() != errc::wrong_last_sequence) throw;
    }
  }
  throw error(errc::key_exists, "create " + describe(key, s.config.bucket) + ": the key has a value");
}

asio::awaitable<std::optional<KvEntry>> KvStore::do_get(KvStore self, std::string key, std::uint64_t revision) {
  auto& s = *self.state_;
  validate_kv_key(key, KeyUse::read);

  std::optional<KvEntry> entry;
  if (revision == 0) {
    entry = co_await read_last(s.js, s.stream, s.config.bucket, key);
  } else {
    entry = co_await read_revision(s.js, s.stream, s.config.bucket, key, revision);
  }
  if (entry && entry->operation != KvOperation::put) co_return std::nullopt;
  co_return entry;
}

asio::awaitable<std::optional<KvEntry>> KvStore::do_get_revision(KvStore self, std::string key,
                                                                  std::uint64_t revision) {
  validate_kv_key(key, KeyUse::read);
  if (revision == 0) {
    throw error(errc::invalid_argument, "read revision 0 of " + describe(key, self.state_->config.bucket) +
                                            ": revisions start at 1");
  }
  co_return co_await do_get(std::move(self), std::move(key), revision);
}

asio::awaitable<KvWatcher> KvStore::do_watch(KvStore self, std::string key_pattern, KvWatchOptions options) {
  auto& s = *self.state_;
  validate_kv_key_filter(key_pattern);

  OrderedConsumerConfig config;
  config.filter_subject = detail::kv_key_subject(s.config.bucket, key_pattern);
  config.headers_only = options.meta_only;
  if (options.updates_only) {
    config.deliver_policy = DeliverPolicy::new_messages;
  } else if (options.include_history) {
    config.deliver_policy = DeliverPolicy::all;
  } else {
    config.deliver_policy = DeliverPolicy::last_per_subject;
  }

  OrderedConsumer consumer;
  bool missing = false;
  try {
    consumer = co_await s.js.ordered_consumer(s.stream, config);
  } catch (const error& e) {
    if (!is_stream_missing(e.code())) throw;
    missing = true;
  }
  if (missing) throw error(errc::bucket_not_found, "watch '" + key_pattern + "' in KV bucket '" + s.config.bucket + "'");

  co_return KvWatcher(
      std::make_shared<KvWatcher::state>(s.conn, s.config.bucket, std::move(key_pattern), std::move(consumer), options));
}

asio::awaitable<std::vector<std::string>> KvStore::do_keys(KvStore self, std::string filter) {
  KvWatchOptions options;
  options.ignore_deletes = true;
  options.meta_only = true;
  KvWatcher watcher = co_await do_watch(self, std::move(filter), options);

  std::vector<std::string> keys;
  std::unordered_set<std::string> seen;  // a recreated consumer may repeat a key
  for (;;) {
    std::optional<KvEntry> entry = co_await watcher.next();
    if (!entry) break;
    if (seen.insert(entry->key).second) keys.push_back(std::move(entry->key));
  }
  watcher.stop();
  co_return keys;
}

namespace {

// Collects the entries a watch delivers before its end-of-initial-values marker.
asio::awaitable<std::vector<KvEntry>> collect_initial(KvWatcher watcher) {
  std::vector<KvEntry> entries;
  for (;;) {
    std::optional<KvEntry> entry = co_await watcher.next();
    if (!entry) break;
    entries.push_back(std::move(*entry));
  }
  watcher.stop();
  co_return entries;
}

}  // namespace

asio::awaitable<std::vector<KvEntry>> KvStore::do_entries(KvStore self, std::string filter) {
  KvWatchOptions options;
  options.ignore_deletes = true;
  KvWatcher watcher = co_await do_watch(self, std::move(filter), options);
  co_return co_await collect_initial(std::move(watcher));
}

asio::awaitable<std::vector<KvEntry>> KvStore::do_history(KvStore self, std::string key) {
  KvWatchOptions options;
  options.include_history = true;
  KvWatcher watcher = co_await do_watch(self, std::move(key), options);
  co_return co_await collect_initial(std::move(watcher));
}

asio::awaitable<KvStatus> KvStore::do_status(KvStore self) {
  auto& s = *self.state_;
  StreamInfo info;
  bool missing = false;
  try {
    info = co_await s.js.stream_info(s.stream);
  } catch (const error& e) {
    if (!is_stream_missing(e.code())) throw;
    missing = true;
  }
  if (missing) throw error(errc::bucket_not_found, "status of KV bucket '" + s.config.bucket + "'");
  co_return detail::kv_status(s.config.bucket, info);
}

asio::awaitable<bool> KvStore::do_destroy(KvStore self) {
  auto& s = *self.state_;
  const bool existed = co_await s.js.delete_stream(s.stream);
  if (existed) logger()->info("deleted KV bucket '{}'", s.config.bucket);
  co_return existed;
}

}  // namespace noesis::ship

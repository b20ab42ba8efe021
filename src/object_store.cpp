#include <noesis/ship/object_store.hpp>

#include <algorithm>
#include <fstream>
#include <system_error>
#include <utility>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/detail/nuid.hpp>
#include <noesis/ship/detail/object_chunks.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {

using asio::awaitable;

struct ObjectStore::state {
  ObjectStoreConfig config;
  JetStream js;
  std::string stream;
};

namespace {

constexpr int stream_not_found_code = 10059;
constexpr int stream_name_in_use_code = 10058;
constexpr int no_message_found_code = 10037;

bool is_stream_not_found(const std::error_code& code) {
  return code == errc::stream_not_found || code == make_jetstream_error_code(stream_not_found_code);
}

std::string object_context(const std::string& action, std::string_view name, std::string_view bucket) {
  return action + " object '" + std::string(name) + "' in bucket '" + std::string(bucket) + "'";
}

// Publishes the chunks of one put with at most `limit` unacknowledged, in the order given.
// Chunks go straight to the connection's publish link rather than through JetStream::publish,
// because each publish must be handed to the connection in call order, before the caller
// suspends, for the chunks to be stored in content order.
class ChunkWindow : public std::enable_shared_from_this<ChunkWindow> {
 public:
  ChunkWindow(asio::any_io_executor executor, Connection conn, std::chrono::milliseconds timeout, std::size_t limit)
      : wake_(std::move(executor)), conn_(std::move(conn)), timeout_(timeout), limit_(limit) {}

  // Waits for room in the window, then publishes. Throws the first failed ack seen so far.
  awaitable<void> publish(const std::string& subject, std::string chunk) {
    co_await wait_until_at_most(limit_ - 1);
    throw_if_failed();
    ++in_flight_;
    conn_.request_on(detail::link_kind::publish, OutgoingMessage(subject, std::move(chunk)), timeout_,
                     [self = shared_from_this(), subject](std::error_code ec, Message reply) {
                       self->on_ack(ec, reply, subject);
                     });
  }

  // Waits for every ack; throws the first failure.
  awaitable<void> drain() {
    co_await wait_until_at_most(0);
    throw_if_failed();
  }

  // Waits for every ack, ignoring failures: used before cleaning up after a failed put.
  awaitable<void> settle() { co_await wait_until_at_most(0); }

 private:
  void on_ack(std::error_code ec, const Message& reply, const std::string& subject) {
    --in_flight_;
    if (!ec && !failure_) {
      try {
        detail::parse_pub_ack(reply.data(), subject);
      } catch (const error&) {
        failure_ = std::current_exception();
      }
    } else if (ec && !failure_) {
      const std::string context = "JetStream publish of a chunk to '" + subject + "'";
      failure_ = std::make_exception_ptr(ec == errc::no_responders
                                             ? error(errc::stream_not_found, context + ": no stream stores it")
                                             : error(ec, context));
    }
    wake_.cancel();
  }

  awaitable<void> wait_until_at_most(std::size_t count) {
    while (in_flight_ > count) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
  }

  void throw_if_failed() const {
    if (failure_) std::rethrow_exception(failure_);
  }

  asio::steady_timer wake_;
  Connection conn_;
  std::chrono::milliseconds timeout_;
  std::size_t limit_;
  std::size_t in_flight_ = 0;
  std::exception_ptr failure_;
};

// Stops an ordered consumer when a read ends, whether it finished or failed.
struct ConsumerStopper {
  OrderedConsumer& consumer;
  ~ConsumerStopper() { consumer.stop(); }
};

OutgoingMessage meta_message(const ObjectInfo& info) {
  OutgoingMessage msg(detail::object_meta_subject(info.bucket, info.name), detail::encode_object_info(info));
  msg.with_header(std::string(detail::header::rollup), std::string(detail::header::rollup_subject));
  return msg;
}

// Purges one subject of the bucket without failing the caller: the purge only frees space.
awaitable<void> purge_quietly(JetStream js, std::string stream, std::string subject) {
  PurgeOptions options;
  options.subject = subject;
  auto [ec, purged] = co_await js.purge_stream(stream, std::move(options),
                                               asio::experimental::as_tuple(asio::use_awaitable));
  (void)purged;
  if (ec) {
    logger()->warn("purging '{}' of stream '{}' failed, so its messages stay stored: {}", subject, stream, ec.message());
  }
}

// Returns the object's stored info, deleted or not, or nullopt when none was ever stored.
awaitable<std::optional<ObjectInfo>> find_info(JetStream js, std::string stream, std::string bucket,
                                               std::string name) {
  validate_object_name(name);
  const std::string subject = detail::object_meta_subject(bucket, name);
  StoredMessage stored;
  bool missing = false;
  try {
    stored = co_await js.get_last_message(stream, subject, true);
  } catch (const error& e) {
    if (e.code() != make_jetstream_error_code(no_message_found_code)) throw;
    missing = true;
  }
  if (missing) co_return std::nullopt;

  ObjectInfo info = detail::decode_object_info(stored.data, object_context("read the info of", name, bucket));
  info.mtime = stored.time;
  co_return info;
}

awaitable<ObjectInfo> require_live_info(JetStream js, std::string stream, std::string bucket, std::string name,
                                        const std::string& action) {
  auto info = co_await find_info(js, stream, bucket, name);
  if (!info || info->deleted) throw error(errc::object_not_found, object_context(action, name, bucket));
  if (info->link) {
    // NOTE: links (ADR-20 AddLink) are read but not followed.
    throw error(errc::invalid_argument, object_context(action, name, bucket) + ": it is a link to bucket '" +
                                            info->link->bucket + "', and links are not followed");
  }
  co_return std::move(*info);
}

// Reads the chunks of `info` in order, checks them, and hands each to `sink` once it is known
// not to exceed the recorded size. The digest is checked after the last chunk.
awaitable<void> read_chunks(JetStream js, std::string stream, const ObjectInfo& info,
                            detail::unique_function<void(std::string_view)> sink) {
  const std::string context = object_context("read", info.name, info.bucket);
  detail::ObjectVerifier verifier(info.size, info.digest, context);
  if (info.chunks == 0) {
    verifier.finish();
    co_return;
  }

  OrderedConsumerConfig config;
  config.filter_subject = detail::object_chunk_subject(info.bucket, info.nuid);
  OrderedConsumer consumer = co_await js.ordered_consumer(stream, config);
  ConsumerStopper stopper{consumer};
  if (consumer.initial_pending() == 0) {
    throw error(errc::size_mismatch, context + ": no chunks are stored on '" + config.filter_subject + "', but " +
                                         std::to_string(info.chunks) + " are recorded");
  }

  // Stop at the recorded chunk count, or when the stream holds no more: waiting for chunks
  // that were never stored would hang.
  for (std::uint32_t received = 0; received < info.chunks;) {
    JsMessage chunk = co_await consumer.next();
    verifier.update(chunk.data());
    sink(chunk.data());
    ++received;
    if (chunk.num_pending() == 0) break;
  }
  verifier.finish();
}

}  // namespace

ObjectStore::ObjectStore(Connection conn, ObjectStoreConfig config) : conn_(std::move(conn)) {
  validate_bucket_name(config.bucket);
  if (config.chunk_size == 0) {
    throw error(errc::invalid_argument, "object store '" + config.bucket + "': chunk_size 0; allowed: 1 byte or more");
  }
  if (config.max_chunks_in_flight == 0) {
    throw error(errc::invalid_argument,
                "object store '" + config.bucket + "': max_chunks_in_flight 0; allowed: 1 or more");
  }
  // The stream's max_age travels in int64 nanoseconds, which bounds the TTL at about 292 years.
  constexpr auto max_ttl = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds::max());
  if (config.ttl.count() < 0 || config.ttl > max_ttl) {
    throw error(errc::invalid_argument, "object store '" + config.bucket + "': ttl " +
                                            std::to_string(config.ttl.count()) + " s is invalid; allowed: 0 (keep) to " +
                                            std::to_string(max_ttl.count()) + " s");
  }
  if (config.max_bytes < -1) {
    throw error(errc::invalid_argument, "object store '" + config.bucket + "': max_bytes " +
                                            std::to_string(config.max_bytes) +
                                            " is invalid; allowed: -1 (unlimited) or more");
  }
  if (config.replicas < 1 || config.replicas > 5) {
    throw error(errc::invalid_argument, "object store '" + config.bucket + "': replicas " +
                                            std::to_string(config.replicas) + " is invalid; allowed: 1 to 5");
  }
  std::string stream = detail::object_stream_name(config.bucket);
  state_ = std::make_shared<state>(state{std::move(config), JetStream(conn_), std::move(stream)});
}

const std::string& ObjectStore::bucket() const noexcept { return state_->config.bucket; }
const ObjectStoreConfig& ObjectStore::config() const noexcept { return state_->config; }
std::string ObjectStore::stream_name() const { return state_->stream; }
JetStream ObjectStore::jetstream() const { return state_->js; }

std::size_t ObjectStore::chunk_size(const PutOptions& options) const noexcept {
  return options.chunk_size != 0 ? options.chunk_size : state_->config.chunk_size;
}

ObjectSource ObjectStore::bytes_source(std::string bytes) {
  // Hands out the whole content as one piece, moved rather than copied. do_put feeds the chunker
  // at most one chunk of a piece at a time, so the chunker's buffer stays within two chunks.
  auto content = std::make_shared<std::string>(std::move(bytes));
  return [content]() -> awaitable<std::optional<std::string>> {
    if (content->empty()) co_return std::nullopt;
    std::string piece = std::move(*content);
    content->clear();
    co_return piece;
  };
}

ObjectSource ObjectStore::file_source(std::filesystem::path path, std::size_t piece_size) {
  auto file = std::make_shared<std::ifstream>(path, std::ios::binary);
  const int open_errno = errno;
  // NOTE: file reads block the executor's thread for the duration of each read (one chunk).
  return [file, path, piece_size, open_errno]() -> awaitable<std::optional<std::string>> {
    if (!file->is_open()) {
      throw error(std::error_code(open_errno != 0 ? open_errno : EIO, std::generic_category()),
                  "open '" + path.string() + "' for reading");
    }
    std::string piece(piece_size, '\0');
    file->read(piece.data(), static_cast<std::streamsize>(piece.size()));
    if (file->bad()) throw error(std::make_error_code(std::errc::io_error), "read '" + path.string() + "'");
    piece.resize(static_cast<std::size_t>(file->gcount()));
    if (piece.empty()) co_return std::nullopt;
    co_return piece;
  };
}

awaitable<void> ObjectStore::do_connect(ObjectStore self) {
  const ObjectStoreConfig& c = self.state_->config;
  JetStream js = self.state_->js;
  bool missing = false;
  try {
    co_await js.stream_info(self.state_->stream);
  } catch (const error& e) {
    if (!is_stream_not_found(e.code())) throw;
    missing = true;
  }
  if (!missing) co_return;

  logger()->info("creating object store bucket '{}' (stream '{}')", c.bucket, self.state_->stream);
  try {
    StreamConfig config =
        detail::object_stream_config(c.bucket, c.description, c.ttl, c.max_bytes, c.storage, c.replicas);
    co_await js.create_stream(std::move(config));
  } catch (const error& e) {
    // Another client created it between our two requests: open theirs.
    if (e.code() != make_jetstream_error_code(stream_name_in_use_code)) throw;
  }
}

awaitable<bool> ObjectStore::do_delete_bucket(ObjectStore self) {
  co_return co_await self.state_->js.delete_stream(self.state_->stream);
}

awaitable<ObjectMeta> ObjectStore::do_put(ObjectStore self, std::string name, ObjectSource source,
                                          PutOptions options) {
  state& s = *self.state_;
  const std::string context = object_context("put", name, s.config.bucket);
  validate_object_name(name);
  const std::size_t chunk_size = self.chunk_size(options);
  const auto max_payload = self.conn_.max_payload();
  if (max_payload > 0 && chunk_size > static_cast<std::size_t>(max_payload)) {
    throw error(errc::invalid_argument, context + ": chunk size " + std::to_string(chunk_size) +
                                            " bytes exceeds the server's max_payload of " +
                                            std::to_string(max_payload) + " bytes");
  }

  // The first piece is read before any request, so a source that fails at once, such as a file
  // that cannot be opened, fails before anything is sent.
  std::optional<std::string> piece = co_await source();

  std::optional<ObjectInfo> previous = co_await find_info(s.js, s.stream, s.config.bucket, name);

  ObjectInfo info;
  info.name = name;
  info.description = std::move(options.description);
  info.headers = std::move(options.headers);
  info.metadata = std::move(options.metadata);
  info.max_chunk_size = static_cast<std::uint32_t>(chunk_size);
  info.bucket = s.config.bucket;
  info.nuid = detail::next_nuid();
  const std::string chunk_subject = detail::object_chunk_subject(s.config.bucket, info.nuid);

  detail::ObjectChunker chunker(chunk_size);
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto window = std::make_shared<ChunkWindow>(executor, self.conn_, s.js.timeout(), s.config.max_chunks_in_flight);
  std::exception_ptr failure;
  try {
    while (piece) {
      // Feed at most one chunk at a time, so the chunker's buffer stays within two chunks.
      std::string_view rest = *piece;
      while (!rest.empty()) {
        const std::size_t take = std::min(rest.size(), chunk_size);
        chunker.append(rest.substr(0, take));
        rest.remove_prefix(take);
        // Plain loops: GCC 12 mishandles co_await in a statement whose condition declares a variable.
        for (;;) {
          std::optional<std::string> chunk = chunker.next_chunk();
          if (!chunk) break;
          co_await window->publish(chunk_subject, std::move(*chunk));
        }
      }
      piece = co_await source();
    }
    std::optional<std::string> last = chunker.finish();
    if (last) co_await window->publish(chunk_subject, std::move(*last));
    co_await window->drain();

    info.size = chunker.size();
    info.chunks = chunker.chunks();
    info.digest = detail::format_nats_digest(chunker.digest());
    OutgoingMessage meta = meta_message(info);
    co_await s.js.publish(std::move(meta));
  } catch (...) {
    failure = std::current_exception();
  }

  if (failure) {
    // Remove what this put stored; chunks still in flight must land first or they would stay.
    co_await window->settle();
    co_await purge_quietly(s.js, s.stream, chunk_subject);
    std::rethrow_exception(failure);
  }

  if (previous && !previous->nuid.empty() && previous->nuid != info.nuid) {
    std::string previous_chunks = detail::object_chunk_subject(s.config.bucket, previous->nuid);
    co_await purge_quietly(s.js, s.stream, std::move(previous_chunks));
  }

  ObjectMeta meta;
  meta.name = info.name;
  meta.bucket = info.bucket;
  meta.size = info.size;
  meta.sha256 = detail::to_hex(chunker.digest());
  meta.created = now_rfc3339();
  if (!info.description.empty()) meta.description = info.description;
  meta.nuid = info.nuid;
  meta.chunks = info.chunks;
  meta.digest = info.digest;
  co_return meta;
}

awaitable<std::string> ObjectStore::do_get(ObjectStore self, std::string name) {
  state& s = *self.state_;
  ObjectInfo info = co_await require_live_info(s.js, s.stream, s.config.bucket, name, "get");
  std::string content;
  content.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(info.size, 64 * 1024 * 1024)));
  co_await read_chunks(s.js, s.stream, info, [&content](std::string_view chunk) { content.append(chunk); });
  co_return content;
}

awaitable<ObjectInfo> ObjectStore::do_get_to_file(ObjectStore self, std::string name, std::filesystem::path path) {
  state& s = *self.state_;
  const std::string context = object_context("get", name, s.config.bucket) + " into '" + path.string() + "'";
  ObjectInfo info = co_await require_live_info(s.js, s.stream, s.config.bucket, name, "get");

  std::filesystem::path partial = path;
  partial += ".part-" + info.nuid;
  std::exception_ptr failure;
  try {
    {
      std::ofstream file(partial, std::ios::binary | std::ios::trunc);
      if (!file) throw error(std::make_error_code(std::errc::io_error), context + ": cannot create '" + partial.string() + "'");
      co_await read_chunks(s.js, s.stream, info, [&file, &context](std::string_view chunk) {
        file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        if (!file) throw error(std::make_error_code(std::errc::io_error), context + ": write failed");
      });
      file.close();
      if (!file) throw error(std::make_error_code(std::errc::io_error), context + ": closing the file failed");
    }
    std::filesystem::rename(partial, path);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    std::rethrow_exception(failure);
  }
  co_return info;
}

awaitable<ObjectInfo> ObjectStore::do_info(ObjectStore self, std::string name, bool include_deleted) {
  state& s = *self.state_;
  auto info = co_await find_info(s.js, s.stream, s.config.bucket, name);
  if (!info || (info->deleted && !include_deleted)) {
    throw error(errc::object_not_found, object_context("read the info of", name, s.config.bucket));
  }
  co_return std::move(*info);
}

awaitable<std::vector<ObjectInfo>> ObjectStore::do_list(ObjectStore self, bool include_deleted) {
  state& s = *self.state_;
  OrderedConsumerConfig config;
  config.filter_subject = detail::object_meta_filter(s.config.bucket);
  config.deliver_policy = DeliverPolicy::last_per_subject;
  OrderedConsumer consumer = co_await s.js.ordered_consumer(s.stream, config);
  ConsumerStopper stopper{consumer};

  std::vector<ObjectInfo> infos;
  // An empty bucket delivers nothing, so the initial count is the only way to return at once.
  if (consumer.initial_pending() == 0) co_return infos;
  for (;;) {
    JsMessage msg = co_await consumer.next();
    try {
      ObjectInfo info = detail::decode_object_info(msg.data(), "list bucket '" + s.config.bucket + "'");
      info.mtime = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::nanoseconds(msg.metadata().timestamp_ns)));
      if (include_deleted || !info.deleted) infos.push_back(std::move(info));
    } catch (const error& e) {
      logger()->warn("skipping an unreadable object info on '{}': {}", msg.subject(), e.what());
    }
    if (msg.num_pending() == 0) break;
  }
  co_return infos;
}

awaitable<void> ObjectStore::do_delete(ObjectStore self, std::string name) {
  state& s = *self.state_;
  auto info = co_await find_info(s.js, s.stream, s.config.bucket, name);
  if (!info) throw error(errc::object_not_found, object_context("delete", name, s.config.bucket));
  if (info->deleted) co_return;

  ObjectInfo deleted = *info;
  deleted.size = 0;
  deleted.chunks = 0;
  deleted.digest.clear();
  deleted.deleted = true;
  OutgoingMessage meta = meta_message(deleted);
  co_await s.js.publish(std::move(meta));
  std::string chunk_subject = detail::object_chunk_subject(s.config.bucket, info->nuid);
  co_await purge_quietly(s.js, s.stream, std::move(chunk_subject));
}

awaitable<ObjectInfo> ObjectStore::do_update_meta(ObjectStore self, std::string name, ObjectMetaUpdate update) {
  state& s = *self.state_;
  validate_object_name(name);
  if (!update.name.empty()) validate_object_name(update.name);
  ObjectInfo info = co_await require_live_info(s.js, s.stream, s.config.bucket, name, "update the meta of");
  const std::string new_name = update.name.empty() ? name : update.name;
  const bool renamed = new_name != name;
  if (renamed) {
    auto target = co_await find_info(s.js, s.stream, s.config.bucket, new_name);
    if (target && !target->deleted) {
      throw error(errc::invalid_argument, object_context("rename", name, s.config.bucket) + " to '" + new_name +
                                              "': an object of that name exists; delete it first");
    }
  }

  info.name = new_name;
  info.description = std::move(update.description);
  info.headers = std::move(update.headers);
  OutgoingMessage meta = meta_message(info);
  co_await s.js.publish(std::move(meta));
  if (renamed) {
    std::string old_meta_subject = detail::object_meta_subject(s.config.bucket, name);
    co_await purge_quietly(s.js, s.stream, std::move(old_meta_subject));
  }
  info.mtime = std::chrono::system_clock::now();
  co_return info;
}

// ---------------------------------------------------------------------------------------------
// Watch

struct ObjectWatcher::state {
  OrderedConsumer consumer;
  std::string bucket;
  asio::any_io_executor executor;
  bool ignore_deletes = false;
  bool initial_done = false;       // every info stored at the start has been delivered
  bool initial_signalled = false;  // the nullopt marking that point has been returned
};

asio::any_io_executor ObjectWatcher::executor() const { return state_->executor; }

void ObjectWatcher::stop() {
  if (state_) state_->consumer.stop();
}

awaitable<std::optional<ObjectInfo>> ObjectWatcher::do_next(std::shared_ptr<state> s) {
  for (;;) {
    if (s->initial_done && !s->initial_signalled) {
      s->initial_signalled = true;
      co_return std::nullopt;
    }
    JsMessage msg = co_await s->consumer.next();
    if (msg.num_pending() == 0) s->initial_done = true;

    ObjectInfo info;
    try {
      info = detail::decode_object_info(msg.data(), "watch bucket '" + s->bucket + "'");
    } catch (const error& e) {
      logger()->warn("skipping an unreadable object info on '{}': {}", msg.subject(), e.what());
      continue;
    }
    if (s->ignore_deletes && info.deleted) continue;
    info.mtime = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::nanoseconds(msg.metadata().timestamp_ns)));
    co_return info;
  }
}

awaitable<ObjectWatcher> ObjectStore::do_watch(ObjectStore self, ObjectWatchOptions options) {
  state& s = *self.state_;
  OrderedConsumerConfig config;
  config.filter_subject = detail::object_meta_filter(s.config.bucket);
  config.deliver_policy = options.updates_only      ? DeliverPolicy::new_messages
                          : options.include_history ? DeliverPolicy::all
                                                    : DeliverPolicy::last_per_subject;
  auto watcher = std::make_shared<ObjectWatcher::state>();
  watcher->consumer = co_await s.js.ordered_consumer(s.stream, config);
  watcher->bucket = s.config.bucket;
  watcher->executor = self.conn_.get_executor();
  watcher->ignore_deletes = options.ignore_deletes;
  watcher->initial_done = options.updates_only || watcher->consumer.initial_pending() == 0;
  co_return ObjectWatcher(std::move(watcher));
}

}  // namespace noesis::ship

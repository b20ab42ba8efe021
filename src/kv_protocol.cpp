// Sans-I/O KV pieces: bucket names, the backing stream's configuration and entry decoding.
#include <noesis/ship/detail/kv_protocol.hpp>

#include <algorithm>
#include <utility>

#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/names.hpp>

namespace noesis::ship::detail {

std::string kv_stream_name(std::string_view bucket) { return "KV_" + std::string(bucket); }

std::string kv_subject_prefix(std::string_view bucket) { return "$KV." + std::string(bucket) + "."; }

std::string kv_key_subject(std::string_view bucket, std::string_view key) {
  return kv_subject_prefix(bucket) + std::string(key);
}

std::string kv_revision_msg_id(std::string_view key, std::uint64_t revision) {
  return std::string(key) + "@" + std::to_string(revision);
}

std::optional<std::string> kv_key_from_subject(std::string_view bucket, std::string_view subject) {
  const std::string prefix = kv_subject_prefix(bucket);
  if (subject.size() <= prefix.size() || subject.substr(0, prefix.size()) != prefix) return std::nullopt;
  return std::string(subject.substr(prefix.size()));
}

KvOperation parse_kv_operation(std::optional<std::string_view> header_value) noexcept {
  if (!header_value) return KvOperation::put;
  if (*header_value == header::kv_operation_delete) return KvOperation::del;
  if (*header_value == header::kv_operation_purge) return KvOperation::purge;
  return KvOperation::put;
}

namespace {

void check_argument(bool valid, const KvBucketConfig& config, const std::string& what) {
  if (!valid) throw error(errc::invalid_argument, "KV bucket '" + config.bucket + "': " + what);
}

}  // namespace

StreamConfig kv_stream_config(const KvBucketConfig& config) {
  validate_bucket_name(config.bucket);
  check_argument(config.history >= 1 && config.history <= kv_max_history, config,
                 "history " + std::to_string(config.history) + " is invalid; allowed: 1..64");
  // The stream's max_age travels in int64 nanoseconds, which bounds the TTL at about 292 years.
  constexpr auto max_ttl = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds::max());
  check_argument(!config.ttl || (config.ttl->count() > 0 && *config.ttl <= max_ttl), config,
                 "TTL of " + std::to_string(config.ttl ? config.ttl->count() : 0) +
                     " s is invalid; allowed: 1 to " + std::to_string(max_ttl.count()) + " seconds, or none");
  check_argument(config.replicas >= 1 && config.replicas <= 5, config,
                 "replicas " + std::to_string(config.replicas) + " is invalid; allowed: 1..5");
  check_argument(config.max_value_size >= -1, config,
                 "max_value_size " + std::to_string(config.max_value_size) + " is invalid; allowed: -1 or more");
  check_argument(config.max_bytes >= -1, config,
                 "max_bytes " + std::to_string(config.max_bytes) + " is invalid; allowed: -1 or more");

  StreamConfig stream(kv_stream_name(config.bucket), {kv_subject_prefix(config.bucket) + ">"});
  stream.max_msgs = -1;
  stream.max_msgs_per_subject = config.history;
  stream.max_bytes = config.max_bytes;
  stream.max_msg_size = config.max_value_size;
  stream.max_age = config.ttl.value_or(std::chrono::seconds(0));
  stream.storage = config.storage;
  stream.replicas = config.replicas;
  stream.discard = DiscardPolicy::new_messages;
  stream.allow_rollup_hdrs = true;
  stream.deny_delete = true;
  stream.allow_direct = true;
  stream.description = config.description;
  // The server's own default window is 2 min; a shorter TTL must shorten it, or the server
  // rejects a window longer than max_age.
  stream.duplicate_window = config.ttl ? std::min<std::chrono::nanoseconds>(*config.ttl, kv_default_duplicate_window)
                                       : std::chrono::nanoseconds(kv_default_duplicate_window);
  return stream;
}

KvBucketConfig kv_bucket_config(std::string_view bucket, const StreamConfig& stream) {
  KvBucketConfig config{std::string(bucket)};
  config.history = static_cast<int>(stream.max_msgs_per_subject);
  if (stream.max_age.count() > 0) config.ttl = stream.max_age;
  config.max_value_size = stream.max_msg_size;
  config.max_bytes = stream.max_bytes;
  config.storage = stream.storage;
  config.replicas = stream.replicas;
  config.description = stream.description;
  return config;
}

KvStatus kv_status(std::string_view bucket, const StreamInfo& info) {
  KvStatus status;
  status.bucket = std::string(bucket);
  status.values = info.state.messages;
  status.history = static_cast<int>(info.config.max_msgs_per_subject);
  if (info.config.max_age.count() > 0) status.ttl = info.config.max_age;
  status.bytes = info.state.bytes;
  status.storage = info.config.storage;
  status.replicas = info.config.replicas;
  status.max_value_size = info.config.max_msg_size;
  status.max_bytes = info.config.max_bytes;
  status.description = info.config.description;
  return status;
}

namespace {

std::string key_or_throw(std::string_view bucket, std::string_view subject) {
  auto key = kv_key_from_subject(bucket, subject);
  if (!key) {
    throw error(errc::invalid_key, "message on '" + std::string(subject) + "' is not an entry of KV bucket '" +
                                       std::string(bucket) + "'");
  }
  return std::move(*key);
}

}  // namespace

KvEntry kv_entry_from_stored(std::string_view bucket, StoredMessage message) {
  KvEntry entry;
  entry.bucket = std::string(bucket);
  entry.key = key_or_throw(bucket, message.subject);
  const auto operation = message.header(header::kv_operation);
  entry.operation = parse_kv_operation(operation ? std::optional<std::string_view>(*operation) : std::nullopt);
  entry.value = std::move(message.data);
  entry.revision = message.sequence;
  entry.created = message.time;
  return entry;
}

KvEntry kv_entry_from_delivered(std::string_view bucket, const KvDelivered& message) {
  KvEntry entry;
  entry.bucket = std::string(bucket);
  entry.key = key_or_throw(bucket, message.subject);
  entry.operation = parse_kv_operation(message.operation_header);
  entry.value = std::string(message.data);
  entry.revision = message.stream_sequence;
  entry.created = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(message.timestamp_ns)));
  entry.delta = message.num_pending;
  return entry;
}

KvWatchState::KvWatchState(std::uint64_t initial_pending, const KvWatchOptions& options) noexcept
    : marker_at_start_(initial_pending == 0 || options.updates_only), ignore_deletes_(options.ignore_deletes) {}

bool KvWatchState::take_marker_at_start() noexcept {
  if (!marker_at_start_ || marker_sent_) return false;
  marker_sent_ = true;
  return true;
}

KvWatchState::Step KvWatchState::on_entry(KvOperation operation, std::uint64_t num_pending) noexcept {
  Step step;
  step.emit_entry = !(ignore_deletes_ && operation != KvOperation::put);
  if (!marker_sent_ && num_pending == 0) {
    marker_sent_ = true;
    step.end_of_initial = true;
  }
  return step;
}

}  // namespace noesis::ship::detail

// KV entries from the two paths that produce them: a message delivered to a watch (subject,
// header block with KV-Operation and Nats-Rollup, payload) and a STREAM.MSG.GET reply read by
// get(). Input: bucket NUL subject NUL header block NUL payload, where the payload is also tried
// as the JSON of a MSG.GET reply. Only noesis::ship::error may come out, the key maps back to the
// subject, and only an exact "DEL" or "PURGE" makes a marker.
#include <string>

#include <nlohmann/json.hpp>

#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/detail/kv_protocol.hpp>
#include <noesis/ship/error.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace noesis::ship;

KvOperation expected_operation(const std::optional<std::string>& header_value) {
  if (header_value == detail::header::kv_operation_delete) return KvOperation::del;
  if (header_value == detail::header::kv_operation_purge) return KvOperation::purge;
  return KvOperation::put;  // absent, unknown, or only a Nats-Rollup header
}

void check_key(std::string_view bucket, std::string_view subject, const KvEntry& entry) {
  fuzz::require(entry.bucket == bucket);
  fuzz::require(!entry.key.empty());
  fuzz::require(detail::kv_key_subject(bucket, entry.key) == subject);
  fuzz::require(detail::kv_key_from_subject(bucket, subject) == entry.key);
}

void check_delivered(std::string_view bucket, std::string_view subject, std::string_view block,
                     std::string_view payload) {
  detail::HeaderBlock headers;
  try {
    headers = detail::parse_header_block(block);
  } catch (const error&) {
    return;
  }
  const std::optional<std::string> operation = detail::find_header(headers.headers, detail::header::kv_operation);

  detail::KvDelivered delivered;
  delivered.subject = subject;
  delivered.data = payload;
  if (operation) delivered.operation_header = *operation;
  // Sequence, time and pending come from the ack subject, which fuzz_ack_subject covers; any
  // values will do here, so take them from the payload's size.
  delivered.stream_sequence = payload.size();
  delivered.timestamp_ns = -static_cast<std::int64_t>(payload.size());
  delivered.num_pending = block.size();

  KvEntry entry;
  try {
    entry = detail::kv_entry_from_delivered(bucket, delivered);
  } catch (const error&) {
    fuzz::require(!detail::kv_key_from_subject(bucket, subject));
    return;
  }
  check_key(bucket, subject, entry);
  fuzz::require(entry.operation == expected_operation(operation));
  fuzz::require(entry.value == payload);
  fuzz::require(entry.revision == delivered.stream_sequence);
  fuzz::require(entry.delta == delivered.num_pending);
}

void check_stored(std::string_view bucket, std::string_view reply_text) {
  const auto reply = nlohmann::json::parse(reply_text, nullptr, false);
  if (reply.is_discarded()) return;
  detail::StoredMessage stored;
  try {
    stored = detail::parse_stored_message(reply, "fuzz");
  } catch (const error&) {
    return;
  }
  const std::string subject = stored.subject;
  const std::optional<std::string> operation = stored.header(detail::header::kv_operation);
  const std::string data = stored.data;
  const std::uint64_t sequence = stored.sequence;

  KvEntry entry;
  try {
    entry = detail::kv_entry_from_stored(bucket, std::move(stored));
  } catch (const error&) {
    fuzz::require(!detail::kv_key_from_subject(bucket, subject));
    return;
  }
  check_key(bucket, subject, entry);
  fuzz::require(entry.operation == expected_operation(operation));
  fuzz::require(entry.value == data);
  fuzz::require(entry.revision == sequence);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [bucket, rest] = fuzz::split(fuzz::as_text(data, size));
  const auto [subject, message] = fuzz::split(rest);
  const auto [block, payload] = fuzz::split(message);
  check_delivered(bucket, subject, block, payload);
  check_stored(bucket, payload);
  return 0;
}

// Sans-I/O pieces of the JetStream API: request bodies and subjects the JetStream layer sends
// on `$JS.API.*`, and parsers for the replies, acks and headers it receives. Nothing here
// touches the network, so every format is unit-tested without a server.
//
// Formats follow the JetStream API reference on docs.nats.io and the JSON schemas published in
// nats-io/jsm.go (schemas/jetstream/api/v1), checked against nats-server 2.9.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/stream_config.hpp>

namespace noesis::ship::detail {

// ---- API errors ----

// The "error" object of a JetStream API reply or a PubAck.
struct ApiError {
  int code = 0;      // HTTP-like status, for example 404 or 503
  int err_code = 0;  // JetStream error code, for example 10059 (stream not found)
  std::string description;
};

// Returns the reply's "error" object, or nullopt when the reply carries none. Throws
// noesis::ship::error(errc::serialization) when code or err_code is not an integer that fits an
// int, and nlohmann::json::type_error when description is not a string.
std::optional<ApiError> api_error(const nlohmann::json& reply);

// Throws noesis::ship::error(make_jetstream_error_code(err_code), "<context>: <description>")
// when the reply carries an error, and does nothing otherwise.
// The code stays in jetstream_category() even for "stream not found" (10059) and "consumer not
// found" (10014): callers then still see the server's err_code, and compare against
// condition::jetstream or the err_code value. A reply without err_code (servers before 2.3)
// carries the HTTP-like code (for example 404) as the value instead, because an error_code of
// value 0 would read as success. With neither code the value is 500. A malformed error object
// throws errc::serialization naming `context`.
void throw_if_api_error(const nlohmann::json& reply, std::string_view context);

// Parses a reply body as JSON. Throws noesis::ship::error(errc::serialization) naming `context`.
nlohmann::json parse_api_reply(std::string_view reply_body, std::string_view context);

// ---- Retries of API calls ----

// err_code of "JetStream system temporarily unavailable" (status 503). nats-server 2.9 replies
// with it to an API request once its meta group has had no leader for 10 s.
inline constexpr int cluster_unavailable_err_code = 10008;

// Pause before an API call is sent again.
inline constexpr std::chrono::milliseconds api_retry_pause{250};

// Whether a JetStream API call is sent again after an attempt that ended with `outcome`.
// Only a timeout and err_code 10008 are retried. In a cluster only a leader replies to an API
// request, and while the nodes elect a new leader after a node failure they leave requests
// unanswered (nats-server 2.9 starts the election 4 to 9 s after the last heartbeat of the
// lost leader). `elapsed` is the time since the first attempt was sent. Another attempt is made
// only when it ends, after api_retry_pause and `timeout`, within `retry_window`.
bool should_retry_api_call(const std::error_code& outcome, std::chrono::milliseconds elapsed,
                           std::chrono::milliseconds timeout, std::chrono::milliseconds retry_window) noexcept;

// Parses an RFC 3339 time of a reply ("created", "time"). Throws
// noesis::ship::error(errc::serialization) naming `context` when `text` is not RFC 3339.
std::chrono::system_clock::time_point parse_api_time(std::string_view text,
                                                     std::string_view context);

// ---- Publish acks ----

// The server's acknowledgement of a message stored by a JetStream publish.
struct PubAck {
  std::string stream;
  uint64_t sequence = 0;   // stream sequence of the stored message
  bool duplicate = false;  // true when Nats-Msg-Id matched a message in the duplicate window
  std::string domain;      // JetStream domain, empty without one
};

// Parses the reply to a JetStream publish. Throws noesis::ship::error with the JetStream
// err_code for the error form {"error":{...}} (for example 10071, wrong last sequence), and
// errc::serialization for a body that is not a PubAck; `subject` names the publish in the message.
PubAck parse_pub_ack(std::string_view reply_body, std::string_view subject);

// ---- Ack subjects ----

// What the reply subject of a message delivered by a consumer states about it.
struct AckMetadata {
  std::string stream;
  std::string consumer;
  std::string domain;          // empty when the subject has none ("_" on the wire)
  uint64_t num_delivered = 0;  // deliveries of this message so far, 1 on the first
  uint64_t stream_sequence = 0;
  uint64_t consumer_sequence = 0;
  int64_t timestamp_ns = 0;  // time the message was stored, nanoseconds since the Unix epoch
  uint64_t num_pending = 0;  // messages left for the consumer after this one
};

// Parses an ack reply subject. Accepts the v1 form (9 tokens)
// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` and the v2 form
// (11 or more tokens) `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.
// <cseq>.<ts>.<pending>[.<token>...]`. Returns nullopt for any other subject.
std::optional<AckMetadata> parse_ack_subject(std::string_view reply);

// ---- Headers and stored messages ----

// Headers in wire order. Keys may repeat (NATS headers are multi-valued).
using Headers = std::vector<std::pair<std::string, std::string>>;

// A parsed "NATS/1.0[ <status>[ <description>]]\r\n<Key>: <Value>\r\n...\r\n" block.
struct HeaderBlock {
  int status = 0;  // 0 when the first line carries no status code
  std::string description;
  Headers headers;
};

// Parses a NATS header block. Values keep inner spaces but lose the spaces after the colon and at
// the end. Throws noesis::ship::error(errc::serialization) when the block does not start with
// "NATS/1.0", has a non-numeric status or a line without a colon.
HeaderBlock parse_header_block(std::string_view block);

// Returns the first value of header `name`: an exact, case-sensitive match first, as NATS servers
// and clients compare header names, then a case-insensitive one. Returns nullopt when absent.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

// A message read back from a stream by sequence or by last subject.
struct StoredMessage {
  std::string subject;
  uint64_t sequence = 0;
  std::chrono::system_clock::time_point time;  // time the server stored it
  Headers headers;
  std::string data;  // raw payload bytes

  std::optional<std::string> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// Parses a $JS.API.STREAM.MSG.GET reply {"message":{"subject","seq","hdrs","data","time"}}, with
// "hdrs" and "data" in standard base64. Throws like throw_if_api_error for the error form (10037,
// no message found) and errc::serialization for a malformed reply.
StoredMessage parse_stored_message(const nlohmann::json& reply, std::string_view context);

// Builds a StoredMessage from a $JS.API.DIRECT.GET reply, whose payload is the message itself and
// whose headers add Nats-Stream, Nats-Subject, Nats-Sequence and Nats-Time-Stamp. Those and
// Nats-Last-Sequence are removed from StoredMessage::headers, so a message reads the same as
// through parse_stored_message(). Throws noesis::ship::error(make_jetstream_error_code(10037))
// for status 404 (no message), errc::invalid_argument for another status (408, bad request), and
// errc::serialization when the Nats-* headers are missing or malformed.
StoredMessage parse_direct_get_reply(const HeaderBlock& headers, std::string data,
                                     std::string_view context);

// Same as above for a reply whose headers are still a raw "NATS/1.0..." block.
StoredMessage parse_direct_get_reply(std::string_view header_block, std::string data,
                                     std::string_view context);

// ---- Message get and purge requests ----

// Body of $JS.API.STREAM.MSG.GET.<stream> (or DIRECT.GET) for the last message on `subject`.
nlohmann::json msg_get_request_last_by_subject(std::string_view subject);

// Body of $JS.API.STREAM.MSG.GET.<stream> (or DIRECT.GET) for the message at `sequence`.
nlohmann::json msg_get_request_sequence(uint64_t sequence);

// "$JS.API.DIRECT.GET.<stream>": takes one of the request bodies above.
std::string direct_get_subject(std::string_view api_prefix, std::string_view stream);

// "$JS.API.DIRECT.GET.<stream>.<subject>": returns the last message on `subject`, with an empty
// request body.
std::string direct_get_last_subject(std::string_view api_prefix, std::string_view stream,
                                    std::string_view subject);

// Body of $JS.API.STREAM.PURGE.<stream> removing every message on `subject`.
nlohmann::json purge_request(std::string_view subject);

// Body of $JS.API.STREAM.PURGE.<stream> removing the messages on `subject` except the newest
// `keep`.
nlohmann::json purge_request_keep(std::string_view subject, uint64_t keep);

// Returns the number of messages a purge reply {"success":true,"purged":n} reports. Throws like
// throw_if_api_error.
uint64_t parse_purge_reply(const nlohmann::json& reply, std::string_view context);

// ---- Stream info ----

// The "state" object of a stream info reply.
struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t consumer_count = 0;
  uint64_t num_subjects = 0;
  // Messages per subject, filled only when the request set subjects_filter.
  std::map<std::string, uint64_t> subjects;
};

// A stream info reply. `total`, `offset` and `limit` page through state.subjects: the server
// returns at most `limit` subjects (100,000 on nats-server 2.9) from `offset` of `total`.
struct StreamInfo {
  StreamConfig config;
  StreamState state;
  std::chrono::system_clock::time_point created;
  uint64_t total = 0;
  uint64_t offset = 0;
  uint64_t limit = 0;
};

// Builds the body of $JS.API.STREAM.INFO.<stream>. Without a filter it is empty. With one it asks
// for the message count of every subject matching `subjects_filter` (a wildcard pattern),
// starting at `offset`.
nlohmann::json stream_info_request(std::string_view subjects_filter = {}, uint64_t offset = 0);

// Parses a STREAM.INFO, STREAM.CREATE or STREAM.UPDATE reply. Throws like throw_if_api_error.
StreamInfo parse_stream_info(const nlohmann::json& reply, std::string_view context);

// ---- Subjects ----

// "<api_prefix>.<suffix>", for example ("$JS.API", "STREAM.INFO.ORDERS").
std::string api_subject(std::string_view api_prefix, std::string_view suffix);

}  // namespace noesis::ship::detail

// JetStream consumer configuration, the consumer create request and the consumer info reply.
//
// Zero and empty fields are left out of the request, as the NATS clients do, so the server
// applies its own defaults to them (nats-server 2.9: max_ack_pending 1000, max_waiting 512 for
// pull consumers, max_deliver unlimited, replicas inherited from the stream).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace noesis::ship {

// Start position of a new consumer in the stream. JSON "all", "last", "new", "by_start_sequence",
// "by_start_time", "last_per_subject".
enum class DeliverPolicy {
  all,
  last,
  new_messages,
  by_start_sequence,
  by_start_time,
  last_per_subject
};

// Acks the server expects: none, one ack covering all earlier messages, or one per message.
// JSON "none", "all", "explicit".
enum class AckPolicy { none, all, explicit_ack };

// Delivery pace of stored messages: at once, or at the pace they were stored.
// JSON "instant", "original".
enum class ReplayPolicy { instant, original };

// A JetStream consumer configuration. A consumer with deliver_subject is a push consumer, one
// without it a pull consumer.
struct ConsumerConfig {
  std::string durable_name;  // set for a durable consumer, which survives its subscribers
  std::string name;          // name of an ephemeral consumer, picked by the server when empty
  std::string description;
  DeliverPolicy deliver_policy = DeliverPolicy::all;
  uint64_t opt_start_seq = 0;  // first stream sequence, for DeliverPolicy::by_start_sequence
  std::optional<std::chrono::system_clock::time_point> opt_start_time;  // for by_start_time
  AckPolicy ack_policy = AckPolicy::explicit_ack;
  std::chrono::nanoseconds ack_wait =
      std::chrono::seconds(30);  // wait for an ack before redelivery, 0 = server default
  int64_t max_deliver = -1;      // deliveries of one message, -1 (or 0) unlimited
  // Redelivery delays, one per delivery attempt, the last one repeating. Empty uses ack_wait.
  std::vector<std::chrono::nanoseconds> backoff;
  std::string filter_subject;  // only messages on this subject (wildcards allowed), empty = all
  ReplayPolicy replay_policy = ReplayPolicy::instant;
  std::string deliver_subject;                 // push consumers only
  std::string deliver_group;                   // queue group of a push consumer
  bool flow_control = false;                   // push consumers only, needs idle_heartbeat
  std::chrono::nanoseconds idle_heartbeat{0};  // push consumers only, 0 = none
  bool headers_only = false;    // deliver headers plus Nats-Msg-Size, without payloads
  int64_t max_ack_pending = 0;  // unacked messages in flight, 0 = server default, -1 unlimited
  int64_t max_waiting = 0;      // pending pull requests (pull consumers), 0 = server default
  // Time without subscribers or pulls after which the server deletes the consumer. 0 is the
  // server default: 5 s for ephemerals, never for durables (nats-server 2.9).
  std::chrono::nanoseconds inactive_threshold{0};
  int num_replicas = 0;      // 0 inherits the stream's replica count
  bool mem_storage = false;  // keep the consumer's state in memory even on a file stream

  friend bool operator==(const ConsumerConfig&, const ConsumerConfig&) = default;
};

std::string_view to_string(DeliverPolicy policy) noexcept;
std::string_view to_string(AckPolicy policy) noexcept;
std::string_view to_string(ReplayPolicy policy) noexcept;

// Throws noesis::ship::error with errc::invalid_name for a durable_name or name that
// validate_consumer_name() rejects ('.', '*', '>', '/', a backslash, whitespace), or durable_name
// and name set to different values, and with errc::invalid_argument when by_start_sequence lacks
// opt_start_seq, by_start_time lacks opt_start_time, flow_control lacks idle_heartbeat or
// deliver_subject, a duration is negative, max_deliver or max_ack_pending is below -1,
// max_waiting is negative, or num_replicas is outside 0..5.
void validate(const ConsumerConfig& config);

// Builds the "config" object of a consumer create request. Durations are in nanoseconds,
// opt_start_time is RFC 3339 in UTC. Zero, -1 and empty fields are left out.
nlohmann::json to_api_json(const ConsumerConfig& config);

// Reads the "config" object of a consumer info reply. Throws
// noesis::ship::error(errc::serialization) on a wrongly typed field or an unknown enum string.
ConsumerConfig consumer_config_from_api_json(const nlohmann::json& config);

// Builds the body of a consumer create request: {"stream_name": <stream>, "config": {...}}.
nlohmann::json consumer_create_request(std::string_view stream, const ConsumerConfig& config);

// Chooses the subject of a consumer create request, `api_prefix` usually being "$JS.API".
// Classic form: "<api_prefix>.CONSUMER.DURABLE.CREATE.<stream>.<durable_name>" for a durable,
// "<api_prefix>.CONSUMER.CREATE.<stream>" otherwise.
// Extended form (`extended_form` true): "<api_prefix>.CONSUMER.CREATE.<stream>.<name>.<filter>",
// the name being durable_name or else name, and ".<filter>" left out without filter_subject. A
// consumer with neither name falls back to the classic form. The extended form lets the server's
// permissions see the filter, and nats-server accepts it from 2.9.0.
std::string consumer_create_subject(std::string_view api_prefix, std::string_view stream,
                                    const ConsumerConfig& config, bool extended_form);

// A sequence pair of a consumer: the consumer's own count and the stream sequence.
struct SequencePair {
  uint64_t consumer_seq = 0;
  uint64_t stream_seq = 0;
};

// A consumer info reply (to CONSUMER.INFO and to the create requests).
struct ConsumerInfo {
  std::string stream_name;
  std::string name;
  std::chrono::system_clock::time_point created;
  ConsumerConfig config;
  SequencePair delivered;  // last message delivered
  SequencePair ack_floor;  // every message up to here is acked
  uint64_t num_ack_pending = 0;
  uint64_t num_redelivered = 0;
  uint64_t num_waiting = 0;  // pending pull requests
  uint64_t num_pending = 0;  // messages matching the filter not yet delivered
};

// Parses a consumer info or consumer create reply. Throws noesis::ship::error with the
// JetStream err_code for the error form (for example 10014, consumer not found), and
// errc::serialization for a malformed reply. `context` names the request in the message.
ConsumerInfo parse_consumer_info(const nlohmann::json& reply, std::string_view context);

}  // namespace noesis::ship

// Names and values of the NATS and JetStream message headers the library reads or writes,
// spelled as nats-server and the official clients spell them.
#pragma once

#include <string_view>

namespace noesis::ship::detail::header {

// --- Publishing to a stream -------------------------------------------------------------------

// Deduplication id: the stream drops a second message with the same id within its
// duplicate window and acknowledges it with "duplicate": true.
inline constexpr std::string_view msg_id = "Nats-Msg-Id";

// The stream accepts the message only if the last message on the same subject has this
// sequence; 0 means "no message on this subject yet" (KV create, ADR-8).
inline constexpr std::string_view expected_last_subject_sequence =
    "Nats-Expected-Last-Subject-Sequence";

// The stream accepts the message only if its last message, on any subject, has this sequence.
inline constexpr std::string_view expected_last_sequence = "Nats-Expected-Last-Sequence";

// The stream accepts the message only if it is this stream.
inline constexpr std::string_view expected_stream = "Nats-Expected-Stream";

// Rollup: with the value rollup_subject, the stream removes every earlier message on the
// message's subject once it is stored (KV purge, object store meta). Needs allow_rollup_hdrs.
inline constexpr std::string_view rollup = "Nats-Rollup";
inline constexpr std::string_view rollup_subject = "sub";

// --- KV (ADR-8) -------------------------------------------------------------------------------

// Marks a KV entry as a delete or purge marker; a PUT entry carries no such header.
inline constexpr std::string_view kv_operation = "KV-Operation";
inline constexpr std::string_view kv_operation_delete = "DEL";
inline constexpr std::string_view kv_operation_purge = "PURGE";

// --- Micro services (ADR-32) ------------------------------------------------------------------

// An endpoint's error reply: the error text and its numeric code (as decimal text).
inline constexpr std::string_view service_error = "Nats-Service-Error";
inline constexpr std::string_view service_error_code = "Nats-Service-Error-Code";

// --- Direct get -------------------------------------------------------------------------------

// The stream, sequence, store time (RFC 3339) and original subject of a message returned by a
// JetStream direct get.
inline constexpr std::string_view stream = "Nats-Stream";
inline constexpr std::string_view sequence = "Nats-Sequence";
inline constexpr std::string_view time_stamp = "Nats-Time-Stamp";
inline constexpr std::string_view subject = "Nats-Subject";

// A sequence the server adds to republished messages and to batched direct get replies
// (JSLastSequence in nats-server).
inline constexpr std::string_view last_sequence = "Nats-Last-Sequence";

// --- Push consumer heartbeats -----------------------------------------------------------------

// Carried by an idle heartbeat: the consumer sequence of the last message the consumer
// delivered, and, while it waits for a flow control reply, the subject to send that reply to.
inline constexpr std::string_view last_consumer = "Nats-Last-Consumer";
inline constexpr std::string_view consumer_stalled = "Nats-Consumer-Stalled";

// --- Status messages ----------------------------------------------------------------------------

// A status message has no payload; its status line ("NATS/1.0 404 No Messages") gives a code and
// an optional description. cnats exposes them as these two pseudo headers.
inline constexpr std::string_view status = "Status";
inline constexpr std::string_view description = "Description";

// Idle heartbeat or flow-control request from a push consumer.
inline constexpr std::string_view status_control = "100";
// No message: a pull request with no_wait found nothing, or a direct get found no message.
inline constexpr std::string_view status_not_found = "404";
// A pull request expired before it was filled.
inline constexpr std::string_view status_request_timeout = "408";
// Conflict: for example a pull request over max_waiting or a consumer deleted meanwhile.
inline constexpr std::string_view status_conflict = "409";
// No responders: no subscription matches the request's subject.
inline constexpr std::string_view status_no_responders = "503";

}  // namespace noesis::ship::detail::header

// Error codes, conditions and the exception type of noesis::ship.
//
// Every asynchronous operation completes with a std::error_code first. Three categories feed it:
//  - ship_category(): the library's own conditions (errc below);
//  - nats_category(): a natsStatus from the cnats client, value for value;
//  - jetstream_category(): a JetStream API error, whose value is the server's err_code
//    (for example 10071, "wrong last sequence").
// Callers compare against `condition` to handle a family of errors without caring which layer
// produced it: `if (ec == noesis::ship::condition::timeout)`.
#pragma once

#include <string>
#include <system_error>

namespace noesis::ship {

// The library's own error values. Zero is reserved for success.
enum class errc {
  not_connected = 1,    // used before connect(), or after close()
  connection_closed,    // the connection closed while the operation was in flight
  timeout,              // no reply or no progress within the operation's timeout
  no_responders,        // a request reached no subscriber (NATS status 503)
  invalid_subject,      // a subject with empty tokens, spaces or misplaced wildcards
  invalid_name,         // a stream, consumer, bucket, service or agent name NATS cannot use
  invalid_key,          // a KV key outside the allowed characters or form
  invalid_argument,     // another argument out of its documented range
  payload_too_large,    // larger than the server's max_payload
  serialization,        // a payload that does not decode as the expected JSON
  key_not_found,        // KV key missing, deleted or purged
  key_exists,           // KV create() found a live value
  wrong_last_sequence,  // compare-and-set lost: the revision changed under us
  object_not_found,     // object missing or deleted
  bucket_not_found,     // KV or object bucket missing
  stream_not_found,     // JetStream stream missing
  consumer_not_found,   // JetStream consumer missing
  digest_mismatch,      // object content does not match its recorded SHA-256 digest
  size_mismatch,        // object content does not match its recorded size
  slow_consumer,        // messages were dropped because a pending limit was reached
  subscription_closed,  // the subscription was unsubscribed, drained or its connection closed
  job_not_found,        // no job with that id
  invalid_transition,   // a job lifecycle change the current status does not allow
  jetstream_unavailable,// JetStream is not enabled on the server or the account
};

// Families of errors to compare against, matching the error names of the Rust noesis-ship.
enum class condition {
  not_connected = 1,  // errc::not_connected, errc::connection_closed, cnats connection states
  timeout,            // errc::timeout, NATS_TIMEOUT
  key_not_found,      // errc::key_not_found, errc::object_not_found
  jetstream,          // any error of jetstream_category()
  invalid_input,      // invalid subject, name, key, argument or payload size
};

const std::error_category& ship_category() noexcept;
const std::error_category& nats_category() noexcept;
const std::error_category& jetstream_category() noexcept;
const std::error_category& condition_category() noexcept;

std::error_code make_error_code(errc e) noexcept;
std::error_condition make_error_condition(condition c) noexcept;

// Wraps a natsStatus (an int in cnats) into an error_code of nats_category(); NATS_OK is success.
std::error_code make_nats_error_code(int nats_status) noexcept;

// Wraps a JetStream API err_code (for example 10059, "stream not found").
std::error_code make_jetstream_error_code(int err_code) noexcept;

// The exception thrown when an operation awaited with the default completion token fails.
// what() names the operation's subject, key, bucket or stream, then the error's message and,
// for JetStream API errors, the server's description.
class error : public std::system_error {
 public:
  error(std::error_code code, const std::string& context) : std::system_error(code, context) {}
};

// Throws noesis::ship::error when `code` is an error; a no-op on success.
inline void throw_if(std::error_code code, const std::string& context) {
  if (code) throw error(code, context);
}

}  // namespace noesis::ship

template <>
struct std::is_error_code_enum<noesis::ship::errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<noesis::ship::condition> : std::true_type {};

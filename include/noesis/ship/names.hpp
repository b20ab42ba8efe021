// Validation of subjects, names and keys before they reach the server.
//
// Each rule has two forms: validate_*() throws noesis::ship::error with errc::invalid_subject,
// errc::invalid_name or errc::invalid_key and a message that quotes the value and states what is
// allowed. is_valid_*() returns false for the same inputs and never throws.
//
// In messages, bytes outside printable ASCII are shown as \xNN, and values longer than 200 bytes
// are shortened to their first 200 bytes followed by "...".
#pragma once

#include <cstddef>
#include <string_view>

namespace noesis::ship {

// Whether a subject is sent as the target of a publish or as the interest of a subscription.
enum class SubjectUse {
  publish,    // literal subject: `*` and `>` may not be whole tokens
  subscribe,  // `*` may be any whole token, `>` only the last whole token
};

// Whether a KV key is read (get, history, watch) or written (put, create, update, delete, purge).
enum class KeyUse {
  read,   // keys starting with `_kv` are accepted, so internal entries can be inspected
  write,  // keys starting with `_kv` are rejected: ADR-8 reserves them for internal use
};

// Maximum subject length in bytes. The server's default max_control_line is 4,096 bytes and
// bounds the whole PUB, HPUB or SUB line, so 256 bytes are left for the verb, a reply subject or
// queue group, and the sizes.
// NOTE: a subject near this limit can still exceed max_control_line together with a long reply
// subject or queue group. A server configured below 4,096 bytes rejects shorter subjects too.
inline constexpr std::size_t max_subject_length = 4096 - 256;

// Maximum stream and consumer name length in bytes. JSMaxNameLen in nats-server
// (server/jetstream_api.go) is 255 in current releases and was 256 in older ones, so 255 suits
// both.
inline constexpr std::size_t max_stream_name_length = 255;

// Maximum KV or object store bucket name length in bytes, so that the backing stream name
// `KV_<bucket>` or `OBJ_<bucket>` stays within max_stream_name_length.
inline constexpr std::size_t max_bucket_name_length = max_stream_name_length - 4;

// Maximum agent and channel name length in bytes, so that the durable consumer name
// `<agent>_<channel>` stays within max_stream_name_length.
inline constexpr std::size_t max_agent_name_length = (max_stream_name_length - 1) / 2;
inline constexpr std::size_t max_channel_name_length = (max_stream_name_length - 1) / 2;

// Checks a subject: non-empty, at most max_subject_length bytes, no empty token (leading,
// trailing or double `.`), no whitespace or ASCII control character, and wildcards placed as
// `use` allows. A `*` or `>` inside a longer token is a literal character, as the server treats it.
// Throws errc::invalid_subject.
void validate_subject(std::string_view subject, SubjectUse use);
bool is_valid_subject(std::string_view subject, SubjectUse use) noexcept;

// Checks a JetStream stream name: 1 to max_stream_name_length bytes, none of whitespace, control
// characters, `.`, `*`, `>`, `/` or `\`. The name is a subject token and a directory name on the
// server. Throws errc::invalid_name.
void validate_stream_name(std::string_view name);
bool is_valid_stream_name(std::string_view name) noexcept;

// Checks a durable or named consumer name with the same rules as a stream name.
// Throws errc::invalid_name.
void validate_consumer_name(std::string_view name);
bool is_valid_consumer_name(std::string_view name) noexcept;

// Checks a KV or object store bucket name: 1 to max_bucket_name_length bytes of
// `[A-Za-z0-9_-]` (ADR-8, ADR-20). Throws errc::invalid_name.
void validate_bucket_name(std::string_view bucket);
bool is_valid_bucket_name(std::string_view bucket) noexcept;

// Checks a KV key (ADR-8): 1 to max_subject_length bytes of `[-/_=.A-Za-z0-9]`, no leading or
// trailing `.`, no empty token, and for KeyUse::write no `_kv` prefix. Throws errc::invalid_key.
void validate_kv_key(std::string_view key, KeyUse use = KeyUse::write);
bool is_valid_kv_key(std::string_view key, KeyUse use = KeyUse::write) noexcept;

// Checks a KV watch or keys filter: like a key read, but a token may also be `*` and the last
// token may be `>`, so `>` alone selects the whole bucket. Throws errc::invalid_key.
void validate_kv_key_filter(std::string_view filter);
bool is_valid_kv_key_filter(std::string_view filter) noexcept;

// Checks a micro service name (ADR-32): one or more bytes of `[A-Za-z0-9_-]`, at most
// max_subject_length bytes. Throws errc::invalid_name.
void validate_service_name(std::string_view name);
bool is_valid_service_name(std::string_view name) noexcept;

// Checks an object store object name (ADR-20): any non-empty, well-formed UTF-8 string. The name
// travels base64url-encoded in the meta subject, so dots, spaces and slashes are fine.
// Throws errc::invalid_name.
void validate_object_name(std::string_view name);
bool is_valid_object_name(std::string_view name) noexcept;

// Checks an agent name, used as a message sender and in durable consumer names
// `<agent>_<channel>`: 1 to max_agent_name_length bytes of `[A-Za-z0-9_-]`.
// Throws errc::invalid_name.
void validate_agent_name(std::string_view name);
bool is_valid_agent_name(std::string_view name) noexcept;

// Checks a channel name, used as the single subject token in `ship.channel.<channel>` and in
// durable consumer names: 1 to max_channel_name_length bytes of `[A-Za-z0-9_-]`.
// Throws errc::invalid_name.
void validate_channel_name(std::string_view name);
bool is_valid_channel_name(std::string_view name) noexcept;

// Checks the worker name of a job queue: non-empty, well-formed UTF-8 without ASCII control
// characters. Spaces are fine because the name is stored in job records, never in a subject.
// Throws errc::invalid_name.
void validate_worker_name(std::string_view name);
bool is_valid_worker_name(std::string_view name) noexcept;

}  // namespace noesis::ship

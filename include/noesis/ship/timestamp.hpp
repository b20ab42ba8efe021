// RFC 3339 timestamps and Unix time, in the forms the Rust noesis-ship writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace noesis::ship {

// Formats `time` in UTC as RFC 3339 with the offset written `+00:00`, byte for byte as Rust
// chrono 0.4's `DateTime<Utc>::to_rfc3339()` does. Like chrono's SecondsFormat::AutoSi, the
// fraction has the fewest of 0, 3, 6 or 9 digits that show every non-zero sub-second digit.
//   2026-03-20T04:37:32+00:00             whole second
//   2026-03-20T04:37:32.120+00:00         whole millisecond
//   2026-03-20T04:37:32.123456789+00:00   otherwise
std::string format_rfc3339(std::chrono::system_clock::time_point time);

// Parses any RFC 3339 date-time: `T`, `t` or a space between date and time, a fraction of any
// length (digits beyond nanoseconds are truncated), and `Z`, `z` or a `+hh:mm`/`-hh:mm` offset.
// A leap second (`23:59:60`) reads as the first second of the next minute, as POSIX timegm
// counts it. Returns nullopt for text that is not RFC 3339, for an impossible date such as
// February 30, and for times the clock cannot represent (libstdc++ keeps nanoseconds in 64
// bits, which spans the years 1677 to 2262).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// Returns the current time as format_rfc3339 writes it.
std::string now_rfc3339();

// Milliseconds since the Unix epoch, rounded toward negative infinity.
std::int64_t unix_millis(std::chrono::system_clock::time_point time);

// Nanoseconds since the Unix epoch.
std::int64_t unix_nanos(std::chrono::system_clock::time_point time);

// Seconds since the Unix epoch with the fraction, as a double. Near the present a double
// resolves about 0.24 microseconds, so the nanosecond digits are lost.
double unix_seconds_f64(std::chrono::system_clock::time_point time);

}  // namespace noesis::ship

// Base64 (RFC 4648) in the two alphabets NATS uses:
//  - the URL and filename safe alphabet (`-`, `_`) with `=` padding, for object names in object
//    store meta subjects `$O.<bucket>.M.<name>` and for SHA-256 digests (ADR-20);
//  - the standard alphabet (`+`, `/`) with `=` padding, for the `data` and `hdrs` fields of
//    JetStream STREAM.MSG.GET replies.
//
// Decoders return std::nullopt on invalid input instead of throwing, because the input comes from
// the server or another client and each caller reports the failure with its own context (the
// subject or stream involved). Decoded bytes are returned in a std::string.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace noesis::ship::detail {

// Encodes with the URL-safe alphabet and `=` padding: "dir/file name.txt" gives
// "ZGlyL2ZpbGUgbmFtZS50eHQ=".
std::string base64url_encode(std::span<const std::byte> bytes);
std::string base64url_encode(std::string_view bytes);

// Decodes the URL-safe alphabet. Accepts the padded form and, for interoperability with clients
// that strip padding, the unpadded form. Returns std::nullopt for a character outside the
// alphabet, misplaced or excess padding, a length that no encoding produces, or non-zero unused
// bits in the last character (RFC 4648 section 3.5).
std::optional<std::string> base64url_decode(std::string_view text);

// Encodes with the standard alphabet and `=` padding.
std::string base64_encode(std::span<const std::byte> bytes);
std::string base64_encode(std::string_view bytes);

// Decodes the standard alphabet with the same checks as base64url_decode(), but requires padding
// because the server always pads. Whitespace and line breaks are invalid.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace noesis::ship::detail

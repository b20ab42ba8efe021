// NATS NKeys for user authentication: Ed25519 keys written as base32 text with a type prefix and
// a CRC-16 checksum.
//
// Layout of the decoded bytes (RFC 4648 base32, standard alphabet, no padding):
//  - public key: one prefix byte (user: 20 << 3, which encodes as 'U'), the 32-byte Ed25519
//    public key, the CRC-16 of the preceding bytes (little-endian);
//  - seed: two bytes packing the seed prefix (18 << 3, 'S') with the key type (user: 'U'), the
//    32-byte Ed25519 private seed, the CRC-16 (little-endian).
// The CRC is CRC-16/XMODEM (polynomial 0x1021, initial value 0).
//
// cnats signs the server's nonce itself (natsOptions_SetNKeyFromSeed), but it needs the public
// key too, which these functions derive from the seed with OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace noesis::ship::detail {

// CRC-16/XMODEM of `bytes`, the checksum at the end of every encoded NKey.
std::uint16_t nkey_crc16(std::span<const std::uint8_t> bytes) noexcept;

// Base32 with the standard alphabet and no padding, as NKeys use it.
std::string nkey_base32_encode(std::span<const std::uint8_t> bytes);

// Decodes unpadded base32; std::nullopt on a character outside the alphabet or a length no
// encoding produces.
std::optional<std::vector<std::uint8_t>> nkey_base32_decode(std::string_view text);

// A user NKey pair in its text forms.
struct UserNKey {
  std::string seed;        // "SU..." (58 characters); a secret, never logged
  std::string public_key;  // "U..." (56 characters); the server's `nkey` user setting
};

// Encodes the user key pair of a 32-byte Ed25519 seed. Throws noesis::ship::error
// (errc::invalid_argument) when OpenSSL cannot derive the public key.
UserNKey user_nkey_from_raw_seed(std::span<const std::uint8_t, 32> raw_seed);

// Generates a new random user key pair (OpenSSL RAND_bytes).
UserNKey generate_user_nkey();

// Returns the user public key of an encoded user seed "SU...". Sets `ec` to
// errc::invalid_argument, and returns an empty string, on a seed that is not base32, has the
// wrong length, prefix or checksum. The error never quotes the seed.
std::string user_public_key_from_seed(std::string_view seed, std::error_code& ec);

// Returns the first whitespace-separated word of `text` that starts with "SU", the user seed of
// a seed file or a .creds file; empty when there is none.
std::string find_user_seed(std::string_view text);

}  // namespace noesis::ship::detail

// NUID: the 22-character unique identifiers NATS clients use for inboxes, object store chunk
// subjects and micro service instance ids.
//
// The layout follows the NATS NUID design (github.com/nats-io/nuid): 22 base62 characters
// (`0-9A-Za-z`), a 12-character prefix from a cryptographic random source, then a 10-character
// sequence that starts at a random value and grows by a random increment between 33 and 332.
// When the sequence passes 62^10, the prefix, start and increment are drawn again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace noesis::ship::detail {

inline constexpr std::size_t nuid_length = 22;
inline constexpr std::size_t nuid_prefix_length = 12;
inline constexpr std::string_view nuid_alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// One NUID generator. Not thread-safe: use one per thread, or next_nuid().
// Random bytes come from OpenSSL RAND_bytes; its failure throws std::runtime_error.
class Nuid {
 public:
  Nuid();

  std::string next();

 private:
  void randomize_prefix();
  void reset_sequence();

  std::array<char, nuid_prefix_length> prefix_{};
  std::uint64_t sequence_ = 0;
  std::uint64_t increment_ = 0;
};

// Returns a new NUID from a generator private to the calling thread, so it is safe to call from
// any thread without locking.
std::string next_nuid();

}  // namespace noesis::ship::detail

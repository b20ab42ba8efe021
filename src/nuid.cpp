#include <noesis/ship/detail/nuid.hpp>

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace noesis::ship::detail {
namespace {

constexpr std::uint64_t base = 62;
constexpr std::size_t prefix_length = nuid_prefix_length;
constexpr std::size_t sequence_length = nuid_length - prefix_length;
constexpr std::uint64_t max_sequence = [] {
  std::uint64_t value = 1;
  for (std::size_t i = 0; i < sequence_length; ++i) value *= base;
  return value;
}();
constexpr std::uint64_t min_increment = 33;
constexpr std::uint64_t max_increment = 333;  // exclusive

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
  std::array<unsigned char, N> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("NUID: OpenSSL RAND_bytes failed to produce random bytes");
  }
  return bytes;
}

// Returns a uniform value in [0, bound), rejecting the top values that would bias the modulo.
std::uint64_t random_below(std::uint64_t bound) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  while (true) {
    std::uint64_t value = 0;
    for (const unsigned char byte : random_bytes<8>()) value = value << 8 | byte;
    if (value < limit) return value % bound;
  }
}

}  // namespace

Nuid::Nuid() {
  randomize_prefix();
  reset_sequence();
}

void Nuid::randomize_prefix() {
  const auto bytes = random_bytes<prefix_length>();
  // A byte modulo 62 favors the first 8 digits slightly; the prefix stays unpredictable.
  for (std::size_t i = 0; i < prefix_length; ++i) prefix_[i] = nuid_alphabet[bytes[i] % base];
}

void Nuid::reset_sequence() {
  sequence_ = random_below(max_sequence);
  increment_ = min_increment + random_below(max_increment - min_increment);
}

std::string Nuid::next() {
  sequence_ += increment_;
  if (sequence_ >= max_sequence) {
    randomize_prefix();
    reset_sequence();
  }

  std::string out(nuid_length, '0');
  for (std::size_t i = 0; i < prefix_length; ++i) out[i] = prefix_[i];

  // The sequence is written most significant digit first, padded with '0'.
  std::uint64_t remaining = sequence_;
  for (std::size_t i = nuid_length; i > prefix_length; --i) {
    out[i - 1] = nuid_alphabet[remaining % base];
    remaining /= base;
  }
  return out;
}

std::string next_nuid() {
  thread_local Nuid generator;
  return generator.next();
}

}  // namespace noesis::ship::detail

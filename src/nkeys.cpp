#include <noesis/ship/detail/nkeys.hpp>

#include <memory>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <noesis/ship/error.hpp>

namespace noesis::ship::detail {
namespace {

constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

constexpr std::uint8_t seed_prefix = 18 << 3;  // 'S'
constexpr std::uint8_t user_prefix = 20 << 3;  // 'U'
constexpr std::size_t key_bytes = 32;
constexpr std::size_t encoded_seed_bytes = 2 + key_bytes + 2;
constexpr std::size_t encoded_public_bytes = 1 + key_bytes + 2;

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using pkey_handle = std::unique_ptr<EVP_PKEY, pkey_deleter>;

void append_crc(std::vector<std::uint8_t>& bytes) {
  const std::uint16_t crc = nkey_crc16(bytes);
  bytes.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  bytes.push_back(static_cast<std::uint8_t>(crc >> 8));
}

bool crc_matches(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 2) return false;
  const std::span<const std::uint8_t> body(bytes.data(), bytes.size() - 2);
  const auto stored = static_cast<std::uint16_t>(bytes[bytes.size() - 2] | (bytes[bytes.size() - 1] << 8));
  return nkey_crc16(body) == stored;
}

std::string encode_user_public_key(std::span<const std::uint8_t> public_key) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(encoded_public_bytes);
  bytes.push_back(user_prefix);
  bytes.insert(bytes.end(), public_key.begin(), public_key.end());
  append_crc(bytes);
  return nkey_base32_encode(bytes);
}

// Derives the raw Ed25519 public key of a raw seed; false when OpenSSL fails.
bool derive_public_key(std::span<const std::uint8_t> raw_seed, std::array<std::uint8_t, key_bytes>& public_key) {
  pkey_handle key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw_seed.data(), raw_seed.size()));
  if (!key) return false;
  std::size_t length = public_key.size();
  return EVP_PKEY_get_raw_public_key(key.get(), public_key.data(), &length) == 1 && length == key_bytes;
}

}  // namespace

std::uint16_t nkey_crc16(std::span<const std::uint8_t> bytes) noexcept {
  std::uint16_t crc = 0;
  for (const std::uint8_t byte : bytes) {
    crc = static_cast<std::uint16_t>(crc ^ (byte << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string nkey_base32_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const std::uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(base32_alphabet[(buffer >> bits) & 0x1F]);
    }
  }
  if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

std::optional<std::vector<std::uint8_t>> nkey_base32_decode(std::string_view text) {
  // Lengths of 1, 3 and 6 characters modulo 8 leave whole unused characters: no encoder makes them.
  const std::size_t tail = text.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;

  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const auto position = base32_alphabet.find(c);
    if (position == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(position);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

UserNKey user_nkey_from_raw_seed(std::span<const std::uint8_t, 32> raw_seed) {
  std::array<std::uint8_t, key_bytes> public_key{};
  if (!derive_public_key(raw_seed, public_key)) {
    throw error(errc::invalid_argument, "derive an Ed25519 public key: OpenSSL failed");
  }

  std::vector<std::uint8_t> seed;
  seed.reserve(encoded_seed_bytes);
  seed.push_back(static_cast<std::uint8_t>(seed_prefix | (user_prefix >> 5)));
  seed.push_back(static_cast<std::uint8_t>((user_prefix & 0x1F) << 3));
  seed.insert(seed.end(), raw_seed.begin(), raw_seed.end());
  append_crc(seed);

  UserNKey result;
  result.seed = nkey_base32_encode(seed);
  result.public_key = encode_user_public_key(public_key);
  return result;
}

UserNKey generate_user_nkey() {
  std::array<std::uint8_t, key_bytes> raw_seed{};
  if (RAND_bytes(raw_seed.data(), static_cast<int>(raw_seed.size())) != 1) {
    throw error(errc::invalid_argument, "generate an NKey: OpenSSL RAND_bytes failed");
  }
  return user_nkey_from_raw_seed(raw_seed);
}

std::string user_public_key_from_seed(std::string_view seed, std::error_code& ec) {
  ec = {};
  const auto bytes = nkey_base32_decode(seed);
  const bool well_formed = bytes && bytes->size() == encoded_seed_bytes && crc_matches(*bytes) &&
                           ((*bytes)[0] & 0xF8) == seed_prefix &&
                           static_cast<std::uint8_t>((((*bytes)[0] & 0x07) << 5) | (((*bytes)[1] & 0xF8) >> 3)) ==
                               user_prefix;
  std::array<std::uint8_t, key_bytes> public_key{};
  if (!well_formed || !derive_public_key(std::span<const std::uint8_t>(bytes->data() + 2, key_bytes), public_key)) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  return encode_user_public_key(public_key);
}

std::string find_user_seed(std::string_view text) {
  constexpr std::string_view whitespace = " \t\r\n";
  std::size_t start = text.find_first_not_of(whitespace);
  while (start != std::string_view::npos) {
    const std::size_t end = text.find_first_of(whitespace, start);
    const std::string_view word = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (word.starts_with("SU")) return std::string(word);
    if (end == std::string_view::npos) break;
    start = text.find_first_not_of(whitespace, end);
  }
  return {};
}

}  // namespace noesis::ship::detail

#include <noesis/ship/detail/base64.hpp>

#include <array>
#include <cstdint>

namespace noesis::ship::detail {
namespace {

constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t invalid_digit = 0xFF;

// Maps each byte to its 6-bit value in `alphabet`, or invalid_digit when it is not a digit.
constexpr std::array<std::uint8_t, 256> make_decode_table(std::string_view alphabet) {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = invalid_digit;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr auto standard_decode_table = make_decode_table(standard_alphabet);
constexpr auto url_decode_table = make_decode_table(url_alphabet);

std::string encode(std::string_view bytes, std::string_view alphabet) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);

  const auto byte = [&](std::size_t i) -> std::uint32_t {
    return static_cast<unsigned char>(bytes[i]);
  };
  const auto digit = [&](std::uint32_t group, int shift) {
    return alphabet[(group >> shift) & 0x3F];
  };

  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += digit(group, 18);
    out += digit(group, 12);
    out += digit(group, 6);
    out += digit(group, 0);
  }

  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t group = byte(i) << 16;
    out += digit(group, 18);
    out += digit(group, 12);
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t group = byte(i) << 16 | byte(i + 1) << 8;
    out += digit(group, 18);
    out += digit(group, 12);
    out += digit(group, 6);
    out += '=';
  }
  return out;
}

std::optional<std::string> decode(std::string_view text, const std::array<std::uint8_t, 256>& table,
                                  bool padding_required) {
  // Strip the padding first: at most two `=`, and only at the end.
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  const std::string_view digits = text.substr(0, text.size() - padding);

  // One digit left over never encodes a whole byte, so no encoder produces it.
  const std::size_t tail = digits.size() % 4;
  if (tail == 1) return std::nullopt;
  if (padding > 0 && (text.size() % 4 != 0 || padding != (4 - tail) % 4)) return std::nullopt;
  if (padding == 0 && tail != 0 && padding_required) return std::nullopt;

  // Sized once and written through a pointer: appending byte by byte cost about three times as
  // many instructions, and KV reads decode every value through here.
  std::string out(digits.size() / 4 * 3 + (tail == 0 ? 0 : tail - 1), '\0');
  char* next = out.data();

  std::uint32_t group = 0;
  std::size_t count = 0;
  for (const char c : digits) {
    const std::uint8_t value = table[static_cast<unsigned char>(c)];
    if (value == invalid_digit) return std::nullopt;
    group = group << 6 | value;
    if (++count == 4) {
      *next++ = static_cast<char>(group >> 16 & 0xFF);
      *next++ = static_cast<char>(group >> 8 & 0xFF);
      *next++ = static_cast<char>(group & 0xFF);
      group = 0;
      count = 0;
    }
  }

  // Two digits carry one byte and 4 unused bits; three carry two bytes and 2 unused bits.
  if (count == 2) {
    if ((group & 0x0F) != 0) return std::nullopt;
    *next++ = static_cast<char>(group >> 4 & 0xFF);
  } else if (count == 3) {
    if ((group & 0x03) != 0) return std::nullopt;
    *next++ = static_cast<char>(group >> 10 & 0xFF);
    *next++ = static_cast<char>(group >> 2 & 0xFF);
  }
  return out;
}

std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::string base64url_encode(std::span<const std::byte> bytes) {
  return encode(as_chars(bytes), url_alphabet);
}

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, url_alphabet);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode(text, url_decode_table, false);
}

std::string base64_encode(std::span<const std::byte> bytes) {
  return encode(as_chars(bytes), standard_alphabet);
}

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, standard_alphabet);
}

std::optional<std::string> base64_decode(std::string_view text) {
  return decode(text, standard_decode_table, true);
}

}  // namespace noesis::ship::detail

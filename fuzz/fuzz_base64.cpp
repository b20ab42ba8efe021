// Both base64 decoders: no crash, and whatever decodes re-encodes to a text that decodes to the
// same bytes.
#include <noesis/ship/detail/base64.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship::detail;
  using noesis::ship::fuzz::require;
  const auto text = noesis::ship::fuzz::as_text(data, size);

  if (const auto decoded = base64_decode(text)) {
    const auto again = base64_decode(base64_encode(*decoded));
    require(again && *again == *decoded);
  }
  if (const auto decoded = base64url_decode(text)) {
    const auto again = base64url_decode(base64url_encode(*decoded));
    require(again && *again == *decoded);
  }
  // Encoding arbitrary bytes always gives a decodable text.
  const auto encoded = base64_decode(base64_encode(text));
  require(encoded && *encoded == text);
  return 0;
}

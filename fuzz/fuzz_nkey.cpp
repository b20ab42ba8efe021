// NKey seed decoding: no crash on any text, and base32 round trips.
#include <system_error>
#include <vector>

#include <noesis/ship/detail/nkeys.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  std::error_code ec;
  const std::string public_key = detail::user_public_key_from_seed(detail::find_user_seed(text), ec);
  fuzz::require(ec ? public_key.empty() : public_key.size() == 56);

  const std::vector<std::uint8_t> bytes(data, data + size);
  const auto decoded = detail::nkey_base32_decode(detail::nkey_base32_encode(bytes));
  fuzz::require(decoded && *decoded == bytes);
  (void)detail::nkey_base32_decode(text);
  return 0;
}

// NATS header block parsing ("NATS/1.0 ...\r\nKey: Value\r\n"), and the direct-get reply built
// from such a block: only noesis::ship::error may come out.
#include <string>

#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/error.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto [block, payload] = fuzz::split(fuzz::as_text(data, size));
  try {
    const auto parsed = detail::parse_header_block(block);
    (void)detail::find_header(parsed.headers, "Nats-Sequence");
  } catch (const error&) {
  }
  try {
    (void)detail::parse_direct_get_reply(block, std::string(payload), "fuzz");
  } catch (const error&) {
  }
  return 0;
}

// JetStream publish acknowledgement parsing and the generic API reply parsing.
#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/error.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  try {
    (void)detail::parse_pub_ack(text, "fuzz.subject");
  } catch (const error&) {
  }
  try {
    const auto reply = detail::parse_api_reply(text, "fuzz");
    (void)detail::parse_purge_reply(reply, "fuzz");
  } catch (const error&) {
  }
  try {
    (void)detail::parse_api_time(text, "fuzz");
  } catch (const error&) {
  }
  return 0;
}

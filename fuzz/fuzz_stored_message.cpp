// STREAM.MSG.GET reply parsing (JSON with base64 "hdrs" and "data") and stream info parsing.
#include <nlohmann/json.hpp>

#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/error.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  const auto reply = nlohmann::json::parse(text, nullptr, false);
  if (reply.is_discarded()) return 0;
  try {
    (void)detail::parse_stored_message(reply, "fuzz");
  } catch (const error&) {
  }
  try {
    (void)detail::parse_stream_info(reply, "fuzz");
  } catch (const error&) {
  }
  return 0;
}

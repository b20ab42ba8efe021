// JetStream ack reply subject parsing ($JS.ACK.<stream>.<consumer>...): never crashes, and a
// parsed subject has a stream and a consumer name.
#include <noesis/ship/detail/jetstream_api.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  if (const auto metadata = detail::parse_ack_subject(text)) {
    fuzz::require(!metadata->stream.empty());
    fuzz::require(!metadata->consumer.empty());
  }
  return 0;
}

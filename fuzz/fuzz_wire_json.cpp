// decode_json of the wire types (ShipEvent, ChannelMessage, Event, BeingStatus): only
// noesis::ship::error may come out, and a decoded value survives an encode and decode.
#include <noesis/ship/being_status.hpp>
#include <noesis/ship/channel_message.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/event.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/ship_event.hpp>

#include "fuzz_support.hpp"

namespace {

template <typename T>
void decode_and_round_trip(std::string_view text) {
  using namespace noesis::ship;
  T value;
  try {
    value = decode_json<T>(text, "fuzz");
  } catch (const error&) {
    return;
  }
  std::string encoded;
  try {
    encoded = encode_json(value);
  } catch (const error&) {
    return;  // for example a decoded string that is not valid UTF-8
  }
  const T again = decode_json<T>(encoded, "fuzz round trip");
  fuzz::require(encode_json(again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  decode_and_round_trip<ShipEvent<>>(text);
  decode_and_round_trip<ChannelMessage>(text);
  decode_and_round_trip<Event<>>(text);
  decode_and_round_trip<BeingStatus>(text);
  return 0;
}

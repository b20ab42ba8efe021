// Stream and consumer configurations read from JSON: only noesis::ship::error may come out, and
// a configuration read back from its own JSON is unchanged.
#include <nlohmann/json.hpp>

#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/stream_config.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto document = nlohmann::json::parse(fuzz::as_text(data, size), nullptr, false);
  if (document.is_discarded()) return 0;
  try {
    const StreamConfig config = stream_config_from_api_json(document);
    (void)stream_config_differences(config, config);
    try {
      validate(config);
      fuzz::require(stream_config_from_api_json(to_api_json(config)) == config);
    } catch (const error&) {
    }
  } catch (const error&) {
  }
  try {
    const ConsumerConfig config = consumer_config_from_api_json(document);
    (void)to_api_json(config);
    (void)parse_consumer_info(document, "fuzz");
  } catch (const error&) {
  }
  return 0;
}

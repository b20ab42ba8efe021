// Job decoding (from_json of Job<T>) for a JSON payload and a string payload: only
// noesis::ship::error may come out, and a decoded job survives an encode and decode.
#include <nlohmann/json.hpp>

#include <noesis/ship/error.hpp>
#include <noesis/ship/job.hpp>

#include "fuzz_support.hpp"

namespace {

template <typename Payload>
void decode(const nlohmann::json& document) {
  using namespace noesis::ship;
  Job<Payload> job;
  try {
    job = document.get<Job<Payload>>();
  } catch (const error&) {
    return;
  }
  const nlohmann::json encoded = job;
  const auto again = encoded.get<Job<Payload>>();
  fuzz::require(nlohmann::json(again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto document = nlohmann::json::parse(fuzz::as_text(data, size), nullptr, false);
  if (document.is_discarded()) return 0;
  decode<nlohmann::json>(document);
  decode<std::string>(document);
  return 0;
}

// Every validator in names.hpp: it must not crash, and validate_*() must throw exactly when
// is_valid_*() returns false.
#include <noesis/ship/error.hpp>
#include <noesis/ship/names.hpp>

#include "fuzz_support.hpp"

namespace {

using noesis::ship::fuzz::require;

template <typename Validate, typename IsValid>
void check_consistent(std::string_view text, Validate validate, IsValid is_valid) {
  bool threw = false;
  try {
    validate(text);
  } catch (const noesis::ship::error& e) {
    threw = true;
    require(e.code() == noesis::ship::condition::invalid_input);
  }
  require(threw == !is_valid(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto text = fuzz::as_text(data, size);
  for (const auto use : {SubjectUse::publish, SubjectUse::subscribe}) {
    check_consistent(text, [use](std::string_view s) { validate_subject(s, use); },
                     [use](std::string_view s) { return is_valid_subject(s, use); });
  }
  for (const auto use : {KeyUse::read, KeyUse::write}) {
    check_consistent(text, [use](std::string_view s) { validate_kv_key(s, use); },
                     [use](std::string_view s) { return is_valid_kv_key(s, use); });
  }
  check_consistent(text, [](std::string_view s) { validate_stream_name(s); }, &is_valid_stream_name);
  check_consistent(text, [](std::string_view s) { validate_consumer_name(s); }, &is_valid_consumer_name);
  check_consistent(text, [](std::string_view s) { validate_bucket_name(s); }, &is_valid_bucket_name);
  check_consistent(text, [](std::string_view s) { validate_kv_key_filter(s); }, &is_valid_kv_key_filter);
  check_consistent(text, [](std::string_view s) { validate_service_name(s); }, &is_valid_service_name);
  check_consistent(text, [](std::string_view s) { validate_object_name(s); }, &is_valid_object_name);
  check_consistent(text, [](std::string_view s) { validate_agent_name(s); }, &is_valid_agent_name);
  check_consistent(text, [](std::string_view s) { validate_channel_name(s); }, &is_valid_channel_name);
  return 0;
}

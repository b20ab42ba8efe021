// Micro service request handling without I/O: command routing from a request subject, control
// subjects, and the name and version validators.
#include <noesis/ship/detail/micro.hpp>
#include <noesis/ship/detail/service_routing.hpp>
#include <noesis/ship/error.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace noesis::ship;
  const auto [prefix, subject] = fuzz::split(fuzz::as_text(data, size));

  const std::string command = detail::command_from_subject(prefix, subject);
  fuzz::require(command.size() <= subject.size());
  (void)detail::unknown_command_response(command);
  (void)detail::error_response(subject, 400);

  bool threw = false;
  try {
    detail::validate_micro_name(prefix, "name");
  } catch (const error&) {
    threw = true;
  }
  fuzz::require(threw == !detail::is_valid_micro_name(prefix));

  threw = false;
  try {
    detail::validate_micro_version(subject);
  } catch (const error&) {
    threw = true;
  }
  fuzz::require(threw == !detail::is_semver(subject));

  try {
    (void)detail::micro_control_subjects(detail::MicroVerb::ping, prefix, subject);
  } catch (const error&) {
  }
  return 0;
}

// Object infos as the meta subject stores them (decode_object_info), and the ObjectMeta JSON that
// a put returns to callers: only noesis::ship::error may come out, and a decoded value survives
// an encode and decode unchanged.
#include <string>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/object_info.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/object_meta.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace noesis::ship;

void check_object_info(std::string_view text) {
  detail::ObjectInfo info;
  try {
    info = detail::decode_object_info(text, "fuzz");
  } catch (const error&) {
    return;
  }

  // The meta subject encodes any name, so every decoded name has one, and its token decodes
  // back to the name.
  const std::string subject = detail::object_meta_subject(info.bucket, info.name);
  const std::string prefix = "$O." + info.bucket + ".M.";
  fuzz::require(subject.compare(0, prefix.size(), prefix) == 0);
  fuzz::require(detail::base64url_decode(std::string_view(subject).substr(prefix.size())) == info.name);

  const std::string encoded = detail::encode_object_info(info);
  const detail::ObjectInfo again = detail::decode_object_info(encoded, "fuzz round trip");
  fuzz::require(again == info);
  fuzz::require(detail::encode_object_info(again) == encoded);
}

void check_object_meta(std::string_view text) {
  ObjectMeta meta;
  try {
    meta = decode_json<ObjectMeta>(text, "fuzz");
  } catch (const error&) {
    return;
  }
  std::string encoded;
  try {
    encoded = encode_json(meta);
  } catch (const error&) {
    return;  // for example a decoded string that is not valid UTF-8
  }
  const ObjectMeta again = decode_json<ObjectMeta>(encoded, "fuzz round trip");
  fuzz::require(again == meta);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = noesis::ship::fuzz::as_text(data, size);
  check_object_info(text);
  check_object_meta(text);
  return 0;
}

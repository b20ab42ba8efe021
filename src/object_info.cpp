#include <noesis/ship/detail/object_info.hpp>

#include <nlohmann/json.hpp>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/json_fields.hpp>
#include <noesis/ship/error.hpp>

namespace noesis::ship::detail {

namespace {

using ordered = nlohmann::ordered_json;

// Groups repeated header names into one array each, names in order of first appearance.
ordered encode_headers(const Headers& headers) {
  ordered grouped = ordered::object();
  for (const auto& [name, value] : headers) grouped[name].push_back(value);
  return grouped;
}

Headers decode_headers(const nlohmann::json& grouped, std::string_view context) {
  if (!grouped.is_object()) {
    throw error(errc::serialization, std::string(context) + ": \"headers\" is not an object");
  }
  Headers headers;
  for (const auto& [name, values] : grouped.items()) {
    if (values.is_string()) {
      headers.emplace_back(name, values.get<std::string>());
      continue;
    }
    if (!values.is_array()) {
      throw error(errc::serialization,
                  std::string(context) + ": header '" + name + "' is neither a string nor an array of strings");
    }
    for (const auto& value : values) headers.emplace_back(name, value.get<std::string>());
  }
  return headers;
}

void decode_options(const nlohmann::json& options, ObjectInfo& info, const std::string& context) {
  if (!options.is_object()) return;
  if (auto link = options.find("link"); link != options.end() && link->is_object()) {
    ObjectLink parsed;
    parsed.bucket = link->value("bucket", std::string());
    parsed.name = link->value("name", std::string());
    // Go writes an empty link object when none is set; only a bucket makes it a link.
    if (!parsed.bucket.empty()) info.link = std::move(parsed);
  }
  info.max_chunk_size = integer_field<std::uint32_t>(options, "max_chunk_size", 0, context);
}

}  // namespace

std::string encode_object_info(const ObjectInfo& info) {
  ordered j = ordered::object();
  j["name"] = info.name;
  if (!info.description.empty()) j["description"] = info.description;
  if (!info.headers.empty()) j["headers"] = encode_headers(info.headers);
  if (!info.metadata.empty()) j["metadata"] = info.metadata;

  ordered options = ordered::object();
  if (info.link) {
    ordered link = ordered::object();
    link["bucket"] = info.link->bucket;
    if (!info.link->name.empty()) link["name"] = info.link->name;
    options["link"] = std::move(link);
  }
  if (info.max_chunk_size != 0) options["max_chunk_size"] = info.max_chunk_size;
  if (!options.empty()) j["options"] = std::move(options);

  j["bucket"] = info.bucket;
  j["nuid"] = info.nuid;
  j["size"] = info.size;
  j["chunks"] = info.chunks;
  if (!info.digest.empty()) j["digest"] = info.digest;
  if (info.deleted) j["deleted"] = true;
  return j.dump();
}

ObjectInfo decode_object_info(std::string_view json, std::string_view context) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw error(errc::serialization, std::string(context) + ": the object info is not a JSON object");
  }
  const std::string malformed = std::string(context) + ": malformed object info";
  try {
    ObjectInfo info;
    info.name = j.at("name").get<std::string>();
    info.description = j.value("description", std::string());
    if (auto headers = j.find("headers"); headers != j.end() && !headers->is_null()) {
      info.headers = decode_headers(*headers, context);
    }
    if (auto metadata = j.find("metadata"); metadata != j.end() && !metadata->is_null()) {
      info.metadata = metadata->get<std::map<std::string, std::string>>();
    }
    if (auto options = j.find("options"); options != j.end()) decode_options(*options, info, malformed);
    info.bucket = j.value("bucket", std::string());
    info.nuid = j.value("nuid", std::string());
    info.size = integer_field<std::uint64_t>(j, "size", 0, malformed);
    info.chunks = integer_field<std::uint32_t>(j, "chunks", 0, malformed);
    info.digest = j.value("digest", std::string());
    info.deleted = j.value("deleted", false);
    return info;
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::serialization, std::string(context) + ": malformed object info: " + e.what());
  }
}

std::string object_stream_name(std::string_view bucket) { return "OBJ_" + std::string(bucket); }

std::string object_chunks_filter(std::string_view bucket) { return "$O." + std::string(bucket) + ".C.>"; }

std::string object_meta_filter(std::string_view bucket) { return "$O." + std::string(bucket) + ".M.>"; }

std::string object_chunk_subject(std::string_view bucket, std::string_view nuid) {
  return "$O." + std::string(bucket) + ".C." + std::string(nuid);
}

std::string object_meta_subject(std::string_view bucket, std::string_view name) {
  return "$O." + std::string(bucket) + ".M." + base64url_encode(name);
}

StreamConfig object_stream_config(std::string_view bucket, std::string_view description, std::chrono::seconds ttl,
                                  std::int64_t max_bytes, StorageType storage, int replicas) {
  StreamConfig config(object_stream_name(bucket), {object_chunks_filter(bucket), object_meta_filter(bucket)});
  config.description = std::string(description);
  config.max_age = ttl;
  config.max_msgs = -1;
  config.max_bytes = max_bytes;
  config.storage = storage;
  config.replicas = replicas;
  config.discard = DiscardPolicy::new_messages;
  config.allow_rollup_hdrs = true;
  config.allow_direct = true;
  return config;
}

}  // namespace noesis::ship::detail

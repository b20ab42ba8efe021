#include <noesis/ship/stream_config.hpp>
#include <noesis/ship/detail/json_fields.hpp>

#include <algorithm>
#include <set>

#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {
namespace {

using nlohmann::json;

[[noreturn]] void throw_unknown_value(std::string_view field, const std::string& value,
                                      std::string_view allowed) {
  throw error(errc::serialization, "stream config: unknown " + std::string(field) + " '" + value +
                                       "', expected one of " + std::string(allowed));
}

StorageType storage_from_string(const std::string& text) {
  if (text == "file") return StorageType::file;
  if (text == "memory") return StorageType::memory;
  throw_unknown_value("storage", text, "file, memory");
}

DiscardPolicy discard_from_string(const std::string& text) {
  if (text == "old") return DiscardPolicy::old_messages;
  if (text == "new") return DiscardPolicy::new_messages;
  throw_unknown_value("discard", text, "old, new");
}

RetentionPolicy retention_from_string(const std::string& text) {
  if (text == "limits") return RetentionPolicy::limits;
  if (text == "interest") return RetentionPolicy::interest;
  if (text == "workqueue") return RetentionPolicy::work_queue;
  throw_unknown_value("retention", text, "limits, interest, workqueue");
}

void check_limit(std::string_view field, int64_t value) {
  if (value < -1) {
    throw error(errc::invalid_argument,
                "stream config: " + std::string(field) + " " + std::to_string(value) +
                    " is invalid; use -1 for unlimited or a positive limit");
  }
}

// The server stores 0 as -1 for these limits, so both mean "unlimited".
int64_t normalized_limit(int64_t value) {
  return value == 0 ? -1 : value;
}

// The server stores 0 replicas as 1.
int normalized_replicas(int value) {
  return value == 0 ? 1 : value;
}

}  // namespace

std::string_view to_string(StorageType storage) noexcept {
  return storage == StorageType::memory ? "memory" : "file";
}

std::string_view to_string(DiscardPolicy discard) noexcept {
  return discard == DiscardPolicy::new_messages ? "new" : "old";
}

std::string_view to_string(RetentionPolicy retention) noexcept {
  switch (retention) {
    case RetentionPolicy::interest: return "interest";
    case RetentionPolicy::work_queue: return "workqueue";
    case RetentionPolicy::limits: break;
  }
  return "limits";
}

void validate(const StreamConfig& config) {
  validate_stream_name(config.name);

  if (config.subjects.empty()) {
    throw error(
        errc::invalid_argument,
        "stream '" + config.name + "': no subjects; give at least one subject such as 'orders.>'");
  }
  for (const auto& subject : config.subjects) validate_subject(subject, SubjectUse::subscribe);

  if (config.max_age.count() < 0) {
    throw error(errc::invalid_argument, "stream '" + config.name + "': max_age " +
                                            std::to_string(config.max_age.count()) +
                                            " s is negative; use 0 for no age limit");
  }
  // The API takes max_age in int64 nanoseconds, so a larger age cannot be sent.
  constexpr auto max_age_limit = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::nanoseconds::max());
  if (config.max_age > max_age_limit) {
    throw error(errc::invalid_argument, "stream '" + config.name + "': max_age " +
                                            std::to_string(config.max_age.count()) + " s is too large; the maximum is " +
                                            std::to_string(max_age_limit.count()) + " s (int64 nanoseconds)");
  }
  if (config.duplicate_window.count() < 0) {
    throw error(errc::invalid_argument, "stream '" + config.name + "': duplicate_window " +
                                            std::to_string(config.duplicate_window.count()) +
                                            " ns is negative; use 0 for the server default");
  }
  check_limit("max_msgs", config.max_msgs);
  check_limit("max_bytes", config.max_bytes);
  check_limit("max_msgs_per_subject", config.max_msgs_per_subject);
  check_limit("max_msg_size", config.max_msg_size);
  check_limit("max_consumers", config.max_consumers);

  if (config.replicas < 1 || config.replicas > 5) {
    throw error(errc::invalid_argument, "stream '" + config.name + "': replicas " +
                                            std::to_string(config.replicas) +
                                            " is invalid; allowed: 1 to 5");
  }
}

json to_api_json(const StreamConfig& config) {
  json body = {
      {"name", config.name},
      {"subjects", config.subjects},
      {"retention", to_string(config.retention)},
      {"max_consumers", config.max_consumers},
      {"max_msgs", config.max_msgs},
      {"max_bytes", config.max_bytes},
      {"max_age", std::chrono::nanoseconds(config.max_age).count()},
      {"max_msgs_per_subject", config.max_msgs_per_subject},
      {"max_msg_size", config.max_msg_size},
      {"discard", to_string(config.discard)},
      {"storage", to_string(config.storage)},
      {"num_replicas", config.replicas},
      {"allow_rollup_hdrs", config.allow_rollup_hdrs},
      {"deny_delete", config.deny_delete},
      {"deny_purge", config.deny_purge},
      {"allow_direct", config.allow_direct},
  };
  if (config.duplicate_window.count() != 0) {
    body["duplicate_window"] = config.duplicate_window.count();
  }
  if (!config.description.empty()) body["description"] = config.description;
  return body;
}

StreamConfig stream_config_from_api_json(const json& object) {
  try {
    StreamConfig config;
    config.name = object.value("name", std::string{});
    config.subjects = object.value("subjects", std::vector<std::string>{});
    config.description = object.value("description", std::string{});

    // Durations arrive in nanoseconds, but max_age keeps whole seconds, so a sub-second part is
    // lost.
    const auto max_age_ns = std::chrono::nanoseconds(detail::integer_field<int64_t>(object, "max_age", 0));
    config.max_age = std::chrono::duration_cast<std::chrono::seconds>(max_age_ns);
    config.duplicate_window =
        std::chrono::nanoseconds(detail::integer_field<int64_t>(object, "duplicate_window", 0));

    config.max_msgs = detail::integer_field(object, "max_msgs", config.max_msgs);
    config.max_bytes = detail::integer_field(object, "max_bytes", config.max_bytes);
    config.max_msgs_per_subject = detail::integer_field(object, "max_msgs_per_subject", config.max_msgs_per_subject);
    config.max_msg_size = detail::integer_field(object, "max_msg_size", config.max_msg_size);
    config.max_consumers = detail::integer_field(object, "max_consumers", config.max_consumers);
    config.replicas = detail::integer_field(object, "num_replicas", config.replicas);

    config.storage = storage_from_string(object.value("storage", std::string("file")));
    config.discard = discard_from_string(object.value("discard", std::string("old")));
    config.retention = retention_from_string(object.value("retention", std::string("limits")));

    config.allow_rollup_hdrs = object.value("allow_rollup_hdrs", false);
    config.deny_delete = object.value("deny_delete", false);
    config.deny_purge = object.value("deny_purge", false);
    config.allow_direct = object.value("allow_direct", false);
    return config;
  } catch (const json::exception& e) {
    throw error(errc::serialization, std::string("stream config: ") + e.what());
  }
}

std::vector<std::string> stream_config_differences(const StreamConfig& existing,
                                                   const StreamConfig& wanted) {
  std::vector<std::string> fields;
  const auto note_if = [&fields](bool differs, const char* field) {
    if (differs) fields.emplace_back(field);
  };

  note_if(existing.name != wanted.name, "name");

  const std::set<std::string> existing_subjects(existing.subjects.begin(), existing.subjects.end());
  const std::set<std::string> wanted_subjects(wanted.subjects.begin(), wanted.subjects.end());
  note_if(existing_subjects != wanted_subjects, "subjects");

  note_if(existing.retention != wanted.retention, "retention");
  note_if(normalized_limit(existing.max_consumers) != normalized_limit(wanted.max_consumers),
          "max_consumers");
  note_if(normalized_limit(existing.max_msgs) != normalized_limit(wanted.max_msgs), "max_msgs");
  note_if(normalized_limit(existing.max_bytes) != normalized_limit(wanted.max_bytes), "max_bytes");
  note_if(existing.max_age != wanted.max_age, "max_age");
  note_if(normalized_limit(existing.max_msgs_per_subject) !=
              normalized_limit(wanted.max_msgs_per_subject),
          "max_msgs_per_subject");
  note_if(normalized_limit(existing.max_msg_size) != normalized_limit(wanted.max_msg_size),
          "max_msg_size");
  note_if(existing.discard != wanted.discard, "discard");
  note_if(existing.storage != wanted.storage, "storage");
  note_if(normalized_replicas(existing.replicas) != normalized_replicas(wanted.replicas),
          "num_replicas");
  note_if(
      wanted.duplicate_window.count() != 0 && existing.duplicate_window != wanted.duplicate_window,
      "duplicate_window");
  note_if(existing.allow_rollup_hdrs != wanted.allow_rollup_hdrs, "allow_rollup_hdrs");
  note_if(existing.deny_delete != wanted.deny_delete, "deny_delete");
  note_if(existing.deny_purge != wanted.deny_purge, "deny_purge");
  note_if(existing.allow_direct != wanted.allow_direct, "allow_direct");
  note_if(!wanted.description.empty() && existing.description != wanted.description, "description");
  return fields;
}

}  // namespace noesis::ship

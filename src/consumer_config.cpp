#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/detail/json_fields.hpp>

#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship {
namespace {

using nlohmann::json;

[[noreturn]] void throw_unknown_value(std::string_view field, const std::string& value,
                                      std::string_view allowed) {
  throw error(errc::serialization, "consumer config: unknown " + std::string(field) + " '" + value +
                                       "', expected one of " + std::string(allowed));
}

DeliverPolicy deliver_policy_from_string(const std::string& text) {
  if (text == "all") return DeliverPolicy::all;
  if (text == "last") return DeliverPolicy::last;
  if (text == "new") return DeliverPolicy::new_messages;
  if (text == "by_start_sequence") return DeliverPolicy::by_start_sequence;
  if (text == "by_start_time") return DeliverPolicy::by_start_time;
  if (text == "last_per_subject") return DeliverPolicy::last_per_subject;
  throw_unknown_value("deliver_policy", text,
                      "all, last, new, by_start_sequence, by_start_time, last_per_subject");
}

AckPolicy ack_policy_from_string(const std::string& text) {
  if (text == "none") return AckPolicy::none;
  if (text == "all") return AckPolicy::all;
  if (text == "explicit") return AckPolicy::explicit_ack;
  throw_unknown_value("ack_policy", text, "none, all, explicit");
}

ReplayPolicy replay_policy_from_string(const std::string& text) {
  if (text == "instant") return ReplayPolicy::instant;
  if (text == "original") return ReplayPolicy::original;
  throw_unknown_value("replay_policy", text, "instant, original");
}

std::string consumer_label(const ConsumerConfig& config) {
  if (!config.durable_name.empty()) return "consumer '" + config.durable_name + "'";
  if (!config.name.empty()) return "consumer '" + config.name + "'";
  return "ephemeral consumer";
}

void check_duration(const ConsumerConfig& config, std::string_view field,
                    std::chrono::nanoseconds value) {
  if (value.count() < 0) {
    throw error(errc::invalid_argument, consumer_label(config) + ": " + std::string(field) + " " +
                                            std::to_string(value.count()) +
                                            " ns is negative; use 0 for the server default");
  }
}

std::chrono::nanoseconds nanoseconds_field(const json& object, const char* key) {
  return std::chrono::nanoseconds(detail::integer_field<int64_t>(object, key, 0));
}

SequencePair sequence_pair_from_json(const json& reply, const char* key) {
  SequencePair pair;
  const auto it = reply.find(key);
  if (it == reply.end()) return pair;
  pair.consumer_seq = detail::integer_field<uint64_t>(*it, "consumer_seq", 0);
  pair.stream_seq = detail::integer_field<uint64_t>(*it, "stream_seq", 0);
  return pair;
}

}  // namespace

std::string_view to_string(DeliverPolicy policy) noexcept {
  switch (policy) {
    case DeliverPolicy::last: return "last";
    case DeliverPolicy::new_messages: return "new";
    case DeliverPolicy::by_start_sequence: return "by_start_sequence";
    case DeliverPolicy::by_start_time: return "by_start_time";
    case DeliverPolicy::last_per_subject: return "last_per_subject";
    case DeliverPolicy::all: break;
  }
  return "all";
}

std::string_view to_string(AckPolicy policy) noexcept {
  switch (policy) {
    case AckPolicy::none: return "none";
    case AckPolicy::all: return "all";
    case AckPolicy::explicit_ack: break;
  }
  return "explicit";
}

std::string_view to_string(ReplayPolicy policy) noexcept {
  return policy == ReplayPolicy::original ? "original" : "instant";
}

void validate(const ConsumerConfig& config) {
  if (!config.durable_name.empty()) validate_consumer_name(config.durable_name);
  if (!config.name.empty()) validate_consumer_name(config.name);
  if (!config.durable_name.empty() && !config.name.empty() && config.durable_name != config.name) {
    throw error(errc::invalid_name, "consumer: durable_name '" + config.durable_name +
                                        "' and name '" + config.name +
                                        "' differ; set one of them, or both to the same value");
  }

  if (config.deliver_policy == DeliverPolicy::by_start_sequence && config.opt_start_seq == 0) {
    throw error(
        errc::invalid_argument,
        consumer_label(config) + ": deliver policy by_start_sequence needs opt_start_seq >= 1");
  }
  if (config.deliver_policy == DeliverPolicy::by_start_time && !config.opt_start_time) {
    throw error(errc::invalid_argument,
                consumer_label(config) + ": deliver policy by_start_time needs opt_start_time");
  }

  check_duration(config, "ack_wait", config.ack_wait);
  check_duration(config, "idle_heartbeat", config.idle_heartbeat);
  check_duration(config, "inactive_threshold", config.inactive_threshold);
  for (const auto delay : config.backoff) check_duration(config, "backoff", delay);

  if (config.flow_control &&
      (config.deliver_subject.empty() || config.idle_heartbeat.count() == 0)) {
    throw error(
        errc::invalid_argument,
        consumer_label(config) +
            ": flow_control is for push consumers and needs deliver_subject and idle_heartbeat");
  }
  if (config.max_deliver < -1) {
    throw error(errc::invalid_argument, consumer_label(config) + ": max_deliver " +
                                            std::to_string(config.max_deliver) +
                                            " is invalid; allowed: -1 or 0 (unlimited) or a positive count");
  }
  if (config.max_ack_pending < -1) {
    throw error(errc::invalid_argument, consumer_label(config) + ": max_ack_pending " +
                                            std::to_string(config.max_ack_pending) +
                                            " is invalid; allowed: -1 (unlimited), 0 (server default) or more");
  }
  if (config.max_waiting < 0) {
    throw error(errc::invalid_argument, consumer_label(config) + ": max_waiting " +
                                            std::to_string(config.max_waiting) +
                                            " is invalid; allowed: 0 (server default) or more");
  }
  if (config.num_replicas < 0 || config.num_replicas > 5) {
    throw error(errc::invalid_argument,
                consumer_label(config) + ": num_replicas " + std::to_string(config.num_replicas) +
                    " is invalid; allowed: 0 (inherit from the stream) to 5");
  }
}

json to_api_json(const ConsumerConfig& config) {
  json body = {
      {"deliver_policy", to_string(config.deliver_policy)},
      {"ack_policy", to_string(config.ack_policy)},
      {"replay_policy", to_string(config.replay_policy)},
  };
  const auto set_string = [&body](const char* key, const std::string& value) {
    if (!value.empty()) body[key] = value;
  };
  const auto set_positive = [&body](const char* key, int64_t value) {
    if (value > 0) body[key] = value;
  };
  const auto set_flag = [&body](const char* key, bool value) {
    if (value) body[key] = true;
  };

  set_string("durable_name", config.durable_name);
  set_string("name", config.name);
  set_string("description", config.description);
  set_string("filter_subject", config.filter_subject);
  set_string("deliver_subject", config.deliver_subject);
  set_string("deliver_group", config.deliver_group);

  if (config.opt_start_seq > 0) body["opt_start_seq"] = config.opt_start_seq;
  if (config.opt_start_time) body["opt_start_time"] = format_rfc3339(*config.opt_start_time);

  set_positive("ack_wait", config.ack_wait.count());
  set_positive("max_deliver", config.max_deliver);
  set_positive("idle_heartbeat", config.idle_heartbeat.count());
  set_positive("max_waiting", config.max_waiting);
  set_positive("inactive_threshold", config.inactive_threshold.count());
  set_positive("num_replicas", config.num_replicas);
  // -1 is sent because it differs from the server default of 1000 pending acks.
  if (config.max_ack_pending != 0) body["max_ack_pending"] = config.max_ack_pending;

  if (!config.backoff.empty()) {
    json delays = json::array();
    for (const auto delay : config.backoff) delays.push_back(delay.count());
    body["backoff"] = std::move(delays);
  }

  set_flag("flow_control", config.flow_control);
  set_flag("headers_only", config.headers_only);
  set_flag("mem_storage", config.mem_storage);
  return body;
}

ConsumerConfig consumer_config_from_api_json(const json& object) {
  try {
    ConsumerConfig config;
    config.durable_name = object.value("durable_name", std::string{});
    config.name = object.value("name", std::string{});
    config.description = object.value("description", std::string{});
    config.filter_subject = object.value("filter_subject", std::string{});
    config.deliver_subject = object.value("deliver_subject", std::string{});
    config.deliver_group = object.value("deliver_group", std::string{});

    config.deliver_policy =
        deliver_policy_from_string(object.value("deliver_policy", std::string("all")));
    config.ack_policy = ack_policy_from_string(object.value("ack_policy", std::string("none")));
    config.replay_policy =
        replay_policy_from_string(object.value("replay_policy", std::string("instant")));

    config.opt_start_seq = detail::integer_field<uint64_t>(object, "opt_start_seq", 0);
    if (const auto it = object.find("opt_start_time"); it != object.end() && it->is_string()) {
      config.opt_start_time =
          detail::parse_api_time(it->get<std::string>(), "consumer config opt_start_time");
    }

    config.ack_wait = nanoseconds_field(object, "ack_wait");
    config.max_deliver = detail::integer_field<int64_t>(object, "max_deliver", -1);
    config.idle_heartbeat = nanoseconds_field(object, "idle_heartbeat");
    config.inactive_threshold = nanoseconds_field(object, "inactive_threshold");
    config.max_ack_pending = detail::integer_field<int64_t>(object, "max_ack_pending", 0);
    config.max_waiting = detail::integer_field<int64_t>(object, "max_waiting", 0);
    config.num_replicas = detail::integer_field(object, "num_replicas", 0);

    if (const auto it = object.find("backoff"); it != object.end() && !it->is_null()) {
      if (!it->is_array()) throw error(errc::serialization, "consumer config: backoff is not an array");
      for (const auto& delay : *it) config.backoff.emplace_back(detail::integer_value<int64_t>(delay, "backoff"));
    }

    config.flow_control = object.value("flow_control", false);
    config.headers_only = object.value("headers_only", false);
    config.mem_storage = object.value("mem_storage", false);
    return config;
  } catch (const json::exception& e) {
    throw error(errc::serialization, std::string("consumer config: ") + e.what());
  }
}

json consumer_create_request(std::string_view stream, const ConsumerConfig& config) {
  return json{{"stream_name", stream}, {"config", to_api_json(config)}};
}

std::string consumer_create_subject(std::string_view api_prefix, std::string_view stream,
                                    const ConsumerConfig& config, bool extended_form) {
  const std::string& name = config.durable_name.empty() ? config.name : config.durable_name;

  if (extended_form && !name.empty()) {
    std::string suffix = "CONSUMER.CREATE." + std::string(stream) + "." + name;
    if (!config.filter_subject.empty()) suffix += "." + config.filter_subject;
    return detail::api_subject(api_prefix, suffix);
  }
  if (!config.durable_name.empty()) {
    return detail::api_subject(
        api_prefix, "CONSUMER.DURABLE.CREATE." + std::string(stream) + "." + config.durable_name);
  }
  return detail::api_subject(api_prefix, "CONSUMER.CREATE." + std::string(stream));
}

ConsumerInfo parse_consumer_info(const json& reply, std::string_view context) {
  detail::throw_if_api_error(reply, context);
  try {
    ConsumerInfo info;
    info.stream_name = reply.value("stream_name", std::string{});
    info.name = reply.value("name", std::string{});
    if (const auto it = reply.find("created"); it != reply.end() && it->is_string()) {
      info.created = detail::parse_api_time(it->get<std::string>(), context);
    }
    if (const auto it = reply.find("config"); it != reply.end()) {
      info.config = consumer_config_from_api_json(*it);
    }
    info.delivered = sequence_pair_from_json(reply, "delivered");
    info.ack_floor = sequence_pair_from_json(reply, "ack_floor");
    info.num_ack_pending = detail::integer_field<uint64_t>(reply, "num_ack_pending", 0, context);
    info.num_redelivered = detail::integer_field<uint64_t>(reply, "num_redelivered", 0, context);
    info.num_waiting = detail::integer_field<uint64_t>(reply, "num_waiting", 0, context);
    info.num_pending = detail::integer_field<uint64_t>(reply, "num_pending", 0, context);
    return info;
  } catch (const json::exception& e) {
    throw error(errc::serialization,
                std::string(context) + ": malformed consumer info: " + e.what());
  }
}

}  // namespace noesis::ship

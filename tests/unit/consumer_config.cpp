#include <noesis/ship/consumer_config.hpp>

#include <catch2/catch.hpp>

#include <noesis/ship/error.hpp>

using namespace std::chrono_literals;
using nlohmann::json;
using noesis::ship::AckPolicy;
using noesis::ship::ConsumerConfig;
using noesis::ship::DeliverPolicy;
using noesis::ship::errc;
using noesis::ship::ReplayPolicy;

namespace {

std::error_code validation_error(const ConsumerConfig& config) {
  try {
    noesis::ship::validate(config);
  } catch (const noesis::ship::error& e) {
    return e.code();
  }
  return {};
}

// The durable push consumer the event bus creates for subscribe("item.*", "audit").
ConsumerConfig event_bus_consumer() {
  ConsumerConfig config;
  config.durable_name = "audit";
  config.filter_subject = "ship.events.item.*";
  config.deliver_subject = "_deliver.audit.0b9f4a4e";
  return config;
}

}  // namespace

TEST_CASE("consumer config defaults", "[consumer_config]") {
  const ConsumerConfig config;
  CHECK(config.deliver_policy == DeliverPolicy::all);
  CHECK(config.ack_policy == AckPolicy::explicit_ack);
  CHECK(config.replay_policy == ReplayPolicy::instant);
  CHECK(config.ack_wait == 30s);
  CHECK(config.max_deliver == -1);
  CHECK_FALSE(config.opt_start_time.has_value());
}

TEST_CASE("consumer config durable push request JSON", "[consumer_config]") {
  const json expected = json::parse(R"({
    "stream_name": "SHIP_EVENTS",
    "config": {
      "durable_name": "audit",
      "deliver_policy": "all",
      "ack_policy": "explicit",
      "ack_wait": 30000000000,
      "replay_policy": "instant",
      "filter_subject": "ship.events.item.*",
      "deliver_subject": "_deliver.audit.0b9f4a4e"
    }
  })");
  CHECK(consumer_create_request("SHIP_EVENTS", event_bus_consumer()) == expected);
}

TEST_CASE("consumer config ephemeral pull request JSON", "[consumer_config]") {
  // The consumer channel history uses: no name, filter on one channel, nothing acked.
  ConsumerConfig config;
  config.filter_subject = "ship.channel.dev";
  config.ack_policy = AckPolicy::none;
  config.inactive_threshold = 5s;

  const json expected = json::parse(R"({
    "deliver_policy": "all",
    "ack_policy": "none",
    "ack_wait": 30000000000,
    "replay_policy": "instant",
    "filter_subject": "ship.channel.dev",
    "inactive_threshold": 5000000000
  })");
  CHECK(to_api_json(config) == expected);
}

TEST_CASE("consumer config optional fields", "[consumer_config]") {
  ConsumerConfig config;
  config.name = "kv_watch";
  config.description = "watch";
  config.deliver_policy = DeliverPolicy::last_per_subject;
  config.replay_policy = ReplayPolicy::original;
  config.ack_policy = AckPolicy::all;
  config.deliver_subject = "_INBOX.watch";
  config.deliver_group = "workers";
  config.flow_control = true;
  config.idle_heartbeat = 5s;
  config.headers_only = true;
  config.max_ack_pending = -1;
  config.max_deliver = 5;
  config.backoff = {1s, 5s, 30s};
  config.num_replicas = 1;
  config.mem_storage = true;

  const auto body = to_api_json(config);
  CHECK(body["name"] == "kv_watch");
  CHECK(body["description"] == "watch");
  CHECK(body["deliver_policy"] == "last_per_subject");
  CHECK(body["replay_policy"] == "original");
  CHECK(body["ack_policy"] == "all");
  CHECK(body["deliver_group"] == "workers");
  CHECK(body["flow_control"] == true);
  CHECK(body["idle_heartbeat"] == 5000000000);
  CHECK(body["headers_only"] == true);
  CHECK(body["max_ack_pending"] == -1);
  CHECK(body["max_deliver"] == 5);
  CHECK(body["backoff"] == json::array({1000000000, 5000000000, 30000000000}));
  CHECK(body["num_replicas"] == 1);
  CHECK(body["mem_storage"] == true);
  CHECK_FALSE(body.contains("durable_name"));

  // Defaults stay out of the request so the server applies its own.
  const auto defaults = to_api_json(ConsumerConfig{});
  for (const char* key :
       {"max_deliver", "max_ack_pending", "max_waiting", "idle_heartbeat", "flow_control",
        "headers_only", "backoff", "opt_start_seq", "opt_start_time", "num_replicas", "mem_storage",
        "filter_subject", "deliver_subject", "description", "name", "durable_name"}) {
    INFO(key);
    CHECK_FALSE(defaults.contains(key));
  }
}

TEST_CASE("consumer config start positions", "[consumer_config]") {
  ConsumerConfig by_sequence;
  by_sequence.deliver_policy = DeliverPolicy::by_start_sequence;
  by_sequence.opt_start_seq = 42;
  CHECK(to_api_json(by_sequence)["deliver_policy"] == "by_start_sequence");
  CHECK(to_api_json(by_sequence)["opt_start_seq"] == 42);

  ConsumerConfig by_time;
  by_time.deliver_policy = DeliverPolicy::by_start_time;
  // 2024-01-02T03:04:05.123456789Z
  by_time.opt_start_time = std::chrono::system_clock::time_point(1704164645123456789ns);
  const auto body = to_api_json(by_time);
  CHECK(body["deliver_policy"] == "by_start_time");
  CHECK(body["opt_start_time"] == "2024-01-02T03:04:05.123456789+00:00");

  CHECK(noesis::ship::consumer_config_from_api_json(body).opt_start_time == by_time.opt_start_time);

  ConsumerConfig newest;
  newest.deliver_policy = DeliverPolicy::new_messages;
  CHECK(to_api_json(newest)["deliver_policy"] == "new");
  newest.deliver_policy = DeliverPolicy::last;
  CHECK(to_api_json(newest)["deliver_policy"] == "last");
}

TEST_CASE("consumer config JSON round trip", "[consumer_config]") {
  ConsumerConfig config = event_bus_consumer();
  config.description = "audit trail";
  config.deliver_policy = DeliverPolicy::by_start_sequence;
  config.opt_start_seq = 7;
  config.ack_wait = 10s;
  config.max_deliver = 3;
  config.backoff = {1s, 2s};
  config.replay_policy = ReplayPolicy::original;
  config.deliver_group = "auditors";
  config.flow_control = true;
  config.idle_heartbeat = 2s;
  config.headers_only = true;
  config.max_ack_pending = 100;
  config.inactive_threshold = 1min;
  config.num_replicas = 3;
  config.mem_storage = true;

  CHECK(noesis::ship::consumer_config_from_api_json(to_api_json(config)) == config);
}

TEST_CASE("consumer config parse rejects bad values", "[consumer_config]") {
  const auto parse_error = [](const char* text) -> std::error_code {
    try {
      noesis::ship::consumer_config_from_api_json(json::parse(text));
    } catch (const noesis::ship::error& e) {
      return e.code();
    }
    return {};
  };
  CHECK(parse_error(R"({"deliver_policy":"oldest"})") == errc::serialization);
  CHECK(parse_error(R"({"ack_policy":"sometimes"})") == errc::serialization);
  CHECK(parse_error(R"({"replay_policy":"slow"})") == errc::serialization);
  CHECK(parse_error(R"({"ack_wait":"30s"})") == errc::serialization);
  CHECK(parse_error(R"({"opt_start_time":"yesterday"})") == errc::serialization);
  CHECK_FALSE(parse_error(R"({"deliver_policy":"all","ack_policy":"explicit"})"));
}

TEST_CASE("consumer create subject forms", "[consumer_config]") {
  using noesis::ship::consumer_create_subject;
  const auto durable = event_bus_consumer();

  CHECK(consumer_create_subject("$JS.API", "SHIP_EVENTS", durable, false) ==
        "$JS.API.CONSUMER.DURABLE.CREATE.SHIP_EVENTS.audit");
  CHECK(consumer_create_subject("$JS.API", "SHIP_EVENTS", durable, true) ==
        "$JS.API.CONSUMER.CREATE.SHIP_EVENTS.audit.ship.events.item.*");

  ConsumerConfig ephemeral;
  CHECK(consumer_create_subject("$JS.API", "CHANNELS", ephemeral, false) ==
        "$JS.API.CONSUMER.CREATE.CHANNELS");
  // Without a name the extended form cannot be built, so the classic one is used.
  CHECK(consumer_create_subject("$JS.API", "CHANNELS", ephemeral, true) ==
        "$JS.API.CONSUMER.CREATE.CHANNELS");

  ConsumerConfig named;
  named.name = "history_1";
  CHECK(consumer_create_subject("$JS.API", "CHANNELS", named, true) ==
        "$JS.API.CONSUMER.CREATE.CHANNELS.history_1");
  CHECK(consumer_create_subject("$JS.API", "CHANNELS", named, false) ==
        "$JS.API.CONSUMER.CREATE.CHANNELS");

  // A JetStream domain changes the API prefix.
  CHECK(consumer_create_subject("$JS.hub.API", "SHIP_EVENTS", durable, false) ==
        "$JS.hub.API.CONSUMER.DURABLE.CREATE.SHIP_EVENTS.audit");
}

TEST_CASE("consumer info parsed from a create reply", "[consumer_config]") {
  const auto reply = json::parse(R"({
    "type": "io.nats.jetstream.api.v1.consumer_create_response",
    "stream_name": "SHIP_EVENTS",
    "name": "audit",
    "created": "2023-01-17T10:22:33.123456789Z",
    "config": {
      "durable_name": "audit",
      "name": "audit",
      "deliver_policy": "all",
      "ack_policy": "explicit",
      "ack_wait": 30000000000,
      "max_deliver": -1,
      "filter_subject": "ship.events.item.*",
      "replay_policy": "instant",
      "max_ack_pending": 1000,
      "deliver_subject": "_deliver.audit.0b9f4a4e",
      "num_replicas": 0
    },
    "delivered": {"consumer_seq": 12, "stream_seq": 40},
    "ack_floor": {"consumer_seq": 10, "stream_seq": 38},
    "num_ack_pending": 2,
    "num_redelivered": 1,
    "num_waiting": 0,
    "num_pending": 5,
    "cluster": {"leader": "NCXV4K"},
    "push_bound": true
  })");
  const auto info = noesis::ship::parse_consumer_info(reply, "create consumer 'audit'");
  CHECK(info.stream_name == "SHIP_EVENTS");
  CHECK(info.name == "audit");
  CHECK(info.created.time_since_epoch() == 1673950953123456789ns);
  CHECK(info.config.durable_name == "audit");
  CHECK(info.config.deliver_subject == "_deliver.audit.0b9f4a4e");
  CHECK(info.config.filter_subject == "ship.events.item.*");
  CHECK(info.config.ack_policy == AckPolicy::explicit_ack);
  CHECK(info.config.ack_wait == 30s);
  CHECK(info.config.max_ack_pending == 1000);
  CHECK(info.delivered.consumer_seq == 12);
  CHECK(info.delivered.stream_seq == 40);
  CHECK(info.ack_floor.consumer_seq == 10);
  CHECK(info.ack_floor.stream_seq == 38);
  CHECK(info.num_ack_pending == 2);
  CHECK(info.num_redelivered == 1);
  CHECK(info.num_waiting == 0);
  CHECK(info.num_pending == 5);
}

TEST_CASE("consumer info error reply", "[consumer_config]") {
  const auto reply = json::parse(R"({
    "type": "io.nats.jetstream.api.v1.consumer_info_response",
    "error": {"code": 404, "err_code": 10014, "description": "consumer not found"}
  })");
  try {
    noesis::ship::parse_consumer_info(reply, "consumer 'audit' on stream 'SHIP_EVENTS'");
    FAIL("an error reply was parsed as consumer info");
  } catch (const noesis::ship::error& e) {
    CHECK(e.code() == noesis::ship::make_jetstream_error_code(10014));
    CHECK(e.code() == noesis::ship::condition::jetstream);
    CHECK_THAT(e.what(), Catch::Contains("consumer 'audit' on stream 'SHIP_EVENTS'"));
    CHECK_THAT(e.what(), Catch::Contains("consumer not found"));
  }
}

TEST_CASE("consumer config validation", "[consumer_config]") {
  CHECK_FALSE(validation_error(event_bus_consumer()));
  CHECK_FALSE(validation_error(ConsumerConfig{}));

  struct Case {
    const char* label;
    void (*change)(ConsumerConfig&);
    errc expected;
  };
  const std::vector<Case> cases = {
      {"dot in durable", [](ConsumerConfig& c) { c.durable_name = "a.b"; }, errc::invalid_name},
      {"gt in durable", [](ConsumerConfig& c) { c.durable_name = "a>"; }, errc::invalid_name},
      {"space in name", [](ConsumerConfig& c) { c.name = "a b"; }, errc::invalid_name},
      {"durable and name differ",
       [](ConsumerConfig& c) {
         c.durable_name = "a";
         c.name = "b";
       },
       errc::invalid_name},
      {"start sequence missing",
       [](ConsumerConfig& c) { c.deliver_policy = DeliverPolicy::by_start_sequence; },
       errc::invalid_argument},
      {"start time missing",
       [](ConsumerConfig& c) { c.deliver_policy = DeliverPolicy::by_start_time; },
       errc::invalid_argument},
      {"flow control without heartbeat",
       [](ConsumerConfig& c) {
         c.deliver_subject = "_INBOX.x";
         c.flow_control = true;
       },
       errc::invalid_argument},
      {"flow control on pull",
       [](ConsumerConfig& c) {
         c.flow_control = true;
         c.idle_heartbeat = 5s;
       },
       errc::invalid_argument},
      {"negative ack_wait", [](ConsumerConfig& c) { c.ack_wait = -1s; }, errc::invalid_argument},
      {"negative backoff",
       [](ConsumerConfig& c) {
         c.backoff = {1s, -1s};
       },
       errc::invalid_argument},
      {"six replicas", [](ConsumerConfig& c) { c.num_replicas = 6; }, errc::invalid_argument},
  };
  for (const auto& c : cases) {
    INFO(c.label);
    ConsumerConfig config;
    c.change(config);
    CHECK(validation_error(config) == c.expected);
  }

  ConsumerConfig same_names;
  same_names.durable_name = "audit";
  same_names.name = "audit";
  CHECK_FALSE(validation_error(same_names));
}

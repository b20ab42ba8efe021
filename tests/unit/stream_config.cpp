#include <noesis/ship/stream_config.hpp>

#include <catch2/catch.hpp>

#include <noesis/ship/error.hpp>

using namespace std::chrono_literals;
using nlohmann::json;
using noesis::ship::DiscardPolicy;
using noesis::ship::errc;
using noesis::ship::RetentionPolicy;
using noesis::ship::StorageType;
using noesis::ship::StreamConfig;

namespace {

// The error code validate() throws for `config`, or a default (success) code when it passes.
std::error_code validation_error(const StreamConfig& config) {
  try {
    noesis::ship::validate(config);
  } catch (const noesis::ship::error& e) {
    return e.code();
  }
  return {};
}

StreamConfig ship_events() {
  return StreamConfig("SHIP_EVENTS", {"ship.events.>"});
}

}  // namespace

TEST_CASE("stream config defaults match the Rust crate", "[stream_config]") {
  const auto config = ship_events();
  CHECK(config.max_age == 86400s);
  CHECK(config.max_msgs == 100000);
  CHECK(config.storage == StorageType::file);
  CHECK(config.max_bytes == -1);
  CHECK(config.replicas == 1);
  CHECK(config.discard == DiscardPolicy::old_messages);
  CHECK(config.retention == RetentionPolicy::limits);
  CHECK(config.duplicate_window == 0ns);
}

TEST_CASE("stream config SHIP_EVENTS request JSON", "[stream_config]") {
  const json expected = json::parse(R"({
    "name": "SHIP_EVENTS",
    "subjects": ["ship.events.>"],
    "retention": "limits",
    "max_consumers": -1,
    "max_msgs": 100000,
    "max_bytes": -1,
    "max_age": 86400000000000,
    "max_msgs_per_subject": -1,
    "max_msg_size": -1,
    "discard": "old",
    "storage": "file",
    "num_replicas": 1,
    "allow_rollup_hdrs": false,
    "deny_delete": false,
    "deny_purge": false,
    "allow_direct": false
  })");
  CHECK(to_api_json(ship_events()) == expected);
}

TEST_CASE("stream config builders chain", "[stream_config]") {
  const auto channels = StreamConfig("CHANNELS", {"ship.channel.>"})
                            .with_max_age(2592000s)
                            .with_max_msgs(10000)
                            .with_memory_storage();
  CHECK(channels.name == "CHANNELS");
  CHECK(channels.max_age == 2592000s);
  CHECK(channels.max_msgs == 10000);
  CHECK(channels.storage == StorageType::memory);

  const auto body = to_api_json(channels);
  CHECK(body["max_age"] == 2592000000000000);
  CHECK(body["max_msgs"] == 10000);
  CHECK(body["storage"] == "memory");

  StreamConfig named("KV_cfg", {"$KV.cfg.>"});
  named.with_max_msgs(5).with_max_age(60s);
  CHECK(named.max_msgs == 5);
  CHECK(named.max_age == 60s);
}

TEST_CASE("stream config optional fields and enum names", "[stream_config]") {
  auto config = StreamConfig("KV_cfg", {"$KV.cfg.>"});
  config.duplicate_window = 2min;
  config.description = "config bucket";
  config.discard = DiscardPolicy::new_messages;
  config.retention = RetentionPolicy::work_queue;
  config.max_msgs_per_subject = 5;
  config.allow_rollup_hdrs = true;
  config.deny_delete = true;
  config.allow_direct = true;
  config.replicas = 3;

  const auto body = to_api_json(config);
  CHECK(body["duplicate_window"] == 120000000000);
  CHECK(body["description"] == "config bucket");
  CHECK(body["discard"] == "new");
  CHECK(body["retention"] == "workqueue");
  CHECK(body["max_msgs_per_subject"] == 5);
  CHECK(body["allow_rollup_hdrs"] == true);
  CHECK(body["deny_delete"] == true);
  CHECK(body["allow_direct"] == true);
  CHECK(body["num_replicas"] == 3);

  CHECK_FALSE(to_api_json(ship_events()).contains("duplicate_window"));
  CHECK_FALSE(to_api_json(ship_events()).contains("description"));

  config.retention = RetentionPolicy::interest;
  CHECK(to_api_json(config)["retention"] == "interest");
}

TEST_CASE("stream config JSON round trip", "[stream_config]") {
  auto config = StreamConfig("OBJ_files", {"$O.files.C.>", "$O.files.M.>"}).with_memory_storage();
  config.max_bytes = 1 << 20;
  config.max_msg_size = 4096;
  config.max_consumers = 10;
  config.replicas = 3;
  config.discard = DiscardPolicy::new_messages;
  config.retention = RetentionPolicy::interest;
  config.duplicate_window = 30s;
  config.allow_rollup_hdrs = true;
  config.deny_purge = true;
  config.description = "files";

  CHECK(noesis::ship::stream_config_from_api_json(to_api_json(config)) == config);
}

TEST_CASE("stream config parsed from a server reply", "[stream_config]") {
  // The shape nats-server 2.9 returns in "config" of a stream info reply, with fields this
  // struct does not model (sealed, mirror_direct...) that the parser ignores.
  const auto object = json::parse(R"({
    "name": "SHIP_EVENTS",
    "subjects": ["ship.events.>"],
    "retention": "limits",
    "max_consumers": -1,
    "max_msgs": 100000,
    "max_bytes": -1,
    "max_age": 86400000000000,
    "max_msgs_per_subject": -1,
    "max_msg_size": -1,
    "discard": "old",
    "storage": "file",
    "num_replicas": 1,
    "duplicate_window": 120000000000,
    "allow_direct": false,
    "mirror_direct": false,
    "sealed": false,
    "deny_delete": false,
    "deny_purge": false,
    "allow_rollup_hdrs": false
  })");
  const auto config = noesis::ship::stream_config_from_api_json(object);
  CHECK(config.name == "SHIP_EVENTS");
  CHECK(config.subjects == std::vector<std::string>{"ship.events.>"});
  CHECK(config.max_age == 86400s);
  CHECK(config.max_msgs == 100000);
  CHECK(config.storage == StorageType::file);
  CHECK(config.duplicate_window == 2min);
  CHECK(noesis::ship::stream_config_differences(config, ship_events()).empty());
}

TEST_CASE("stream config parse rejects bad values", "[stream_config]") {
  const auto parse_error = [](const char* text) -> std::error_code {
    try {
      noesis::ship::stream_config_from_api_json(json::parse(text));
    } catch (const noesis::ship::error& e) {
      return e.code();
    }
    return {};
  };
  CHECK(parse_error(R"({"name":"S","storage":"tape"})") == errc::serialization);
  CHECK(parse_error(R"({"name":"S","discard":"middle"})") == errc::serialization);
  CHECK(parse_error(R"({"name":"S","retention":"forever"})") == errc::serialization);
  CHECK(parse_error(R"({"name":"S","max_msgs":"many"})") == errc::serialization);
  CHECK(parse_error(R"({"name":"S","subjects":"a.b"})") == errc::serialization);
  CHECK_FALSE(parse_error(R"({"name":"S"})"));
}

TEST_CASE("stream config validation", "[stream_config]") {
  CHECK_FALSE(validation_error(ship_events()));

  struct Case {
    const char* label;
    StreamConfig config;
    errc expected;
  };
  const auto with = [](auto change) {
    auto config = ship_events();
    change(config);
    return config;
  };
  const std::vector<Case> cases = {
      {"empty name", StreamConfig("", {"a.>"}), errc::invalid_name},
      {"dot in name", StreamConfig("a.b", {"a.>"}), errc::invalid_name},
      {"star in name", StreamConfig("a*", {"a.>"}), errc::invalid_name},
      {"gt in name", StreamConfig("a>", {"a.>"}), errc::invalid_name},
      {"space in name", StreamConfig("a b", {"a.>"}), errc::invalid_name},
      {"tab in name", StreamConfig("a\tb", {"a.>"}), errc::invalid_name},
      {"slash in name", StreamConfig("a/b", {"a.>"}), errc::invalid_name},
      {"no subjects", StreamConfig("S", {}), errc::invalid_argument},
      {"empty subject token", StreamConfig("S", {"a..b"}), errc::invalid_subject},
      {"negative max_age", with([](StreamConfig& c) { c.max_age = -1s; }), errc::invalid_argument},
      {"negative duplicate_window", with([](StreamConfig& c) { c.duplicate_window = -1ns; }),
       errc::invalid_argument},
      {"max_msgs below -1", with([](StreamConfig& c) { c.max_msgs = -2; }), errc::invalid_argument},
      {"max_bytes below -1", with([](StreamConfig& c) { c.max_bytes = -5; }),
       errc::invalid_argument},
      {"max_msg_size below -1", with([](StreamConfig& c) { c.max_msg_size = -2; }),
       errc::invalid_argument},
      {"zero replicas", with([](StreamConfig& c) { c.replicas = 0; }), errc::invalid_argument},
      {"six replicas", with([](StreamConfig& c) { c.replicas = 6; }), errc::invalid_argument},
  };
  for (const auto& c : cases) {
    INFO(c.label);
    CHECK(validation_error(c.config) == c.expected);
  }

  CHECK_FALSE(validation_error(with([](StreamConfig& c) { c.replicas = 5; })));
  CHECK_FALSE(validation_error(with([](StreamConfig& c) { c.max_age = 0s; })));
}

TEST_CASE("stream config validation message names the value", "[stream_config]") {
  try {
    noesis::ship::validate(StreamConfig("ship events", {"a.>"}));
    FAIL("validate accepted a name with a space");
  } catch (const noesis::ship::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("ship events"));
  }
  try {
    auto config = ship_events();
    config.replicas = 7;
    noesis::ship::validate(config);
    FAIL("validate accepted 7 replicas");
  } catch (const noesis::ship::error& e) {
    CHECK_THAT(e.what(), Catch::Contains("7"));
    CHECK_THAT(e.what(), Catch::Contains("1 to 5"));
  }
}

TEST_CASE("stream config differences table", "[stream_config]") {
  using Fields = std::vector<std::string>;
  const auto differences = [](auto change_existing, auto change_wanted) {
    auto existing = ship_events();
    auto wanted = ship_events();
    change_existing(existing);
    change_wanted(wanted);
    return noesis::ship::stream_config_differences(existing, wanted);
  };
  const auto same = [](StreamConfig&) {};

  CHECK(differences(same, same).empty());

  // Server-filled values that `wanted` leaves at "don't care".
  CHECK(differences([](StreamConfig& c) { c.duplicate_window = 2min; }, same).empty());
  CHECK(differences([](StreamConfig& c) { c.description = "set by an operator"; }, same).empty());
  // 0 and -1 both mean unlimited; 0 replicas means 1.
  CHECK(differences([](StreamConfig& c) { c.max_bytes = 0; }, same).empty());
  CHECK(differences([](StreamConfig& c) { c.max_msg_size = 0; }, same).empty());
  CHECK(differences(same, [](StreamConfig& c) { c.replicas = 0; }).empty());
  // Subject order does not matter.
  CHECK(differences(
            [](StreamConfig& c) {
              c.subjects = {"b.>", "a.>"};
            },
            [](StreamConfig& c) {
              c.subjects = {"a.>", "b.>"};
            })
            .empty());

  CHECK(differences(same, [](StreamConfig& c) { c.max_age = 3600s; }) == Fields{"max_age"});
  CHECK(differences(same, [](StreamConfig& c) { c.max_msgs = 10; }) == Fields{"max_msgs"});
  CHECK(differences(same, [](StreamConfig& c) { c.subjects.push_back("more.>"); }) ==
        Fields{"subjects"});
  CHECK(differences(same, [](StreamConfig& c) { c.storage = StorageType::memory; }) ==
        Fields{"storage"});
  CHECK(differences([](StreamConfig& c) { c.duplicate_window = 2min; },
                    [](StreamConfig& c) { c.duplicate_window = 1min; }) ==
        Fields{"duplicate_window"});
  CHECK(differences(same, [](StreamConfig& c) { c.description = "events"; }) ==
        Fields{"description"});
  CHECK(differences(same, [](StreamConfig& c) { c.allow_direct = true; }) ==
        Fields{"allow_direct"});
  CHECK(differences(same, [](StreamConfig& c) { c.discard = DiscardPolicy::new_messages; }) ==
        Fields{"discard"});
  CHECK(differences(same, [](StreamConfig& c) { c.retention = RetentionPolicy::work_queue; }) ==
        Fields{"retention"});
  CHECK(differences(same, [](StreamConfig& c) { c.replicas = 3; }) == Fields{"num_replicas"});
  CHECK(differences(same, [](StreamConfig& c) { c.max_msgs_per_subject = 1; }) ==
        Fields{"max_msgs_per_subject"});

  CHECK(differences(same, [](StreamConfig& c) {
          c.max_age = 60s;
          c.max_msgs = 1;
          c.deny_delete = true;
        }) == Fields{"max_msgs", "max_age", "deny_delete"});
}

// The JSON shared with the Rust noesis-ship. The golden fixtures in tests/fixtures/ are written
// in the Rust library's format. Every wire type must decode them and encode back to exactly the
// same keys, in the same order, with the same values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <noesis/ship/being_status.hpp>
#include <noesis/ship/channel_message.hpp>
#include <noesis/ship/event.hpp>
#include <noesis/ship/event_type.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/object_meta.hpp>
#include <noesis/ship/ship_event.hpp>
#include <noesis/ship/timestamp.hpp>

namespace ship = noesis::ship;
using namespace std::chrono_literals;

namespace {

// The build may name the fixture folder, otherwise it is found next to this source file.
#ifdef NOESIS_SHIP_FIXTURES_DIR
const std::filesystem::path fixtures_dir{NOESIS_SHIP_FIXTURES_DIR};
#else
const std::filesystem::path fixtures_dir =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "fixtures";
#endif

std::string read_fixture(const std::string& name) {
  const auto path = fixtures_dir / name;
  std::ifstream file(path);
  INFO("fixture " << path.string());
  REQUIRE(file.is_open());
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The fixture as an order-preserving document.
nlohmann::ordered_json fixture_document(const std::string& name) {
  return nlohmann::ordered_json::parse(read_fixture(name));
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

// Checks that `value` encodes to the fixture: the same keys in the same order, equal values,
// and byte for byte the fixture's compact form.
template <class T>
void check_encodes_to_fixture(const T& value, const std::string& name) {
  const auto expected = fixture_document(name);
  const std::string encoded = ship::encode_json(value);
  const auto actual = nlohmann::ordered_json::parse(encoded);

  CHECK(keys_of(actual) == keys_of(expected));
  CHECK(nlohmann::json(actual) == nlohmann::json(expected));
  CHECK(encoded == expected.dump());
}

std::chrono::system_clock::time_point utc(int year, unsigned month, unsigned day, int hour,
                                          int minute, int second, std::int64_t nanos = 0) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / month / day} + hours{hour} + minutes{minute} +
         seconds{second} + nanoseconds{nanos};
}

// The instant of the fixtures' timestamps, 2026-03-20T04:37:32.123456789Z.
const auto fixture_time = utc(2026, 3, 20, 4, 37, 32, 123'456'789);

// Typed payloads, converted by the nlohmann macros. These sort object keys, as serde_json's
// Value does without its preserve_order feature.
struct ItemCreated {
  int count = 0;
  std::string id;
  std::vector<std::string> tags;
  friend bool operator==(const ItemCreated&, const ItemCreated&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ItemCreated, count, id, tags)

struct Deployment {
  std::string region;
  int replicas = 0;
  friend bool operator==(const Deployment&, const Deployment&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Deployment, region, replicas)

ship::ShipEvent<> fixture_ship_event() {
  ship::ShipEvent<> event;
  event.event_type = "item.created";
  event.timestamp = "2026-03-20T04:37:32.123456789+00:00";
  event.source = "builder";
  event.payload = {{"count", 3}, {"id", "item-42"}, {"tags", {"new", "urgent"}}};
  event.correlation_id = "9f86d081";
  return event;
}

ship::Event<> fixture_event() {
  ship::Event<> event;
  event.event_type = "deploy.started";
  event.source = "being-1";
  event.payload = {{"region", "eu-west"}, {"replicas", 2}};
  event.timestamp = "2026-03-20T04:37:32.123456789+00:00";
  return event;
}

ship::ChannelMessage fixture_message_with_metadata() {
  ship::ChannelMessage message;
  message.sender = "agent-1";
  message.content = "build finished";
  message.timestamp = 1773981452.123456789;
  message.channel = "dev";
  message.message_id = "dev-1773981452123456789";
  message.metadata = nlohmann::json{{"priority", "high"}, {"thread", 7}};
  return message;
}

ship::ChannelMessage fixture_message_without_metadata() {
  ship::ChannelMessage message;
  message.sender = "agent-2";
  message.content = "on it";
  message.timestamp = 1773981460.5;
  message.channel = "dev";
  message.message_id = "dev-1773981460500000000";
  return message;
}

ship::BeingStatus fixture_being_status() {
  ship::BeingStatus status;
  status.being_id = "being-1";
  status.state = ship::BeingState::working;
  status.current_task = "BUILD-007";
  status.last_heartbeat = "2026-03-20T04:37:32.123456789+00:00";
  status.uptime_seconds = 3600;
  status.memory_mb = 512.5;
  status.capabilities = {"rust", "cpp"};
  status.metadata = {{"host", "worker-3"}, {"zone", "a"}};
  return status;
}

ship::BeingStatus fixture_being_status_nulls() {
  ship::BeingStatus status;
  status.being_id = "being-2";
  status.state = ship::BeingState::idle;
  status.last_heartbeat = "2026-03-20T04:37:32.120+00:00";
  return status;
}

ship::ObjectMeta fixture_object_meta() {
  ship::ObjectMeta meta;
  meta.name = "hello.txt";
  meta.bucket = "artifacts";
  meta.size = 4;
  meta.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  meta.created = "2026-03-20T04:37:32.123456+00:00";
  meta.description = "type=report, expedition=BUILD-007";
  meta.nuid = "Y8hcLmYVHfWzM9Fj5qRt2N";
  meta.chunks = 1;
  meta.digest = "SHA-256=n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg=";
  return meta;
}

// Asserts that decoding `text` as T throws a serialization error whose message starts with
// the context.
template <class T>
void check_decode_fails(const std::string& text) {
  INFO("input: " << text);
  try {
    (void)ship::decode_json<T>(text, "test subject");
    FAIL("decode_json accepted malformed input");
  } catch (const ship::error& e) {
    CHECK(e.code() == ship::errc::serialization);
    CHECK(std::string(e.what()).rfind("test subject: ", 0) == 0);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Golden fixtures

TEST_CASE("ShipEvent fixture decodes and encodes back", "[wire]") {
  const auto decoded = ship::decode_json<ship::ShipEvent<>>(read_fixture("ship_event.json"), "ship_event.json");
  CHECK(decoded == fixture_ship_event());
  CHECK(decoded.version == "1.0");
  check_encodes_to_fixture(fixture_ship_event(), "ship_event.json");
}

TEST_CASE("Event fixture decodes and encodes back", "[wire]") {
  const auto decoded = ship::decode_json<ship::Event<>>(read_fixture("event.json"), "event.json");
  CHECK(decoded == fixture_event());
  CHECK_FALSE(decoded.correlation_id.has_value());
  check_encodes_to_fixture(fixture_event(), "event.json");
}

TEST_CASE("ChannelMessage fixture with metadata round trips", "[wire]") {
  const auto decoded = ship::decode_json<ship::ChannelMessage>(
      read_fixture("channel_message_with_metadata.json"), "channel message");
  CHECK(decoded == fixture_message_with_metadata());
  CHECK(decoded.sequence == 0);
  check_encodes_to_fixture(fixture_message_with_metadata(), "channel_message_with_metadata.json");
}

TEST_CASE("ChannelMessage fixture without metadata round trips", "[wire]") {
  const auto decoded = ship::decode_json<ship::ChannelMessage>(
      read_fixture("channel_message_without_metadata.json"), "channel message");
  CHECK(decoded == fixture_message_without_metadata());
  CHECK_FALSE(decoded.metadata.has_value());
  check_encodes_to_fixture(fixture_message_without_metadata(),
                           "channel_message_without_metadata.json");
}

TEST_CASE("BeingStatus fixture round trips", "[wire]") {
  const auto decoded =
      ship::decode_json<ship::BeingStatus>(read_fixture("being_status.json"), "beings_status");
  CHECK(decoded == fixture_being_status());
  check_encodes_to_fixture(fixture_being_status(), "being_status.json");
}

TEST_CASE("BeingStatus fixture with nulls round trips", "[wire]") {
  const auto decoded =
      ship::decode_json<ship::BeingStatus>(read_fixture("being_status_nulls.json"), "beings_status");
  CHECK(decoded == fixture_being_status_nulls());
  CHECK_FALSE(decoded.current_task.has_value());
  CHECK_FALSE(decoded.memory_mb.has_value());
  CHECK(decoded.metadata.is_null());
  CHECK(decoded.capabilities.empty());
  check_encodes_to_fixture(fixture_being_status_nulls(), "being_status_nulls.json");
}

TEST_CASE("ObjectMeta fixture round trips", "[wire]") {
  const auto decoded = ship::decode_json<ship::ObjectMeta>(read_fixture("object_meta.json"), "artifacts");
  CHECK(decoded == fixture_object_meta());
  check_encodes_to_fixture(fixture_object_meta(), "object_meta.json");
}

TEST_CASE("nlohmann::json conversions match encode_json", "[wire]") {
  // Converting through the sorted nlohmann::json gives the same values, only the key order
  // differs.
  const nlohmann::json event = fixture_ship_event();
  CHECK(event == nlohmann::json::parse(read_fixture("ship_event.json")));
  CHECK(event.get<ship::ShipEvent<>>() == fixture_ship_event());

  const nlohmann::json status = fixture_being_status();
  CHECK(status.get<ship::BeingStatus>() == fixture_being_status());
}

// ---------------------------------------------------------------------------------------------
// Null versus omitted

TEST_CASE("Event writes absent correlation_id as null", "[wire][null]") {
  const auto document = nlohmann::json::parse(ship::encode_json(fixture_event()));
  REQUIRE(document.contains("correlation_id"));
  CHECK(document["correlation_id"].is_null());

  auto with_id = fixture_event();
  with_id.correlation_id = "abc";
  CHECK(nlohmann::json::parse(ship::encode_json(with_id))["correlation_id"] == "abc");
}

TEST_CASE("Event decodes missing correlation_id as absent", "[wire][null]") {
  auto document = nlohmann::json::parse(read_fixture("event.json"));
  document.erase("correlation_id");
  const auto decoded = ship::decode_json<ship::Event<>>(document.dump(), "event");
  CHECK_FALSE(decoded.correlation_id.has_value());

  document["correlation_id"] = "c0ffee00";
  CHECK(ship::decode_json<ship::Event<>>(document.dump(), "event").correlation_id == "c0ffee00");
}

TEST_CASE("ChannelMessage omits absent metadata", "[wire][null]") {
  const auto document = nlohmann::json::parse(ship::encode_json(fixture_message_without_metadata()));
  CHECK_FALSE(document.contains("metadata"));

  // A metadata value that contains JSON null is absent too.
  auto message = fixture_message_without_metadata();
  message.metadata = nlohmann::json();
  CHECK_FALSE(nlohmann::json::parse(ship::encode_json(message)).contains("metadata"));
}

TEST_CASE("ChannelMessage decodes null metadata as absent", "[wire][null]") {
  auto document = nlohmann::json::parse(read_fixture("channel_message_with_metadata.json"));
  document["metadata"] = nullptr;
  const auto decoded = ship::decode_json<ship::ChannelMessage>(document.dump(), "channel");
  CHECK_FALSE(decoded.metadata.has_value());
}

TEST_CASE("ChannelMessage keeps scalar metadata", "[wire][null]") {
  auto message = fixture_message_without_metadata();
  message.metadata = nlohmann::json(false);
  const auto decoded = ship::decode_json<ship::ChannelMessage>(ship::encode_json(message), "channel");
  REQUIRE(decoded.metadata.has_value());
  CHECK(*decoded.metadata == false);
}

TEST_CASE("BeingStatus writes every null", "[wire][null]") {
  const auto document = nlohmann::ordered_json::parse(ship::encode_json(fixture_being_status_nulls()));
  for (const char* key : {"current_task", "memory_mb", "metadata"}) {
    INFO("key " << key);
    REQUIRE(document.contains(key));
    CHECK(document[key].is_null());
  }
}

TEST_CASE("BeingStatus decodes missing nullable keys as null", "[wire][null]") {
  const std::string text = R"({"being_id":"b","state":"offline","last_heartbeat":"2026-03-20T04:37:32Z",)"
                           R"("uptime_seconds":5,"capabilities":["x"]})";
  const auto decoded = ship::decode_json<ship::BeingStatus>(text, "beings_status");
  CHECK(decoded.state == ship::BeingState::offline);
  CHECK_FALSE(decoded.current_task.has_value());
  CHECK_FALSE(decoded.memory_mb.has_value());
  CHECK(decoded.metadata.is_null());
  CHECK(decoded.uptime_seconds == 5);
}

TEST_CASE("ObjectMeta decodes the Rust form without NATS fields", "[wire][null]") {
  const std::string text = R"({"name":"snap","bucket":"snapshots","size":12,"sha256":"ab",)"
                           R"("created":"2026-03-20T04:37:32.123456789+00:00","description":null})";
  const auto decoded = ship::decode_json<ship::ObjectMeta>(text, "snapshots");
  CHECK(decoded.name == "snap");
  CHECK(decoded.size == 12);
  CHECK_FALSE(decoded.description.has_value());
  CHECK(decoded.nuid.empty());
  CHECK(decoded.chunks == 0);
  CHECK(decoded.digest.empty());

  const auto document = nlohmann::json::parse(ship::encode_json(decoded));
  REQUIRE(document.contains("description"));
  CHECK(document["description"].is_null());
}

TEST_CASE("ShipEvent without version reads as 1.0", "[wire][null]") {
  auto document = nlohmann::json::parse(read_fixture("ship_event.json"));
  document.erase("version");
  CHECK(ship::decode_json<ship::ShipEvent<>>(document.dump(), "ship.events").version == "1.0");

  document["version"] = "2.0";
  CHECK(ship::decode_json<ship::ShipEvent<>>(document.dump(), "ship.events").version == "2.0");
}

// ---------------------------------------------------------------------------------------------
// Typed payloads

TEST_CASE("ShipEvent with typed payload matches fixture", "[wire][typed]") {
  const auto decoded = ship::decode_json<ship::ShipEvent<ItemCreated>>(
      read_fixture("ship_event.json"), "ship.events.item.created");
  CHECK(decoded.payload == ItemCreated{3, "item-42", {"new", "urgent"}});
  CHECK(decoded.correlation_id == "9f86d081");

  check_encodes_to_fixture(decoded, "ship_event.json");
}

TEST_CASE("Event with typed payload matches fixture", "[wire][typed]") {
  const auto decoded = ship::decode_json<ship::Event<Deployment>>(read_fixture("event.json"), "deploy.started");
  CHECK(decoded.payload == Deployment{"eu-west", 2});

  check_encodes_to_fixture(decoded, "event.json");
}

TEST_CASE("ordered_json payload keeps its key order", "[wire][typed]") {
  ship::Event<nlohmann::ordered_json> event;
  event.event_type = "heartbeat";
  event.source = "being-1";
  event.payload = nlohmann::ordered_json::object();
  event.payload["zeta"] = 1;
  event.payload["alpha"] = 2;
  event.timestamp = "2026-03-20T04:37:32Z";

  const std::string encoded = ship::encode_json(event);
  CHECK(encoded.find(R"("payload":{"zeta":1,"alpha":2})") != std::string::npos);
  CHECK(ship::decode_json<ship::Event<nlohmann::ordered_json>>(encoded, "heartbeat") == event);
}

TEST_CASE("payload of the wrong shape fails to decode", "[wire][typed]") {
  auto document = nlohmann::json::parse(read_fixture("event.json"));
  document["payload"] = {{"region", 5}};
  check_decode_fails<ship::Event<Deployment>>(document.dump());
}

// ---------------------------------------------------------------------------------------------
// Decoding errors

TEST_CASE("decode_json reports malformed JSON", "[wire][errors]") {
  check_decode_fails<ship::Event<>>("");
  check_decode_fails<ship::Event<>>("{\"event_type\":");
  check_decode_fails<ship::Event<>>("[]");
  check_decode_fails<ship::BeingStatus>("not json");
}

TEST_CASE("decode_json reports missing required keys", "[wire][errors]") {
  for (const char* key : {"event_type", "timestamp", "source", "payload", "correlation_id"}) {
    auto document = nlohmann::json::parse(read_fixture("ship_event.json"));
    document.erase(key);
    INFO("without " << key);
    check_decode_fails<ship::ShipEvent<>>(document.dump());
  }
  for (const char* key : {"sender", "content", "timestamp", "channel", "message_id"}) {
    auto document = nlohmann::json::parse(read_fixture("channel_message_without_metadata.json"));
    document.erase(key);
    INFO("without " << key);
    check_decode_fails<ship::ChannelMessage>(document.dump());
  }
}

TEST_CASE("decode_json reports wrong value types", "[wire][errors]") {
  auto status = nlohmann::json::parse(read_fixture("being_status.json"));

  auto bad_state = status;
  bad_state["state"] = "Working";
  check_decode_fails<ship::BeingStatus>(bad_state.dump());

  auto negative_uptime = status;
  negative_uptime["uptime_seconds"] = -1;
  check_decode_fails<ship::BeingStatus>(negative_uptime.dump());

  auto fractional_uptime = status;
  fractional_uptime["uptime_seconds"] = 1.5;
  check_decode_fails<ship::BeingStatus>(fractional_uptime.dump());

  auto text_memory = status;
  text_memory["memory_mb"] = "512";
  check_decode_fails<ship::BeingStatus>(text_memory.dump());

  auto message = nlohmann::json::parse(read_fixture("channel_message_without_metadata.json"));
  message["timestamp"] = "2026-03-20T04:37:32Z";
  check_decode_fails<ship::ChannelMessage>(message.dump());

  auto meta = nlohmann::json::parse(read_fixture("object_meta.json"));
  meta["chunks"] = 4294967296ULL;
  check_decode_fails<ship::ObjectMeta>(meta.dump());
}

TEST_CASE("BeingStatus accepts integer memory_mb", "[wire][errors]") {
  auto status = nlohmann::json::parse(read_fixture("being_status.json"));
  status["memory_mb"] = 512;
  const auto decoded = ship::decode_json<ship::BeingStatus>(status.dump(), "beings_status");
  REQUIRE(decoded.memory_mb.has_value());
  CHECK(*decoded.memory_mb == 512.0);
}

TEST_CASE("encode_json rejects invalid UTF-8", "[wire][errors]") {
  auto event = fixture_event();
  event.source = "\xff\xfe";
  try {
    (void)ship::encode_json(event);
    FAIL("encode_json accepted invalid UTF-8");
  } catch (const ship::error& e) {
    CHECK(e.code() == ship::errc::serialization);
  }
}

// ---------------------------------------------------------------------------------------------
// BeingState

TEST_CASE("BeingState strings", "[wire][state]") {
  using ship::BeingState;
  const std::vector<std::pair<BeingState, std::string>> cases{{BeingState::idle, "idle"},
                                                              {BeingState::working, "working"},
                                                              {BeingState::blocked, "blocked"},
                                                              {BeingState::offline, "offline"}};
  for (const auto& [state, text] : cases) {
    INFO(text);
    CHECK(ship::to_string(state) == text);
    CHECK(ship::parse_being_state(text) == state);
    CHECK(nlohmann::json(state) == text);
    CHECK(nlohmann::json(text).get<BeingState>() == state);
  }
  CHECK_FALSE(ship::parse_being_state("IDLE").has_value());
  CHECK_FALSE(ship::parse_being_state("").has_value());
}

// ---------------------------------------------------------------------------------------------
// EventType

TEST_CASE("EventType built-in tokens", "[wire][event_type]") {
  CHECK(ship::EventType::heartbeat().token() == "heartbeat");
  CHECK(ship::EventType::started().token() == "started");
  CHECK(ship::EventType::stopped().token() == "stopped");
  CHECK(ship::EventType::error().token() == "error");
  CHECK_FALSE(ship::EventType::heartbeat().is_custom());
  CHECK(ship::EventType::custom("deploy.started").token() == "deploy.started");
  CHECK(ship::EventType::custom("deploy.started").is_custom());
}

TEST_CASE("EventType with_entity prefixes the id", "[wire][event_type]") {
  CHECK(ship::EventType::heartbeat().with_entity("being-1") == "being-1.heartbeat");
  CHECK(ship::EventType::custom("deploy.started").with_entity("b1") == "b1.deploy.started");
  CHECK_THROWS_AS(ship::EventType::heartbeat().with_entity("two words"), ship::error);
  CHECK_THROWS_AS(ship::EventType::heartbeat().with_entity(""), ship::error);
}

TEST_CASE("EventType equality and from_token", "[wire][event_type]") {
  CHECK(ship::EventType::heartbeat() == ship::EventType::heartbeat());
  CHECK(ship::EventType::heartbeat() != ship::EventType::started());
  CHECK(ship::EventType::from_token("heartbeat") == ship::EventType::heartbeat());
  CHECK(ship::EventType::from_token("started") == ship::EventType::started());
  CHECK(ship::EventType::from_token("stopped") == ship::EventType::stopped());
  CHECK(ship::EventType::from_token("error") == ship::EventType::error());
  CHECK(ship::EventType::from_token("item.created") == ship::EventType::custom("item.created"));
  CHECK(ship::EventType::custom("heartbeat") == ship::EventType::heartbeat());
}

TEST_CASE("EventType rejects invalid custom tokens", "[wire][event_type]") {
  for (const std::string token : {"", "deploy started", "deploy.*", "deploy.>", ".deploy",
                                  "deploy.", "deploy..started", "tab\tbed", "new\nline"}) {
    INFO("token '" << token << "'");
    try {
      (void)ship::EventType::custom(token);
      FAIL("custom() accepted an invalid token");
    } catch (const ship::error& e) {
      CHECK(e.code() == ship::errc::invalid_subject);
      CHECK(std::string(e.what()).find("'" + token + "'") != std::string::npos);
    }
  }
}

TEST_CASE("EventType JSON is its token", "[wire][event_type]") {
  CHECK(nlohmann::json(ship::EventType::custom("a.b")) == "a.b");
  CHECK(nlohmann::ordered_json(ship::EventType::stopped()) == "stopped");
  CHECK(nlohmann::json("error").get<ship::EventType>() == ship::EventType::error());
  CHECK_THROWS_AS(nlohmann::json("bad token").get<ship::EventType>(), nlohmann::json::type_error);
  CHECK_THROWS_AS(nlohmann::json(5).get<ship::EventType>(), nlohmann::json::type_error);
}

// ---------------------------------------------------------------------------------------------
// Timestamps

TEST_CASE("format_rfc3339 picks 0, 3, 6 or 9 digits", "[wire][time]") {
  CHECK(ship::format_rfc3339(fixture_time) == "2026-03-20T04:37:32.123456789+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32)) == "2026-03-20T04:37:32+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 120'000'000)) ==
        "2026-03-20T04:37:32.120+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 1'000'000)) ==
        "2026-03-20T04:37:32.001+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 123'456'000)) ==
        "2026-03-20T04:37:32.123456+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 1'000)) ==
        "2026-03-20T04:37:32.000001+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 1)) ==
        "2026-03-20T04:37:32.000000001+00:00");
  CHECK(ship::format_rfc3339(utc(2026, 3, 20, 4, 37, 32, 100'000'010)) ==
        "2026-03-20T04:37:32.100000010+00:00");
}

TEST_CASE("format_rfc3339 handles epoch edges", "[wire][time]") {
  CHECK(ship::format_rfc3339(std::chrono::system_clock::time_point{}) ==
        "1970-01-01T00:00:00+00:00");
  CHECK(ship::format_rfc3339(std::chrono::system_clock::time_point{} - 1ns) ==
        "1969-12-31T23:59:59.999999999+00:00");
  CHECK(ship::format_rfc3339(utc(2024, 2, 29, 23, 59, 59, 500'000'000)) ==
        "2024-02-29T23:59:59.500+00:00");
}

TEST_CASE("parse_rfc3339 reads fraction lengths", "[wire][time]") {
  const auto base = utc(2026, 3, 20, 4, 37, 32);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32+00:00") == base);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.1+00:00") == base + 100ms);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.12+00:00") == base + 120ms);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123+00:00") == base + 123ms);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123456+00:00") == base + 123456us);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123456789+00:00") == fixture_time);
  // Digits past nanoseconds are truncated, not rounded.
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.1234567899999+00:00") == fixture_time);
}

TEST_CASE("parse_rfc3339 applies offsets", "[wire][time]") {
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123456789Z") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123456789z") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-20T06:37:32.123456789+02:00") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-19T23:07:32.123456789-05:30") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-20T04:37:32.123456789-00:00") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-20t04:37:32.123456789Z") == fixture_time);
  CHECK(ship::parse_rfc3339("2026-03-20 04:37:32.123456789Z") == fixture_time);
}

TEST_CASE("parse_rfc3339 rejects invalid text", "[wire][time]") {
  for (const char* text : {"", "2026-03-20", "2026-03-20T04:37:32", "2026-03-20T04:37:32+0200",
                           "2026-03-20T04:37:32+02", "2026-03-20T04:37:32.Z",
                           "2026-03-20T04:37:32Zjunk", "2026-03-20T04:37:32 Z",
                           "2026-3-20T04:37:32Z", "2026-03-20X04:37:32Z", "2026-13-01T00:00:00Z",
                           "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-03-20T24:00:00Z",
                           "2026-03-20T04:60:00Z", "2026-03-20T04:37:61Z",
                           "2026-03-20T04:37:32+24:00", "2026-03-20T04:37:32+02:60",
                           "+2026-03-20T04:37:32Z", "2026-03-20T04:37:32.12a+00:00"}) {
    INFO("text '" << text << "'");
    CHECK_FALSE(ship::parse_rfc3339(text).has_value());
  }
}

TEST_CASE("parse_rfc3339 handles calendar edges", "[wire][time]") {
  CHECK(ship::parse_rfc3339("2024-02-29T12:00:00Z") == utc(2024, 2, 29, 12, 0, 0));
  CHECK(ship::parse_rfc3339("1969-12-31T23:59:59.999999999Z") ==
        std::chrono::system_clock::time_point{} - 1ns);
  // A leap second reads as the first second of the next minute.
  CHECK(ship::parse_rfc3339("2016-12-31T23:59:60Z") == utc(2017, 1, 1, 0, 0, 0));
  // Outside the nanosecond clock's range, about 1677 to 2262.
  CHECK_FALSE(ship::parse_rfc3339("2300-01-01T00:00:00Z").has_value());
  CHECK_FALSE(ship::parse_rfc3339("1600-01-01T00:00:00Z").has_value());
  CHECK(ship::parse_rfc3339("2262-01-01T00:00:00Z").has_value());
}

TEST_CASE("timestamps round trip through text", "[wire][time]") {
  const std::vector<std::chrono::system_clock::time_point> times{
      fixture_time, utc(2026, 3, 20, 4, 37, 32), utc(1999, 12, 31, 23, 59, 59, 999'000'000),
      utc(1970, 1, 1, 0, 0, 0, 1), utc(1900, 6, 15, 12, 0, 0, 5'000),
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(
          std::chrono::system_clock::now())};
  for (const auto time : times) {
    const std::string text = ship::format_rfc3339(time);
    INFO(text);
    CHECK(ship::parse_rfc3339(text) == time);
  }
}

TEST_CASE("Unix time conversions", "[wire][time]") {
  CHECK(ship::unix_nanos(fixture_time) == 1773981452123456789);
  CHECK(ship::unix_millis(fixture_time) == 1773981452123);
  CHECK(ship::unix_seconds_f64(fixture_time) == Approx(1773981452.123456789).epsilon(1e-15));
  CHECK(ship::unix_seconds_f64(fixture_time) == 1773981452.123456789);

  const auto before_epoch = std::chrono::system_clock::time_point{} - 1500us;
  CHECK(ship::unix_millis(before_epoch) == -2);
  CHECK(ship::unix_nanos(before_epoch) == -1'500'000);
  CHECK(ship::unix_seconds_f64(before_epoch) == Approx(-0.0015));
}

// ---------------------------------------------------------------------------------------------
// Factories and correlation ids

TEST_CASE("correlation ids are 8 lowercase hex digits", "[wire][ids]") {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const std::string id = ship::generate_correlation_id();
    INFO(id);
    CHECK(id.size() == 8);
    CHECK(std::all_of(id.begin(), id.end(),
                      [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
    ids.insert(id);
  }
  // 100 draws of 32 random bits collide with a probability of about one in a million.
  CHECK(ids.size() == 100);
}

TEST_CASE("correlation ids differ across threads", "[wire][ids]") {
  std::vector<std::string> first(50);
  std::vector<std::string> second(50);
  std::thread worker([&] {
    for (auto& id : first) id = ship::generate_correlation_id();
  });
  for (auto& id : second) id = ship::generate_correlation_id();
  worker.join();

  std::set<std::string> ids(first.begin(), first.end());
  ids.insert(second.begin(), second.end());
  CHECK(ids.size() == 100);
}

TEST_CASE("make_ship_event fills the envelope", "[wire][factory]") {
  const auto before = std::chrono::system_clock::now();
  const auto generated = ship::make_ship_event("item.created", "builder", nlohmann::json{{"a", 1}});
  const auto after = std::chrono::system_clock::now();

  CHECK(generated.event_type == "item.created");
  CHECK(generated.source == "builder");
  CHECK(generated.payload == nlohmann::json{{"a", 1}});
  CHECK(generated.version == "1.0");
  CHECK(generated.correlation_id.size() == 8);
  const auto stamped = ship::parse_rfc3339(generated.timestamp);
  REQUIRE(stamped.has_value());
  CHECK(*stamped >= before);
  CHECK(*stamped <= after);
  CHECK(generated.timestamp.ends_with("+00:00"));

  const auto given = ship::make_ship_event("x", "", 5, std::string("req-17"));
  CHECK(given.correlation_id == "req-17");
  CHECK(given.payload == 5);
}

TEST_CASE("make_event stamps time without correlation id", "[wire][factory]") {
  const auto before = std::chrono::system_clock::now();
  const auto event = ship::make_event(ship::EventType::heartbeat(), "being-1", Deployment{"eu", 1});
  const auto after = std::chrono::system_clock::now();

  CHECK(event.event_type == "heartbeat");
  CHECK(event.source == "being-1");
  CHECK(event.payload == Deployment{"eu", 1});
  CHECK_FALSE(event.correlation_id.has_value());
  const auto stamped = ship::parse_rfc3339(event.timestamp);
  REQUIRE(stamped.has_value());
  CHECK(*stamped >= before);
  CHECK(*stamped <= after);

  CHECK(ship::make_event("deploy.started", "b", 1).event_type == "deploy.started");
}

TEST_CASE("make_channel_message shares one clock reading", "[wire][factory]") {
  const auto before = std::chrono::system_clock::now();
  const auto message = ship::make_channel_message("dev", "agent-1", "hello", nlohmann::json{{"k", 1}});
  const auto after = std::chrono::system_clock::now();

  CHECK(message.channel == "dev");
  CHECK(message.sender == "agent-1");
  CHECK(message.content == "hello");
  CHECK(message.metadata == nlohmann::json{{"k", 1}});
  CHECK(message.sequence == 0);

  REQUIRE(message.message_id.rfind("dev-", 0) == 0);
  const std::int64_t nanos = std::stoll(message.message_id.substr(4));
  CHECK(nanos >= ship::unix_nanos(before));
  CHECK(nanos <= ship::unix_nanos(after));
  // The double cannot hold every nanosecond digit, so compare within a microsecond.
  CHECK(std::abs(message.timestamp - static_cast<double>(nanos) / 1e9) < 1e-6);

  CHECK_FALSE(ship::make_channel_message("dev", "a", "b").metadata.has_value());
}

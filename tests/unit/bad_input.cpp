// Invalid input to the foundation's public entry points: each case must fail with its own error
// code and a message quoting the value, before anything is sent. The connection is never
// connected, so a check that ran only after sending would fail with errc::not_connected instead.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/detail/object_info.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/names.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

struct Case {
  std::string what;                        // shown when the case fails
  std::function<awaitable<void>()> call;   // the operation under test
  errc expected;
  std::string quoted;                      // a part of the message that names the bad value
};

// Runs `call` and returns the code and message of the noesis::ship::error it throws; an empty
// code when it completes.
std::pair<std::error_code, std::string> failure_of(const std::function<awaitable<void>()>& call) {
  asio::io_context io;
  std::error_code code;
  std::string message;
  test::run(io, [&]() -> awaitable<void> {
    try {
      co_await call();
    } catch (const error& e) {
      code = e.code();
      message = e.what();
    }
  }, std::chrono::seconds(10));
  return {code, message};
}

// Wraps a synchronous call as an awaitable so the same table runner covers both kinds.
std::function<awaitable<void>()> sync(std::function<void()> call) {
  return [call]() -> awaitable<void> {
    call();
    co_return;
  };
}

StreamConfig stream(std::string name, std::string subject) {
  StreamConfig config;
  config.name = std::move(name);
  config.subjects.push_back(std::move(subject));
  return config;
}

// A value as error messages quote it: a backslash doubled, a tab as \x09.
std::string quoted(const std::string& value) {
  std::string text = "'";
  for (const char c : value) {
    if (c == '\\') {
      text += "\\\\";
    } else if (c == '\t') {
      text += "\\x09";
    } else {
      text += c;
    }
  }
  return text + "'";
}

ConsumerConfig durable(std::string name) {
  ConsumerConfig config;
  config.durable_name = std::move(name);
  return config;
}

std::vector<Case> connection_cases(Connection conn) {
  const std::string long_subject(max_subject_length + 1, 'a');
  std::vector<Case> cases;
  for (const std::string subject : {"", "a..b", ".a", "a.", "a b", "a\tb", "a.*", "a.>", ">"}) {
    cases.push_back({"publish to '" + subject + "'", sync([conn, subject]() mutable { conn.publish(subject, "x"); }),
                     errc::invalid_subject, quoted(subject)});
  }
  cases.push_back({"publish to a too long subject",
                   sync([conn, long_subject]() mutable { conn.publish(long_subject, "x"); }), errc::invalid_subject,
                   std::string(200, 'a') + "..."});
  cases.push_back({"publish an OutgoingMessage to 'a..b'",
                   sync([conn]() mutable { conn.publish(OutgoingMessage("a..b", "x")); }), errc::invalid_subject,
                   "'a..b'"});
  for (const std::string subject : {"", "a.>.b", "a b", "a..b"}) {
    cases.push_back({"subscribe to '" + subject + "'", sync([conn, subject]() mutable { conn.subscribe(subject); }),
                     errc::invalid_subject, "'" + subject + "'"});
  }
  cases.push_back({"subscribe with queue group 'bad group'",
                   sync([conn]() mutable { conn.queue_subscribe("ok.subject", "bad group"); }), errc::invalid_name,
                   "'bad group'"});
  cases.push_back({"request to 'a.*'",
                   [conn]() mutable -> awaitable<void> { co_await conn.request("a.*", "x", 1s); },
                   errc::invalid_subject, "'a.*'"});
  cases.push_back({"respond to a message without reply subject",
                   sync([conn]() mutable { conn.respond(Message{}, "x"); }), errc::invalid_argument, "no reply subject"});
  // The check order itself: a valid call on an unconnected connection reaches the send step.
  cases.push_back({"publish while not connected", sync([conn]() mutable { conn.publish("ok.subject", "x"); }),
                   errc::not_connected, "'ok.subject'"});
  return cases;
}

std::vector<Case> jetstream_cases(JetStream js) {
  std::vector<Case> cases;
  const std::string long_name(max_stream_name_length + 1, 'S');
  for (const std::string name : {"", "a.b", "a*", "a>", "a/b", "a\\b", "a b"}) {
    cases.push_back({"stream name '" + name + "'",
                     [js, name]() mutable -> awaitable<void> { co_await js.ensure_stream(stream(name, "s.x")); },
                     errc::invalid_name, quoted(name)});
    cases.push_back({"stream_info of '" + name + "'",
                     [js, name]() mutable -> awaitable<void> { co_await js.stream_info(name); }, errc::invalid_name,
                     quoted(name)});
    // An empty durable_name is valid because it requests an ephemeral consumer.
    if (name.empty()) continue;
    cases.push_back({"durable consumer name '" + name + "'",
                     [js, name]() mutable -> awaitable<void> { co_await js.create_consumer("S", durable(name)); },
                     errc::invalid_name, quoted(name)});
  }
  cases.push_back({"stream name of 256 bytes",
                   [js, long_name]() mutable -> awaitable<void> { co_await js.create_stream(stream(long_name, "s.x")); },
                   errc::invalid_name, "SSSS"});
  cases.push_back({"delete_stream 'a.b'", [js]() mutable -> awaitable<void> { co_await js.delete_stream("a.b"); },
                   errc::invalid_name, "'a.b'"});
  cases.push_back({"purge_stream 'a b'", [js]() mutable -> awaitable<void> { co_await js.purge_stream("a b"); },
                   errc::invalid_name, "'a b'"});
  cases.push_back({"consumer_info of 'c.d'",
                   [js]() mutable -> awaitable<void> { co_await js.consumer_info("S", "c.d"); }, errc::invalid_name,
                   "'c.d'"});
  cases.push_back({"delete_consumer on stream 'a*'",
                   [js]() mutable -> awaitable<void> { co_await js.delete_consumer("a*", "C"); }, errc::invalid_name,
                   "'a*'"});
  cases.push_back({"pull_consumer named 'c d'", sync([js] { js.pull_consumer("S", "c d"); }), errc::invalid_name,
                   "'c d'"});
  JetStreamOptions negative_window;
  negative_window.api_retry_window = std::chrono::milliseconds(-5);
  cases.push_back({"api_retry_window -5 ms",
                   sync([js, negative_window] { JetStream(js.connection(), negative_window); }),
                   errc::invalid_argument, "-5 ms"});
  cases.push_back({"JetStream publish to 'a..b'",
                   [js]() mutable -> awaitable<void> { co_await js.publish("a..b", "x"); }, errc::invalid_subject,
                   "'a..b'"});

  // Stream configuration values.
  cases.push_back({"stream subject 'a..b'",
                   [js]() mutable -> awaitable<void> { co_await js.ensure_stream(stream("S", "a..b")); },
                   errc::invalid_subject, "'a..b'"});
  auto no_subjects = stream("S", "s.x");
  no_subjects.subjects.clear();
  auto negative_msgs = stream("S", "s.x");
  negative_msgs.max_msgs = -2;
  auto negative_bytes = stream("S", "s.x");
  negative_bytes.max_bytes = -7;
  auto negative_msg_size = stream("S", "s.x");
  negative_msg_size.max_msg_size = -2;
  auto zero_replicas = stream("S", "s.x");
  zero_replicas.replicas = 0;
  auto six_replicas = stream("S", "s.x");
  six_replicas.replicas = 6;
  auto negative_age = stream("S", "s.x");
  negative_age.max_age = std::chrono::seconds(-1);
  auto huge_age = stream("S", "s.x");
  huge_age.max_age = std::chrono::seconds(std::numeric_limits<int64_t>::max());
  struct BadStream {
    std::string what;
    StreamConfig config;
    std::string quoted;
  };
  const std::vector<BadStream> bad_streams{{"no subjects", no_subjects, "'S'"},
                                           {"max_msgs -2", negative_msgs, "max_msgs -2"},
                                           {"max_bytes -7", negative_bytes, "max_bytes -7"},
                                           {"max_msg_size -2", negative_msg_size, "max_msg_size -2"},
                                           {"replicas 0", zero_replicas, "'S'"},
                                           {"replicas 6", six_replicas, "'S'"},
                                           {"max_age -1 s", negative_age, "'S'"},
                                           {"max_age beyond int64 nanoseconds", huge_age,
                                            "max_age 9223372036854775807 s"}};
  for (const auto& bad : bad_streams) {
    cases.push_back({"stream config with " + bad.what,
                     [js, config = bad.config]() mutable -> awaitable<void> { co_await js.ensure_stream(config); },
                     errc::invalid_argument, bad.quoted});
  }

  // Consumer configuration values.
  auto negative_ack_wait = durable("C");
  negative_ack_wait.ack_wait = std::chrono::seconds(-1);
  auto six_consumer_replicas = durable("C");
  six_consumer_replicas.num_replicas = 6;
  auto start_without_sequence = durable("C");
  start_without_sequence.deliver_policy = DeliverPolicy::by_start_sequence;
  const std::vector<std::pair<std::string, ConsumerConfig>> bad_consumers{
      {"ack_wait -1 s", negative_ack_wait},
      {"num_replicas 6", six_consumer_replicas},
      {"by_start_sequence without a sequence", start_without_sequence}};
  for (const auto& bad : bad_consumers) {
    cases.push_back({"consumer config with " + bad.first,
                     [js, config = bad.second]() mutable -> awaitable<void> { co_await js.create_consumer("S", config); },
                     errc::invalid_argument, ""});
  }
  auto mismatched = durable("C");
  mismatched.name = "D";
  cases.push_back({"consumer durable_name and name differ",
                   [js, mismatched]() mutable -> awaitable<void> { co_await js.create_consumer("S", mismatched); },
                   errc::invalid_name, "'C'"});

  // Sizes and positions.
  cases.push_back({"fetch batch 0",
                   [js]() mutable -> awaitable<void> { co_await js.pull_consumer("S", "C").fetch(0, 1s); },
                   errc::invalid_argument, "batch 0"});
  cases.push_back({"fetch expires 0",
                   [js]() mutable -> awaitable<void> { co_await js.pull_consumer("S", "C").fetch(1, 0ms); },
                   errc::invalid_argument, "expires"});
  cases.push_back({"fetch expires -5 ms",
                   [js]() mutable -> awaitable<void> { co_await js.pull_consumer("S", "C").fetch(1, -5ms); },
                   errc::invalid_argument, "expires"});
  cases.push_back({"get_message sequence 0",
                   [js]() mutable -> awaitable<void> { co_await js.get_message("S", 0); }, errc::invalid_argument,
                   "sequence 0"});
  cases.push_back({"get_last_message subject 'a..b'",
                   [js]() mutable -> awaitable<void> { co_await js.get_last_message("S", "a..b"); },
                   errc::invalid_subject, "'a..b'"});
  PurgeOptions bad_purge;
  bad_purge.subject = "a b";
  cases.push_back({"purge_stream subject 'a b'",
                   [js, bad_purge]() mutable -> awaitable<void> { co_await js.purge_stream("S", bad_purge); },
                   errc::invalid_subject, "'a b'"});
  return cases;
}

std::vector<Case> name_cases() {
  std::vector<Case> cases;
  cases.push_back({"KV key '_kv.x' for writing", sync([] { validate_kv_key("_kv.x", KeyUse::write); }),
                   errc::invalid_key, "'_kv.x'"});
  cases.push_back({"KV key 'a b'", sync([] { validate_kv_key("a b"); }), errc::invalid_key, "'a b'"});
  cases.push_back({"KV key '.a'", sync([] { validate_kv_key(".a"); }), errc::invalid_key, "'.a'"});
  cases.push_back({"bucket 'a.b'", sync([] { validate_bucket_name("a.b"); }), errc::invalid_name, "'a.b'"});
  cases.push_back({"bucket ''", sync([] { validate_bucket_name(""); }), errc::invalid_name, "''"});
  cases.push_back({"object name ''", sync([] { validate_object_name(""); }), errc::invalid_name, "''"});
  cases.push_back({"object name with invalid UTF-8", sync([] { validate_object_name("a\xff"); }),
                   errc::invalid_name, "\\xFF"});
  cases.push_back({"service name 'a.b'", sync([] { validate_service_name("a.b"); }), errc::invalid_name, "'a.b'"});
  cases.push_back({"agent name 'a b'", sync([] { validate_agent_name("a b"); }), errc::invalid_name, "'a b'"});
  cases.push_back({"channel name 'c.d'", sync([] { validate_channel_name("c.d"); }), errc::invalid_name, "'c.d'"});
  return cases;
}

void check_cases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    INFO(c.what);
    const auto [code, message] = failure_of(c.call);
    CHECK(code == c.expected);
    CHECK(code == condition::invalid_input);
    INFO("message: " << message);
    CHECK(message.find(c.quoted) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("connection rejects bad input before sending") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  auto cases = connection_cases(conn);
  // not_connected is not invalid input, so that sanity case is checked on its own.
  const Case sanity = cases.back();
  cases.pop_back();
  check_cases(cases);
  const auto [code, message] = failure_of(sanity.call);
  CHECK(code == errc::not_connected);
}

TEST_CASE("JetStream rejects bad input before sending") {
  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig("nats://127.0.0.1:1"));
  check_cases(jetstream_cases(JetStream(conn)));
}

TEST_CASE("name validators reject bad names") {
  check_cases(name_cases());
}

TEST_CASE("payload size check counts headers") {
  OutgoingMessage plain("s", std::string(100, 'x'));
  CHECK(Connection::wire_payload_size(plain) == 100);
  auto with_header = OutgoingMessage("s", std::string(100, 'x')).with_header("A", "bc");
  // "NATS/1.0\r\n" + "A: bc\r\n" + "\r\n" = 10 + 7 + 2 bytes.
  CHECK(Connection::wire_payload_size(with_header) == 100 + 19);
  CHECK(!Connection::check_payload_size(0, 1u << 30));  // unknown limit: not checked
  CHECK(!Connection::check_payload_size(100, 100));
  CHECK(Connection::check_payload_size(100, 101) == errc::payload_too_large);
}

// Found by fuzz_stream_config: nlohmann converts a JSON number beyond int64 (parsed as a double)
// to int64_t with undefined behaviour instead of throwing.
TEST_CASE("stream config JSON with out-of-range number") {
  const auto document = nlohmann::json::parse(R"({"name":"S","subjects":["s"],"max_age":3e23})");
  try {
    const StreamConfig config = stream_config_from_api_json(document);
    FAIL("max_age 3e23 was accepted as " << config.max_age.count() << " s");
  } catch (const error& e) {
    CHECK(e.code() == errc::serialization);
  }
}

namespace {

// A JSON reader fed a document with one out-of-range or wrongly signed integer.
struct BadJson {
  std::string what;
  std::function<void()> read;
  std::string field;  // the field the error message must name
};

void check_bad_json(const std::vector<BadJson>& cases) {
  for (const auto& c : cases) {
    INFO(c.what);
    std::error_code code;
    std::string message;
    try {
      c.read();
    } catch (const error& e) {
      code = e.code();
      message = e.what();
    }
    CHECK(code == errc::serialization);
    INFO("message: " << message);
    CHECK(message.find(c.field) != std::string::npos);
  }
}

nlohmann::json consumer_json(const std::string& field, const std::string& value) {
  return nlohmann::json::parse(R"({"durable_name":"C",")" + field + "\":" + value + "}");
}

}  // namespace

TEST_CASE("consumer config JSON with out-of-range number") {
  std::vector<BadJson> cases;
  const std::vector<std::pair<std::string, std::string>> fields{
      {"ack_wait", "3e23"},
      {"ack_wait", "9223372036854775808"},
      {"idle_heartbeat", "-1e19"},
      {"inactive_threshold", "1.5"},
      {"opt_start_seq", "-1"},
      {"opt_start_seq", "1e20"},
      {"max_deliver", "18446744073709551615"},
      {"max_ack_pending", "1e300"},
      {"max_waiting", "9223372036854775808"},
      {"num_replicas", "4294967296"},
      {"backoff", "[1000000000, 3e23]"},
      {"backoff", "[-1e19]"}};
  for (const auto& [field, value] : fields) {
    const auto document = consumer_json(field, value);
    cases.push_back({field + " " + value, [document] { (void)consumer_config_from_api_json(document); }, field});
  }
  // The nested config of a consumer info reply goes through the same reader.
  const auto info_with_bad_config =
      nlohmann::json::parse(R"({"stream_name":"S","name":"C","config":{"ack_wait":3e23}})");
  cases.push_back({"consumer info config ack_wait 3e23", [info_with_bad_config] {
                     (void)parse_consumer_info(info_with_bad_config, "consumer info");
                   },
                   "ack_wait"});
  check_bad_json(cases);

  const auto good = consumer_config_from_api_json(consumer_json("ack_wait", "9223372036854775807"));
  CHECK(good.ack_wait.count() == std::numeric_limits<int64_t>::max());
  const auto sequence = consumer_config_from_api_json(consumer_json("opt_start_seq", "18446744073709551615"));
  CHECK(sequence.opt_start_seq == std::numeric_limits<uint64_t>::max());
}

TEST_CASE("JetStream replies with out-of-range numbers") {
  using nlohmann::json;
  std::vector<BadJson> cases;

  for (const std::string seq : {"-1", "3e23", "1.5", "18446744073709551616"}) {
    const std::string body = R"({"stream":"S","seq":)" + seq + "}";
    cases.push_back({"PubAck seq " + seq, [body] { (void)detail::parse_pub_ack(body, "s"); }, "seq"});
  }
  for (const std::string code : {"3e23", "4294967296", "-9223372036854775809"}) {
    const auto reply = json::parse(R"({"error":{"code":400,"err_code":)" + code + R"(,"description":"x"}})");
    cases.push_back({"API error err_code " + code, [reply] { detail::throw_if_api_error(reply, "stream info"); },
                     "err_code"});
  }
  const auto bad_http_code = json::parse(R"({"error":{"code":1e40,"description":"x"}})");
  cases.push_back({"API error code 1e40", [bad_http_code] { detail::throw_if_api_error(bad_http_code, "stream info"); },
                   "code"});

  const auto consumer_info = [](const std::string& member) {
    return json::parse(R"({"stream_name":"S","name":"C",)" + member + "}");
  };
  const std::vector<std::pair<std::string, std::string>> consumer_members{
      {"delivered.stream_seq", R"("delivered":{"consumer_seq":1,"stream_seq":-1})"},
      {"ack_floor.consumer_seq", R"("ack_floor":{"consumer_seq":3e23,"stream_seq":1})"},
      {"num_pending", R"("num_pending":-5)"},
      {"num_ack_pending", R"("num_ack_pending":1e30)"}};
  for (const auto& [what, member] : consumer_members) {
    const auto reply = consumer_info(member);
    const std::string field = what.substr(what.find('.') + 1);
    cases.push_back({"consumer info " + what, [reply] { (void)parse_consumer_info(reply, "consumer info"); }, field});
  }

  const auto stream_info = [](const std::string& state) {
    return json::parse(R"({"config":{"name":"S","subjects":["s"]},"state":)" + state + "}");
  };
  const std::vector<std::pair<std::string, std::string>> states{
      {"messages", R"({"messages":-1})"},
      {"last_seq", R"({"last_seq":3e23})"},
      {"state.subjects", R"({"subjects":{"s.a":-2}})"},
      {"state.subjects", R"({"subjects":{"s.a":1e30}})"}};
  for (const auto& [field, state] : states) {
    const auto reply = stream_info(state);
    cases.push_back({"stream info " + state, [reply] { (void)detail::parse_stream_info(reply, "stream info"); },
                     field});
  }
  const auto stream_with_bad_config =
      json::parse(R"({"config":{"name":"S","subjects":["s"],"max_msgs":18446744073709551615}})");
  cases.push_back({"stream info config max_msgs 2^64-1", [stream_with_bad_config] {
                     (void)detail::parse_stream_info(stream_with_bad_config, "stream info");
                   },
                   "max_msgs"});

  const auto purge = json::parse(R"({"success":true,"purged":-3})");
  cases.push_back({"purge reply purged -3", [purge] { (void)detail::parse_purge_reply(purge, "purge"); }, "purged"});
  const auto stored = json::parse(
      R"({"message":{"subject":"s","seq":1e30,"time":"2024-01-01T00:00:00Z","data":""}})");
  cases.push_back({"stored message seq 1e30", [stored] { (void)detail::parse_stored_message(stored, "get"); }, "seq"});

  for (const std::string member : {R"("size":-1)", R"("chunks":4294967296)", R"("options":{"max_chunk_size":-1})"}) {
    const std::string body = R"({"name":"x","bucket":"B",)" + member + "}";
    const std::string field = member.find("max_chunk_size") != std::string::npos ? "max_chunk_size"
                              : member.find("chunks") != std::string::npos       ? "chunks"
                                                                                 : "size";
    cases.push_back({"object info " + member, [body] { (void)detail::decode_object_info(body, "object info"); },
                     field});
  }
  check_bad_json(cases);
}

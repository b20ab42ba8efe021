#include <noesis/ship/detail/jetstream_api.hpp>

#include <catch2/catch.hpp>

#include <nats/nats.h>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/error.hpp>

using namespace std::chrono_literals;
using nlohmann::json;
using noesis::ship::errc;
using namespace noesis::ship::detail;

namespace {

// The error a call throws, or a default (success) code when it returns.
template <typename Call>
std::error_code thrown_code(Call call) {
  try {
    call();
  } catch (const noesis::ship::error& e) {
    return e.code();
  }
  return {};
}

template <typename Call>
std::string thrown_message(Call call) {
  try {
    call();
  } catch (const noesis::ship::error& e) {
    return e.what();
  }
  return {};
}

std::error_code jetstream_code(int err_code) {
  return noesis::ship::make_jetstream_error_code(err_code);
}

}  // namespace

// ---- API errors ----

TEST_CASE("api error absent from a success reply", "[jetstream_api]") {
  CHECK_FALSE(
      api_error(json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_info_response"})")));
  CHECK_FALSE(api_error(json::parse(R"([1,2])")));
  CHECK_NOTHROW(throw_if_api_error(json::parse(R"({"stream":"S","seq":1})"), "publish"));
}

TEST_CASE("api error keeps err_code and description", "[jetstream_api]") {
  const auto reply = json::parse(R"({
    "type": "io.nats.jetstream.api.v1.stream_info_response",
    "error": {"code": 404, "err_code": 10059, "description": "stream not found"}
  })");
  const auto api = api_error(reply);
  REQUIRE(api);
  CHECK(api->code == 404);
  CHECK(api->err_code == 10059);
  CHECK(api->description == "stream not found");

  const auto call = [&] { throw_if_api_error(reply, "stream info 'SHIP_EVENTS'"); };
  const auto code = thrown_code(call);
  CHECK(code == jetstream_code(10059));
  CHECK(code.category() == noesis::ship::jetstream_category());
  CHECK(code == noesis::ship::condition::jetstream);
  CHECK_THAT(thrown_message(call),
             Catch::StartsWith("stream info 'SHIP_EVENTS': stream not found"));
}

TEST_CASE("api error without err_code uses the status", "[jetstream_api]") {
  const auto with_code =
      json::parse(R"({"error":{"code":503,"description":"JetStream not enabled"}})");
  CHECK(thrown_code([&] { throw_if_api_error(with_code, "info"); }) == jetstream_code(503));

  const auto bare = json::parse(R"({"error":{}})");
  const auto code = thrown_code([&] { throw_if_api_error(bare, "info"); });
  CHECK(code == jetstream_code(500));
  CHECK(code);
}

TEST_CASE("api reply that is not JSON", "[jetstream_api]") {
  const auto call = [] { parse_api_reply("not json", "stream info 'S'"); };
  CHECK(thrown_code(call) == errc::serialization);
  CHECK_THAT(thrown_message(call), Catch::Contains("stream info 'S'"));
}

// ---- Retries of API calls ----

TEST_CASE("api call retried within the window", "[jetstream_api]") {
  const std::error_code timed_out = errc::timeout;
  // A 2 s attempt after the 250 ms pause ends within the 20 s window.
  CHECK(should_retry_api_call(timed_out, 0ms, 2000ms, 20000ms));
  CHECK(should_retry_api_call(timed_out, 17750ms, 2000ms, 20000ms));
  CHECK_FALSE(should_retry_api_call(timed_out, 17751ms, 2000ms, 20000ms));
  // The default 10 s timeout gets exactly one retry in the default 20 s window.
  CHECK_FALSE(should_retry_api_call(timed_out, 10000ms, 10000ms, 20000ms));
  CHECK(should_retry_api_call(timed_out, 9700ms, 10000ms, 20000ms));
  // A zero window turns retries off.
  CHECK_FALSE(should_retry_api_call(timed_out, 0ms, 2000ms, 0ms));
}

TEST_CASE("api call retried only when transient", "[jetstream_api]") {
  CHECK(should_retry_api_call(noesis::ship::make_nats_error_code(NATS_TIMEOUT), 0ms, 1000ms, 20000ms));
  CHECK(should_retry_api_call(jetstream_code(cluster_unavailable_err_code), 0ms, 1000ms, 20000ms));
  CHECK_FALSE(should_retry_api_call(jetstream_code(10059), 0ms, 1000ms, 20000ms));  // stream not found
  CHECK_FALSE(should_retry_api_call(jetstream_code(10023), 0ms, 1000ms, 20000ms));  // insufficient resources
  CHECK_FALSE(should_retry_api_call(errc::no_responders, 0ms, 1000ms, 20000ms));
  CHECK_FALSE(should_retry_api_call(errc::connection_closed, 0ms, 1000ms, 20000ms));
  CHECK_FALSE(should_retry_api_call(std::error_code(), 0ms, 1000ms, 20000ms));
}

// ---- Publish acks ----

TEST_CASE("pub ack parsed", "[jetstream_api]") {
  const auto ack =
      parse_pub_ack(R"({"stream":"SHIP_EVENTS","seq":42})", "ship.events.item.created");
  CHECK(ack.stream == "SHIP_EVENTS");
  CHECK(ack.sequence == 42);
  CHECK_FALSE(ack.duplicate);
  CHECK(ack.domain.empty());

  const auto duplicate =
      parse_pub_ack(R"({"stream":"KV_cfg","seq":7,"duplicate":true,"domain":"hub"})", "$KV.cfg.a");
  CHECK(duplicate.sequence == 7);
  CHECK(duplicate.duplicate);
  CHECK(duplicate.domain == "hub");
}

TEST_CASE("pub ack error form", "[jetstream_api]") {
  const auto body =
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}})";
  const auto call = [&] { parse_pub_ack(body, "$KV.cfg.a"); };
  CHECK(thrown_code(call) == jetstream_code(10071));
  CHECK_THAT(thrown_message(call), Catch::Contains("$KV.cfg.a"));
  CHECK_THAT(thrown_message(call), Catch::Contains("wrong last sequence: 5"));
}

TEST_CASE("pub ack malformed", "[jetstream_api]") {
  CHECK(thrown_code([] { parse_pub_ack("", "a"); }) == errc::serialization);
  CHECK(thrown_code([] { parse_pub_ack(R"({"stream":"S"})", "a"); }) == errc::serialization);
  CHECK(thrown_code([] { parse_pub_ack(R"({"stream":"S","seq":"one"})", "a"); }) ==
        errc::serialization);
  CHECK(thrown_code([] { parse_pub_ack("[]", "a"); }) == errc::serialization);
}

// ---- Ack subjects ----

TEST_CASE("ack subject v1", "[jetstream_api]") {
  const auto metadata =
      parse_ack_subject("$JS.ACK.SHIP_EVENTS.audit.2.40.12.1673950953123456789.5");
  REQUIRE(metadata);
  CHECK(metadata->stream == "SHIP_EVENTS");
  CHECK(metadata->consumer == "audit");
  CHECK(metadata->domain.empty());
  CHECK(metadata->num_delivered == 2);
  CHECK(metadata->stream_sequence == 40);
  CHECK(metadata->consumer_sequence == 12);
  CHECK(metadata->timestamp_ns == 1673950953123456789);
  CHECK(metadata->num_pending == 5);
}

TEST_CASE("ack subject v2", "[jetstream_api]") {
  const auto with_domain = parse_ack_subject(
      "$JS.ACK.hub.ACCHASH123.SHIP_EVENTS.audit.1.40.12.1673950953123456789.0.r4nd0m");
  REQUIRE(with_domain);
  CHECK(with_domain->domain == "hub");
  CHECK(with_domain->stream == "SHIP_EVENTS");
  CHECK(with_domain->consumer == "audit");
  CHECK(with_domain->num_delivered == 1);
  CHECK(with_domain->stream_sequence == 40);
  CHECK(with_domain->consumer_sequence == 12);
  CHECK(with_domain->timestamp_ns == 1673950953123456789);
  CHECK(with_domain->num_pending == 0);

  const auto no_domain =
      parse_ack_subject("$JS.ACK._.ACCHASH123.CHANNELS.mini_general.3.9.8.1673950953000000000.2");
  REQUIRE(no_domain);
  CHECK(no_domain->domain.empty());
  CHECK(no_domain->stream == "CHANNELS");
  CHECK(no_domain->consumer == "mini_general");
  CHECK(no_domain->num_delivered == 3);
  CHECK(no_domain->num_pending == 2);
}

TEST_CASE("ack subject rejects other subjects", "[jetstream_api]") {
  CHECK_FALSE(parse_ack_subject(""));
  CHECK_FALSE(parse_ack_subject("_INBOX.abc.def"));
  CHECK_FALSE(parse_ack_subject("$JS.NAK.S.c.1.2.3.4.5"));
  CHECK_FALSE(parse_ack_subject("$JS.ACK.S.c.1.2.3.4"));      // 8 tokens
  CHECK_FALSE(parse_ack_subject("$JS.ACK.d.h.S.c.1.2.3.4"));  // 10 tokens
  CHECK_FALSE(parse_ack_subject("$JS.ACK.S.c.one.2.3.4.5"));  // delivered not a number
  CHECK_FALSE(parse_ack_subject("$JS.ACK.S.c.1.2.3.4.-5"));   // negative pending
  CHECK_FALSE(parse_ack_subject("$JS.ACK..c.1.2.3.4.5"));     // empty stream
}

// ---- Headers ----

TEST_CASE("header block with status line", "[jetstream_api]") {
  const auto block = parse_header_block("NATS/1.0 404 No Messages\r\n\r\n");
  CHECK(block.status == 404);
  CHECK(block.description == "No Messages");
  CHECK(block.headers.empty());

  const auto no_description = parse_header_block("NATS/1.0 503\r\n\r\n");
  CHECK(no_description.status == 503);
  CHECK(no_description.description.empty());

  const auto heartbeat = parse_header_block(
      "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 12\r\nNats-Last-Stream: 40\r\n\r\n");
  CHECK(heartbeat.status == 100);
  CHECK(heartbeat.description == "Idle Heartbeat");
  CHECK(heartbeat.headers == Headers{{"Nats-Last-Consumer", "12"}, {"Nats-Last-Stream", "40"}});
}

TEST_CASE("header block with repeated keys", "[jetstream_api]") {
  const auto block = parse_header_block(
      "NATS/1.0\r\nNats-Msg-Id: abc\r\nTag: one\r\nTag: two\r\nNote:  spaced  out  \r\n\r\n");
  CHECK(block.status == 0);
  CHECK(block.description.empty());
  CHECK(block.headers ==
        Headers{{"Nats-Msg-Id", "abc"}, {"Tag", "one"}, {"Tag", "two"}, {"Note", "spaced  out"}});
  // Without the closing blank line.
  CHECK(parse_header_block("NATS/1.0\r\nA: 1").headers == Headers{{"A", "1"}});
}

TEST_CASE("header block malformed", "[jetstream_api]") {
  CHECK(thrown_code([] { parse_header_block("HTTP/1.1 200 OK\r\n\r\n"); }) == errc::serialization);
  CHECK(thrown_code([] { parse_header_block(""); }) == errc::serialization);
  CHECK(thrown_code([] { parse_header_block("NATS/1.0 4x4 Bad\r\n\r\n"); }) == errc::serialization);
  CHECK(thrown_code([] { parse_header_block("NATS/1.0\r\nno colon here\r\n\r\n"); }) ==
        errc::serialization);
  CHECK(thrown_code([] { parse_header_block("NATS/1.0\r\n: empty name\r\n\r\n"); }) ==
        errc::serialization);
}

TEST_CASE("header lookup prefers exact case", "[jetstream_api]") {
  const Headers headers = {
      {"kv-operation", "lower"}, {"KV-Operation", "DEL"}, {"X", "1"}, {"X", "2"}};
  CHECK(find_header(headers, "KV-Operation") == "DEL");
  CHECK(find_header(headers, "kv-operation") == "lower");
  CHECK(find_header(headers, "KV-OPERATION") == "lower");
  CHECK(find_header(headers, "X") == "1");
  CHECK_FALSE(find_header(headers, "Missing"));
}

// ---- Stored messages ----

TEST_CASE("stored message from a message get reply", "[jetstream_api]") {
  const auto reply =
      json{{"type", "io.nats.jetstream.api.v1.stream_msg_get_response"},
           {"message",
            {{"subject", "$KV.cfg.model"},
             {"seq", 17},
             {"hdrs", base64_encode(std::string_view("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"))},
             {"data", base64_encode(std::string_view("{\"x\":1}"))},
             {"time", "2023-01-17T10:22:33.123456789Z"}}}};
  const auto message = parse_stored_message(reply, "get '$KV.cfg.model'");
  CHECK(message.subject == "$KV.cfg.model");
  CHECK(message.sequence == 17);
  CHECK(message.time.time_since_epoch() == 1673950953123456789ns);
  CHECK(message.data == "{\"x\":1}");
  CHECK(message.headers == Headers{{"KV-Operation", "DEL"}});
  CHECK(message.header("KV-Operation") == "DEL");
  CHECK_FALSE(message.header("Nats-Msg-Id"));
}

TEST_CASE("stored message without headers or data", "[jetstream_api]") {
  const auto reply = json::parse(R"({
    "message": {"subject": "ship.channel.dev", "seq": 3, "time": "2023-01-17T10:22:33Z"}
  })");
  const auto message = parse_stored_message(reply, "get");
  CHECK(message.subject == "ship.channel.dev");
  CHECK(message.sequence == 3);
  CHECK(message.data.empty());
  CHECK(message.headers.empty());
}

TEST_CASE("stored message errors", "[jetstream_api]") {
  const auto not_found =
      json::parse(R"({"error":{"code":404,"err_code":10037,"description":"no message found"}})");
  const auto call = [&] { parse_stored_message(not_found, "last message on '$KV.cfg.a'"); };
  CHECK(thrown_code(call) == jetstream_code(10037));
  CHECK_THAT(thrown_message(call), Catch::Contains("no message found"));

  const auto bad_data = json::parse(
      R"({"message":{"subject":"a","seq":1,"data":"***","time":"2023-01-17T10:22:33Z"}})");
  CHECK(thrown_code([&] { parse_stored_message(bad_data, "get"); }) == errc::serialization);

  const auto bad_time = json::parse(R"({"message":{"subject":"a","seq":1,"time":"yesterday"}})");
  CHECK(thrown_code([&] { parse_stored_message(bad_time, "get"); }) == errc::serialization);

  const auto no_message = json::parse(R"({"type":"x"})");
  CHECK(thrown_code([&] { parse_stored_message(no_message, "get"); }) == errc::serialization);

  const auto no_seq = json::parse(R"({"message":{"subject":"a","time":"2023-01-17T10:22:33Z"}})");
  CHECK(thrown_code([&] { parse_stored_message(no_seq, "get"); }) == errc::serialization);
}

TEST_CASE("stored message from a direct get reply", "[jetstream_api]") {
  const auto message = parse_direct_get_reply(
      "NATS/1.0\r\nNats-Stream: KV_cfg\r\nNats-Subject: $KV.cfg.model\r\nNats-Sequence: 17\r\n"
      "Nats-Time-Stamp: 2023-01-17T10:22:33.123456789Z\r\nKV-Operation: PURGE\r\n\r\n",
      "payload", "get '$KV.cfg.model'");
  CHECK(message.subject == "$KV.cfg.model");
  CHECK(message.sequence == 17);
  CHECK(message.time.time_since_epoch() == 1673950953123456789ns);
  CHECK(message.data == "payload");
  CHECK(message.headers == Headers{{"KV-Operation", "PURGE"}});
}

TEST_CASE("direct get reply errors", "[jetstream_api]") {
  const auto not_found = [] {
    parse_direct_get_reply("NATS/1.0 404 Message Not Found\r\n\r\n", "", "get '$KV.cfg.a'");
  };
  CHECK(thrown_code(not_found) == jetstream_code(10037));
  CHECK_THAT(thrown_message(not_found), Catch::Contains("Message Not Found"));

  CHECK(thrown_code([] {
          parse_direct_get_reply("NATS/1.0 408 Bad Request\r\n\r\n", "", "get");
        }) == errc::invalid_argument);

  const auto no_sequence = [] {
    parse_direct_get_reply(
        "NATS/1.0\r\nNats-Subject: a\r\nNats-Time-Stamp: 2023-01-17T10:22:33Z\r\n\r\n", "", "get");
  };
  CHECK(thrown_code(no_sequence) == errc::serialization);

  const auto bad_sequence = [] {
    parse_direct_get_reply(
        "NATS/1.0\r\nNats-Subject: a\r\nNats-Sequence: x\r\nNats-Time-Stamp: "
        "2023-01-17T10:22:33Z\r\n\r\n",
        "", "get");
  };
  CHECK(thrown_code(bad_sequence) == errc::serialization);
}

// ---- Requests and subjects ----

TEST_CASE("message get and purge requests", "[jetstream_api]") {
  CHECK(msg_get_request_last_by_subject("$KV.cfg.model") ==
        json::parse(R"({"last_by_subj":"$KV.cfg.model"})"));
  CHECK(msg_get_request_sequence(17) == json::parse(R"({"seq":17})"));
  CHECK(purge_request("$O.files.C.abc") == json::parse(R"({"filter":"$O.files.C.abc"})"));
  CHECK(purge_request_keep("$KV.cfg.model", 1) ==
        json::parse(R"({"filter":"$KV.cfg.model","keep":1})"));
  CHECK(stream_info_request() == json::object());
  CHECK(stream_info_request("ship.channel.>") ==
        json::parse(R"({"subjects_filter":"ship.channel.>"})"));
  CHECK(stream_info_request("ship.channel.>", 100000) ==
        json::parse(R"({"subjects_filter":"ship.channel.>","offset":100000})"));
}

TEST_CASE("api subjects", "[jetstream_api]") {
  CHECK(api_subject("$JS.API", "STREAM.INFO.S") == "$JS.API.STREAM.INFO.S");
  CHECK(api_subject("$JS.API.", "STREAM.INFO.S") == "$JS.API.STREAM.INFO.S");
  CHECK(direct_get_subject("$JS.API", "KV_cfg") == "$JS.API.DIRECT.GET.KV_cfg");
  CHECK(direct_get_last_subject("$JS.API", "KV_cfg", "$KV.cfg.model") ==
        "$JS.API.DIRECT.GET.KV_cfg.$KV.cfg.model");
  CHECK(direct_get_last_subject("$JS.hub.API", "KV_cfg", "$KV.cfg.a") ==
        "$JS.hub.API.DIRECT.GET.KV_cfg.$KV.cfg.a");
}

TEST_CASE("purge reply", "[jetstream_api]") {
  CHECK(parse_purge_reply(json::parse(R"({"success":true,"purged":12})"), "purge") == 12);
  const auto failed =
      json::parse(R"({"error":{"code":500,"err_code":10075,"description":"stream purge failed"}})");
  CHECK(thrown_code([&] { parse_purge_reply(failed, "purge 'S'"); }) == jetstream_code(10075));
}

// ---- Stream info ----

TEST_CASE("stream info with subject counts", "[jetstream_api]") {
  const auto reply = json::parse(R"({
    "type": "io.nats.jetstream.api.v1.stream_info_response",
    "total": 3,
    "offset": 0,
    "limit": 100000,
    "config": {
      "name": "CHANNELS",
      "subjects": ["ship.channel.>"],
      "retention": "limits",
      "max_consumers": -1,
      "max_msgs": 10000,
      "max_bytes": -1,
      "max_age": 2592000000000000,
      "max_msgs_per_subject": -1,
      "max_msg_size": -1,
      "discard": "old",
      "storage": "file",
      "num_replicas": 1,
      "duplicate_window": 120000000000
    },
    "created": "2023-01-17T10:22:33.123456789Z",
    "state": {
      "messages": 6,
      "bytes": 1320,
      "first_seq": 5,
      "first_ts": "2023-01-17T10:22:34Z",
      "last_seq": 10,
      "last_ts": "2023-01-17T10:25:00Z",
      "num_subjects": 3,
      "subjects": {"ship.channel.dev": 3, "ship.channel.ops": 2, "ship.channel.general": 1},
      "consumer_count": 2
    }
  })");
  const auto info = parse_stream_info(reply, "stream info 'CHANNELS'");
  CHECK(info.config.name == "CHANNELS");
  CHECK(info.config.max_age == 2592000s);
  CHECK(info.config.max_msgs == 10000);
  CHECK(info.created.time_since_epoch() == 1673950953123456789ns);
  CHECK(info.state.messages == 6);
  CHECK(info.state.bytes == 1320);
  CHECK(info.state.first_seq == 5);
  CHECK(info.state.last_seq == 10);
  CHECK(info.state.consumer_count == 2);
  CHECK(info.state.num_subjects == 3);
  CHECK(info.state.subjects == std::map<std::string, uint64_t>{{"ship.channel.dev", 3},
                                                               {"ship.channel.ops", 2},
                                                               {"ship.channel.general", 1}});
  CHECK(info.total == 3);
  CHECK(info.offset == 0);
  CHECK(info.limit == 100000);
}

TEST_CASE("stream info of an empty stream", "[jetstream_api]") {
  const auto reply = json::parse(R"({
    "config": {"name": "SHIP_EVENTS", "subjects": ["ship.events.>"], "max_age": 86400000000000},
    "created": "2023-01-17T10:22:33Z",
    "state": {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0, "consumer_count": 0}
  })");
  const auto info = parse_stream_info(reply, "stream info");
  CHECK(info.config.max_age == 86400s);
  CHECK(info.state.messages == 0);
  CHECK(info.state.subjects.empty());
}

TEST_CASE("stream info errors", "[jetstream_api]") {
  const auto missing =
      json::parse(R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  CHECK(thrown_code([&] { parse_stream_info(missing, "stream info 'X'"); }) ==
        jetstream_code(10059));
  CHECK(thrown_code([] { parse_stream_info(json::parse(R"({"state":{}})"), "info"); }) ==
        errc::serialization);
  const auto bad_state = json::parse(R"({"config":{"name":"S"},"state":{"messages":"six"}})");
  CHECK(thrown_code([&] { parse_stream_info(bad_state, "info"); }) == errc::serialization);
}

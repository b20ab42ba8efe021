// parse_pub_ack reads the plain PubAck shape without nlohmann::json and hands every other body to
// the full parser. These cases check that both routes give the same PubAck or the same error.
#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/detail/json_fields.hpp>

#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <noesis/ship/error.hpp>

using nlohmann::json;
using noesis::ship::detail::PubAck;

namespace {

// What parse_pub_ack returned, or the error code it threw.
struct Outcome {
  std::optional<PubAck> ack;
  std::error_code error;
};

Outcome outcome_of_scan(const std::string& body) {
  Outcome outcome;
  try {
    outcome.ack = noesis::ship::detail::parse_pub_ack(body, "probe.subject");
  } catch (const noesis::ship::error& e) {
    outcome.error = e.code();
  }
  return outcome;
}

// The same reply read only through nlohmann::json, the way parse_pub_ack read every reply before
// it had its plain-shape path.
Outcome outcome_of_full_parse(const std::string& body) {
  Outcome outcome;
  try {
    json reply;
    try {
      reply = json::parse(body);
    } catch (const json::exception&) {
      throw noesis::ship::error(noesis::ship::errc::serialization, "not JSON");
    }
    noesis::ship::detail::throw_if_api_error(reply, "publish");
    try {
      if (!reply.is_object() || !reply.contains("stream") || !reply.contains("seq")) {
        throw noesis::ship::error(noesis::ship::errc::serialization, "not a PubAck");
      }
      PubAck ack;
      ack.stream = reply.at("stream").get<std::string>();
      ack.sequence = noesis::ship::detail::integer_value<std::uint64_t>(reply.at("seq"), "seq");
      ack.duplicate = reply.value("duplicate", false);
      ack.domain = reply.value("domain", std::string{});
      outcome.ack = ack;
    } catch (const json::exception&) {
      throw noesis::ship::error(noesis::ship::errc::serialization, "malformed PubAck");
    }
  } catch (const noesis::ship::error& e) {
    outcome.error = e.code();
  }
  return outcome;
}

}  // namespace

TEST_CASE("PubAck plain shape matches full parse", "[jetstream_api]") {
  const std::vector<std::string> bodies = {
      // Read by the plain-shape path.
      R"({"stream":"S","seq":1})",
      R"({"stream":"BENCH_JS","seq":200000})",
      R"({"stream":"S","seq":0})",
      R"({"stream":"","seq":5})",
      R"({"stream":"KV_cfg","seq":7,"duplicate":true,"domain":"hub"})",
      R"({"seq":7,"domain":"hub","stream":"KV_cfg","duplicate":false})",
      R"({"stream":"S","seq":18446744073709551615})",
      " \r\n\t{ \"stream\" : \"S\" ,\n \"seq\" : 3 } \n",
      R"({"stream":"A","stream":"B","seq":1,"seq":2})",
      // Handed to the full parser.
      R"({"stream":"a\"b","seq":1})",
      "{\"stream\":\"\xc3\xbc\",\"seq\":1}",
      "{\"stream\":\"\xff\",\"seq\":1}",
      R"({"stream":"S","seq":1,"val":"x"})",
      R"({"stream":"S","seq":1,"extra":{"a":[1,2]}})",
      R"({"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}})",
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"S","seq":0})",
      // Rejected by both.
      R"({"stream":"S","seq":18446744073709551616})",
      R"({"stream":"S","seq":01})",
      R"({"stream":"S","seq":1.0})",
      R"({"stream":"S","seq":1e2})",
      R"({"stream":"S","seq":-1})",
      R"({"stream":"S","seq":"1"})",
      R"({"stream":1,"seq":1})",
      R"({"stream":"S"})",
      R"({"seq":1})",
      R"({"stream":"S","seq":1,"duplicate":"yes"})",
      R"({"stream":"S","seq":1,"domain":null})",
      R"({"stream":"S","seq":1,})",
      R"({"stream":"S","seq":1} x)",
      R"({"stream":"S","seq":1)",
      R"({"stream":"S)",
      R"({})",
      R"([])",
      "",
  };
  for (const auto& body : bodies) {
    INFO("body: " << body);
    const Outcome scanned = outcome_of_scan(body);
    const Outcome reference = outcome_of_full_parse(body);
    CHECK(scanned.error == reference.error);
    REQUIRE(scanned.ack.has_value() == reference.ack.has_value());
    if (!scanned.ack) continue;
    CHECK(scanned.ack->stream == reference.ack->stream);
    CHECK(scanned.ack->sequence == reference.ack->sequence);
    CHECK(scanned.ack->duplicate == reference.ack->duplicate);
    CHECK(scanned.ack->domain == reference.ack->domain);
  }
}

TEST_CASE("PubAck plain shape values", "[jetstream_api]") {
  const PubAck ack = noesis::ship::detail::parse_pub_ack(
      R"({"stream":"KV_cfg","seq":18446744073709551615,"duplicate":true,"domain":"hub"})", "$KV.cfg.a");
  CHECK(ack.stream == "KV_cfg");
  CHECK(ack.sequence == 18446744073709551615ULL);
  CHECK(ack.duplicate);
  CHECK(ack.domain == "hub");
}

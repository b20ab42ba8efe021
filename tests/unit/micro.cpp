#include <noesis/ship/detail/micro.hpp>
#include <noesis/ship/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace detail = noesis::ship::detail;
using namespace std::chrono_literals;

namespace {

detail::MicroIdentity sample_identity() {
  return {"orders", "NUIDABC123", "1.2.3", {{"region", "eu"}, {"az", "1"}}};
}

// 2024-03-20T04:37:32.123456789Z as a system_clock time point.
std::chrono::system_clock::time_point sample_started() {
  const auto day = std::chrono::sys_days{std::chrono::year{2024} / 3 / 20};
  const auto time = day + 4h + 37min + 32s + 123456789ns;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(time);
}

}  // namespace

TEST_CASE("micro control subjects for each verb", "[micro]") {
  const auto ping = detail::micro_control_subjects(detail::MicroVerb::ping, "orders", "ID1");
  CHECK(ping[0] == "$SRV.PING");
  CHECK(ping[1] == "$SRV.PING.orders");
  CHECK(ping[2] == "$SRV.PING.orders.ID1");

  const auto info = detail::micro_control_subjects(detail::MicroVerb::info, "orders", "ID1");
  CHECK(info[0] == "$SRV.INFO");
  CHECK(info[1] == "$SRV.INFO.orders");
  CHECK(info[2] == "$SRV.INFO.orders.ID1");

  const auto stats = detail::micro_control_subjects(detail::MicroVerb::stats, "orders", "ID1");
  CHECK(stats[0] == "$SRV.STATS");
  CHECK(stats[1] == "$SRV.STATS.orders");
  CHECK(stats[2] == "$SRV.STATS.orders.ID1");
}

TEST_CASE("micro control subjects with custom prefix", "[micro]") {
  const auto subjects =
      detail::micro_control_subjects(detail::MicroVerb::ping, "svc", "X", "$SRV.acme");
  CHECK(subjects[0] == "$SRV.acme.PING");
  CHECK(subjects[1] == "$SRV.acme.PING.svc");
  CHECK(subjects[2] == "$SRV.acme.PING.svc.X");
}

TEST_CASE("micro control subjects reject invalid name", "[micro]") {
  using noesis::ship::errc;
  try {
    detail::micro_control_subjects(detail::MicroVerb::info, "a.b", "ID1");
    FAIL("no exception for service name 'a.b'");
  } catch (const noesis::ship::error& e) {
    CHECK(e.code() == errc::invalid_name);
    CHECK_THAT(e.what(), Catch::Contains("'a.b'"));
  }
  CHECK_THROWS_AS(detail::micro_control_subjects(detail::MicroVerb::info, "orders", ""),
                  noesis::ship::error);
  CHECK_THROWS_AS(detail::micro_control_subjects(detail::MicroVerb::info, "orders", "I D"),
                  noesis::ship::error);
}

TEST_CASE("micro verb names", "[micro]") {
  CHECK(detail::to_string(detail::MicroVerb::ping) == "PING");
  CHECK(detail::to_string(detail::MicroVerb::info) == "INFO");
  CHECK(detail::to_string(detail::MicroVerb::stats) == "STATS");
}

TEST_CASE("micro ping response exact JSON", "[micro]") {
  CHECK(detail::micro_ping_response(sample_identity()) ==
        R"({"name":"orders","id":"NUIDABC123","version":"1.2.3",)"
        R"("metadata":{"az":"1","region":"eu"},"type":"io.nats.micro.v1.ping_response"})");
}

TEST_CASE("micro ping response empty metadata is object", "[micro]") {
  const detail::MicroIdentity identity{"svc", "ID", "0.1.0", {}};
  CHECK(detail::micro_ping_response(identity) ==
        R"({"name":"svc","id":"ID","version":"0.1.0","metadata":{},)"
        R"("type":"io.nats.micro.v1.ping_response"})");
}

TEST_CASE("micro info response exact JSON", "[micro]") {
  const std::vector<detail::MicroEndpointInfo> endpoints{
      {"create", "orders.create", "q", {{"schema", "v2"}}},
      {"list", "orders.list", "readers", {}},
  };
  CHECK(detail::micro_info_response(sample_identity(), "Order intake", endpoints) ==
        R"({"name":"orders","id":"NUIDABC123","version":"1.2.3",)"
        R"("metadata":{"az":"1","region":"eu"},"type":"io.nats.micro.v1.info_response",)"
        R"("description":"Order intake","endpoints":[)"
        R"({"name":"create","subject":"orders.create","queue_group":"q",)"
        R"("metadata":{"schema":"v2"}},)"
        R"({"name":"list","subject":"orders.list","queue_group":"readers","metadata":{}}]})");
}

TEST_CASE("micro info response without endpoints", "[micro]") {
  const detail::MicroIdentity identity{"svc", "ID", "0.1.0", {}};
  CHECK(detail::micro_info_response(identity, "", {}) ==
        R"({"name":"svc","id":"ID","version":"0.1.0","metadata":{},)"
        R"("type":"io.nats.micro.v1.info_response","description":"","endpoints":[]})");
}

TEST_CASE("micro endpoint info default queue group", "[micro]") {
  const detail::MicroEndpointInfo endpoint{"echo", "echo", {}, {}};
  CHECK(endpoint.queue_group.empty());
  const detail::MicroEndpointInfo defaulted;
  CHECK(defaulted.queue_group == "q");
}

TEST_CASE("micro stats response exact JSON", "[micro]") {
  detail::EndpointStats create_stats;
  create_stats.record(1500ns);
  create_stats.record(2500ns, "bad input");

  std::vector<detail::MicroEndpointStats> endpoints;
  endpoints.push_back({{"create", "orders.create", "q", {}}, create_stats, std::nullopt});
  endpoints.push_back({{"list", "orders.list", "q", {}}, {}, nlohmann::json{{"cache", 3}}});

  CHECK(detail::micro_stats_response(sample_identity(), sample_started(), endpoints) ==
        R"({"name":"orders","id":"NUIDABC123","version":"1.2.3",)"
        R"("metadata":{"az":"1","region":"eu"},"type":"io.nats.micro.v1.stats_response",)"
        R"("started":"2024-03-20T04:37:32.123456789Z","endpoints":[)"
        R"({"name":"create","subject":"orders.create","queue_group":"q",)"
        R"("num_requests":2,"num_errors":1,"last_error":"bad input",)"
        R"("processing_time":4000,"average_processing_time":2000},)"
        R"({"name":"list","subject":"orders.list","queue_group":"q",)"
        R"("num_requests":0,"num_errors":0,"last_error":"",)"
        R"("processing_time":0,"average_processing_time":0,"data":{"cache":3}}]})");
}

TEST_CASE("micro stats response null data is written", "[micro]") {
  const detail::MicroIdentity identity{"svc", "ID", "0.1.0", {}};
  std::vector<detail::MicroEndpointStats> endpoints;
  endpoints.push_back({{"e", "e", "q", {}}, {}, nlohmann::json(nullptr)});
  const auto body = detail::micro_stats_response(identity, sample_started(), endpoints);
  CHECK_THAT(body, Catch::EndsWith(R"("average_processing_time":0,"data":null}]})"));
}

TEST_CASE("micro stats response parses back", "[micro]") {
  detail::EndpointStats stats;
  stats.record(10ms);
  std::vector<detail::MicroEndpointStats> endpoints;
  endpoints.push_back({{"e", "svc.e", "q", {{"k", "v"}}}, stats, std::nullopt});

  const auto body = nlohmann::json::parse(
      detail::micro_stats_response(sample_identity(), sample_started(), endpoints));
  CHECK(body.at("type") == "io.nats.micro.v1.stats_response");
  CHECK(body.at("endpoints").size() == 1);
  CHECK(body.at("endpoints")[0].at("processing_time") == 10'000'000);
  CHECK_FALSE(body.at("endpoints")[0].contains("data"));
  CHECK_FALSE(body.at("endpoints")[0].contains("metadata"));
}

TEST_CASE("micro responses replace invalid UTF-8", "[micro]") {
  const detail::MicroIdentity identity{"svc", "ID", "0.1.0", {{"bad", "\xff"}}};
  const auto body = detail::micro_ping_response(identity);
  CHECK_THAT(body, Catch::Contains("\"bad\":\"\xef\xbf\xbd\""));
}

TEST_CASE("micro timestamp format", "[micro]") {
  CHECK(detail::micro_timestamp(sample_started()) == "2024-03-20T04:37:32.123456789Z");
  CHECK(detail::micro_timestamp(std::chrono::system_clock::time_point{}) ==
        "1970-01-01T00:00:00.000000000Z");
  const auto before_epoch = std::chrono::system_clock::time_point{} - 1s;
  CHECK(detail::micro_timestamp(before_epoch) == "1969-12-31T23:59:59.000000000Z");
}

TEST_CASE("endpoint stats count requests and errors", "[micro]") {
  detail::EndpointStats stats;
  stats.record(100ns);
  stats.record(200ns);
  stats.record(300ns);
  stats.record(400ns, "bad input");
  stats.record(503ns);

  CHECK(stats.num_requests() == 5);
  CHECK(stats.num_errors() == 1);
  CHECK(stats.last_error() == "bad input");
  CHECK(stats.processing_time() == 1503ns);
  CHECK(stats.average_processing_time() == stats.processing_time() / 5);
  CHECK(stats.average_processing_time() == 300ns);  // 1503 / 5 truncated
}

TEST_CASE("endpoint stats keep latest error", "[micro]") {
  detail::EndpointStats stats;
  stats.record(1ns, "first");
  stats.record(1ns);
  stats.record(1ns, "second");
  CHECK(stats.num_errors() == 2);
  CHECK(stats.last_error() == "second");
}

TEST_CASE("endpoint stats empty and reset", "[micro]") {
  detail::EndpointStats stats;
  CHECK(stats.num_requests() == 0);
  CHECK(stats.average_processing_time() == 0ns);

  stats.record(5ms, "boom");
  stats.reset();
  CHECK(stats.num_requests() == 0);
  CHECK(stats.num_errors() == 0);
  CHECK(stats.last_error().empty());
  CHECK(stats.processing_time() == 0ns);
  CHECK(stats.average_processing_time() == 0ns);
}

TEST_CASE("semver accepts valid versions", "[micro]") {
  const auto version = GENERATE(as<std::string>{}, "0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha",
                                "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
                                "1.0.0-x-y-z.--", "1.0.0-0123a", "1.0.0+20130313144700",
                                "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD",
                                "1.0.0+001", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
                                "99999999999999999999999.999999999999999999.99999999999999999");
  INFO("version: " << version);
  CHECK(detail::is_semver(version));
  CHECK_NOTHROW(detail::validate_micro_version(version));
}

TEST_CASE("semver rejects invalid versions", "[micro]") {
  const auto version = GENERATE(as<std::string>{}, "", "1", "1.2", "1.2.3.4", "01.2.3",
                                "1.02.3", "1.2.03", "v1.2.3", " 1.2.3", "1.2.3 ", "1.2.3-",
                                "1.2.3+", "1.2.3-01", "1.2.3-alpha..1", "1.2.3-alpha.",
                                "1.2.3+build.", "1.2.3+a+b", "1.2.3-al_pha", "1.2.-3",
                                "a.b.c", "1..3", "-1.2.3", "1.2.3-+", "1.2.3-é");
  INFO("version: '" << version << "'");
  CHECK_FALSE(detail::is_semver(version));
  CHECK_THROWS_AS(detail::validate_micro_version(version), noesis::ship::error);
}

TEST_CASE("version error names value", "[micro]") {
  try {
    detail::validate_micro_version("1.0");
    FAIL("no exception for version '1.0'");
  } catch (const noesis::ship::error& e) {
    CHECK(e.code() == noesis::ship::errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("'1.0'"));
    CHECK_THAT(e.what(), Catch::Contains("MAJOR.MINOR.PATCH"));
  }
}

TEST_CASE("micro name validation", "[micro]") {
  CHECK(detail::is_valid_micro_name("orders"));
  CHECK(detail::is_valid_micro_name("Order_Service-2"));
  CHECK(detail::is_valid_micro_name("-_"));
  CHECK_FALSE(detail::is_valid_micro_name(""));
  CHECK_FALSE(detail::is_valid_micro_name("a.b"));
  CHECK_FALSE(detail::is_valid_micro_name("a b"));
  CHECK_FALSE(detail::is_valid_micro_name("a*"));
  CHECK_FALSE(detail::is_valid_micro_name("a>"));
  CHECK_FALSE(detail::is_valid_micro_name("caf\xc3\xa9"));

  try {
    detail::validate_micro_name("bad name", "endpoint name");
    FAIL("no exception for endpoint name 'bad name'");
  } catch (const noesis::ship::error& e) {
    CHECK(e.code() == noesis::ship::errc::invalid_name);
    CHECK_THAT(e.what(), Catch::StartsWith("endpoint name 'bad name' is invalid"));
  }
  CHECK_NOTHROW(detail::validate_micro_name("good_name", "service name"));
}

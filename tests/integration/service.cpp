// ServiceBuilder against a private nats-server: routing, errors, micro discovery and
// statistics, queue groups, shutdown on SIGTERM and mutation events.
#include <catch2/catch.hpp>

#include <csignal>
#include <exception>
#include <set>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/service.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

NatsConfig client_config() {
  NatsConfig config(test::shared_server().url());
  config.reconnect.wait = 100ms;
  return config;
}

// The state of the seed's echo example.
struct EchoState {
  int count = 0;
};

ServiceBuilder<EchoState> echo_service(std::string prefix) {
  ServiceBuilder<EchoState> service(std::move(prefix), EchoState{});
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .handler("echo", [](std::string_view payload, EchoState&) { return std::string(payload); })
      .handler("count", [](std::string_view, EchoState& state) { return std::to_string(++state.count); })
      .handler("hello", [](std::string_view, EchoState&) {
        return nlohmann::json{{"message", "Hello from noesis-ship!"}};
      });
  return service;
}

// Tracks one run() of a service spawned in the background.
struct RunningService {
  bool started = false;
  bool finished = false;
  std::exception_ptr failure;
};

// Spawns service.run() and waits until the service is subscribed.
template <typename State>
awaitable<void> start(ServiceBuilder<State>& service, RunningService& running) {
  service.on_started([&running] { running.started = true; });
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, service.run(), [&running](std::exception_ptr e) {
    running.failure = e;
    running.finished = true;
  });
  while (!running.started && !running.finished) co_await test::sleep_for(5ms);
  if (running.failure) std::rethrow_exception(running.failure);
}

awaitable<void> wait_finished(RunningService& running) {
  while (!running.finished) co_await test::sleep_for(5ms);
  if (running.failure) std::rethrow_exception(running.failure);
}

template <typename State>
awaitable<void> stop(ServiceBuilder<State>& service, RunningService& running) {
  service.stop();
  co_await wait_finished(running);
}

awaitable<std::string> call(Connection& client, std::string subject, std::string payload = {}) {
  Message reply = co_await client.request(subject, payload, 5s);
  co_return std::string(reply.data());
}

awaitable<nlohmann::json> call_json(Connection& client, std::string subject) {
  Message reply = co_await client.request(subject, "", 5s);
  co_return nlohmann::json::parse(reply.data());
}

const nlohmann::json* find_endpoint(const nlohmann::json& response, std::string_view name) {
  for (const auto& endpoint : response.at("endpoints")) {
    if (endpoint.at("name") == name) return &endpoint;
  }
  return nullptr;
}

// Replies received by concurrent requests.
struct Tally {
  int sent = 0;
  int replied = 0;
  int failed = 0;
  std::set<std::string> payloads;
};

awaitable<void> send_one(Connection client, std::string subject, std::string payload, Tally* tally) {
  auto [ec, reply] = co_await client.request(subject, payload, 10s, asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) {
    ++tally->failed;
  } else {
    ++tally->replied;
    tally->payloads.insert(std::string(reply.data()));
  }
}

awaitable<void> wait_for_replies(const Tally& tally) {
  while (tally.replied + tally.failed < tally.sent) co_await test::sleep_for(5ms);
}

}  // namespace

TEST_CASE("service echo example") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  auto service = echo_service("echo.cmd");
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::string echoed = co_await call(client, "echo.cmd.echo", "ping 42");
    CHECK(echoed == "ping 42");

    const std::string first = co_await call(client, "echo.cmd.count");
    const std::string second = co_await call(client, "echo.cmd.count");
    const std::string third = co_await call(client, "echo.cmd.count");
    CHECK(first == "1");
    CHECK(second == "2");
    CHECK(third == "3");

    const std::string hello = co_await call(client, "echo.cmd.hello");
    CHECK(hello == R"({"message":"Hello from noesis-ship!"})");

    Message unknown = co_await client.request("echo.cmd.nope", "", 5s);
    CHECK(unknown.data() == R"({"error":"UNKNOWN_COMMAND: nope","code":404})");
    const auto code = unknown.header("Nats-Service-Error-Code");
    REQUIRE(code);
    CHECK(*code == "404");

    co_await stop(service, running);
  });
  CHECK(service.state().count == 3);
}

TEST_CASE("service dotted command routes to its handler") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("kanban.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .handler("pr.merge", [](std::string_view payload, int&) { return "merged " + std::string(payload); })
      .handler("pr", [](std::string_view, int&) { return std::string("pr"); });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::string merged = co_await call(client, "kanban.cmd.pr.merge", "#7");
    CHECK(merged == "merged #7");
    const std::string pr = co_await call(client, "kanban.cmd.pr");
    CHECK(pr == "pr");

    co_await stop(service, running);
  });
}

TEST_CASE("service default handler gets full subject") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("fallback.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .handler("known", [](std::string_view, int&) { return std::string("named"); })
      .default_handler([](std::string_view subject, std::string_view payload, int& calls) {
        ++calls;
        return "default " + std::string(subject) + " " + std::string(payload);
      });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::string fallback = co_await call(client, "fallback.cmd.some.thing", "x");
    CHECK(fallback == "default fallback.cmd.some.thing x");
    const std::string named = co_await call(client, "fallback.cmd.known", "x");
    CHECK(named == "named");

    co_await stop(service, running);
  });
  CHECK(service.state() == 1);
}

TEST_CASE("service coroutine handler and exceptions") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("coro.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .handler("later",
               [](std::string_view payload, int& calls) -> awaitable<std::string> {
                 // Copies before the first suspension: the view is valid, the copy is simpler.
                 std::string text(payload);
                 co_await test::sleep_for(10ms);
                 ++calls;
                 co_return "later " + text;
               })
      .handler("boom", [](std::string_view, int&) -> std::string { throw std::runtime_error("disk full"); });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::string later = co_await call(client, "coro.cmd.later", "a");
    CHECK(later == "later a");

    Message boom = co_await client.request("coro.cmd.boom", "", 5s);
    CHECK(boom.data() == R"({"error":"disk full","code":500})");
    const auto text = boom.header("Nats-Service-Error");
    const auto code = boom.header("Nats-Service-Error-Code");
    REQUIRE(text);
    REQUIRE(code);
    CHECK(*text == "disk full");
    CHECK(*code == "500");

    // The service goes on after a failed request.
    const std::string again = co_await call(client, "coro.cmd.later", "b");
    CHECK(again == "later b");

    co_await stop(service, running);
  });
  CHECK(service.state() == 2);
}

TEST_CASE("service stats count requests and errors") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("stats.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .name("stats-svc")
      .version("1.2.3")
      .handler("check", [](std::string_view payload, int&) -> std::string {
        if (payload == "bad") throw ServiceError(400, "bad input");
        return "ok";
      });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    for (int i = 0; i < 3; ++i) {
      Message good = co_await client.request("stats.cmd.check", "good", 5s);
      CHECK(good.data() == "ok");
      CHECK_FALSE(good.header("Nats-Service-Error"));
      CHECK_FALSE(good.header("Nats-Service-Error-Code"));
    }

    Message bad = co_await client.request("stats.cmd.check", "bad", 5s);
    CHECK(bad.data() == R"({"error":"bad input","code":400})");
    const auto text = bad.header("Nats-Service-Error");
    const auto code = bad.header("Nats-Service-Error-Code");
    REQUIRE(text);
    REQUIRE(code);
    CHECK(*text == "bad input");
    CHECK(*code == "400");

    Message last = co_await client.request("stats.cmd.check", "good", 5s);
    CHECK(last.data() == "ok");

    const nlohmann::json stats = co_await call_json(client, "$SRV.STATS.stats-svc." + service.id());
    CHECK(stats.at("type") == "io.nats.micro.v1.stats_response");
    CHECK(stats.at("name") == "stats-svc");
    CHECK(stats.at("id") == service.id());
    CHECK(stats.at("version") == "1.2.3");
    CHECK(stats.at("endpoints").size() == 1);
    const nlohmann::json* check = find_endpoint(stats, "check");
    REQUIRE(check != nullptr);
    CHECK(check->at("subject") == "stats.cmd.check");
    CHECK(check->at("queue_group") == "q");
    CHECK(check->at("num_requests") == 5);
    CHECK(check->at("num_errors") == 1);
    CHECK(check->at("last_error") == "bad input");
    const auto total = check->at("processing_time").get<std::int64_t>();
    const auto average = check->at("average_processing_time").get<std::int64_t>();
    CHECK(total > 0);
    CHECK(average == total / 5);

    co_await stop(service, running);
  });
}

TEST_CASE("service ping and info") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("info.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .name("info-svc")
      .version("2.0.0-rc.1")
      .description("Info test service")
      .metadata({{"region", "eu"}})
      .handler("pr.merge", [](std::string_view, int&) { return std::string("merged"); })
      .default_handler([](std::string_view, std::string_view, int&) { return std::string("fallback"); });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::vector<std::string> subjects{"$SRV.PING", "$SRV.PING.info-svc", "$SRV.PING.info-svc." + service.id()};
    for (const auto& subject : subjects) {
      // Services of other tests also reply on the wide subject; the first reply may be theirs, so
      // only the narrower subjects are checked field by field.
      const nlohmann::json ping = co_await call_json(client, subject);
      CHECK(ping.at("type") == "io.nats.micro.v1.ping_response");
      if (subject == "$SRV.PING") continue;
      CHECK(ping.at("name") == "info-svc");
      CHECK(ping.at("id") == service.id());
      CHECK(ping.at("version") == "2.0.0-rc.1");
    }

    const nlohmann::json info = co_await call_json(client, "$SRV.INFO.info-svc");
    CHECK(info.at("type") == "io.nats.micro.v1.info_response");
    CHECK(info.at("name") == "info-svc");
    CHECK(info.at("id") == service.id());
    CHECK(info.at("version") == "2.0.0-rc.1");
    CHECK(info.at("description") == "Info test service");
    CHECK(info.at("metadata").at("region") == "eu");
    CHECK(info.at("endpoints").size() == 2);
    const nlohmann::json* merge = find_endpoint(info, "pr_merge");
    const nlohmann::json* fallback = find_endpoint(info, "default");
    REQUIRE(merge != nullptr);
    REQUIRE(fallback != nullptr);
    CHECK(merge->at("subject") == "info.cmd.pr.merge");
    CHECK(fallback->at("subject") == "info.cmd.>");
    CHECK(fallback->at("queue_group") == "q");

    co_await stop(service, running);
  });
}

TEST_CASE("service instances in a queue group split requests") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  auto first = echo_service("split.cmd");
  auto second = echo_service("split.cmd");
  RunningService first_running;
  RunningService second_running;
  Tally tally;
  constexpr int requests = 1000;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(first, first_running);
    co_await start(second, second_running);

    for (int i = 0; i < requests; ++i) {
      ++tally.sent;
      asio::co_spawn(io, send_one(client, "split.cmd.count", "", &tally), asio::detached);
    }
    co_await wait_for_replies(tally);

    co_await stop(first, first_running);
    co_await stop(second, second_running);
  });
  CHECK(tally.failed == 0);
  CHECK(tally.replied == requests);
  CHECK(first.state().count > 0);
  CHECK(second.state().count > 0);
  // Each request was handled by exactly one instance.
  CHECK(first.state().count + second.state().count == requests);
}

TEST_CASE("service SIGTERM finishes in-flight requests") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("slow.cmd", 0);
  int shutdowns = 0;
  int entered = 0;
  service.nats_url(test::shared_server().url())
      .handle_signals(true)
      .handler("work",
               [&entered](std::string_view payload, int& done) -> awaitable<std::string> {
                 std::string text(payload);
                 ++entered;
                 co_await test::sleep_for(20ms);
                 ++done;
                 co_return "done " + text;
               })
      .on_shutdown([&shutdowns](int&) { ++shutdowns; });
  RunningService running;
  Tally tally;
  constexpr int requests = 50;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    for (int i = 0; i < requests; ++i) {
      ++tally.sent;
      asio::co_spawn(io, send_one(client, "slow.cmd.work", std::to_string(i), &tally), asio::detached);
    }
    while (entered == 0) co_await test::sleep_for(1ms);
    std::raise(SIGTERM);

    co_await wait_finished(running);
    co_await wait_for_replies(tally);
  });
  CHECK(tally.failed == 0);
  CHECK(tally.replied == requests);
  CHECK(tally.payloads.size() == requests);
  CHECK(service.state() == requests);
  CHECK(shutdowns == 1);
}

TEST_CASE("service stop on a shared connection") {
  asio::io_context io;
  Connection conn(io.get_executor(), client_config());
  ServiceBuilder<int> service("shared.cmd", 0);
  int shutdowns = 0;
  service.connection(conn)
      .handle_signals(false)
      .handler("stop", [&service](std::string_view, int&) {
        service.stop();
        return std::string("stopping");
      })
      .on_shutdown([&shutdowns](int&) { ++shutdowns; });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await start(service, running);

    const std::string reply = co_await call(conn, "shared.cmd.stop");
    CHECK(reply == "stopping");
    co_await wait_finished(running);

    // The service leaves a connection it was given open.
    CHECK(conn.is_connected());
    auto [ec, late] = co_await conn.request("shared.cmd.stop", "", 500ms, asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::no_responders);
  });
  CHECK(shutdowns == 1);
  CHECK_THROWS_AS(service.run_blocking(), error);
}

// The builder is destroyed after the io_contexts of its runs. It used to keep the run's timers
// and subscriptions, whose destructors then touched the destroyed io_context (a heap use after
// free that AddressSanitizer reports).
TEST_CASE("service builder outlives its io_context") {
  auto service = echo_service("outlive.cmd");
  int starts = 0;
  service.on_started([&service, &starts] {
    ++starts;
    service.stop();
  });
  service.run_blocking();
  CHECK_FALSE(service.running());
  service.run_blocking();
  {
    asio::io_context io;
    test::run(io, [&service]() -> awaitable<void> { co_await service.run(); });
  }
  CHECK(starts == 3);
  CHECK_FALSE(service.running());
}

TEST_CASE("service mutation events reach a core subscriber") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("mut.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .event_prefix("mut.events")
      .handler("add", [](std::string_view payload, int& items) {
        ++items;
        return std::string(payload);
      })
      .handler("get", [](std::string_view, int& items) { return std::to_string(items); })
      .mutation_callback([](std::string_view command, std::string_view response,
                            const int& items) -> std::optional<MutationEvent> {
        if (command != "add") return std::nullopt;
        return MutationEvent("item.added", std::string(response) + "#" + std::to_string(items));
      });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    auto events = client.subscribe("mut.events.>");
    co_await client.flush();
    co_await start(service, running);

    const std::string got = co_await call(client, "mut.cmd.get");
    CHECK(got == "0");
    const std::string added = co_await call(client, "mut.cmd.add", R"({"id":1})");
    CHECK(added == R"({"id":1})");

    // The `get` request published nothing, so the first event is the one of `add`.
    Message event = co_await events.next();
    CHECK(event.subject() == "mut.events.item.added");
    CHECK(event.data() == R"({"id":1}#1)");

    co_await stop(service, running);
  });
}

TEST_CASE("service mutation events as acknowledged ShipEvents") {
  asio::io_context io;
  Connection client(io.get_executor(), client_config());
  ServiceBuilder<int> service("jsmut.cmd", 0);
  service.nats_url(test::shared_server().url())
      .handle_signals(false)
      .event_prefix("jsmut.events")
      .event_bus_stream(StreamConfig("SERVICE_TEST_EVENTS", {"jsmut.events.>"}), "jsmut-service")
      .handler("create", [](std::string_view payload, int&) { return std::string(payload); })
      .mutation_callback([](std::string_view command, std::string_view response,
                            const int&) -> std::optional<MutationEvent> {
        return MutationEvent(std::string(command) + ".done", std::string(response));
      });
  RunningService running;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await start(service, running);

    const std::string created = co_await call(client, "jsmut.cmd.create", R"({"id":7})");
    CHECK(created == R"({"id":7})");
    const std::string plain = co_await call(client, "jsmut.cmd.create", "plain text");
    CHECK(plain == "plain text");

    // Stopping waits for the outstanding acknowledgements, so both events are stored after it.
    co_await stop(service, running);

    JetStream js(client);
    StoredMessage first = co_await js.get_message("SERVICE_TEST_EVENTS", 1);
    StoredMessage second = co_await js.get_message("SERVICE_TEST_EVENTS", 2);
    const auto first_event = nlohmann::json::parse(first.data);
    const auto second_event = nlohmann::json::parse(second.data);
    CHECK(first.subject == "jsmut.events.create.done");
    CHECK(first_event.at("event_type") == "create.done");
    CHECK(first_event.at("source") == "jsmut-service");
    CHECK(first_event.at("payload") == nlohmann::json{{"id", 7}});
    CHECK(first_event.at("version") == "1.0");
    // Bytes that are not JSON travel as a JSON string.
    CHECK(second_event.at("payload") == "plain text");
  });
}

TEST_CASE("service dispatch uses named handlers only") {
  asio::io_context io;
  auto service = echo_service("dispatch.cmd");
  service.default_handler([](std::string_view, std::string_view, EchoState&) { return std::string("default"); });
  test::run(io, [&]() -> awaitable<void> {
    const std::string echoed = co_await service.dispatch("echo", "hi");
    CHECK(echoed == "hi");
    const std::string unknown = co_await service.dispatch("nope", "");
    CHECK(unknown == R"({"error":"UNKNOWN_COMMAND: nope","code":404})");
  });
}

TEST_CASE("service rejects invalid settings") {
  ServiceBuilder<int> service("valid.cmd", 0);
  CHECK_THROWS_AS(service.name("has space"), error);
  CHECK_THROWS_AS(service.version("1.0"), error);
  CHECK_THROWS_AS(service.handler("a.*", [](std::string_view, int&) { return std::string(); }), error);
  CHECK_THROWS_AS(ServiceBuilder<int>("bad prefix", 0), error);
}

// PubSub (Publisher, Subscriber, PubSub) against a private nats-server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/experimental/as_tuple.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <noesis/ship/logger.hpp>
#include <noesis/ship/pubsub.hpp>
#include <noesis/ship/testing/server.hpp>
#include <noesis/ship/timestamp.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// Polls `done` every 5 ms until it returns true or `limit` passes; returns its last value.
awaitable<bool> eventually(std::function<bool()> done, std::chrono::milliseconds limit = 5000ms) {
  const auto stop_at = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > stop_at) co_return false;
    co_await test::sleep_for(5ms);
  }
  co_return true;
}

// Starts `subscriber.run()` in the background; `finished` turns true when it returns.
struct RunHandle {
  bool finished = false;
  std::exception_ptr failure;
};

std::shared_ptr<RunHandle> spawn_run(asio::io_context& io, Subscriber subscriber) {
  auto handle = std::make_shared<RunHandle>();
  asio::co_spawn(io, subscriber.run(), [handle](std::exception_ptr failure) {
    handle->failure = failure;
    handle->finished = true;
  });
  return handle;
}

// Attaches a ring buffer to the library's logger for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The first captured line containing every one of `parts`, or nothing.
  std::optional<std::string> find(const std::vector<std::string>& parts) const {
    for (const auto& line : sink_->last_formatted()) {
      const bool all = std::all_of(parts.begin(), parts.end(),
                                   [&](const std::string& part) { return line.find(part) != std::string::npos; });
      if (all) return line;
    }
    return std::nullopt;
  }

  // The number of captured lines containing every one of `parts`.
  std::size_t count(const std::vector<std::string>& parts) const {
    std::size_t matches = 0;
    for (const auto& line : sink_->last_formatted()) {
      const bool all = std::all_of(parts.begin(), parts.end(),
                                   [&](const std::string& part) { return line.find(part) != std::string::npos; });
      if (all) ++matches;
    }
    return matches;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

struct Build {
  std::string repo;
  int number = 0;
  std::vector<std::string> tags;
  friend bool operator==(const Build&, const Build&) = default;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Build, repo, number, tags)

}  // namespace

TEST_CASE("emit heartbeat sends the Event JSON on subject heartbeat") {
  asio::io_context io;
  Connection pub_conn(io.get_executor(), test::config_for(test::shared_server()));
  Connection sub_conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await pub_conn.connect();
    co_await sub_conn.connect();
    auto raw = sub_conn.subscribe(">");
    co_await sub_conn.flush();

    Publisher publisher(pub_conn, "being-1");
    publisher.emit(EventType::heartbeat(), nlohmann::json{{"load", 0.5}});

    Message msg = co_await raw.next();
    CHECK(msg.subject() == "heartbeat");
    const auto json = nlohmann::ordered_json::parse(msg.data());
    REQUIRE(json.is_object());
    CHECK(json.size() == 5);
    CHECK(json.at("event_type") == "heartbeat");
    CHECK(json.at("source") == "being-1");
    CHECK(json.at("payload") == nlohmann::ordered_json{{"load", 0.5}});
    CHECK(json.at("correlation_id").is_null());
    const auto timestamp = json.at("timestamp").get<std::string>();
    CHECK(parse_rfc3339(timestamp).has_value());
    const auto age = std::chrono::system_clock::now() - parse_rfc3339(timestamp).value_or(std::chrono::system_clock::time_point{});
    CHECK(age < 60s);

    std::vector<std::string> keys;
    for (const auto& item : json.items()) keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"event_type", "source", "payload", "timestamp", "correlation_id"});
  });
}

TEST_CASE("emit custom type uses the token as subject") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto raw = conn.subscribe("deploy.>");
    co_await conn.flush();

    Publisher publisher(conn, "ci");
    publisher.emit(EventType::custom("deploy.started"), nlohmann::json{{"version", "1.2"}});

    Message msg = co_await raw.next();
    CHECK(msg.subject() == "deploy.started");
    const auto json = nlohmann::json::parse(msg.data());
    CHECK(json.at("event_type") == "deploy.started");
    CHECK(json.at("source") == "ci");
    CHECK(json.at("payload").at("version") == "1.2");
  });
}

TEST_CASE("emit_being publishes on being id dot token") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto raw = conn.subscribe("b1.>");
    co_await conn.flush();

    Publisher publisher(conn, "supervisor");
    publisher.emit_being("b1", EventType::started());

    Message msg = co_await raw.next();
    CHECK(msg.subject() == "b1.started");
    const auto json = nlohmann::json::parse(msg.data());
    CHECK(json.at("event_type") == "started");
    CHECK(json.at("source") == "supervisor");
    CHECK(json.at("payload").is_null());
  });
}

TEST_CASE("raw publish sends bytes without envelope") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto raw = conn.subscribe("raw.bytes");
    co_await conn.flush();

    Publisher publisher(conn, "agent");
    publisher.publish("raw.bytes", std::string_view("\x01not json\x00", 10));

    Message msg = co_await raw.next();
    CHECK(msg.data() == std::string_view("\x01not json\x00", 10));
  });
}

TEST_CASE("publisher rejects invalid subjects and unconnected use") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  Publisher unconnected(conn, "agent");
  CHECK_THROWS_MATCHES(unconnected.emit(EventType::heartbeat()), error,
                       Catch::Predicate<error>([](const error& e) { return e.code() == condition::not_connected; }));

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    Publisher publisher(conn, "agent");
    CHECK_THROWS_MATCHES(publisher.publish("bad subject", "x"), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_subject; }));
    CHECK_THROWS_MATCHES(publisher.publish("events.*", "x"), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_subject; }));
    CHECK_THROWS_MATCHES(publisher.emit_being("b 1", EventType::started()), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_subject; }));
    CHECK_THROWS_MATCHES(publisher.emit_being("", EventType::started()), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_subject; }));
  });
}

TEST_CASE("subscriber receives heartbeat events from another connection") {
  asio::io_context io;
  Connection pub_conn(io.get_executor(), test::config_for(test::shared_server()));
  Connection sub_conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await pub_conn.connect();
    co_await sub_conn.connect();

    std::vector<Event<>> received;
    Subscriber subscriber(sub_conn, "monitor");
    subscriber.on(EventType::heartbeat(), [&](const Event<>& event) { received.push_back(event); });
    subscriber.start();
    co_await sub_conn.flush();
    auto run = spawn_run(io, subscriber);

    Publisher publisher(pub_conn, "agent-7");
    publisher.emit(EventType::heartbeat(), nlohmann::json{{"seq", 1}});
    publisher.emit(EventType::heartbeat(), nlohmann::json{{"seq", 2}});

    const bool both = co_await eventually([&] { return received.size() == 2; });
    REQUIRE(both);
    CHECK(received[0].event_type == "heartbeat");
    CHECK(received[0].source == "agent-7");
    CHECK(received[0].payload == nlohmann::json{{"seq", 1}});
    CHECK_FALSE(received[0].correlation_id.has_value());
    CHECK(received[1].payload == nlohmann::json{{"seq", 2}});

    subscriber.stop();
    const bool ended = co_await eventually([&] { return run->finished; });
    CHECK(ended);
    CHECK_FALSE(run->failure);
  });
}

TEST_CASE("typed payload round trips") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    std::vector<Event<Build>> received;
    Subscriber subscriber(conn, "builder");
    subscriber.on<Build>(EventType::custom("build.done"), [&](const Event<Build>& event) { received.push_back(event); });
    subscriber.start();
    co_await conn.flush();
    auto run = spawn_run(io, subscriber);

    const Build sent{"noesis", 42, {"fast", "green"}};
    Publisher(conn, "ci").emit(EventType::custom("build.done"), sent);

    const bool arrived = co_await eventually([&] { return received.size() == 1; });
    REQUIRE(arrived);
    CHECK(received[0].payload == sent);
    CHECK(received[0].event_type == "build.done");
    CHECK(received[0].source == "ci");

    subscriber.stop();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
  });
}

TEST_CASE("undecodable message is logged and skipped") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  LogCapture capture;
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    std::vector<Event<Build>> received;
    Subscriber subscriber(conn, "decoder-test");
    subscriber.on<Build>(EventType::custom("typed"), [&](const Event<Build>& event) { received.push_back(event); });
    subscriber.start();
    co_await conn.flush();
    auto run = spawn_run(io, subscriber);

    Publisher publisher(conn, "sender");
    publisher.publish("typed", "this is not json");
    publisher.emit(EventType::custom("typed"), nlohmann::json{{"repo", 5}});  // wrong payload shape
    publisher.emit(EventType::custom("typed"), Build{"ok", 1, {}});

    const bool arrived = co_await eventually([&] { return received.size() == 1; });
    REQUIRE(arrived);
    CHECK(received[0].payload.repo == "ok");
    CHECK(subscriber.decode_failures() == 2);
    CHECK_FALSE(run->finished);

    const auto line = capture.find({"decoder-test", "'typed'", "not a valid event", "parse error"});
    CHECK(line.has_value());
    // The second failure came within the warning interval, so it was counted but not logged.
    CHECK(capture.count({"decoder-test", "not a valid event"}) == 1);

    subscriber.stop();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
    CHECK_FALSE(run->failure);
  });
}

TEST_CASE("throwing handler does not stop run") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  LogCapture capture;
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    std::vector<int> handled;
    Subscriber subscriber(conn, "thrower");
    subscriber.subscribe("work.items", [&](const Event<>& event) {
      const int n = event.payload.at("n").get<int>();
      if (n == 1) throw std::runtime_error("item 1 is broken");
      handled.push_back(n);
    });
    subscriber.start();
    co_await conn.flush();
    auto run = spawn_run(io, subscriber);

    Publisher publisher(conn, "sender");
    for (int n = 0; n < 3; ++n) publisher.emit(EventType::custom("work.items"), nlohmann::json{{"n", n}});

    const bool arrived = co_await eventually([&] { return handled.size() == 2; });
    REQUIRE(arrived);
    CHECK(handled == std::vector<int>{0, 2});
    CHECK(subscriber.handler_failures() == 1);
    CHECK(capture.find({"thrower", "'work.items'", "item 1 is broken"}).has_value());
    CHECK_FALSE(run->finished);

    subscriber.stop();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
  });
}

TEST_CASE("coroutine handler and wildcard pattern") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    std::vector<std::string> sources;
    Subscriber subscriber(conn, "watcher");
    subscriber.subscribe("*.started", [&](const Event<>& event) -> awaitable<void> {
      co_await test::sleep_for(1ms);  // the event must outlive this suspension
      sources.push_back(event.source + ":" + event.event_type);
    });
    subscriber.start();
    co_await conn.flush();
    auto run = spawn_run(io, subscriber);

    Publisher(conn, "b1").emit_being("b1", EventType::started());
    Publisher(conn, "b2").emit_being("b2", EventType::started());
    Publisher(conn, "b3").emit_being("b3", EventType::stopped());  // b3.stopped: no match
    Publisher(conn, "x").emit(EventType::started());               // `started`: one token, no match

    const bool arrived = co_await eventually([&] { return sources.size() == 2; });
    REQUIRE(arrived);
    co_await conn.flush();
    co_await test::sleep_for(50ms);
    CHECK(sources == std::vector<std::string>{"b1:started", "b2:started"});

    subscriber.stop();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
  });
}

TEST_CASE("stop makes run return and stays stopped") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    Subscriber subscriber(conn, "stopper");
    subscriber.on(EventType::heartbeat(), [](const Event<>&) {});
    subscriber.on(EventType::error(), [](const Event<>&) {});
    auto run = spawn_run(io, subscriber);
    co_await test::sleep_for(50ms);
    CHECK_FALSE(run->finished);

    subscriber.shutdown();
    const bool ended = co_await eventually([&] { return run->finished; }, 2000ms);
    CHECK(ended);
    CHECK_FALSE(run->failure);
    CHECK(subscriber.stopped());

    auto again = spawn_run(io, subscriber);
    const bool ended_again = co_await eventually([&] { return again->finished; }, 2000ms);
    CHECK(ended_again);
  });
}

TEST_CASE("run ends when the connection closes") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    Subscriber subscriber(conn, "closer");
    subscriber.on(EventType::heartbeat(), [](const Event<>&) {});
    auto run = spawn_run(io, subscriber);
    co_await test::sleep_for(50ms);
    conn.close();
    const bool ended = co_await eventually([&] { return run->finished; }, 5000ms);
    CHECK(ended);
    CHECK_FALSE(run->failure);
  });
}

TEST_CASE("subscriber misuse is rejected") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    Subscriber empty(conn, "empty");
    auto [ec] = co_await empty.run(asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::invalid_argument);

    Subscriber subscriber(conn, "misuse");
    CHECK_THROWS_MATCHES(subscriber.subscribe("bad..pattern", [](const Event<>&) {}), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_subject; }));
    subscriber.on(EventType::heartbeat(), [](const Event<>&) {});
    subscriber.start();
    CHECK_THROWS_MATCHES(subscriber.on(EventType::started(), [](const Event<>&) {}), error,
                         Catch::Predicate<error>([](const error& e) { return e.code() == errc::invalid_argument; }));

    auto first = spawn_run(io, subscriber);
    co_await test::sleep_for(20ms);
    auto [second_ec] = co_await subscriber.run(asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(second_ec == errc::invalid_argument);
    CHECK_FALSE(first->finished);
    subscriber.stop();
    co_await eventually([&] { return first->finished; });
    CHECK(first->finished);
  });
}

TEST_CASE("own connections connect and disconnect like the Rust API") {
  asio::io_context io;
  test::run(io, [&]() -> awaitable<void> {
    Publisher publisher(io.get_executor(), "owner", test::config_for(test::shared_server()));
    Subscriber subscriber(io.get_executor(), "listener", test::config_for(test::shared_server()));
    co_await publisher.connect();
    co_await subscriber.connect();

    int count = 0;
    subscriber.on(EventType::stopped(), [&](const Event<>&) { ++count; });
    subscriber.start();
    co_await subscriber.connection().flush();
    auto run = spawn_run(io, subscriber);

    publisher.emit(EventType::stopped(), nlohmann::json("bye"));
    co_await publisher.disconnect();
    CHECK_FALSE(publisher.connection().is_connected());

    const bool arrived = co_await eventually([&] { return count == 1; });
    CHECK(arrived);

    co_await subscriber.disconnect();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
    CHECK_FALSE(subscriber.connection().is_connected());
  });
}

TEST_CASE("pubsub bus emits and receives its own events") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    PubSub bus(conn, "bus-1");
    std::vector<std::string> seen;
    bus.on(EventType::error(), [&](const Event<>& event) { seen.push_back(event.source); });
    bus.start();
    co_await conn.flush();
    auto run = spawn_run(io, bus.subscriber());

    bus.emit(EventType::error(), nlohmann::json{{"what", "disk full"}});
    const bool arrived = co_await eventually([&] { return seen.size() == 1; });
    REQUIRE(arrived);
    CHECK(seen[0] == "bus-1");

    co_await bus.disconnect();  // shared connection: stops run(), leaves the connection open
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
    CHECK(conn.is_connected());
  });
}

TEST_CASE("decode warnings are rate limited") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  LogCapture capture;
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    SubscriberOptions options;
    options.warning_interval = 200ms;
    Subscriber subscriber(conn, "limited", options);
    subscriber.subscribe("noise", [](const Event<>&) {});
    subscriber.start();
    co_await conn.flush();
    auto run = spawn_run(io, subscriber);

    for (int i = 0; i < 3; ++i) conn.publish("noise", "garbage");
    const bool first_three = co_await eventually([&] { return subscriber.decode_failures() == 3; });
    REQUIRE(first_three);
    CHECK(capture.count({"'limited'", "not a valid event"}) == 1);

    co_await test::sleep_for(250ms);
    conn.publish("noise", "garbage");
    const bool fourth = co_await eventually([&] { return subscriber.decode_failures() == 4; });
    REQUIRE(fourth);
    CHECK(capture.count({"'limited'", "not a valid event"}) == 2);
    CHECK(capture.find({"'limited'", "(2 similar warnings suppressed)"}).has_value());

    subscriber.stop();
    co_await eventually([&] { return run->finished; });
    CHECK(run->finished);
  });
}

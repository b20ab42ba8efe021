// EventBus against a private nats-server: replay, duplicates, durable resume, redelivery,
// replay completeness, server restart and the stored JSON.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <regex>
#include <set>
#include <vector>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/testing/server.hpp>

#include "capture_log.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// A memory stream of its own per test, so tests share the server without sharing events.
EventBus make_bus(Connection conn, const std::string& tag) {
  StreamConfig stream("EV_" + tag, {tag + ".events.>"});
  stream.with_memory_storage();
  return EventBus::with_stream(std::move(conn), std::move(stream), tag + ".events").with_source("tester");
}

// Options that keep the tests fast: short pull requests and redelivery delays.
ConsumerOptions fast_options() {
  ConsumerOptions options;
  options.fetch_expires = 1s;
  options.nak_delays = {100ms};
  options.retry_initial = 50ms;
  options.retry_max = 500ms;
  return options;
}

// Polls `done` every 10 ms until it returns true or `timeout` passes; returns its last value.
awaitable<bool> wait_until(std::function<bool()> done, std::chrono::milliseconds timeout = 10s) {
  const auto stop_at = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > stop_at) co_return false;
    co_await test::sleep_for(10ms);
  }
  co_return true;
}

// Builds {"<key>": value}. A braced nlohmann::json temporary inside a co_await expression does
// not compile with GCC 12 ("array used as initializer"), so tests build payloads through this.
template <class T>
nlohmann::json json_of(const char* key, const T& value) {
  nlohmann::json j;
  j[key] = value;
  return j;
}

struct Received {
  std::string event_type;
  int n = 0;
  std::uint64_t sequence = 0;
  std::uint64_t delivered = 0;
};

Received record(const ShipEvent<>& event, const JsMessage& msg) {
  Received r;
  r.event_type = event.event_type;
  r.n = event.payload.at("n").get<int>();
  r.sequence = msg.stream_sequence();
  r.delivered = msg.num_delivered();
  return r;
}

}  // namespace

TEST_CASE("new durable replays stored events then follows") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "replay");
    co_await bus.connect();
    for (int n = 1; n <= 3; ++n) {
      PubAck ack = co_await bus.emit_event("item.created", json_of("n", n));
      CHECK(ack.sequence == static_cast<std::uint64_t>(n));
      CHECK_FALSE(ack.duplicate);
    }

    std::vector<Received> received;
    auto sub = co_await bus.subscribe(
        "item.*", "replayer",
        [&](ShipEvent<> event, const JsMessage& msg) -> awaitable<void> {
          received.push_back(record(event, msg));
          co_return;
        },
        fast_options());
    CHECK(sub.consumer_name() == "replayer");

    const bool replayed = co_await wait_until([&] { return received.size() >= 3; });
    REQUIRE(replayed);
    co_await bus.emit_event("item.updated", json_of("n", 4));
    co_await bus.emit_event("other.ignored", json_of("n", 5));
    const bool followed = co_await wait_until([&] { return received.size() >= 4; });
    REQUIRE(followed);
    co_await test::sleep_for(300ms);

    REQUIRE(received.size() == 4);
    for (int i = 0; i < 4; ++i) {
      CHECK(received[i].n == i + 1);
      CHECK(received[i].sequence == static_cast<std::uint64_t>(i + 1));
      CHECK(received[i].delivered == 1);
    }
    CHECK(received[0].event_type == "item.created");
    CHECK(received[3].event_type == "item.updated");

    sub.stop();
    co_await sub.wait();
    CHECK(sub.finished());
    CHECK(sub.handled() == 4);
  });
}

TEST_CASE("same message id is stored once") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "dedup");
    co_await bus.connect();
    auto event = make_ship_event("order.placed", "tester", json_of("id", 7));
    PubAck first = co_await bus.publish_event(event, "order-7");
    PubAck second = co_await bus.publish_event(event, "order-7");
    CHECK_FALSE(first.duplicate);
    CHECK(second.duplicate);
    CHECK(second.sequence == first.sequence);

    StreamInfo info = co_await bus.jetstream().stream_info(bus.stream_config().name);
    CHECK(info.state.messages == 1);
  });
}

TEST_CASE("second subscriber resumes the durable") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "resume");
    co_await bus.connect();
    ConsumerOptions options = fast_options();
    options.ack_wait = 2s;

    co_await bus.emit_event("step", json_of("n", 1));

    // The first subscriber takes m1 and never finishes its handler.
    std::vector<Received> first;
    auto sub1 = co_await bus.subscribe(
        ">", "resumer",
        [&](ShipEvent<> event, const JsMessage& msg) -> awaitable<void> {
          first.push_back(record(event, msg));
          co_await test::sleep_for(60s);
        },
        options);
    const bool got_m1 = co_await wait_until([&] { return first.size() == 1; });
    REQUIRE(got_m1);
    sub1.stop();
    co_await sub1.wait();
    CHECK(sub1.handled() == 0);

    co_await bus.emit_event("step", json_of("n", 2));

    std::vector<Received> second;
    auto sub2 = co_await bus.subscribe(
        ">", "resumer",
        [&](ShipEvent<> event, const JsMessage& msg) {
          second.push_back(record(event, msg));
        },
        options);
    const bool got_both = co_await wait_until([&] { return second.size() >= 2; });
    REQUIRE(got_both);
    // Longer than ack_wait: an unacked message would come back by now.
    co_await test::sleep_for(2500ms);

    REQUIRE(second.size() == 2);
    CHECK(second[0].n == 1);
    CHECK(second[0].delivered == 2);
    CHECK(second[1].n == 2);
    CHECK(second[1].delivered == 1);

    ConsumerInfo info = co_await bus.jetstream().consumer_info(bus.stream_config().name, "resumer");
    CHECK(info.num_ack_pending == 0);
    CHECK(info.ack_floor.stream_seq == 2);
    sub2.stop();
    co_await sub2.wait();
  });
}

TEST_CASE("failing handler gets redeliveries then term") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "failing");
    co_await bus.connect();
    ConsumerOptions options = fast_options();
    options.max_deliver = 3;

    co_await bus.emit_event("flaky", json_of("n", 1));
    co_await bus.emit_event("poison", json_of("n", 2));

    std::vector<Received> calls;
    auto sub = co_await bus.subscribe(
        ">", "failing",
        [&](ShipEvent<> event, const JsMessage& msg) {
          calls.push_back(record(event, msg));
          if (event.event_type == "poison") throw std::runtime_error("poison event");
          if (msg.num_delivered() == 1) throw std::runtime_error("first delivery fails");
        },
        options);
    const bool settled = co_await wait_until([&] { return sub.handled() == 1 && sub.failures() == 4; });
    CHECK(settled);
    co_await test::sleep_for(500ms);

    std::vector<std::uint64_t> poison_deliveries;
    int flaky_calls = 0;
    for (const auto& call : calls) {
      if (call.event_type == "poison") poison_deliveries.push_back(call.delivered);
      if (call.event_type == "flaky") ++flaky_calls;
    }
    CHECK(flaky_calls == 2);
    CHECK(poison_deliveries == std::vector<std::uint64_t>{1, 2, 3});

    ConsumerInfo info = co_await bus.jetstream().consumer_info(bus.stream_config().name, "failing");
    INFO("ack floor " << info.ack_floor.stream_seq << ", delivered " << info.delivered.stream_seq << ", redelivered " << info.num_redelivered);
    CHECK(info.num_ack_pending == 0);
    sub.stop();
    co_await sub.wait();
  });
}

TEST_CASE("undecodable event is terminated and kept") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  const auto previous_logger = logger();
  const auto log = test::capture_library_log();
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "garbage");
    co_await bus.connect();

    PubAck garbage = co_await bus.jetstream().publish("garbage.events.item.created", "not json");
    CHECK(garbage.sequence == 1);
    co_await bus.emit_event("item.created", json_of("id", "EX-1"));

    std::vector<std::string> ids;
    auto sub = co_await bus.subscribe<nlohmann::json>(
        "item.created", "", [&](ShipEvent<> event) { ids.push_back(event.payload.at("id").get<std::string>()); },
        fast_options());
    const bool done = co_await wait_until([&] { return ids.size() == 1 && sub.undecodable() == 1; });
    CHECK(done);
    CHECK(ids == std::vector<std::string>{"EX-1"});

    StreamInfo info = co_await bus.jetstream().stream_info(bus.stream_config().name);
    CHECK(info.state.messages == 2);
    const std::string consumer = sub.consumer_name();
    ConsumerInfo consumer_info = co_await bus.jetstream().consumer_info(bus.stream_config().name, consumer);
    CHECK(consumer_info.num_ack_pending == 0);
    sub.stop();
    co_await sub.wait();
  });
  set_logger(previous_logger);
  // The warning names the subject and the stream sequence of the message.
  CHECK(log->contains("undecodable message on 'garbage.events.item.created' at stream sequence 1 terminated"));
}

namespace {
struct Item {
  std::string id;
  int count = 0;
};
void to_json(nlohmann::json& j, const Item& item) { j = nlohmann::json{{"id", item.id}, {"count", item.count}}; }
void from_json(const nlohmann::json& j, Item& item) {
  j.at("id").get_to(item.id);
  j.at("count").get_to(item.count);
}
}  // namespace

TEST_CASE("typed payload round trip") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "typed");
    co_await bus.connect();
    const Item item{"EX-3001", 2};
    co_await bus.emit_event("item.created", item);

    std::vector<ShipEvent<Item>> events;
    auto sub = co_await bus.subscribe<Item>(
        "item.*", "typed", [&](ShipEvent<Item> event) { events.push_back(std::move(event)); }, fast_options());
    const bool got = co_await wait_until([&] { return events.size() == 1; });
    REQUIRE(got);
    CHECK(events[0].payload.id == "EX-3001");
    CHECK(events[0].payload.count == 2);
    CHECK(events[0].source == "tester");
    sub.stop();
    co_await sub.wait();
  });
}

TEST_CASE("stored event JSON matches the envelope format") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "golden");
    co_await bus.connect();
    PubAck ack = co_await bus.emit_event("item.created", json_of("id", "EX-3001"));
    StoredMessage stored = co_await bus.jetstream().get_message(bus.stream_config().name, ack.sequence);

    CHECK(stored.subject == "golden.events.item.created");
    const auto json = nlohmann::ordered_json::parse(stored.data);
    std::vector<std::string> keys;
    for (const auto& item : json.items()) keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"event_type", "timestamp", "source", "payload", "correlation_id", "version"});
    CHECK(json.at("event_type") == "item.created");
    CHECK(json.at("source") == "tester");
    CHECK(json.at("payload") == nlohmann::ordered_json::parse(R"({"id":"EX-3001"})"));
    CHECK(json.at("version") == "1.0");
    const std::string correlation = json.at("correlation_id").get<std::string>();
    CHECK(std::regex_match(correlation, std::regex("^[0-9a-f]{8}$")));
    const std::string timestamp = json.at("timestamp").get<std::string>();
    CHECK(std::regex_match(timestamp, std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)")));

    PubAck explicit_id = co_await bus.emit("audit", "svc", nlohmann::json(nullptr), std::string("req-42"));
    StoredMessage second = co_await bus.jetstream().get_message(bus.stream_config().name, explicit_id.sequence);
    auto decoded = decode_json<ShipEvent<>>(second.data, "stored event");
    CHECK(decoded.correlation_id == "req-42");
    CHECK(decoded.source == "svc");
  });
}

TEST_CASE("10000 events replay once each in order") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(
      io,
      [&]() -> awaitable<void> {
        EventBus bus = make_bus(conn, "bulk");
        co_await bus.connect();
        constexpr int total = 10000;
        // Core publishes into the stream are much faster than 10,000 acknowledged ones.
        for (int n = 1; n <= total; ++n) {
          conn.publish("bulk.events.tick", encode_json(make_ship_event("tick", "tester", json_of("n", n))));
        }
        co_await conn.flush();
        // The stream stores core publishes shortly after the server read them.
        std::uint64_t stored = 0;
        for (int i = 0; i < 500 && stored < static_cast<std::uint64_t>(total); ++i) {
          StreamInfo info = co_await bus.jetstream().stream_info(bus.stream_config().name);
          stored = info.state.messages;
          if (stored < static_cast<std::uint64_t>(total)) co_await test::sleep_for(10ms);
        }
        REQUIRE(stored == static_cast<std::uint64_t>(total));

        std::vector<std::uint64_t> sequences;
        sequences.reserve(total);
        std::uint64_t redelivered = 0;
        ConsumerOptions options = fast_options();
        options.ack_wait = 5s;
        auto sub = co_await bus.subscribe(
            ">", "bulk",
            [&](ShipEvent<>, const JsMessage& msg) -> awaitable<void> {
              sequences.push_back(msg.stream_sequence());
              if (msg.num_delivered() > 1) ++redelivered;
              // Slow at first, so the pull batch adapts and queued messages wait.
              if (sequences.size() <= 100) co_await test::sleep_for(20ms);
            },
            options);
        const bool all = co_await wait_until([&] { return sequences.size() >= static_cast<std::size_t>(total); }, 90s);
        CHECK(all);
        co_await test::sleep_for(500ms);

        CHECK(sequences.size() == static_cast<std::size_t>(total));
        bool strictly_consecutive = true;
        for (std::size_t i = 0; i < sequences.size(); ++i) {
          if (sequences[i] != i + 1) {
            strictly_consecutive = false;
            FAIL_CHECK("position " << i << " holds sequence " << sequences[i]);
            break;
          }
        }
        CHECK(strictly_consecutive);
        CHECK(redelivered == 0);
        CHECK(sub.handled() == static_cast<std::uint64_t>(total));
        sub.stop();
        co_await sub.wait();
      },
      std::chrono::seconds(120));
}

TEST_CASE("subscriber recovers after server restart") {
  testing::Server server;
  asio::io_context io;
  NatsConfig config = test::config_for(server);
  Connection conn(io.get_executor(), config);
  test::run(
      io,
      [&]() -> awaitable<void> {
        StreamConfig stream("RESTART_EVENTS", {"restart.events.>"});  // file storage: survives the restart
        EventBus bus = EventBus::with_stream(conn, stream, "restart.events").with_source("tester");
        co_await bus.connect();

        std::vector<int> received;
        auto sub = co_await bus.subscribe(
            ">", "survivor",
            [&](ShipEvent<> event) { received.push_back(event.payload.at("n").get<int>()); }, fast_options());

        for (int n = 1; n <= 5; ++n) co_await bus.emit_event("tick", json_of("n", n));
        const bool before = co_await wait_until([&] { return received.size() == 5; });
        REQUIRE(before);
        // Every ack must have reached the server before it goes down.
        bool acked = false;
        for (int i = 0; i < 100 && !acked; ++i) {
          ConsumerInfo info = co_await bus.jetstream().consumer_info("RESTART_EVENTS", "survivor");
          acked = info.ack_floor.stream_seq == 5;
          if (!acked) co_await test::sleep_for(20ms);
        }
        REQUIRE(acked);

        server.restart();

        for (int n = 6; n <= 10; ++n) {
          bool published = false;
          for (int attempt = 0; attempt < 50 && !published; ++attempt) {
            auto [ec, ack] = co_await bus.emit_event("tick", json_of("n", n),
                                                     asio::experimental::as_tuple(asio::use_awaitable));
            published = !ec;
            if (!published) co_await test::sleep_for(200ms);
          }
          REQUIRE(published);
        }
        const bool after = co_await wait_until([&] { return received.size() >= 10; }, 30s);
        CHECK(after);
        co_await test::sleep_for(500ms);
        CHECK(received == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        sub.stop();
        co_await sub.wait();
      },
      std::chrono::seconds(90));
}

TEST_CASE("invalid consumer name and pattern are rejected") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    EventBus bus = make_bus(conn, "names");
    co_await bus.connect();
    auto [bad_name, sub1] = co_await bus.subscribe(">", "has.dot", [](ShipEvent<>) {}, std::nullopt,
                                                   asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(bad_name == errc::invalid_name);
    auto [bad_pattern, sub2] = co_await bus.subscribe("a..b", "ok", [](ShipEvent<>) {}, std::nullopt,
                                                      asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(bad_pattern == errc::invalid_subject);
    CHECK_THROWS_AS(bus.subject_for("bad type"), error);
  });
}

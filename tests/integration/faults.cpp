// Faults of the connection layer against private nats-servers. Covered: restarts under load,
// also with a service and a KV watch running, the reconnect buffer, requests in flight when
// reconnecting gives up, slow consumers, JetStream redelivery of unacked messages, and payloads
// over the server's max_payload.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/service.hpp>
#include <noesis/ship/testing/server.hpp>

#include "capture_log.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;

namespace {

NatsConfig config_for(const testing::Server& server) {
  NatsConfig config(server.url());
  config.reconnect.wait = 100ms;
  config.reconnect.jitter = 10ms;
  config.request_timeout = 5s;
  return config;
}

// Counts connection events of each type; handlers run on the test's io_context thread.
struct EventCounter {
  std::vector<ConnectionEventType> seen;

  void attach(Connection& conn) {
    conn.on_event([this](const ConnectionEvent& e) { seen.push_back(e.type); });
  }
  long count(ConnectionEventType type) const { return std::count(seen.begin(), seen.end(), type); }

  // Waits up to `limit` until `type` was seen at least `wanted` times.
  awaitable<bool> wait_for(ConnectionEventType type, long wanted, std::chrono::milliseconds limit) {
    const auto stop_at = std::chrono::steady_clock::now() + limit;
    while (count(type) < wanted && std::chrono::steady_clock::now() < stop_at) co_await test::sleep_for(20ms);
    co_return count(type) >= wanted;
  }
};

StreamConfig file_stream(std::string name, std::string subject) {
  StreamConfig config;
  config.name = std::move(name);
  config.subjects.push_back(std::move(subject));
  config.storage = StorageType::file;
  return config;
}

ConsumerConfig pull_durable(std::string name, std::chrono::milliseconds ack_wait) {
  ConsumerConfig config;
  config.durable_name = std::move(name);
  config.ack_wait = ack_wait;
  return config;
}

// Publishes with acknowledgement, retrying while JetStream recovers after a restart (for about
// 10 s); the last error is rethrown.
awaitable<PubAck> publish_acked(JetStream& js, std::string subject, std::string data) {
  for (int attempt = 1;; ++attempt) {
    auto [ec, ack] = co_await js.publish(subject, data, PublishOptions(), as_tuple(asio::use_awaitable));
    if (!ec) co_return ack;
    if (attempt == 50) throw error(ec, "publish to '" + subject + "' after a restart");
    co_await test::sleep_for(200ms);
  }
}

awaitable<void> echo_responder(Connection conn, Subscription& sub) {
  for (;;) {
    auto [ec, msg] = co_await sub.next(as_tuple(asio::use_awaitable));
    if (ec == errc::subscription_closed) co_return;
    if (ec) continue;
    conn.respond(msg, "echo:" + std::string(msg.data()));
  }
}

}  // namespace

TEST_CASE("publishes made while disconnected are sent after reconnect") {
  testing::Server server;
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(server));
  EventCounter events;
  events.attach(conn);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    // Subscriber and publisher share the publish link, and cnats restores subscriptions before
    // it sends the buffered publishes, so none can arrive before the interest.
    auto sub = conn.subscribe("buffered.>");
    co_await conn.flush();

    server.stop();
    REQUIRE(co_await events.wait_for(ConnectionEventType::disconnected, 1, 5s));
    constexpr int total = 200;
    for (int i = 0; i < total; ++i) conn.publish("buffered." + std::to_string(i), "payload " + std::to_string(i));

    server.start();
    REQUIRE(co_await events.wait_for(ConnectionEventType::reconnected, 2, 10s));
    for (int i = 0; i < total; ++i) {
      Message msg = co_await sub.next();
      REQUIRE(msg.subject() == "buffered." + std::to_string(i));
      CHECK(msg.data() == "payload " + std::to_string(i));
    }
  });
}

TEST_CASE("publish beyond the reconnect buffer fails and nothing is dropped") {
  testing::Server server;
  asio::io_context io;
  auto config = config_for(server);
  config.reconnect.buffer_bytes = 64 * 1024;
  Connection conn(io.get_executor(), config);
  EventCounter events;
  events.attach(conn);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("overflow.>");
    co_await conn.flush();

    server.stop();
    REQUIRE(co_await events.wait_for(ConnectionEventType::disconnected, 1, 5s));
    const std::string kilobyte(1024, 'k');
    int accepted = 0;
    std::error_code refused;
    for (int i = 0; i < 1000 && !refused; ++i) {
      try {
        conn.publish("overflow." + std::to_string(i), kilobyte);
        ++accepted;
      } catch (const error& e) {
        refused = e.code();
      }
    }
    CHECK(refused == make_nats_error_code(NATS_INSUFFICIENT_BUFFER));
    CHECK(accepted > 0);
    CHECK(accepted <= 64);

    server.start();
    REQUIRE(co_await events.wait_for(ConnectionEventType::reconnected, 2, 10s));
    for (int i = 0; i < accepted; ++i) {
      Message msg = co_await sub.next();
      REQUIRE(msg.subject() == "overflow." + std::to_string(i));
      CHECK(msg.data().size() == kilobyte.size());
    }
    co_await conn.flush();
    co_await test::sleep_for(100ms);
    CHECK(sub.queued() == 0);  // exactly the accepted publishes arrived
    CHECK(sub.dropped() == 0);
  });
}

TEST_CASE("consumers and request-reply resume after a file store restart") {
  testing::Server server;
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(server));
  Connection responder(io.get_executor(), config_for(server));
  EventCounter events;
  events.attach(conn);
  EventCounter responder_events;
  responder_events.attach(responder);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await responder.connect();
    auto service = responder.subscribe("faults.echo");
    co_await responder.flush();
    asio::co_spawn(io, echo_responder(responder, service), asio::detached);

    JetStream js(conn);
    co_await js.ensure_stream(file_stream("FAULTS", "faults.js.>"));
    co_await js.create_consumer("FAULTS", pull_durable("worker", 30000ms));
    for (int i = 0; i < 10; ++i) co_await publish_acked(js, "faults.js.item", "m" + std::to_string(i));
    Message before = co_await conn.request("faults.echo", "before", 2s);
    CHECK(before.data() == "echo:before");

    // Load during the restart: publishes keep going while the server is down.
    server.stop();
    REQUIRE(co_await events.wait_for(ConnectionEventType::disconnected, 1, 5s));
    server.start();
    REQUIRE(co_await events.wait_for(ConnectionEventType::reconnected, 2, 10s));
    REQUIRE(co_await responder_events.wait_for(ConnectionEventType::reconnected, 2, 10s));

    for (int i = 10; i < 20; ++i) co_await publish_acked(js, "faults.js.item", "m" + std::to_string(i));
    PullConsumer consumer = js.pull_consumer("FAULTS", "worker");
    std::vector<std::string> received;
    for (int round = 0; round < 10 && received.size() < 20; ++round) {
      std::vector<JsMessage> batch = co_await consumer.fetch(20, 1s);
      for (auto& m : batch) {
        received.emplace_back(m.data());
        m.ack();
      }
    }
    REQUIRE(received.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(received[static_cast<std::size_t>(i)] == "m" + std::to_string(i));

    Message after = co_await conn.request("faults.echo", "after", 2s);
    CHECK(after.data() == "echo:after");
    service.unsubscribe();
  }, std::chrono::seconds(90));
}

namespace {

// What the load of "service and KV watch resume after a file store restart" saw.
struct RestartLoad {
  bool stop = false;
  bool restarted = false;  // set once both connections reconnected
  int requests = 0;
  int replies = 0;
  int replies_after_restart = 0;
  int wrong_replies = 0;
  std::vector<std::uint64_t> acked_revisions;  // KV puts the server acknowledged, in order
  int acked_after_restart = 0;
  std::vector<std::uint64_t> watched_revisions;  // revisions the watch delivered, in order
  bool writer_done = false;
  bool requester_done = false;
  bool watch_done = false;
};

// Sends an echo request every 20 ms until `load.stop`; bounded at 5,000 requests.
awaitable<void> request_load(Connection client, RestartLoad& load) {
  for (int i = 0; i < 5000 && !load.stop; ++i) {
    const std::string payload = "request-" + std::to_string(i);
    ++load.requests;
    auto [ec, reply] = co_await client.request("faults.svc.echo", payload, 1s, as_tuple(asio::use_awaitable));
    if (!ec) {
      ++load.replies;
      if (load.restarted) ++load.replies_after_restart;
      if (reply.data() != payload) ++load.wrong_replies;
    }
    co_await test::sleep_for(20ms);
  }
  load.requester_done = true;
}

// Puts a value every 20 ms until `load.stop`; bounded at 5,000 puts. Each put has its own key:
// the bucket keeps 5 values per key, so a watch that resumes after a pause would not find the
// older revisions of one busy key, by design.
awaitable<void> put_load(KvStore kv, RestartLoad& load) {
  for (int i = 0; i < 5000 && !load.stop; ++i) {
    auto [ec, revision] = co_await kv.put("load.k" + std::to_string(i), "v" + std::to_string(i), as_tuple(asio::use_awaitable));
    if (!ec) {
      load.acked_revisions.push_back(revision);
      if (load.restarted) ++load.acked_after_restart;
    }
    co_await test::sleep_for(20ms);
  }
  load.writer_done = true;
}

// Collects the revisions the watch delivers until it is stopped.
awaitable<void> read_watch(KvWatcher watcher, RestartLoad& load) {
  for (;;) {
    auto [ec, entry] = co_await watcher.next(as_tuple(asio::use_awaitable));
    if (ec) break;
    if (entry) load.watched_revisions.push_back(entry->revision);
  }
  load.watch_done = true;
}

struct EchoCount {
  int served = 0;
};

}  // namespace

TEST_CASE("service and KV watch resume after a file store restart") {
  testing::Server server;
  asio::io_context io;
  Connection client(io.get_executor(), config_for(server));
  Connection service_conn(io.get_executor(), config_for(server));
  EventCounter client_events;
  client_events.attach(client);
  EventCounter service_events;
  service_events.attach(service_conn);

  ServiceBuilder<EchoCount> service("faults.svc", EchoCount{});
  service.connection(service_conn).handle_signals(false).handler("echo", [](std::string_view payload, EchoCount& count) {
    ++count.served;
    return std::string(payload);
  });
  bool started = false;
  bool finished = false;
  std::exception_ptr failure;
  service.on_started([&started] { started = true; });

  RestartLoad load;
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();
    co_await service_conn.connect();
    asio::co_spawn(io, service.run(), [&](std::exception_ptr e) {
      failure = e;
      finished = true;
    });
    while (!started && !finished) co_await test::sleep_for(5ms);
    REQUIRE(started);

    KvStore kv(client, KvBucketConfig("restart_load"));  // file storage survives the restart
    co_await kv.connect();
    KvWatcher watcher = co_await kv.watch("load.>");
    std::optional<KvEntry> initial_end = co_await watcher.next();
    CHECK_FALSE(initial_end);  // the bucket is empty, so the marker comes first

    asio::co_spawn(io, request_load(client, load), asio::detached);
    asio::co_spawn(io, put_load(kv, load), asio::detached);
    asio::co_spawn(io, read_watch(watcher, load), asio::detached);
    co_await test::sleep_for(500ms);

    // The load keeps going while the server is down.
    server.stop();
    REQUIRE(co_await client_events.wait_for(ConnectionEventType::disconnected, 1, 5s));
    co_await test::sleep_for(500ms);
    server.start();
    REQUIRE(co_await client_events.wait_for(ConnectionEventType::reconnected, 2, 10s));
    REQUIRE(co_await service_events.wait_for(ConnectionEventType::reconnected, 2, 10s));
    load.restarted = true;

    // The test restarts nothing by hand: the service replies again and the watch continues on its
    // own.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((load.replies_after_restart < 20 || load.acked_after_restart < 20) &&
           std::chrono::steady_clock::now() < deadline) {
      co_await test::sleep_for(50ms);
    }
    load.stop = true;
    while (!load.writer_done || !load.requester_done) co_await test::sleep_for(20ms);
    REQUIRE_FALSE(load.acked_revisions.empty());
    const std::uint64_t last_acked = load.acked_revisions.back();
    while ((load.watched_revisions.empty() || load.watched_revisions.back() < last_acked) &&
           std::chrono::steady_clock::now() < deadline + 15s) {
      co_await test::sleep_for(50ms);
    }
    watcher.stop();
    while (!load.watch_done) co_await test::sleep_for(20ms);
    service.stop();
    while (!finished) co_await test::sleep_for(5ms);
  }, std::chrono::seconds(90));

  if (failure) std::rethrow_exception(failure);
  CHECK(load.replies_after_restart >= 20);
  CHECK(load.wrong_replies == 0);
  CHECK(service.state().served >= load.replies);  // a timed-out request may still have been served
  CHECK(load.acked_after_restart >= 20);

  // The watch delivered every acknowledged revision, in order and once; it may also deliver a
  // put whose ack was lost in the restart.
  const auto& watched = load.watched_revisions;
  CHECK(std::adjacent_find(watched.begin(), watched.end(), std::greater_equal<>()) == watched.end());
  for (std::uint64_t revision : load.acked_revisions) {
    INFO("acked revision " << revision);
    CHECK(std::binary_search(watched.begin(), watched.end(), revision));
  }
}

TEST_CASE("requests in flight fail when reconnecting gives up") {
  testing::Server server;
  asio::io_context io;
  auto config = config_for(server);
  config.reconnect.max_attempts = 2;
  Connection conn(io.get_executor(), config);
  Connection silent(io.get_executor(), config_for(server));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    co_await silent.connect();
    auto never_replies = silent.subscribe("faults.silent");
    co_await silent.flush();

    std::error_code result;
    bool done = false;
    conn.request(OutgoingMessage("faults.silent", "x"), 60s, [&](std::error_code ec, Message) {
      result = ec;
      done = true;
    });
    auto sub = conn.subscribe("faults.ending");
    co_await test::sleep_for(100ms);
    const auto killed_at = std::chrono::steady_clock::now();
    server.kill();

    for (int i = 0; i < 500 && !done; ++i) co_await test::sleep_for(20ms);
    REQUIRE(done);
    CHECK(result == errc::connection_closed);
    CHECK(result == condition::not_connected);
    CHECK(std::chrono::steady_clock::now() - killed_at < 5s);

    // A subscription of the closed connection ends too, instead of waiting forever.
    asio::steady_timer guard(io, 2s);
    using namespace asio::experimental::awaitable_operators;
    auto ended = co_await (sub.next(as_tuple(asio::use_awaitable)) || guard.async_wait(as_tuple(asio::use_awaitable)));
    REQUIRE(ended.index() == 0);
    CHECK(std::get<0>(std::get<0>(ended)) == errc::subscription_closed);

    // A request made after the close fails at once.
    auto [late, ignored] = co_await conn.request(OutgoingMessage("faults.silent", "x"), 5s, as_tuple(asio::use_awaitable));
    CHECK(late == condition::not_connected);
  });
}

TEST_CASE("slow consumer is reported, bounded and logged") {
  testing::Server server;
  auto log = test::capture_library_log();
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(server));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("slow.flood", SubscribeOptions{"", 50});
    co_await conn.flush();
    const std::string chunk(4096, 'x');
    for (int i = 0; i < 2000; ++i) conn.publish("slow.flood", chunk);
    co_await conn.flush();
    co_await test::sleep_for(200ms);

    CHECK(sub.queued() == 50);  // memory stays at the limit: 50 x 4 KiB
    CHECK(sub.dropped() == 1950);
    auto [ec, msg] = co_await sub.next(as_tuple(asio::use_awaitable));
    CHECK(ec == errc::slow_consumer);
    CHECK(log->contains("slow consumer on subject 'slow.flood'"));
  });
}

TEST_CASE("unacked JetStream messages are redelivered after ack_wait") {
  testing::Server server;
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(server));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(file_stream("REDELIVER", "redeliver.>"));
    co_await js.create_consumer("REDELIVER", pull_durable("dropper", 500ms));
    for (int i = 0; i < 5; ++i) co_await js.publish("redeliver.item", "r" + std::to_string(i));

    PullConsumer consumer = js.pull_consumer("REDELIVER", "dropper");
    std::vector<JsMessage> first = co_await consumer.fetch(5, 2s);
    REQUIRE(first.size() == 5);  // the client drops these: no ack

    co_await test::sleep_for(700ms);
    std::vector<JsMessage> again = co_await consumer.fetch(5, 2s);
    REQUIRE(again.size() == 5);
    for (std::size_t i = 0; i < again.size(); ++i) {
      CHECK(again[i].data() == "r" + std::to_string(i));
      CHECK(again[i].num_delivered() == 2);
      again[i].ack();
    }
    co_await conn.flush();
    co_await test::sleep_for(700ms);
    std::vector<JsMessage> none = co_await consumer.fetch(5, 300ms);
    CHECK(none.empty());
  });
}

TEST_CASE("payload over max_payload is rejected before sending") {
  testing::ServerOptions options;
  options.extra_config = "max_payload: 2048\n";
  testing::Server server(options);
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(server));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    CHECK(conn.max_payload() == 2048);
    auto sub = conn.subscribe("big.>");
    co_await conn.flush();

    const std::string too_big(2049, 'b');
    try {
      conn.publish("big.plain", too_big);
      FAIL("publish of 2049 bytes did not throw");
    } catch (const error& e) {
      CHECK(e.code() == errc::payload_too_large);
      CHECK(std::string(e.what()).find("2049") != std::string::npos);
      CHECK(std::string(e.what()).find("2048") != std::string::npos);
    }

    // Headers count against the limit too.
    const auto with_headers = OutgoingMessage("big.headers", std::string(2040, 'h')).with_header("X-Pad", "12345");
    CHECK_THROWS_AS(conn.publish(with_headers), error);

    auto [request_error, reply] =
        co_await conn.request(OutgoingMessage("big.request", too_big), 1s, as_tuple(asio::use_awaitable));
    CHECK(request_error == errc::payload_too_large);

    JetStream js(conn);
    co_await js.ensure_stream(file_stream("BIG", "big.js"));
    auto [js_error, ack] =
        co_await js.publish("big.js", too_big, PublishOptions(), as_tuple(asio::use_awaitable));
    CHECK(js_error == errc::payload_too_large);

    // The connection stays usable, and a payload at the limit passes.
    conn.publish("big.plain", std::string(2048, 'b'));
    Message msg = co_await sub.next();
    CHECK(msg.data().size() == 2048);
    CHECK(conn.is_connected());
  });
}

TEST_CASE("closing right after unsubscribe leaves no callback behind") {
  // cnats reports a subscription's end from its delivery thread, possibly after close() returned;
  // that report must not reach an io_context destroyed in the meantime.
  testing::Server server;
  for (int round = 0; round < 30; ++round) {
    // On the heap, so a late post into a destroyed io_context touches freed memory, which
    // AddressSanitizer reports, instead of a stack slot the next round reuses.
    auto io = std::make_unique<asio::io_context>();
    auto conn = std::make_unique<Connection>(io->get_executor(), config_for(server));
    test::run(*io, [&]() -> awaitable<void> {
      co_await conn->connect();
      for (int i = 0; i < 5; ++i) {
        auto sub = conn->subscribe("closing.fast." + std::to_string(i));
        conn->publish("closing.fast." + std::to_string(i), "x");
      }  // each Subscription unsubscribes as it goes out of scope
    });
    conn->close();
    // The Connection goes before its io_context, as every asio I/O object must: its strand
    // belongs to the io_context.
    conn.reset();
    io.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  SUCCEED("no crash after 30 rounds");
}

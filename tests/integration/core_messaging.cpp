// Core NATS messaging through Connection against a private nats-server.
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

// Answers every request on `subject` with the request's payload prefixed by `tag`.
awaitable<void> echo_responder(Connection conn, Subscription& sub, std::string tag, std::atomic<int>* served) {
  for (;;) {
    auto [ec, msg] = co_await sub.next(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (served != nullptr) ++*served;
    conn.respond(msg, tag + std::string(msg.data()));
  }
}

}  // namespace

TEST_CASE("publish reaches a subscriber on another connection") {
  asio::io_context io;
  Connection publisher(io.get_executor(), test::config_for(test::shared_server()));
  Connection subscriber(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await publisher.connect();
    co_await subscriber.connect();
    auto sub = subscriber.subscribe("agents.*.status");
    co_await subscriber.flush();

    publisher.publish("agents.a1.status", "idle");
    publisher.publish("agents.a2.status", "working");
    publisher.publish("other.subject", "ignored");

    Message first = co_await sub.next();
    Message second = co_await sub.next();
    CHECK(first.subject() == "agents.a1.status");
    CHECK(first.data() == "idle");
    CHECK(second.subject() == "agents.a2.status");
    CHECK(second.data() == "working");
  });
}

TEST_CASE("headers travel with a published message") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("hdr.test");
    co_await conn.flush();
    conn.publish(OutgoingMessage("hdr.test", "body").with_header("X-Trace", "abc").with_header("X-Trace", "def"));
    Message msg = co_await sub.next();
    CHECK(msg.data() == "body");
    REQUIRE(msg.header("X-Trace"));
    CHECK(*msg.header("X-Trace") == "abc");
    const auto all = msg.headers();
    CHECK(all.size() == 2);
  });
}

TEST_CASE("queue group members share the messages") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto a = conn.queue_subscribe("work.items", "workers");
    auto b = conn.queue_subscribe("work.items", "workers");
    co_await conn.flush();
    constexpr int total = 400;
    for (int i = 0; i < total; ++i) conn.publish("work.items", std::to_string(i));
    co_await conn.flush();
    co_await test::sleep_for(200ms);

    std::set<std::string> seen;
    std::size_t from_a = 0;
    std::size_t from_b = 0;
    while (a.queued() > 0) {
      for (auto& m : co_await a.next_batch(1000)) {
        seen.insert(std::string(m.data()));
        ++from_a;
      }
    }
    while (b.queued() > 0) {
      for (auto& m : co_await b.next_batch(1000)) {
        seen.insert(std::string(m.data()));
        ++from_b;
      }
    }
    CHECK(from_a + from_b == total);
    CHECK(seen.size() == total);
    CHECK(from_a > 0);
    CHECK(from_b > 0);
  });
}

TEST_CASE("1000 concurrent requests from one thread all complete") {
  asio::io_context io;
  Connection server_side(io.get_executor(), test::config_for(test::shared_server()));
  Connection client(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await server_side.connect();
    co_await client.connect();
    auto sub = server_side.subscribe("svc.echo");
    co_await server_side.flush();
    asio::co_spawn(io, echo_responder(server_side, sub, "re:", nullptr), asio::detached);

    constexpr int total = 1000;
    int completed = 0;
    int correct = 0;
    for (int i = 0; i < total; ++i) {
      asio::co_spawn(io, [&, i]() -> awaitable<void> {
        Message reply = co_await client.request("svc.echo", std::to_string(i), 10s);
        ++completed;
        if (reply.data() == "re:" + std::to_string(i)) ++correct;
      }, asio::detached);
    }
    while (completed < total) co_await test::sleep_for(10ms);
    CHECK(completed == total);
    CHECK(correct == total);
    sub.unsubscribe();
  });
}

TEST_CASE("no responders and timeout are distinct errors") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();

    auto [no_one, ignored] = co_await conn.request(OutgoingMessage("nobody.listens", "x"), 2s,
                                                   asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(no_one == errc::no_responders);
    CHECK(no_one != condition::timeout);

    auto silent = conn.subscribe("silent.service");  // subscribed but never replies
    co_await conn.flush();
    const auto started = std::chrono::steady_clock::now();
    auto [late, ignored2] = co_await conn.request(OutgoingMessage("silent.service", "x"), 300ms,
                                                  asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(late == errc::timeout);
    CHECK(late == condition::timeout);
    CHECK(std::chrono::steady_clock::now() - started >= 300ms);

    // The default token throws noesis::ship::error naming the subject.
    try {
      co_await conn.request("nobody.listens", "x", 2s);
      FAIL("request did not throw");
    } catch (const error& e) {
      CHECK(e.code() == errc::no_responders);
      CHECK(std::string(e.what()).find("nobody.listens") != std::string::npos);
    }
  });
}

TEST_CASE("a late reply after a timeout is dropped safely") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("slow.service");
    co_await conn.flush();
    auto [ec, ignored] = co_await conn.request(OutgoingMessage("slow.service", "x"), 100ms,
                                               asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::timeout);
    Message pending = co_await sub.next();
    conn.respond(pending, "too late");  // arrives after the timeout; must not crash or complete twice
    co_await test::sleep_for(100ms);

    // The connection still works.
    auto echo = conn.subscribe("after.timeout");
    co_await conn.flush();
    asio::co_spawn(io, echo_responder(conn, echo, "", nullptr), asio::detached);
    Message reply = co_await conn.request("after.timeout", "ok", 2s);
    CHECK(reply.data() == "ok");
    echo.unsubscribe();
  });
}

TEST_CASE("next() honours cancellation through awaitable operators") {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("quiet.subject");
    asio::steady_timer timer(io, 100ms);
    auto result = co_await (sub.next(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    CHECK(result.index() == 1);  // the timer won; next() was cancelled

    // The subscription is still usable after the cancelled wait.
    co_await conn.flush();
    conn.publish("quiet.subject", "now");
    Message msg = co_await sub.next();
    CHECK(msg.data() == "now");
  });
}

TEST_CASE("unsubscribe ends the stream with subscription_closed") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("ending.subject");
    sub.unsubscribe();
    auto [ec, msg] = co_await sub.next(asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::subscription_closed);
  });
}

TEST_CASE("a full pending queue reports a slow consumer and stays bounded") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("flood.subject", SubscribeOptions{"", 100});
    co_await conn.flush();
    for (int i = 0; i < 1000; ++i) conn.publish("flood.subject", "x");
    co_await conn.flush();
    co_await test::sleep_for(200ms);
    CHECK(sub.queued() == 100);
    CHECK(sub.dropped() == 900);
    auto [ec, msg] = co_await sub.next(asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(ec == errc::slow_consumer);
    Message after = co_await sub.next();  // delivery goes on after the report
    CHECK(after.data() == "x");
  });
}

TEST_CASE("in-flight requests fail when the connection closes") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("never.replies");
    co_await conn.flush();
    std::error_code result;
    bool done = false;
    conn.request(OutgoingMessage("never.replies", "x"), 30s, [&](std::error_code ec, Message) {
      result = ec;
      done = true;
    });
    co_await test::sleep_for(50ms);
    conn.close();
    for (int i = 0; i < 100 && !done; ++i) co_await test::sleep_for(10ms);
    CHECK(done);
    CHECK(result == errc::connection_closed);
  });
}

TEST_CASE("delivery resumes after a server restart") {
  testing::Server server;  // a server of its own, so the restart disturbs no other test
  asio::io_context io;
  Connection publisher(io.get_executor(), test::config_for(server));
  Connection subscriber(io.get_executor(), test::config_for(server));
  std::vector<ConnectionEventType> events;
  subscriber.on_event([&](const ConnectionEvent& e) { events.push_back(e.type); });
  test::run(io, [&]() -> awaitable<void> {
    co_await publisher.connect();
    co_await subscriber.connect();
    auto sub = subscriber.subscribe("restart.subject");
    co_await subscriber.flush();
    publisher.publish("restart.subject", "before");
    Message before = co_await sub.next();
    CHECK(before.data() == "before");

    server.restart();
    // Wait for both connections to come back, then for the restored subscription to register.
    for (int i = 0; i < 100 && std::count(events.begin(), events.end(), ConnectionEventType::reconnected) < 2; ++i)
      co_await test::sleep_for(50ms);
    co_await test::sleep_for(200ms);
    co_await publisher.flush();

    publisher.publish("restart.subject", "after");
    asio::steady_timer guard(io, 5s);
    using namespace asio::experimental::awaitable_operators;
    auto result = co_await (sub.next(asio::use_awaitable) || guard.async_wait(asio::use_awaitable));
    REQUIRE(result.index() == 0);
    CHECK(std::get<0>(result).data() == "after");
  });
  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::disconnected) >= 1);
  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::reconnected) >= 1);
}

TEST_CASE("a handler subscription runs each message on the executor") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    const auto io_thread = std::this_thread::get_id();
    std::vector<std::string> received;
    bool on_executor = true;
    auto plain = conn.subscribe("handler.plain", [&](Message msg) {
      on_executor = on_executor && std::this_thread::get_id() == io_thread;
      if (msg.data() == "boom") throw std::runtime_error("handler failure");
      received.emplace_back(msg.data());
    });
    int coroutine_calls = 0;
    auto coro = conn.subscribe("handler.coro", [&](Message) -> awaitable<void> {
      co_await test::sleep_for(1ms);
      ++coroutine_calls;
    });
    co_await conn.flush();
    conn.publish("handler.plain", "one");
    conn.publish("handler.plain", "boom");  // logged, and the next message still runs
    conn.publish("handler.plain", "two");
    for (int i = 0; i < 5; ++i) conn.publish("handler.coro", "x");
    for (int i = 0; i < 200 && (received.size() < 2 || coroutine_calls < 5); ++i) co_await test::sleep_for(10ms);
    CHECK(received == std::vector<std::string>{"one", "two"});
    CHECK(coroutine_calls == 5);
    CHECK(on_executor);

    plain.unsubscribe();
    conn.publish("handler.plain", "after unsubscribe");
    co_await conn.flush();
    co_await test::sleep_for(100ms);
    CHECK(received.size() == 2);
  });
}

TEST_CASE("subscriptions outliving their io_context do not crash") {
  // cnats completes a subscription some time after its connection closes; by then the
  // application may have destroyed the io_context the subscription delivered to.
  for (int round = 0; round < 20; ++round) {
    {
      asio::io_context io;
      Connection conn(io.get_executor(), test::config_for(test::shared_server()));
      test::run(io, [&]() -> awaitable<void> {
        co_await conn.connect();
        auto first = conn.subscribe("outlive.a");
        auto second = conn.subscribe("outlive.b", [](Message) {});
        co_await conn.flush();
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    auto sub = conn.subscribe("outlive.after");
    co_await conn.flush();
    conn.publish("outlive.after", "still fine");
    Message msg = co_await sub.next();
    CHECK(msg.data() == "still fine");
  });
}

// drain() completes from a thread of the library's blocking pool. The waiting coroutine runs on
// a strand of its own, so the only other copy of that strand was the pool thread's. The program
// destroys the io_context as soon as run() returns. The pool thread used to destroy its copy
// after that, in the strand service of the destroyed io_context, a heap use after free that
// AddressSanitizer reports.
TEST_CASE("io_context destroyed right after drain completes") {
  for (int round = 0; round < 30; ++round) {
    bool drained = false;
    std::exception_ptr failure;
    {
      asio::io_context io;
      Connection conn(io.get_executor(), test::config_for(test::shared_server()));
      asio::co_spawn(
          asio::make_strand(io),
          [&conn, &drained]() -> awaitable<void> {
            co_await conn.connect();
            co_await conn.drain();
            drained = true;
          },
          [&failure](std::exception_ptr e) { failure = e; });
      io.run();
    }
    CHECK_FALSE(failure);
    CHECK(drained);
  }
}

TEST_CASE("a request registered behind a queued reply batch gets its reply") {
  // Replies are handed to the connection's strand in batches. A request made while a batch was
  // already queued, whose reply then joined that batch, used to miss its reply and time out.
  // The responder runs on a thread of its own, so replies arrive while the client's thread is busy.
  asio::io_context responder_io;
  Connection server_side(responder_io.get_executor(), test::config_for(test::shared_server()));
  Subscription sub;
  test::run(responder_io, [&]() -> awaitable<void> {
    co_await server_side.connect();
    sub = server_side.subscribe("svc.batched");
    co_await server_side.flush();
  });
  asio::co_spawn(responder_io, echo_responder(server_side, sub, "", nullptr), asio::detached);
  std::thread responder_thread([&] { responder_io.run(); });

  asio::io_context io;
  Connection client(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await client.connect();

    constexpr int rounds = 50;
    int answered = 0;
    int lost = 0;
    for (int round = 0; round < rounds; ++round) {
      // A first request whose reply arrives while this thread is busy queues a batch.
      client.request(OutgoingMessage("svc.batched", "first"), 2s, [](std::error_code, Message) {});
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      // The second request registers behind that batch; its reply arrives before the batch runs.
      const std::string payload = "second-" + std::to_string(round);
      client.request(OutgoingMessage("svc.batched", payload), 2s, [&, payload](std::error_code ec, Message reply) {
        if (!ec && reply.data() == payload) {
          ++answered;
        } else {
          ++lost;
        }
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      co_await test::sleep_for(1ms);
    }
    for (int i = 0; i < 300 && answered + lost < rounds; ++i) co_await test::sleep_for(10ms);
    CHECK(lost == 0);
    CHECK(answered == rounds);
  }, std::chrono::seconds(120));
  asio::post(responder_io, [&] { sub.unsubscribe(); });
  responder_thread.join();
}

namespace {

// Replaces the `max_payload: <old>` line that ServerOptions::extra_config added to the server's
// configuration file; the server reads it at its next start.
void set_max_payload(const testing::Server& server, int old_limit, int new_limit) {
  std::ifstream in(server.config_file());
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  const std::string old_line = "max_payload: " + std::to_string(old_limit);
  const auto at = config.find(old_line);
  REQUIRE(at != std::string::npos);
  config.replace(at, old_line.size(), "max_payload: " + std::to_string(new_limit));
  std::ofstream out(server.config_file(), std::ios::trunc);
  out << config;
  out.close();
  REQUIRE(out.good());
}

// Restarts `server` with another max_payload and waits until both links of `conn` reconnected.
awaitable<void> restart_with_max_payload(testing::Server& server, int old_limit, int new_limit,
                                         const int& reconnects) {
  const int before = reconnects;
  server.stop();
  set_max_payload(server, old_limit, new_limit);
  server.start();
  for (int i = 0; i < 200 && reconnects < before + 2; ++i) co_await test::sleep_for(50ms);
  REQUIRE(reconnects >= before + 2);
}

}  // namespace

TEST_CASE("publish checks the max_payload of the server it reconnected to") {
  // Publish compares the payload with a max_payload cached at connect, so each reconnect must
  // replace it: a limit that was raised lets larger payloads through, a lowered one rejects them.
  testing::ServerOptions options;
  options.extra_config = "max_payload: 2048\n";
  testing::Server server(options);  // a server of its own, so the restarts disturb no other test
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(server));
  int reconnects = 0;
  conn.on_event([&](const ConnectionEvent& e) {
    if (e.type == ConnectionEventType::reconnected) ++reconnects;
  });
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    CHECK(conn.max_payload() == 2048);
    CHECK(conn.core()->known_max_payload() == 2048);

    co_await restart_with_max_payload(server, 2048, 4096, reconnects);
    CHECK(conn.max_payload() == 4096);
    CHECK(conn.core()->known_max_payload() == 4096);
    auto sub = conn.subscribe("limit.>");
    co_await conn.flush();
    conn.publish("limit.raised", std::string(3000, 'r'));
    Message raised = co_await sub.next();
    CHECK(raised.data().size() == 3000);

    co_await restart_with_max_payload(server, 4096, 1024, reconnects);
    CHECK(conn.max_payload() == 1024);
    CHECK(conn.core()->known_max_payload() == 1024);
    const std::string too_big(1500, 'l');
    try {
      conn.publish("limit.lowered", too_big);
      FAIL("publish of 1500 bytes over a max_payload of 1024 did not throw");
    } catch (const error& e) {
      CHECK(e.code() == errc::payload_too_large);
      CHECK(std::string(e.what()).find("1024") != std::string::npos);
    }
    CHECK_THROWS_AS(conn.publish(OutgoingMessage("limit.lowered", too_big)), error);
    conn.publish("limit.lowered", std::string(1024, 'l'));
    Message lowered = co_await sub.next();
    CHECK(lowered.data().size() == 1024);
  }, std::chrono::seconds(60));
}

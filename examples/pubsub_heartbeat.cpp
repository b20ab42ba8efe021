// PubSub starter: one publisher emits heartbeats, one subscriber prints them.
//
//   NATS_URL=nats://127.0.0.1:4222 ./pubsub_heartbeat [count]
//
// Both sides share one connection, the recommended arrangement. The program exits after the
// subscriber has printed `count` heartbeats (default 5), or fails after 10 seconds without them.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/pubsub.hpp>

namespace ship = noesis::ship;
using namespace std::chrono_literals;

asio::awaitable<void> emit_heartbeats(ship::Publisher publisher, int count) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int seq = 1; seq <= count; ++seq) {
    publisher.emit(ship::EventType::heartbeat(), nlohmann::json{{"seq", seq}, {"state", "idle"}});
    timer.expires_after(200ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<int> run_example(ship::Connection conn, int count) {
  co_await conn.connect();

  int received = 0;
  ship::Subscriber subscriber(conn, "monitor");
  subscriber.on(ship::EventType::heartbeat(), [&](const ship::Event<>& event) {
    std::cout << "heartbeat from " << event.source << " at " << event.timestamp << ": " << event.payload.dump()
              << '\n';
    if (++received == count) subscriber.stop();
  });

  // Subscribe and let the server confirm before the first heartbeat goes out, so none is missed.
  subscriber.start();
  co_await conn.flush();

  ship::Publisher publisher(conn, "agent-1");
  asio::co_spawn(conn.get_executor(), emit_heartbeats(publisher, count), asio::detached);

  // A guard so the example cannot hang when heartbeats go missing.
  asio::steady_timer guard(conn.get_executor(), 10s);
  guard.async_wait([subscriber](std::error_code ec) mutable {
    if (!ec) subscriber.stop();
  });

  co_await subscriber.run();
  guard.cancel();
  co_await conn.drain();
  co_return received == count ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5;
  if (count <= 0) {
    std::cerr << "usage: pubsub_heartbeat [count], where count is a positive number of heartbeats\n";
    return EXIT_FAILURE;
  }

  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(ship::default_nats_url()));
  int status = EXIT_FAILURE;
  asio::co_spawn(io, run_example(conn, count), [&](std::exception_ptr failure, int result) {
    if (!failure) {
      status = result;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "pubsub_heartbeat failed: " << e.what() << '\n';
    }
  });
  io.run();
  return status;
}

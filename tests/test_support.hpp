// Helpers shared by the integration tests: run a coroutine to completion on an io_context
// with a deadline, so a hung operation fails the test instead of hanging ctest, and one private
// nats-server per test binary.
#pragma once

#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/testing/server.hpp>

namespace noesis::ship::test {

// Runs `make()` (returning asio::awaitable<void>) on `io` until it finishes, rethrowing its
// exception. Fails with std::runtime_error when it takes longer than `deadline`.
template <typename MakeAwaitable>
void run(asio::io_context& io, MakeAwaitable make, std::chrono::seconds deadline = std::chrono::seconds(60)) {
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  const auto stop_at = std::chrono::steady_clock::now() + deadline;
  while (!done) {
    io.run_for(std::chrono::milliseconds(50));
    if (io.stopped()) io.restart();
    if (std::chrono::steady_clock::now() > stop_at) throw std::runtime_error("test coroutine exceeded its deadline");
  }
  if (failure) std::rethrow_exception(failure);
}

// Suspends the calling coroutine for `duration` without blocking the thread.
inline asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// The private nats-server (JetStream on, temporary store, free port on 127.0.0.1) that the test
// cases of one binary share. It starts on first use and stops when the process exits.
inline testing::Server& shared_server() {
  static testing::Server server;
  return server;
}

// A client configuration for `server` that retries a lost connection every 100 ms, so tests
// that restart the server do not wait for the default back-off.
inline NatsConfig config_for(const testing::Server& server) {
  NatsConfig config(server.url());
  config.reconnect.wait = std::chrono::milliseconds(100);
  return config;
}

}  // namespace noesis::ship::test

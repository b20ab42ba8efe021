// Connects, publishes one message, ends the connection with drain() or close() (the first
// argument), and returns from main() at once. The process-exit test starts it many times:
// static destructors run while cnats and the library's blocking pool may still hold references,
// so a hang or crash at exit shows up there.
//
// Mode drain-stop also stops the io_context as soon as drain() resumes, so main() destroys it
// while library threads may still be finishing the drain.
//
// Usage: exit_after_close_helper drain|drain-stop|close NATS_URL
#include <cstdio>
#include <exception>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <noesis/ship/connection.hpp>

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "drain" && mode != "drain-stop" && mode != "close") {
    std::fprintf(stderr, "usage: exit_after_close_helper drain|drain-stop|close NATS_URL\n");
    return 2;
  }
  const bool drain = mode != "close";
  asio::io_context io;
  noesis::ship::Connection conn(io.get_executor(), noesis::ship::NatsConfig(argv[2]));
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await conn.connect();
        conn.publish("exit.test", "bye");
        if (drain) {
          co_await conn.drain();
          if (mode == "drain-stop") io.stop();
        } else {
          conn.close();
        }
        status = 0;
      },
      [](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "exit_after_close_helper: %s\n", e.what());
        }
      });
  io.run();
  return status;
}

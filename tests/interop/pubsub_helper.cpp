// Interop helper for pubsub.test.mjs: publishes one Event on `heartbeat`, then sends a request
// on `interop.echo`, and prints one JSON line to stdout:
//   {"published": <the event as sent>, "reply": "<reply payload>"}
// Usage: interop_pubsub_helper --url nats://127.0.0.1:PORT [--source ID]
// Exits with status 0 on success, 1 on a failed operation and 2 on invalid arguments.
#include <chrono>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/event.hpp>
#include <noesis/ship/json.hpp>

using namespace noesis::ship;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::string url;
  std::string source = "cpp-interop";
};

asio::awaitable<void> publish_and_request(Connection conn, Options options) {
  co_await conn.connect();

  auto event = make_event("heartbeat", options.source, nlohmann::json{{"seq", 1}, {"status", "alive"}});
  const std::string encoded = encode_json(event);
  conn.publish("heartbeat", encoded);
  co_await conn.flush();

  Message reply = co_await conn.request("interop.echo", "ping from C++", 5s);

  nlohmann::ordered_json line;
  line["published"] = nlohmann::ordered_json::parse(encoded);
  line["reply"] = reply.data_string();
  std::cout << line.dump() << std::endl;

  co_await conn.drain();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--url" && i + 1 < argc) {
      options.url = argv[++i];
    } else if (arg == "--source" && i + 1 < argc) {
      options.source = argv[++i];
    } else {
      std::cerr << "invalid argument '" << arg << "'; usage: interop_pubsub_helper --url URL [--source ID]\n";
      return 2;
    }
  }
  if (options.url.empty()) {
    std::cerr << "missing --url; usage: interop_pubsub_helper --url URL [--source ID]\n";
    return 2;
  }

  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig(options.url));
  int status = 1;
  asio::co_spawn(io, publish_and_request(conn, options), [&status](std::exception_ptr failure) {
    if (!failure) {
      status = 0;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "interop_pubsub_helper: " << e.what() << "\n";
    }
  });
  io.run();
  return status;
}

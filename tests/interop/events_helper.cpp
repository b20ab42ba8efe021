// Interop helper for events.test.mjs, working on the default event stream SHIP_EVENTS.
//
//   interop_events_helper --url URL emit TYPE SOURCE
//     Emits one ShipEvent of TYPE with payload {"item": "EX-3001", "count": 3} through
//     EventBus::publish_event and prints {"published": <the envelope as sent>, "stream": ...,
//     "sequence": n}.
//   interop_events_helper --url URL receive PATTERN CONSUMER COUNT
//     Subscribes the durable consumer CONSUMER to PATTERN, prints {"ready": true} once the
//     consumer exists, then one line {"subject": ..., "sequence": n, "event": <the decoded
//     envelope>} per event until COUNT events arrived, and exits.
//
// Exits with status 0 on success, 1 on a failed operation or when the events of `receive` do
// not arrive within 10 seconds, and 2 on invalid arguments.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/json.hpp>

using namespace noesis::ship;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage =
    "usage: interop_events_helper --url URL emit TYPE SOURCE\n"
    "       interop_events_helper --url URL receive PATTERN CONSUMER COUNT\n";

struct Options {
  std::string url;
  std::vector<std::string> command;  // the mode and its arguments
};

nlohmann::json sample_payload() {
  nlohmann::json payload;
  payload["item"] = "EX-3001";
  payload["count"] = 3;
  return payload;
}

asio::awaitable<void> emit(EventBus bus, std::string type, std::string source) {
  co_await bus.connect();
  const ShipEvent<> event = make_ship_event(std::move(type), std::move(source), sample_payload());
  PubAck ack = co_await bus.publish_event(event);

  nlohmann::ordered_json line;
  line["published"] = nlohmann::ordered_json::parse(encode_json(event));
  line["stream"] = ack.stream;
  line["sequence"] = ack.sequence;
  std::cout << line.dump() << std::endl;
}

asio::awaitable<void> receive(EventBus bus, std::string pattern, std::string consumer, std::size_t count) {
  co_await bus.connect();
  std::size_t received = 0;
  auto handler = [&received](ShipEvent<> event, const JsMessage& msg) {
    nlohmann::ordered_json line;
    line["subject"] = std::string(msg.subject());
    line["sequence"] = msg.stream_sequence();
    line["event"] = nlohmann::ordered_json::parse(encode_json(event));
    std::cout << line.dump() << std::endl;
    ++received;
  };
  ConsumerSubscription subscription = co_await bus.subscribe(pattern, consumer, handler);
  std::cout << R"({"ready":true})" << std::endl;

  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto give_up_at = std::chrono::steady_clock::now() + 10s;
  while (received < count && std::chrono::steady_clock::now() < give_up_at) {
    timer.expires_after(10ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  subscription.stop();
  co_await subscription.wait();
  if (received < count) {
    throw error(errc::timeout, "received " + std::to_string(received) + " of " + std::to_string(count) +
                                     " events on '" + pattern + "' within 10 s");
  }
}

asio::awaitable<void> run(Connection conn, Options options) {
  co_await conn.connect();
  EventBus bus(conn);
  const std::vector<std::string>& command = options.command;
  if (command[0] == "emit") {
    co_await emit(bus, command[1], command[2]);
  } else {
    const std::size_t count = std::stoul(command[3]);
    co_await receive(bus, command[1], command[2], count);
  }
  co_await conn.drain();
}

bool valid_command(const std::vector<std::string>& command) {
  if (command.empty()) return false;
  if (command[0] == "emit") return command.size() == 3;
  if (command[0] == "receive") {
    return command.size() == 4 && command[3].find_first_not_of("0123456789") == std::string::npos &&
           !command[3].empty();
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--url" && i + 1 < argc) {
      options.url = argv[++i];
    } else {
      options.command.emplace_back(arg);
    }
  }
  if (options.url.empty() || !valid_command(options.command)) {
    std::cerr << "missing --url or invalid command\n" << usage;
    return 2;
  }

  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig(options.url));
  int status = 1;
  asio::co_spawn(io, run(conn, options), [&](std::exception_ptr failure) {
    if (!failure) {
      status = 0;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "interop_events_helper: " << e.what() << "\n";
    }
    conn.close();  // ends a subscription still running, so io.run() returns
  });
  io.run();
  return status;
}

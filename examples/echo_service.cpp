// Service starter: the echo service of the Rust noesis-ship, on the prefix `echo.cmd`.
//
//   ./echo_service --nats-url nats://127.0.0.1:4222     (or set NATS_URL)
//   nats request echo.cmd.echo 'hi'     ->  hi
//   nats request echo.cmd.count ''      ->  1, 2, 3, ...
//   nats request echo.cmd.hello ''      ->  {"message":"Hello from noesis-ship!"}
//   nats micro info echo                ->  endpoints and statistics
//
// Stop it with Ctrl-C or SIGTERM: it finishes the requests it received and prints the count.
#include <exception>
#include <iostream>
#include <string>

#include <noesis/ship/service.hpp>
#include <noesis/ship/service_args.hpp>

namespace ship = noesis::ship;

struct EchoState {
  int request_count = 0;
};

int main(int argc, char** argv) {
  const auto args = ship::ServiceArgs::parse(argc, argv);

  ship::ServiceBuilder<EchoState> service("echo.cmd", EchoState{});
  service.nats_url(args.nats_url)
      .name("echo")
      .version("1.0.0")
      .handler("echo", [](std::string_view payload, EchoState& state) {
        ++state.request_count;
        return std::string(payload);
      })
      .handler("count", [](std::string_view, EchoState& state) { return std::to_string(++state.request_count); })
      .handler("hello", [](std::string_view, EchoState& state) {
        ++state.request_count;
        return nlohmann::json{{"message", "Hello from noesis-ship!"}};
      })
      .on_shutdown([](const EchoState& state) { std::cout << "handled " << state.request_count << " requests\n"; });

  try {
    service.run_blocking();
  } catch (const std::exception& e) {
    std::cerr << "echo service failed: " << e.what() << '\n';
    return 1;
  }
}

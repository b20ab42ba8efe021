// Interop helper for services.test.mjs: runs a ServiceBuilder service, or sends one request, and
// writes JSON lines to stdout.
//
//   interop_services_helper --url URL serve NAME
//       Runs the service NAME, version 1.2.3, on the prefix `NAME.cmd` in queue group `q`, with
//       the endpoints below. Prints {"ready":true,"name","id","version"} once it is subscribed.
//       Stops on SIGTERM or SIGINT, then prints {"shutdown":true,"handled":N} and exits with 0.
//   interop_services_helper --url URL request SUBJECT PAYLOAD
//       Sends one request and prints {"data","headers":{name: value}} of the reply.
//
// The endpoints of `serve`:
//   echo      returns the payload
//   count     returns the number of count requests so far: "1", "2", ...
//   check     returns "ok", but fails with code 400 "bad input" when the payload is "bad"
//   pr.merge  returns {"merged":<payload>}; a dotted command, so its endpoint is `pr_merge`
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/service.hpp>

namespace ship = noesis::ship;

namespace {

constexpr std::chrono::seconds request_timeout{10};

struct InteropState {
  int handled = 0;
  int count_requests = 0;
};

int usage() {
  std::fprintf(stderr,
               "usage: interop_services_helper --url URL (serve NAME | request SUBJECT PAYLOAD)\n");
  return 2;
}

// Prints one JSON line and flushes, so the test reads it while the service still runs.
void print_line(const nlohmann::json& line) {
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

int serve(const std::string& url, const std::string& name) {
  ship::ServiceBuilder<InteropState> service(name + ".cmd", InteropState{});
  service.nats_url(url)
      .name(name)
      .version("1.2.3")
      .description("noesis::ship interop service")
      .metadata({{"lang", "c++"}})
      .handler("echo",
               [](std::string_view payload, InteropState& state) {
                 ++state.handled;
                 return std::string(payload);
               })
      .handler("count",
               [](std::string_view, InteropState& state) {
                 ++state.handled;
                 return std::to_string(++state.count_requests);
               })
      .handler("check",
               [](std::string_view payload, InteropState& state) {
                 ++state.handled;
                 if (payload == "bad") throw ship::ServiceError(400, "bad input");
                 return std::string("ok");
               })
      .handler("pr.merge",
               [](std::string_view payload, InteropState& state) {
                 ++state.handled;
                 return nlohmann::json{{"merged", payload}};
               })
      .on_started([name, id = service.id()] {
        print_line(nlohmann::json{{"ready", true}, {"name", name}, {"id", id}, {"version", "1.2.3"}});
      })
      .on_shutdown([](const InteropState& state) {
        print_line(nlohmann::json{{"shutdown", true}, {"handled", state.handled}});
      });

  try {
    service.run_blocking();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_services_helper: service '%s' failed: %s\n", name.c_str(), e.what());
    return 1;
  }
  return 0;
}

nlohmann::json reply_line(const ship::Message& reply) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [header, value] : reply.headers()) headers[header] = value;
  nlohmann::json line;
  line["data"] = reply.data_string();
  line["headers"] = headers;
  return line;
}

int request(const std::string& url, const std::string& subject, const std::string& payload) {
  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(url));
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await conn.connect();
        ship::Message reply = co_await conn.request(subject, payload, request_timeout);
        print_line(reply_line(reply));
        co_await conn.drain();
        status = 0;
      },
      [](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "interop_services_helper: %s\n", e.what());
        }
      });
  io.run();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3 || args[0] != "--url") return usage();
  const std::string& url = args[1];
  const std::string& command = args[2];

  if (command == "serve" && args.size() == 4) return serve(url, args[3]);
  if (command == "request" && args.size() == 5) return request(url, args[3], args[4]);
  return usage();
}

// KV starter: a being registers in the registry and heartbeats, a fleet setting is shared
// through ShipConfig, and a health report goes to HealthMetrics.
//
//   NATS_URL=nats://127.0.0.1:4222 ./kv_registry [being-id]
//
// The server needs JetStream (nats-server -js). The program creates the buckets it uses when
// they are missing (beings_status, ship_config, ship_health), prints what it reads back, and
// removes its registry record at the end. It exits with status 1 on any error.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/being_registry.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/health_metrics.hpp>
#include <noesis/ship/ship_config.hpp>

namespace ship = noesis::ship;
using namespace std::chrono_literals;

asio::awaitable<void> run_example(ship::Connection conn, std::string being_id) {
  co_await conn.connect();

  // Registry: register, change state, heartbeat, list who is online.
  ship::BeingRegistry registry(conn);
  co_await registry.connect();
  std::vector<std::string> capabilities;
  capabilities.push_back("build");
  capabilities.push_back("test");
  co_await registry.register_being(being_id, capabilities);
  std::optional<std::string> task = std::string("BUILD-001");
  co_await registry.update_status(being_id, ship::BeingState::working, task);
  ship::BeingStatus status = co_await registry.heartbeat(being_id);
  std::cout << being_id << " is " << ship::to_string(status.state) << " on " << status.current_task.value_or("-")
            << ", last heartbeat " << status.last_heartbeat << '\n';

  ship::OnlineFilter recent;
  recent.max_heartbeat_age = 60s;
  std::vector<ship::BeingStatus> online = co_await registry.get_online(recent);
  std::cout << online.size() << " being(s) with a heartbeat in the last 60 s:\n";
  for (const auto& being : online) std::cout << "  " << being.being_id << " " << ship::to_string(being.state) << '\n';

  // Config: every value is JSON; get() returns the default for a missing key.
  ship::ShipConfig config(conn);
  co_await config.connect();
  co_await config.set("build.parallelism", 4);
  const int parallelism = co_await config.get("build.parallelism", 1);
  const int retries = co_await config.get("build.retries", 3);
  std::cout << "build.parallelism = " << parallelism << ", build.retries = " << retries << " (default)\n";

  // Health: the newest report per source, kept 120 s.
  ship::HealthMetrics health(conn);
  co_await health.connect();
  nlohmann::json report;
  report["cpu"] = 0.25;
  report["queue_depth"] = 3;
  co_await health.report(being_id, report);
  auto reports = co_await health.get_all();
  for (const auto& [source, metrics] : reports) std::cout << "health of " << source << ": " << metrics.dump() << '\n';

  co_await registry.unregister(being_id);
  co_await conn.drain();
}

int main(int argc, char** argv) {
  const char* url = std::getenv("NATS_URL");
  const std::string being_id = argc > 1 ? argv[1] : "example-being";

  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(url ? url : "nats://127.0.0.1:4222"));
  int status = EXIT_FAILURE;
  asio::co_spawn(io, run_example(conn, being_id), [&](std::exception_ptr failure) {
    if (!failure) {
      status = EXIT_SUCCESS;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "kv_registry: " << e.what() << '\n';
    }
  });
  io.run();
  return status;
}

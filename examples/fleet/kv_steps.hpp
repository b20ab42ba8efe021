// Fleet demo steps for the KV blocks: every agent registers in the being registry and
// heartbeats, one agent shares a setting that the others read, and one agent lists the agents
// online. Registered after the PubSub steps, whose "connect agents" step creates the agents.
#pragma once

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <noesis/ship/being_registry.hpp>
#include <noesis/ship/ship_config.hpp>

#include "fleet.hpp"
#include "steps.hpp"

namespace fleet {

namespace kv_steps {

// The registry key of an agent: agent names are valid KV keys, but the prefix keeps the
// demo's records apart from other beings in the shared `beings_status` bucket.
inline std::string being_id(const Agent& agent) { return "fleet-demo." + agent.name; }

inline asio::awaitable<std::string> register_agents(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  std::vector<std::string> capabilities;
  capabilities.push_back("pubsub");
  capabilities.push_back("jobs");
  for (const auto& agent : fleet.agents) {
    ship::BeingRegistry registry(agent->conn);
    co_await registry.connect();
    co_await registry.register_being(being_id(*agent), capabilities);
  }
  co_return fmt::format("{} agents registered in '{}'", fleet.agents.size(), ship::BeingRegistry::bucket_name);
}

inline asio::awaitable<std::string> heartbeat_agents(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  for (const auto& agent : fleet.agents) {
    ship::BeingRegistry registry(agent->conn);
    co_await registry.connect();
    ship::BeingStatus status = co_await registry.heartbeat(being_id(*agent));
    if (status.being_id != being_id(*agent)) {
      throw std::runtime_error("heartbeat of " + agent->name + " returned the record of " + status.being_id);
    }
  }
  // The first agent starts working, so the online listing below shows two states.
  Agent& first = *fleet.agents.front();
  ship::BeingRegistry registry(first.conn);
  co_await registry.connect();
  std::optional<std::string> task = std::string("fleet-demo-report");
  co_await registry.update_status(being_id(first), ship::BeingState::working, task);
  co_return fmt::format("{} agents heartbeat; {} is working on {}", fleet.agents.size(), first.name, *task);
}

inline asio::awaitable<std::string> share_config(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  Agent& writer = *fleet.agents.front();
  ship::ShipConfig writer_config(writer.conn);
  co_await writer_config.connect();
  const int parallelism = static_cast<int>(fleet.agents.size()) * 2;
  co_await writer_config.set("fleet-demo.parallelism", parallelism);

  for (const auto& agent : fleet.agents) {
    ship::ShipConfig config(agent->conn);
    co_await config.connect();
    const int read = co_await config.get("fleet-demo.parallelism", 0);
    if (read != parallelism) {
      throw std::runtime_error(fmt::format("{} read parallelism {}, {} set {}", agent->name, read, writer.name,
                                           parallelism));
    }
  }
  co_return fmt::format("{} set fleet-demo.parallelism = {}; all {} agents read it", writer.name, parallelism,
                        fleet.agents.size());
}

inline asio::awaitable<std::string> show_online(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  Agent& observer = *fleet.agents.back();
  ship::BeingRegistry registry(observer.conn);
  co_await registry.connect();
  ship::OnlineFilter recent;
  recent.max_heartbeat_age = std::chrono::seconds(60);
  std::vector<ship::BeingStatus> online = co_await registry.get_online(recent);

  std::vector<std::string> listed;
  for (const auto& status : online) {
    if (status.being_id.rfind("fleet-demo.", 0) != 0) continue;  // another program's being
    listed.push_back(fmt::format("{} ({})", status.being_id, ship::to_string(status.state)));
  }
  std::sort(listed.begin(), listed.end());
  if (listed.size() != fleet.agents.size()) {
    throw std::runtime_error(fmt::format("{} of {} agents online: {}", listed.size(), fleet.agents.size(),
                                         fmt::join(listed, ", ")));
  }

  // Unregistering leaves a delete marker, so the next run starts from an empty listing.
  for (const auto& agent : fleet.agents) co_await registry.unregister(being_id(*agent));
  co_return fmt::format("{} sees online: {}", observer.name, fmt::join(listed, ", "));
}

}  // namespace kv_steps

inline void add_kv_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("agents register in the registry", [&fleet] { return kv_steps::register_agents(fleet); });
  runner.add("agents heartbeat", [&fleet] { return kv_steps::heartbeat_agents(fleet); });
  runner.add("agent shares a setting", [&fleet] { return kv_steps::share_config(fleet); });
  runner.add("agent lists agents online", [&fleet] { return kv_steps::show_online(fleet); });
}

}  // namespace fleet

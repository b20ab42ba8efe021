// Fleet demo steps for the object store: one agent stores an artifact that another reads back
// with its digest checked, and an agent takes a snapshot of its state and restores it.
// Registered after the PubSub steps, whose "connect agents" step creates the agents.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <noesis/ship/artifact_store.hpp>
#include <noesis/ship/being_snapshots.hpp>

#include "fleet.hpp"
#include "steps.hpp"

namespace fleet {

namespace object_steps {

inline asio::awaitable<std::string> store_artifact(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  Agent& writer = *fleet.agents.front();
  Agent& reader = *fleet.agents.back();

  const std::string name = fmt::format("fleet-report-{}.md", ::getpid());
  std::string report = fmt::format("# Fleet report\n{} agents connected\n", fleet.agents.size());
  ship::ArtifactStore writer_store(writer.conn);
  co_await writer_store.connect();
  ship::ObjectMeta meta = co_await writer_store.store_artifact(name, report, "report", std::string("fleet-demo"));

  ship::ArtifactStore reader_store(reader.conn);
  co_await reader_store.connect();
  std::string read_back = co_await reader_store.get(name);
  if (read_back != report) throw std::runtime_error(reader.name + " read different bytes of " + name);
  co_await writer_store.delete_artifact(name);
  co_return fmt::format("{} stored {} ({} bytes, {}), {} read it back intact", writer.name, name, meta.size,
                        meta.digest, reader.name);
}

inline asio::awaitable<std::string> snapshot_round_trip(Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  Agent& agent = *fleet.agents.front();

  ship::BeingSnapshots snapshots(agent.conn);
  co_await snapshots.connect();
  nlohmann::json state = nlohmann::json::object();
  state["heartbeats_seen"] = agent.heartbeats.size();
  state["phase"] = "fleet-demo";
  std::string id = co_await snapshots.take(agent.name, state, "fleet demo checkpoint");
  nlohmann::json restored = co_await snapshots.restore(id);
  if (restored != state) throw std::runtime_error("snapshot " + id + " restored a different state");
  co_await snapshots.delete_snapshot(id);
  co_return fmt::format("{} took snapshot {} and restored the same state", agent.name, id);
}

}  // namespace object_steps

inline void add_object_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("agent stores an artifact", [&fleet] { return object_steps::store_artifact(fleet); });
  runner.add("agent takes and restores a snapshot", [&fleet] { return object_steps::snapshot_round_trip(fleet); });
}

}  // namespace fleet

// Fleet demo steps for the durable job queue: a coordinator queues jobs, the agents claim and
// complete them, each agent on its own connection with its own queue instance, so every claim
// is a compare-and-set that crosses the server and competes with the other agents.
// Registered after the PubSub steps, whose "connect agents" step creates the agents.
// TODO: the agents are in this process; claiming from the separate worker process needs a
// job role in fleet_demo.cpp's worker, which belongs to the fleet demo's owner.
#pragma once

#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <noesis/ship/durable_job_queue.hpp>

#include "fleet.hpp"
#include "steps.hpp"

namespace fleet {

namespace job_steps {

// What the job steps share between steps.
struct JobState {
  std::string prefix;
  std::set<std::string> submitted;
};

inline ship::DurableJobQueueConfig queue_config(const JobState& state) {
  ship::DurableJobQueueConfig config;
  config.prefix = state.prefix;
  config.storage = ship::StorageType::memory;  // a demo bucket; nothing to keep
  return config;
}

inline asio::awaitable<std::string> queue_jobs(Fleet& fleet, std::shared_ptr<JobState> state) {
  if (fleet.agents.empty()) throw std::runtime_error("no agents connected");
  ship::DurableJobQueue<nlohmann::json> queue(fleet.agents.front()->conn, queue_config(*state));
  co_await queue.connect();
  const int count = 5 * static_cast<int>(fleet.agents.size());
  for (int i = 0; i < count; ++i) {
    nlohmann::json payload = nlohmann::json::object();
    payload["task"] = i;
    std::string id = co_await queue.submit(payload, "fleet-worker", "coordinator");
    state->submitted.insert(std::move(id));
  }
  queue.close();
  co_return fmt::format("coordinator queued {} jobs in bucket {}", count, queue.bucket());
}

inline asio::awaitable<std::string> claim_jobs(Fleet& fleet, std::shared_ptr<JobState> state) {
  std::map<std::string, int> done_by;
  std::set<std::string> done;
  // The agents take turns claiming one job each, so every agent gets some.
  std::vector<ship::DurableJobQueue<nlohmann::json>> queues;
  for (auto& agent : fleet.agents) {
    queues.emplace_back(agent->conn, queue_config(*state));
    co_await queues.back().connect();
  }
  bool claimed_any = true;
  while (claimed_any) {
    claimed_any = false;
    for (std::size_t i = 0; i < queues.size(); ++i) {
      std::optional<ship::Job<nlohmann::json>> job = co_await queues[i].claim("fleet-worker");
      if (!job) continue;
      claimed_any = true;
      nlohmann::json result = nlohmann::json::object();
      result["by"] = fleet.agents[i]->name;
      const bool completed = co_await queues[i].complete(*job, result);
      if (!completed || !done.insert(job->id).second) {
        throw std::runtime_error("job " + job->id + " was completed twice");
      }
      ++done_by[fleet.agents[i]->name];
    }
  }
  ship::JobCounts counts = co_await queues.front().counts();
  for (auto& queue : queues) queue.close();
  if (done != state->submitted || counts.complete != state->submitted.size()) {
    throw std::runtime_error(fmt::format("{} of {} jobs completed", counts.complete, state->submitted.size()));
  }
  std::string split;
  for (const auto& [name, n] : done_by) split += fmt::format("{}{} {}", split.empty() ? "" : ", ", name, n);
  co_return fmt::format("all {} jobs completed once ({})", done.size(), split);
}

}  // namespace job_steps

inline void add_job_steps(StepRunner& runner, Fleet& fleet) {
  auto state = std::make_shared<job_steps::JobState>();
  state->prefix = fmt::format("FLEET{}", ::getpid());
  runner.add("coordinator queues jobs", [&fleet, state] { return job_steps::queue_jobs(fleet, state); });
  runner.add("agents claim and complete jobs", [&fleet, state] { return job_steps::claim_jobs(fleet, state); });
}

}  // namespace fleet

// Fleet demo steps for the durable job queue. The coordinator (agent-1's connection) queues
// jobs, and job worker processes, this program started again with --role job-worker, claim and
// complete them. Every claim is a compare-and-set that crosses the server and competes with
// the other processes. The coordinator then checks, from the job records and the lifecycle
// events, that every job completed exactly once and which process ran it.
// Registered after the PubSub steps, whose "connect agents" step creates the agents.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/pubsub.hpp>

#include "fleet.hpp"
#include "process.hpp"
#include "steps.hpp"

namespace fleet {

namespace job_steps {

// The worker name of the coordinator's jobs. Every job worker process claims jobs for this name.
inline constexpr const char* job_worker_role = "fleet-worker";
// Jobs the coordinator queues per job worker process.
inline constexpr int jobs_per_worker = 10;
// Time a job worker spends on each job, standing in for real work, so the processes take turns.
inline constexpr std::chrono::milliseconds job_work_time{20};
// Time limits of the steps that start the processes and wait for the jobs, generous for a
// loaded machine.
inline constexpr std::chrono::milliseconds process_step_limit{20000};
inline constexpr std::chrono::milliseconds join_limit{15000};
inline constexpr std::chrono::milliseconds finish_limit{15000};
inline constexpr std::chrono::milliseconds leave_limit{5000};

// The lifecycle events of one job that the coordinator received.
struct JobEvents {
  int started = 0;
  int completed = 0;
  long long completed_by_pid = -1;  // the pid in the result of the job.completed event
};

// What the job steps share between steps.
struct JobState {
  std::string prefix;
  std::set<std::string> submitted;
  std::map<long long, std::string> worker_by_pid;  // every job worker process started, by pid
  std::optional<ship::DurableJobQueue<nlohmann::json>> queue;  // the coordinator's
  ship::Subscription events;                                   // job lifecycle events
  std::map<std::string, JobEvents> events_by_job;
};

inline ship::DurableJobQueueConfig queue_config(const std::string& prefix) {
  ship::DurableJobQueueConfig config;
  config.prefix = prefix;
  config.storage = ship::StorageType::memory;  // a demo bucket; nothing to keep
  return config;
}

// The pid a job worker wrote into a job's result, or -1.
inline long long result_pid(const nlohmann::json& result) {
  if (!result.is_object()) return -1;
  const auto it = result.find("pid");
  if (it == result.end() || !it->is_number_integer()) return -1;
  return it->get<long long>();
}

// Counts the job.started and job.completed events of this demo's jobs. The subject carries the
// events of every job queue on the server, so jobs of other prefixes are skipped.
inline void record_event(JobState& state, const ship::Message& message) {
  const auto event = nlohmann::json::parse(message.data(), nullptr, false);
  if (!event.is_object()) return;
  const auto payload = event.find("payload");
  const auto type = event.find("event_type");
  if (payload == event.end() || !payload->is_object() || type == event.end() || !type->is_string()) return;
  const auto id = payload->find("id");
  if (id == payload->end() || !id->is_string()) return;
  const auto& job_id = id->get_ref<const std::string&>();
  if (job_id.rfind(state.prefix + "-", 0) != 0) return;

  auto& seen = state.events_by_job[job_id];
  if (*type == "job.started") {
    ++seen.started;
  } else if (*type == "job.completed") {
    ++seen.completed;
    const auto result = payload->find("result");
    if (result != payload->end()) seen.completed_by_pid = result_pid(*result);
  }
}

inline std::vector<std::string> job_worker_arguments(const Fleet& fleet, const std::string& name,
                                                     const std::string& prefix) {
  std::vector<std::string> args;
  for (const char* arg : {"fleet_demo", "--role", "job-worker", "--name"}) args.emplace_back(arg);
  args.push_back(name);
  args.emplace_back("--job-prefix");
  args.push_back(prefix);
  args.emplace_back("--nats-url");
  args.push_back(fleet.options.nats_url);
  return args;
}

// Subscribes the coordinator to the job events, starts the job worker processes and waits
// until agent-1 hears a heartbeat from each.
inline asio::awaitable<std::string> start_job_workers(Fleet& fleet, std::shared_ptr<JobState> state) {
  if (fleet.agents.empty()) throw std::runtime_error("no agent is connected");
  Agent& coordinator = *fleet.agents.front();
  const std::string subject = std::string(ship::default_event_subject_prefix) + ".job.>";
  // A weak pointer, because the subscription lives in the state it writes to.
  std::weak_ptr<JobState> weak_state = state;
  state->events = coordinator.conn.subscribe(subject, [weak_state](ship::Message message) {
    if (auto locked = weak_state.lock()) record_event(*locked, message);
  });
  co_await coordinator.conn.flush();

  for (int i = 1; i <= fleet.options.job_worker_count; ++i) {
    JobWorkerProcess worker;
    worker.name = fmt::format("job-worker-{}-{}", ::getpid(), i);
    worker.pid = spawn_program(fleet.options.program_path, job_worker_arguments(fleet, worker.name, state->prefix));
    state->worker_by_pid[worker.pid] = worker.name;
    fleet.job_workers.push_back(worker);
  }

  std::string exited_early;
  co_await wait_until(
      [&] {
        bool all_joined = true;
        for (auto& worker : fleet.job_workers) {
          if (worker.pid < 0) continue;
          if (const auto status = poll_exit(worker.pid)) {
            exited_early = fmt::format("{} exited with wait status {} before joining", worker.name, *status);
            worker.pid = -1;
            return true;
          }
          all_joined = all_joined && coordinator.heartbeats.count(worker.name) > 0;
        }
        return all_joined;
      },
      "a heartbeat from every job worker process", join_limit);
  if (!exited_early.empty()) throw std::runtime_error(exited_early);

  std::string joined;
  for (const auto& worker : fleet.job_workers) {
    joined += fmt::format("{}{} (pid {})", joined.empty() ? "" : ", ", worker.name, worker.pid);
  }
  co_return fmt::format("{} joined; {} heard their heartbeats", joined, coordinator.name);
}

inline asio::awaitable<std::string> queue_jobs(Fleet& fleet, std::shared_ptr<JobState> state) {
  if (fleet.agents.empty()) throw std::runtime_error("no agent is connected");
  state->queue.emplace(fleet.agents.front()->conn, queue_config(state->prefix));
  co_await state->queue->connect();
  const int count = jobs_per_worker * fleet.options.job_worker_count;
  for (int i = 0; i < count; ++i) {
    nlohmann::json payload = nlohmann::json::object();
    payload["task"] = i;
    std::string id = co_await state->queue->submit(payload, job_worker_role, "coordinator");
    state->submitted.insert(std::move(id));
  }
  co_return fmt::format("coordinator queued {} jobs for worker '{}' in bucket {}", count, job_worker_role,
                        state->queue->bucket());
}

// Waits until every queued job has finished, then checks each record: complete, claimed once,
// and completed by one of the job worker processes. Then checks that one job.started and one
// job.completed event arrived per job. A process that ran no job is reported, not a failure,
// because which process wins each claim depends on the scheduler.
inline asio::awaitable<std::string> complete_jobs(Fleet& fleet, std::shared_ptr<JobState> state) {
  if (!state->queue || state->submitted.empty()) throw std::runtime_error("no jobs were queued");
  auto& queue = *state->queue;
  const auto total = state->submitted.size();

  asio::steady_timer pause(fleet.executor);
  const auto give_up_at = std::chrono::steady_clock::now() + finish_limit;
  for (;;) {
    const ship::JobCounts counts = co_await queue.counts();
    if (counts.complete + counts.failed >= total) break;
    if (std::chrono::steady_clock::now() > give_up_at) {
      throw std::runtime_error(fmt::format("{} of {} jobs finished within {} ms ({} queued, {} running)",
                                           counts.complete + counts.failed, total, finish_limit.count(),
                                           counts.queued, counts.running));
    }
    pause.expires_after(std::chrono::milliseconds(50));
    co_await pause.async_wait(asio::use_awaitable);
  }

  std::vector<ship::Job<nlohmann::json>> jobs = co_await queue.list();
  std::set<std::string> listed;
  std::map<std::string, long long> pid_by_job;
  std::map<std::string, int> ran_by_worker;
  for (const auto& job : jobs) {
    listed.insert(job.id);
    if (job.status != ship::JobStatus::complete) {
      throw std::runtime_error(fmt::format("job {} is {}: {}", job.id, ship::to_string(job.status),
                                           job.error.value_or("no error text")));
    }
    if (job.attempts != 1) {
      throw std::runtime_error(fmt::format("job {} was claimed {} times, expected once", job.id, job.attempts));
    }
    const long long pid = result_pid(job.result);
    const auto worker = state->worker_by_pid.find(pid);
    if (worker == state->worker_by_pid.end()) {
      throw std::runtime_error(fmt::format("job {} has result {}, which names no job worker process", job.id,
                                           job.result.dump()));
    }
    if (job.result.value("by", std::string()) != worker->second) {
      throw std::runtime_error(fmt::format("job {}: result {} does not match {} (pid {})", job.id,
                                           job.result.dump(), worker->second, pid));
    }
    pid_by_job[job.id] = pid;
    ++ran_by_worker[worker->second];
  }
  if (listed != state->submitted) {
    throw std::runtime_error(fmt::format("bucket {} contains {} jobs, but {} were queued", queue.bucket(),
                                         listed.size(), total));
  }

  co_await wait_until(
      [&] {
        for (const auto& id : state->submitted) {
          const auto seen = state->events_by_job.find(id);
          if (seen == state->events_by_job.end() || seen->second.completed == 0) return false;
        }
        return true;
      },
      "a job.completed event for every job", leave_limit);
  for (const auto& id : state->submitted) {
    const JobEvents& seen = state->events_by_job.at(id);
    if (seen.started != 1 || seen.completed != 1) {
      throw std::runtime_error(fmt::format("job {}: {} job.started and {} job.completed events, expected 1 each", id,
                                           seen.started, seen.completed));
    }
    if (seen.completed_by_pid != pid_by_job.at(id)) {
      throw std::runtime_error(fmt::format("job {}: the job.completed event names pid {}, the record pid {}", id,
                                           seen.completed_by_pid, pid_by_job.at(id)));
    }
  }

  std::string split;
  for (const auto& [pid, name] : state->worker_by_pid) {
    const auto ran = ran_by_worker.find(name);
    split += fmt::format("{}{} (pid {}) ran {}", split.empty() ? "" : ", ", name, pid,
                         ran == ran_by_worker.end() ? 0 : ran->second);
  }
  co_return fmt::format("all {} jobs completed exactly once: {}; one started and one completed event per job",
                        total, split);
}

// Asks every job worker process to leave and waits for it to exit with status 0. A process
// that does not exit in time gets SIGTERM, then SIGKILL, and every process is reaped.
inline asio::awaitable<std::string> stop_job_workers(Fleet& fleet, std::shared_ptr<JobState> state) {
  if (fleet.job_workers.empty()) throw std::runtime_error("no job worker process was started");
  std::vector<std::string> problems;
  if (!fleet.agents.empty()) {
    Agent& coordinator = *fleet.agents.front();
    for (const auto& worker : fleet.job_workers) {
      if (worker.pid < 0) continue;
      const std::string subject = agent_subject(worker.name, "leave");
      try {
        co_await coordinator.conn.request(subject, "{}", std::chrono::milliseconds(2000));
      } catch (const std::exception& e) {
        problems.push_back(fmt::format("{} did not answer the leave request: {}", worker.name, e.what()));
      }
    }
  }

  std::map<std::string, int> exit_statuses;
  try {
    co_await wait_until(
        [&] {
          bool all_exited = true;
          for (auto& worker : fleet.job_workers) {
            if (worker.pid < 0) continue;
            if (const auto status = poll_exit(worker.pid)) {
              exit_statuses[worker.name] = *status;
              worker.pid = -1;
            } else {
              all_exited = false;
            }
          }
          return all_exited;
        },
        "exit of every job worker process", leave_limit);
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  for (auto& worker : fleet.job_workers) {
    if (worker.pid < 0) continue;
    stop_and_reap(worker.pid, std::chrono::milliseconds(1000));
    problems.push_back(fmt::format("{} had to be stopped with a signal", worker.name));
    worker.pid = -1;
  }
  for (const auto& [name, status] : exit_statuses) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      problems.push_back(fmt::format("{} exited with wait status {}", name, status));
    }
  }

  state->events.unsubscribe();
  if (state->queue) state->queue->close();
  if (!problems.empty()) {
    std::string text;
    for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem;
    throw std::runtime_error(text);
  }
  co_return fmt::format("{} job worker processes answered the leave request and exited with status 0",
                        exit_statuses.size());
}

}  // namespace job_steps

inline void add_job_steps(StepRunner& runner, Fleet& fleet) {
  auto state = std::make_shared<job_steps::JobState>();
  state->prefix = fmt::format("FLEET{}", ::getpid());
  runner.add(
      "job worker processes join", [&fleet, state] { return job_steps::start_job_workers(fleet, state); },
      job_steps::process_step_limit);
  runner.add("coordinator queues jobs", [&fleet, state] { return job_steps::queue_jobs(fleet, state); });
  runner.add(
      "worker processes complete jobs", [&fleet, state] { return job_steps::complete_jobs(fleet, state); },
      job_steps::process_step_limit);
  runner.add("job worker processes leave", [&fleet, state] { return job_steps::stop_job_workers(fleet, state); });
}

// Runs as `--role job-worker`: claims and completes jobs for job_worker_role from the durable
// queue with id prefix `prefix`, one at a time. Emits a heartbeat every 100 ms, and the
// coordinator waits for the first one to know that it joined. Returns exit status 0 after a
// leave request, and 1 when `lifetime` passes first or the job loop ends without one.
inline asio::awaitable<int> run_job_worker(ship::Connection conn, std::string name, std::string prefix,
                                           std::chrono::seconds lifetime) {
  // Built before connecting, so an invalid prefix fails before anything is sent.
  ship::DurableJobQueue<nlohmann::json> queue(conn, job_steps::queue_config(prefix));
  co_await conn.connect();
  co_await queue.connect();
  const auto executor = conn.get_executor();

  auto leave_requested = std::make_shared<bool>(false);
  auto leaves = conn.subscribe(agent_subject(name, "leave"));
  auto on_leave = [leave_requested] { *leave_requested = true; };
  asio::co_spawn(executor, answer_requests(conn, std::move(leaves), name, on_leave), asio::detached);
  co_await conn.flush();

  auto jobs_run = std::make_shared<int>(0);
  auto loop_finished = std::make_shared<bool>(false);
  auto handler = [name, jobs_run](ship::Job<nlohmann::json>) -> asio::awaitable<nlohmann::json> {
    asio::steady_timer work(co_await asio::this_coro::executor, job_steps::job_work_time);
    co_await work.async_wait(asio::use_awaitable);
    ++*jobs_run;
    nlohmann::json result = nlohmann::json::object();
    result["by"] = name;
    result["pid"] = static_cast<long long>(::getpid());
    co_return result;
  };
  asio::co_spawn(executor, queue.run(job_steps::job_worker_role, handler),
                 [loop_finished](std::exception_ptr) { *loop_finished = true; });

  ship::Publisher publisher(conn, name);
  publisher.emit_being(name, ship::EventType::started());
  fmt::print("  [{}] joined the fleet as a job worker (pid {})\n", name, ::getpid());
  std::fflush(stdout);
  nlohmann::json heartbeat = nlohmann::json::object();
  heartbeat["agent"] = name;
  asio::steady_timer timer(executor);
  const auto stop_at = std::chrono::steady_clock::now() + lifetime;
  while (!*leave_requested && !*loop_finished && std::chrono::steady_clock::now() < stop_at) {
    publisher.emit(ship::EventType::heartbeat(), heartbeat);
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(asio::use_awaitable);
  }

  queue.close();
  co_await wait_until([loop_finished] { return *loop_finished; }, "the end of the job loop",
                      job_steps::leave_limit);
  publisher.emit_being(name, ship::EventType::stopped());
  co_await conn.drain();
  fmt::print("  [{}] ran {} jobs and {}\n", name, *jobs_run,
             *leave_requested ? "left the fleet" : "gave up: no leave request arrived");
  std::fflush(stdout);
  co_return *leave_requested ? 0 : 1;
}

}  // namespace fleet

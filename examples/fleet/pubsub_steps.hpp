// Fleet demo steps for PubSub and core request-reply: agents connect, exchange heartbeats and
// status events, ping each other, a worker process joins and leaves, and the agents shut down.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

#include <noesis/ship/pubsub.hpp>

#include "fleet.hpp"
#include "process.hpp"
#include "steps.hpp"

namespace fleet {

namespace pubsub_steps {

using Clock = std::chrono::steady_clock;

// Creates and connects the agents. Each records the heartbeats and statuses it hears and answers
// pings on fleet.agent.<name>.ping.
inline asio::awaitable<std::string> connect_agents(Fleet& fleet) {
  for (int i = 1; i <= fleet.options.agent_count; ++i) {
    fleet.agents.push_back(std::make_unique<Agent>(fleet.executor, fmt::format("agent-{}", i), fleet.options.nats_url));
    Agent& agent = *fleet.agents.back();
    co_await agent.conn.connect();

    agent.subscriber.on(ship::EventType::heartbeat(), [&agent](const ship::Event<>& event) {
      ++agent.heartbeats[event.source];
    });
    agent.subscriber.subscribe<AgentStatus>("*.status", [&agent](const ship::Event<AgentStatus>& event) {
      agent.statuses[event.source] = event.payload;
    });
    agent.subscriber.start();
    auto pings = agent.conn.subscribe(agent_subject(agent.name, "ping"));
    asio::co_spawn(fleet.executor, answer_requests(agent.conn, std::move(pings), agent.name), asio::detached);

    // The server has registered the subscriptions once the flush returns, so no later event is missed.
    co_await agent.conn.flush();
    asio::co_spawn(fleet.executor, agent.subscriber.run(),
                   [&agent](std::exception_ptr) { agent.subscriber_finished = true; });
  }
  co_return fmt::format("{} agents connected, each on its own connection", fleet.agents.size());
}

inline void require_agents(const Fleet& fleet) {
  if (fleet.agents.empty()) throw std::runtime_error("no agent is connected");
}

// Every agent emits one heartbeat; every agent must hear all of them.
inline asio::awaitable<std::string> exchange_heartbeats(Fleet& fleet) {
  require_agents(fleet);
  for (auto& agent : fleet.agents) {
    agent->publisher.emit(ship::EventType::heartbeat(), nlohmann::json{{"agent", agent->name}});
  }
  co_await wait_until(
      [&fleet] {
        for (const auto& listener : fleet.agents) {
          for (const auto& sender : fleet.agents) {
            if (listener->heartbeats.count(sender->name) == 0) return false;
          }
        }
        return true;
      },
      "every agent hearing every heartbeat");
  co_return fmt::format("each of {} agents heard a heartbeat from every agent on subject 'heartbeat'",
                        fleet.agents.size());
}

// Every agent announces a typed status on <name>.status; every agent must know all of them.
inline asio::awaitable<std::string> exchange_statuses(Fleet& fleet) {
  require_agents(fleet);
  for (std::size_t i = 0; i < fleet.agents.size(); ++i) {
    Agent& agent = *fleet.agents[i];
    agent.publisher.emit_being(agent.name, ship::EventType::custom("status"),
                               AgentStatus{"working", fmt::format("task-{}", i + 1)});
  }
  co_await wait_until(
      [&fleet] {
        for (const auto& listener : fleet.agents) {
          for (const auto& sender : fleet.agents) {
            auto it = listener->statuses.find(sender->name);
            if (it == listener->statuses.end() || it->second.state != "working") return false;
          }
        }
        return true;
      },
      "every agent learning every status");
  const auto& last = *fleet.agents.back();
  co_return fmt::format("each agent knows all {} statuses, e.g. {} is {} on {}", fleet.agents.size(), last.name,
                        last.statuses.at(last.name).state, last.statuses.at(last.name).task);
}

// Sends one request from `from` to the ping subject of `to_name` and checks which agent replied.
inline asio::awaitable<std::string> ping(Agent& from, const std::string& to_name) {
  // Built before the co_await: GCC 12 miscompiles initializer lists inside an await expression.
  const std::string subject = agent_subject(to_name, "ping");
  const std::string request = nlohmann::json{{"from", from.name}}.dump();
  const auto sent = Clock::now();
  ship::Message reply = co_await from.conn.request(subject, request, std::chrono::milliseconds(2000));
  const std::chrono::duration<double, std::milli> round_trip = Clock::now() - sent;

  const auto body = nlohmann::json::parse(reply.data(), nullptr, false);
  if (!body.is_object() || body.value("agent", std::string()) != to_name) {
    throw std::runtime_error(fmt::format("unexpected reply to the ping of {}: {}", to_name, reply.data()));
  }
  co_return fmt::format("{} answered ping from {} in {:.1f} ms", to_name, from.name, round_trip.count());
}

inline asio::awaitable<std::string> ping_neighbour(Fleet& fleet, std::size_t from) {
  if (from >= fleet.agents.size()) throw std::runtime_error(fmt::format("agent-{} is not connected", from + 1));
  const std::size_t to = (from + 1) % fleet.agents.size();
  co_return co_await ping(*fleet.agents[from], fleet.agents[to]->name);
}

// Starts this program again as `--role worker` and waits until agent-1 hears its heartbeat.
inline asio::awaitable<std::string> start_worker(Fleet& fleet) {
  require_agents(fleet);
  fleet.worker_name = fmt::format("worker-{}", ::getpid());
  std::vector<std::string> args{"fleet_demo", "--role", "worker", "--name", fleet.worker_name,
                                "--nats-url", fleet.options.nats_url};
  const pid_t pid = spawn_program(fleet.options.program_path, std::move(args));
  fleet.worker_pid = pid;

  Agent& observer = *fleet.agents.front();
  int status = 0;
  bool exited = false;
  co_await wait_until(
      [&] {
        exited = ::waitpid(pid, &status, WNOHANG) == pid;
        return exited || observer.heartbeats.count(fleet.worker_name) > 0;
      },
      fmt::format("a heartbeat from {}", fleet.worker_name));
  if (exited) {
    fleet.worker_pid = -1;
    throw std::runtime_error(fmt::format("{} exited with wait status {} before joining", fleet.worker_name, status));
  }
  co_return fmt::format("{} (pid {}) joined; {} heard its heartbeat", fleet.worker_name, pid, observer.name);
}

inline asio::awaitable<std::string> ping_worker(Fleet& fleet) {
  require_agents(fleet);
  if (fleet.worker_pid < 0) throw std::runtime_error("no worker process is running");
  co_return co_await ping(*fleet.agents.front(), fleet.worker_name);
}

// Asks the worker to leave and waits for its process to exit with status 0.
inline asio::awaitable<std::string> stop_worker(Fleet& fleet) {
  require_agents(fleet);
  if (fleet.worker_pid < 0) throw std::runtime_error("no worker process is running");
  Agent& agent = *fleet.agents.front();
  co_await agent.conn.request(agent_subject(fleet.worker_name, "leave"), "{}", std::chrono::milliseconds(2000));

  int status = 0;
  co_await wait_until(
      [&] {
        const pid_t done = ::waitpid(fleet.worker_pid, &status, WNOHANG);
        return done == fleet.worker_pid || (done < 0 && errno == ECHILD);
      },
      fmt::format("exit of {}", fleet.worker_name));
  fleet.worker_pid = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("{} exited with wait status {}", fleet.worker_name, status));
  }
  co_return fmt::format("{} answered the leave request and exited with status 0", fleet.worker_name);
}

// Every agent announces that it stopped, stops its subscriber and drains its connection.
inline asio::awaitable<std::string> stop_agents(Fleet& fleet) {
  require_agents(fleet);
  for (auto& agent : fleet.agents) {
    agent->publisher.emit_being(agent->name, ship::EventType::stopped());
    agent->subscriber.stop();
    co_await agent->conn.drain();
  }
  co_await wait_until(
      [&fleet] {
        for (const auto& agent : fleet.agents) {
          if (!agent->subscriber_finished) return false;
        }
        return true;
      },
      "every subscriber's run() returning");
  co_return fmt::format("{} agents stopped their subscribers and drained their connections", fleet.agents.size());
}

}  // namespace pubsub_steps

// Connecting, heartbeats, statuses and one ping per agent to its neighbour.
inline void add_pubsub_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("connect agents", [&fleet] { return pubsub_steps::connect_agents(fleet); });
  runner.add("heartbeats", [&fleet] { return pubsub_steps::exchange_heartbeats(fleet); });
  runner.add("statuses", [&fleet] { return pubsub_steps::exchange_statuses(fleet); });
  for (int i = 0; i < fleet.options.agent_count; ++i) {
    const int to = (i + 1) % fleet.options.agent_count;
    runner.add(fmt::format("ping agent-{} from agent-{}", to + 1, i + 1),
               [&fleet, i] { return pubsub_steps::ping_neighbour(fleet, static_cast<std::size_t>(i)); });
  }
}

// A second process joins the fleet, replies to a ping and leaves.
inline void add_worker_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("worker process joins", [&fleet] { return pubsub_steps::start_worker(fleet); });
  runner.add("ping worker", [&fleet] { return pubsub_steps::ping_worker(fleet); });
  runner.add("worker leaves", [&fleet] { return pubsub_steps::stop_worker(fleet); });
}

// The last step: the agents shut down.
inline void add_shutdown_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("agents stop", [&fleet] { return pubsub_steps::stop_agents(fleet); });
}

// Runs as `--role worker`: joins the fleet, heartbeats every 100 ms and answers pings until a
// leave request arrives (exit status 0) or `lifetime` passes (exit status 1).
inline asio::awaitable<int> run_worker(ship::Connection conn, std::string name, std::chrono::seconds lifetime) {
  co_await conn.connect();
  ship::Publisher publisher(conn, name);
  auto leave_requested = std::make_shared<bool>(false);

  auto pings = conn.subscribe(agent_subject(name, "ping"));
  auto leaves = conn.subscribe(agent_subject(name, "leave"));
  const auto executor = conn.get_executor();
  asio::co_spawn(executor, answer_requests(conn, std::move(pings), name), asio::detached);
  asio::co_spawn(executor, answer_requests(conn, std::move(leaves), name, [leave_requested] { *leave_requested = true; }),
                 asio::detached);
  co_await conn.flush();

  publisher.emit_being(name, ship::EventType::started());
  fmt::print("  [{}] joined the fleet\n", name);
  std::fflush(stdout);
  asio::steady_timer timer(executor);
  const auto stop_at = std::chrono::steady_clock::now() + lifetime;
  while (!*leave_requested && std::chrono::steady_clock::now() < stop_at) {
    publisher.emit(ship::EventType::heartbeat(), nlohmann::json{{"agent", name}});
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(asio::use_awaitable);
  }

  publisher.emit_being(name, ship::EventType::stopped());
  co_await conn.drain();
  fmt::print("  [{}] {}\n", name, *leave_requested ? "left the fleet" : "gave up: no leave request arrived");
  co_return *leave_requested ? 0 : 1;
}

}  // namespace fleet

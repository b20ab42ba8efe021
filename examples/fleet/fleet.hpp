// State shared by the fleet demo's steps: the options, the in-process agents and the worker
// processes.
//
// Each agent has its own Connection, as if it were a separate program, so every message in the
// demo crosses the server. Blocks add the state their steps need to Agent or Fleet.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/pubsub.hpp>

namespace fleet {

namespace ship = noesis::ship;

struct Options {
  std::string nats_url;
  int agent_count = 3;
  std::string program_path = "/proc/self/exe";  // started again with --role worker or job-worker
  int job_worker_count = 2;                      // job worker processes of the job steps
};

// A job worker process that the job steps started. Its pid is -1 once it has been reaped.
struct JobWorkerProcess {
  std::string name;
  pid_t pid = -1;
};

// The subject on which the agent named `name` replies to requests of `kind` (ping, leave).
inline std::string agent_subject(const std::string& name, const std::string& kind) {
  return "fleet.agent." + name + "." + kind;
}

// The status an agent announces over PubSub on `<name>.status`, a typed event payload.
struct AgentStatus {
  std::string state;  // idle, working, blocked or offline
  std::string task;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AgentStatus, state, task)

struct Agent {
  Agent(asio::any_io_executor executor, std::string agent_name, const std::string& url)
      : name(std::move(agent_name)),
        conn(executor, ship::NatsConfig(url).with_name(name)),
        publisher(conn, name),
        subscriber(conn, name) {}

  std::string name;
  ship::Connection conn;
  ship::Publisher publisher;
  ship::Subscriber subscriber;
  bool subscriber_finished = false;

  // Heartbeat counts and statuses this agent received over PubSub, keyed by the sender's name.
  std::map<std::string, int> heartbeats;
  std::map<std::string, AgentStatus> statuses;
};

struct Fleet {
  Fleet(asio::any_io_executor exec, Options opts) : executor(std::move(exec)), options(std::move(opts)) {}

  asio::any_io_executor executor;
  Options options;
  // unique_ptr, because handlers keep references to their agent while the vector may grow.
  std::vector<std::unique_ptr<Agent>> agents;

  std::string worker_name;  // the worker process's agent name, once started
  pid_t worker_pid = -1;    // -1 when no worker process is running
  std::vector<JobWorkerProcess> job_workers;
};

// Polls `done` every 5 ms; throws std::runtime_error("<what> did not happen within N ms") when
// `limit` passes first.
inline asio::awaitable<void> wait_until(std::function<bool()> done, const std::string& what,
                                        std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto stop_at = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > stop_at) {
      throw std::runtime_error(what + " did not happen within " + std::to_string(limit.count()) + " ms");
    }
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

// Replies to every request of `subscription` with {"agent": name, "request": <the request's JSON>}
// until the subscription ends, which happens when the connection drains or closes.
inline asio::awaitable<void> answer_requests(ship::Connection conn, ship::Subscription subscription,
                                             std::string name, std::function<void()> after_reply = {}) {
  for (;;) {
    ship::Message request;
    try {
      request = co_await subscription.next();
    } catch (const ship::error& e) {
      if (e.code() == ship::errc::slow_consumer) continue;  // some requests were dropped; serve the rest
      co_return;                                           // the subscription closed
    }
    nlohmann::json body{{"agent", name}, {"request", nlohmann::json::parse(request.data(), nullptr, false)}};
    try {
      conn.respond(request, body.dump());
    } catch (const ship::error&) {
      co_return;  // the connection closed under us
    }
    if (after_reply) after_reply();
  }
}

}  // namespace fleet

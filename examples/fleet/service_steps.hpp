// Fleet demo steps for ServiceBuilder: one agent hosts a request-reply service, the others call
// it and discover it through the NATS micro protocol.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <noesis/ship/service.hpp>

#include "fleet.hpp"
#include "steps.hpp"

namespace fleet {

namespace service_steps {

// The service's state: how many count requests it served.
struct Counter {
  int count = 0;
};

inline asio::awaitable<std::string> call_service(Fleet& fleet) {
  if (fleet.agents.size() < 2) throw std::runtime_error("the service step needs at least 2 agents");
  Agent& host = *fleet.agents.front();

  // The pid keeps the subject and the service name apart from other fleets on the same server.
  const std::string prefix = fmt::format("fleet.{}.counter", ::getpid());
  const std::string name = fmt::format("fleet_counter_{}", ::getpid());
  auto service = std::make_shared<ship::ServiceBuilder<Counter>>(prefix, Counter{});
  // on_started runs once the service's subscriptions are flushed to the server. running() turns
  // true before that, so a request right after it could find no responder.
  auto started = std::make_shared<bool>(false);
  service->connection(host.conn)
      .name(name)
      .version("1.0.0")
      .handle_signals(false)
      .on_started([started] { *started = true; })
      .handler("count", [](std::string_view, Counter& state) {
        ++state.count;
        return nlohmann::json(state.count);
      })
      .handler("echo", [](std::string_view payload, Counter&) { return std::string(payload); });

  bool finished = false;
  asio::co_spawn(host.conn.get_executor(), service->run(), [service, &finished](std::exception_ptr) { finished = true; });
  co_await wait_until([started] { return *started; }, name + " starting");

  // Every other agent calls the service once; the replies count up.
  int last_count = 0;
  for (std::size_t i = 1; i < fleet.agents.size(); ++i) {
    ship::Message reply = co_await fleet.agents[i]->conn.request(prefix + ".count", "");
    last_count = nlohmann::json::parse(reply.data()).get<int>();
  }
  if (last_count != static_cast<int>(fleet.agents.size() - 1)) {
    throw std::runtime_error(fmt::format("{} counted {} calls, expected {}", name, last_count, fleet.agents.size() - 1));
  }

  // Discovery: the micro protocol's PING by name returns the service's identity.
  Agent& caller = *fleet.agents.back();
  ship::Message ping = co_await caller.conn.request("$SRV.PING." + name, "");
  const nlohmann::json identity = nlohmann::json::parse(ping.data());
  if (identity.value("name", std::string()) != name) throw std::runtime_error("PING returned " + identity.dump());

  ship::Message echo = co_await caller.conn.request(prefix + ".echo", "hello service");
  if (echo.data() != "hello service") throw std::runtime_error("echo returned '" + echo.data_string() + "'");

  service->stop();
  co_await wait_until([&] { return finished; }, name + " stopping");
  co_return fmt::format("{} hosted {} ({}); {} agents called count, {} found it with $SRV.PING and echoed", host.name,
                        name, prefix, fleet.agents.size() - 1, caller.name);
}

}  // namespace service_steps

inline void add_service_steps(StepRunner& runner, Fleet& fleet) {
  runner.add("agents call a service", [&fleet] { return service_steps::call_service(fleet); });
}

}  // namespace fleet

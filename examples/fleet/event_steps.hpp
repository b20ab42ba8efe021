// Fleet demo steps for the JetStream EventBus and channels: every agent emits a durable event
// that a late joiner replays, and the agents hold a conversation on a channel.
// Registered after the PubSub steps, whose "connect agents" step creates the agents.
//
// Both steps use the library's default streams, SHIP_EVENTS and CHANNELS, which a Rust fleet on
// the same server shares. Event types, the channel and every consumer name therefore carry a tag
// unique to this run (pid and start time), and the steps delete their durable consumers when
// done. The events and messages stay in the streams until their max_age (24 h and 30 days).
// NOTE: these steps compile with -Werror but have not been run yet, because fleet_demo also needs
// the KV sources, which were not finished when they were written.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <noesis/ship/channels.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/jetstream.hpp>

#include "fleet.hpp"
#include "steps.hpp"

namespace fleet {

namespace event_steps {

// The report each agent emits as a typed event payload.
struct TaskReport {
  std::string agent;
  std::string task;
  int progress = 0;  // percent
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TaskReport, agent, task, progress)

// State shared by the event steps: the run's tag, unique among fleets on one server.
struct EventState {
  std::string tag;
};

// The event type `fleet_demo.<tag>.task.reported`; the subscriber's pattern is `fleet_demo.<tag>.>`.
inline std::string event_prefix(const EventState& state) { return "fleet_demo." + state.tag; }

// Every agent emits one TaskReport into SHIP_EVENTS before anyone subscribes. Then a late joiner
// on a new connection creates a durable consumer, which replays the stored events in stream
// order, and the step checks that each agent's report arrived exactly once.
inline asio::awaitable<std::string> emit_and_replay(Fleet& fleet, std::shared_ptr<EventState> state) {
  if (fleet.agents.empty()) throw std::runtime_error("no agent is connected");
  const std::string event_type = event_prefix(*state) + ".task.reported";

  std::uint64_t first_sequence = 0;
  for (std::size_t i = 0; i < fleet.agents.size(); ++i) {
    Agent& agent = *fleet.agents[i];
    ship::EventBus bus = ship::EventBus(agent.conn).with_source(agent.name);
    co_await bus.connect();
    TaskReport report;
    report.agent = agent.name;
    report.task = fmt::format("task-{}", i + 1);
    report.progress = 100;
    ship::PubAck ack = co_await bus.emit_event(event_type, report);
    if (i == 0) first_sequence = ack.sequence;
  }

  ship::Connection late(fleet.executor, ship::NatsConfig(fleet.options.nats_url).with_name("late-joiner"));
  co_await late.connect();
  ship::EventBus bus(late);
  co_await bus.connect();

  std::vector<TaskReport> replayed;
  std::vector<std::uint64_t> sequences;
  auto handler = [&replayed, &sequences](ship::ShipEvent<TaskReport> event, const ship::JsMessage& msg) {
    if (event.source != event.payload.agent) {
      throw std::runtime_error(fmt::format("event from {} carries the report of {}", event.source, event.payload.agent));
    }
    replayed.push_back(event.payload);
    sequences.push_back(msg.stream_sequence());
  };
  const std::string consumer = "fleet-demo-late-joiner-" + state->tag;
  const std::string pattern = event_prefix(*state) + ".>";
  ship::ConsumerSubscription subscription = co_await bus.subscribe<TaskReport>(pattern, consumer, handler);

  // The lambda below references locals of this coroutine, so the wait ends before they go away.
  std::exception_ptr failure;
  try {
    co_await wait_until([&] { return replayed.size() >= fleet.agents.size(); },
                        fmt::format("replay of {} events", fleet.agents.size()));
  } catch (const std::exception&) {
    failure = std::current_exception();
  }
  subscription.stop();
  co_await subscription.wait();
  co_await bus.jetstream().delete_consumer(bus.stream_config().name, consumer);
  co_await late.drain();
  if (failure) std::rethrow_exception(failure);

  std::map<std::string, int> per_agent;
  for (const auto& report : replayed) ++per_agent[report.agent];
  for (const auto& agent : fleet.agents) {
    if (per_agent[agent->name] != 1) {
      throw std::runtime_error(fmt::format("the late joiner replayed {} reports of {}, expected 1",
                                           per_agent[agent->name], agent->name));
    }
  }
  if (replayed.size() != fleet.agents.size()) {
    throw std::runtime_error(fmt::format("the late joiner replayed {} events, expected {}", replayed.size(),
                                         fleet.agents.size()));
  }
  co_return fmt::format("{} agents emitted '{}' into {}; a late joiner replayed all of them, sequences {} to {}",
                        fleet.agents.size(), event_type, bus.stream_config().name, first_sequence, sequences.back());
}

// The per-agent state of the conversation: the agent's channel service and what it received.
struct Participant {
  ship::ChannelService channels;
  ship::ConsumerSubscription subscription;
  std::vector<ship::ChannelMessage> received;
};

// Every agent subscribes to the channel `fleet-demo-<tag>` and then sends one line in turn. Each
// line must reach every other agent, and no agent may be handed its own lines. The channel's
// history then returns the whole conversation in order.
inline asio::awaitable<std::string> hold_conversation(Fleet& fleet, std::shared_ptr<EventState> state) {
  if (fleet.agents.size() < 2) throw std::runtime_error("a conversation needs at least 2 connected agents");
  const std::string channel = "fleet-demo-" + state->tag;

  // unique_ptr, because the handlers keep references to their participant.
  std::vector<std::unique_ptr<Participant>> participants;
  std::exception_ptr failure;
  try {
    for (const auto& agent : fleet.agents) {
      participants.push_back(std::make_unique<Participant>(Participant{ship::ChannelService(agent->conn), {}, {}}));
      Participant& participant = *participants.back();
      co_await participant.channels.connect(agent->name);
      auto handler = [&participant](ship::ChannelMessage message) {
        participant.received.push_back(std::move(message));
      };
      participant.subscription = co_await participant.channels.subscribe(channel, true, handler);
    }

    for (std::size_t i = 0; i < participants.size(); ++i) {
      const std::string line = fmt::format("{} finished task-{}", fleet.agents[i]->name, i + 1);
      co_await participants[i]->channels.send_message(channel, line);
    }
    const std::size_t expected = participants.size() - 1;
    co_await wait_until(
        [&] {
          for (const auto& participant : participants) {
            if (participant->received.size() < expected) return false;
          }
          return true;
        },
        fmt::format("every agent receiving the {} lines of the others", expected));
  } catch (const std::exception&) {
    failure = std::current_exception();
  }

  // Stopped and deleted also after a failure, so no durable of this run is left on the server.
  ship::JetStream js(fleet.agents.front()->conn);
  const std::string stream = ship::default_channel_stream_config().name;
  for (std::size_t i = 0; i < participants.size(); ++i) {
    if (!participants[i]->subscription.valid()) continue;
    participants[i]->subscription.stop();
    co_await participants[i]->subscription.wait();
    co_await js.delete_consumer(stream, ship::channel_consumer_name(fleet.agents[i]->name, channel));
  }
  if (failure) std::rethrow_exception(failure);

  for (std::size_t i = 0; i < participants.size(); ++i) {
    const std::string& name = fleet.agents[i]->name;
    for (const auto& message : participants[i]->received) {
      if (message.sender == name) throw std::runtime_error(name + " was handed its own message: " + message.content);
    }
    if (participants[i]->received.size() != participants.size() - 1) {
      throw std::runtime_error(fmt::format("{} received {} lines, expected {}", name, participants[i]->received.size(),
                                           participants.size() - 1));
    }
  }

  ship::ChannelService& reader = participants.front()->channels;
  std::vector<ship::ChannelMessage> history = co_await reader.get_channel_history(channel, 10);
  const std::size_t expected_history = std::min<std::size_t>(participants.size(), 10);
  if (history.size() != expected_history) {
    throw std::runtime_error(fmt::format("history of {} returned {} messages, expected {}", channel, history.size(), expected_history));
  }
  for (std::size_t i = 0; i < history.size(); ++i) {
    const std::string& expected_sender = fleet.agents[participants.size() - expected_history + i]->name;
    if (history[i].sender != expected_sender) {
      throw std::runtime_error(fmt::format("history entry {} of {} is from {}, expected {}", i + 1, channel,
                                           history[i].sender, expected_sender));
    }
  }
  co_return fmt::format("{} agents each said one line on '{}' and heard the {} others only; history returned {} lines",
                        participants.size(), channel, participants.size() - 1, history.size());
}

}  // namespace event_steps

// Durable events replayed to a late joiner, and a conversation on a channel.
inline void add_event_steps(StepRunner& runner, Fleet& fleet) {
  auto state = std::make_shared<event_steps::EventState>();
  const auto started_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  state->tag = fmt::format("{}-{}", ::getpid(), started_ms.count());
  runner.add("agents emit events and a late joiner replays them",
             [&fleet, state] { return event_steps::emit_and_replay(fleet, state); });
  runner.add("agents hold a conversation on a channel",
             [&fleet, state] { return event_steps::hold_conversation(fleet, state); });
}

}  // namespace fleet

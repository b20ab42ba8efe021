// Channels starter: two agents, each on its own connection, talk on channel `dev`, then the
// channel's history is printed.
//
//   NATS_URL=nats://127.0.0.1:4222 ./channels_chat
//
// The server needs JetStream (nats-server -js). Each agent's subscription skips the messages
// the agent sent itself, so every "received" line below comes from the other agent, while the
// history contains both sides. The program exits with status 0 after printing the history, and
// with status 1 when a reply does not arrive within 5 seconds or an operation fails.
//
// It uses a memory stream with a name and subjects of its own rather than the default stream
// CHANNELS, so a second run prints only its own conversation and leaves no consumers behind.
// The program deletes the stream at the end, and a 10-minute max_age removes the messages of a
// run that was killed before that.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/channels.hpp>
#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>

namespace ship = noesis::ship;
using namespace std::chrono_literals;

// One agent: its own connection, its ChannelService and the messages its subscription handed over.
struct Agent {
  Agent(asio::io_context& io, std::string agent_name, const ship::StreamConfig& stream, const std::string& prefix)
      : name(std::move(agent_name)),
        conn(io.get_executor(), ship::NatsConfig(ship::default_nats_url()).with_name(name)),
        channels(conn, stream, prefix) {}

  std::string name;
  ship::Connection conn;
  ship::ChannelService channels;
  std::vector<ship::ChannelMessage> received;
  ship::ConsumerSubscription subscription;
};

// Returns a memory stream EXAMPLE_CHAT_<pid>_<ms> on `example_chat_<pid>_<ms>.channel.>` and its
// prefix. Two streams may not share subjects, so the prefix is unique too. Built outside the coroutines because
// GCC 12 miscompiles a braced list of strings inside one.
std::pair<ship::StreamConfig, std::string> make_stream() {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(now_ms.count());
  const std::string prefix = "example_chat_" + tag + ".channel";

  ship::StreamConfig stream("EXAMPLE_CHAT_" + tag, {prefix + ".>"});
  stream.with_memory_storage().with_max_age(std::chrono::minutes(10));
  return {std::move(stream), prefix};
}

asio::awaitable<void> join(Agent& agent) {
  co_await agent.channels.connect(agent.name);  // connects and creates the stream
  auto handler = [&agent](ship::ChannelMessage message) {
    std::cout << "  " << agent.name << " received #" << message.sequence << " from " << message.sender << ": "
              << message.content << '\n';
    agent.received.push_back(std::move(message));
  };
  agent.subscription = co_await agent.channels.subscribe("dev", true, handler);
}

// Polls until `agent` has received `count` messages, and throws after 5 seconds without them.
asio::awaitable<void> wait_for_messages(Agent& agent, std::size_t count) {
  asio::steady_timer timer(agent.conn.get_executor());
  const auto give_up_at = std::chrono::steady_clock::now() + 5s;
  while (agent.received.size() < count) {
    if (std::chrono::steady_clock::now() > give_up_at) {
      throw std::runtime_error(agent.name + " received " + std::to_string(agent.received.size()) + " of " +
                               std::to_string(count) + " messages within 5 s");
    }
    timer.expires_after(10ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<int> run_example(Agent& alice, Agent& bob) {
  co_await join(alice);
  co_await join(bob);

  // Each line is sent after the previous one reached the other agent, like a conversation.
  struct Line {
    Agent* speaker;
    Agent* listener;
    std::string text;
  };
  std::vector<Line> script;
  script.push_back(Line{&alice, &bob, "the build on main is red"});
  script.push_back(Line{&bob, &alice, "looking: the channel tests time out"});
  script.push_back(Line{&alice, &bob, "thanks, I will rerun them"});
  script.push_back(Line{&bob, &alice, "fixed, tests green"});

  for (const Line& line : script) {
    // Counted before sending, because the listener may receive the message before the ack returns.
    const std::size_t expected = line.listener->received.size() + 1;
    ship::ChannelMessage sent = co_await line.speaker->channels.send_message("dev", line.text);
    std::cout << line.speaker->name << " sent #" << sent.sequence << ": " << sent.content << '\n';
    co_await wait_for_messages(*line.listener, expected);
  }

  // Own-message filtering: each agent sent two lines and received only the other's two.
  for (Agent* agent : {&alice, &bob}) {
    std::size_t own = 0;
    for (const auto& message : agent->received) {
      if (message.sender == agent->name) ++own;
    }
    std::cout << agent->name << " received " << agent->received.size() << " messages, " << own
              << " of them its own\n";
    if (own != 0 || agent->received.size() != 2) co_return EXIT_FAILURE;
  }

  // The history contains both sides, oldest first.
  std::vector<ship::ChannelMessage> history = co_await alice.channels.get_channel_history("dev", 10);
  std::cout << "history of dev (" << history.size() << " messages):\n";
  for (const auto& message : history) {
    std::cout << "  #" << message.sequence << ' ' << message.sender << ": " << message.content << '\n';
  }

  for (Agent* agent : {&alice, &bob}) {
    agent->subscription.stop();
    co_await agent->subscription.wait();
  }
  // Deleting the stream also deletes the consumers alice_dev and bob_dev.
  ship::JetStream js(alice.conn);
  co_await js.delete_stream(alice.channels.stream_config().name);
  co_await alice.conn.drain();
  co_await bob.conn.drain();
  co_return history.size() == script.size() ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main() {
  asio::io_context io;
  auto [stream, prefix] = make_stream();
  Agent alice(io, "alice", stream, prefix);
  Agent bob(io, "bob", stream, prefix);

  int status = EXIT_FAILURE;
  asio::co_spawn(io, run_example(alice, bob), [&](std::exception_ptr failure, int result) {
    if (!failure) {
      status = result;
    } else {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::cerr << "channels_chat failed: " << e.what() << '\n';
      }
    }
    if (status != EXIT_SUCCESS) {
      // Closing the connections ends the subscriptions still running, so io.run() returns.
      alice.conn.close();
      bob.conn.close();
    }
  });
  io.run();
  return status;
}

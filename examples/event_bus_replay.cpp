// EventBus starter: emits three typed events, then a durable consumer that subscribes afterwards
// replays all of them from the stream.
//
//   NATS_URL=nats://127.0.0.1:4222 ./event_bus_replay
//
// The server needs JetStream (nats-server -js). The program exits with status 0 once the
// consumer has printed the three events, and with status 1 when they do not arrive within 10
// seconds or an operation fails.
//
// It uses a memory stream with a name and subjects of its own rather than the default stream
// SHIP_EVENTS. A new consumer replays everything its stream holds, so on SHIP_EVENTS a second run
// would also print the first run's events, and so would events of other programs. A fresh stream
// per run prints exactly the three events. The program deletes the stream at the end, and a
// 10-minute max_age removes the events of a run that was killed before that.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/event_bus.hpp>

namespace ship = noesis::ship;
using namespace std::chrono_literals;

// The typed payload of the example's events; any type with nlohmann to_json/from_json works.
struct Task {
  std::string id;
  std::string title;
  int progress = 0;  // percent
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Task, id, title, progress)

// Builds the bus on a memory stream EXAMPLE_REPLAY_<pid>_<ms> with subjects
// `example_replay_<pid>_<ms>.events.>`. Two streams may not share subjects, so the prefix is
// unique too. Built outside the coroutine because GCC 12 miscompiles a braced list of strings
// inside one.
ship::EventBus make_bus(ship::Connection conn) {
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(now_ms.count());
  const std::string prefix = "example_replay_" + tag + ".events";

  ship::StreamConfig stream("EXAMPLE_REPLAY_" + tag, {prefix + ".>"});
  stream.with_memory_storage().with_max_age(std::chrono::minutes(10));
  return ship::EventBus::with_stream(std::move(conn), std::move(stream), prefix).with_source("replay-example");
}

asio::awaitable<int> run_example(ship::Connection conn) {
  ship::EventBus bus = make_bus(conn);
  co_await bus.connect();  // connects and creates the stream
  std::cout << "stream " << bus.stream_config().name << " on " << bus.subject_prefix() << ".>\n";

  // No consumer exists yet, so the stream stores the events until one reads them.
  std::vector<std::string> types{"task.created", "task.started", "task.done"};
  std::vector<int> progress{0, 10, 100};
  for (std::size_t i = 0; i < types.size(); ++i) {
    Task task;
    task.id = "T-1";
    task.title = "write the replay example";
    task.progress = progress[i];
    ship::PubAck ack = co_await bus.emit_event(types[i], task);
    std::cout << "emitted " << types[i] << " as stream sequence " << ack.sequence << '\n';
  }

  // A durable consumer created now starts at the oldest stored event, so it replays all three.
  // The handler runs on the connection's executor, the same thread as this coroutine.
  std::size_t received = 0;
  auto handler = [&received](ship::ShipEvent<Task> event, const ship::JsMessage& msg) {
    std::cout << "replayed #" << msg.stream_sequence() << ' ' << event.event_type << " from " << event.source
              << " at " << event.timestamp << " (correlation " << event.correlation_id << "): " << event.payload.id
              << " '" << event.payload.title << "' " << event.payload.progress << "%\n";
    ++received;
  };
  ship::ConsumerSubscription subscription = co_await bus.subscribe<Task>("task.*", "replay-example", handler);

  // Waits for the three events, for at most 10 seconds so the example cannot hang.
  asio::steady_timer timer(conn.get_executor());
  const auto give_up_at = std::chrono::steady_clock::now() + 10s;
  while (received < types.size() && std::chrono::steady_clock::now() < give_up_at) {
    timer.expires_after(20ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  subscription.stop();
  co_await subscription.wait();

  // Deleting the stream also deletes its consumer.
  co_await bus.jetstream().delete_stream(bus.stream_config().name);
  co_await conn.drain();
  if (received != types.size()) {
    std::cerr << "event_bus_replay: replayed " << received << " of " << types.size() << " events within 10 s\n";
    co_return EXIT_FAILURE;
  }
  co_return EXIT_SUCCESS;
}

int main() {
  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(ship::default_nats_url()));
  int status = EXIT_FAILURE;
  asio::co_spawn(io, run_example(conn), [&](std::exception_ptr failure, int result) {
    if (!failure) {
      status = result;
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "event_bus_replay failed: " << e.what() << '\n';
    }
    conn.close();  // ends a subscription still running, so io.run() returns
  });
  io.run();
  return status;
}

// The building blocks across a node failure in a 3-node JetStream cluster on 127.0.0.1, with
// 3 replicas of every stream and bucket. The node a client is connected to, which also leads the
// stream or bucket, is killed under load.
// Afterwards the event bus replays exactly the acknowledged events, every KV key has its last
// acknowledged value, and the durable job queue has completed every job with no two runs of a
// job at once.
//
// Writes that fail during the failover (a timeout while the stream elects a leader) are sent
// again, as an application would: events with the same Nats-Msg-Id, so a retry of an event that
// was stored is not stored twice; KV values as they are, since writing a value again leaves the
// key at that value. cluster_support.hpp explains how to add a case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/durable_job_queue.hpp>
#include <noesis/ship/event_bus.hpp>
#include <noesis/ship/kv.hpp>

#include "cluster_support.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;
using test::NodeCrash;

namespace {

// Time one write may keep failing before the test gives up: an election after a node failure
// takes up to about 10 s with nats-server 2.9, and a stream and the meta group may elect one
// after the other.
constexpr std::chrono::seconds write_limit{40};

// Publishes `event` with Nats-Msg-Id `msg_id` until the stream acknowledges it.
awaitable<PubAck> emit_until_acked(EventBus& bus, ShipEvent<nlohmann::json> event, std::string msg_id) {
  const auto stop_at = std::chrono::steady_clock::now() + write_limit;
  for (;;) {
    auto [ec, ack] = co_await bus.publish_event(event, msg_id, as_tuple(asio::use_awaitable));
    if (!ec) co_return ack;
    if (std::chrono::steady_clock::now() > stop_at) throw error(ec, "emit event '" + msg_id + "' during failover");
    co_await test::sleep_for(100ms);
  }
}

// Writes `value` to `key` until the bucket acknowledges it; returns the acknowledged revision.
awaitable<std::uint64_t> put_until_acked(KvStore& kv, std::string key, std::string value) {
  const auto stop_at = std::chrono::steady_clock::now() + write_limit;
  for (;;) {
    auto [ec, revision] = co_await kv.put(key, value, as_tuple(asio::use_awaitable));
    if (!ec) co_return revision;
    if (std::chrono::steady_clock::now() > stop_at) throw error(ec, "put '" + key + "' during failover");
    co_await test::sleep_for(100ms);
  }
}

}  // namespace

TEST_CASE("event bus replays acked events after failover") {
  auto& cluster = test::shared_cluster();
  asio::io_context io;
  Connection conn(io.get_executor(), test::cluster_config(cluster));

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    EventBus bus(conn, test::replicated_stream("FAILOVER_EVENTS", "failover.events.>"), "failover.events");
    co_await bus.connect();
    co_await test::move_stream_leader(bus.jetstream(), "FAILOVER_EVENTS", test::connected_node(cluster, conn));

    constexpr int total = 200;
    constexpr int crash_at = 70;
    std::vector<ShipEvent<nlohmann::json>> sent;
    std::map<std::uint64_t, int> acked;  // stream sequence -> index into `sent`
    std::unique_ptr<NodeCrash> crash;
    for (int i = 0; i < total; ++i) {
      if (i == crash_at) crash = std::make_unique<NodeCrash>(cluster, test::connected_node(cluster, conn));
      nlohmann::json payload;
      payload["n"] = i;
      sent.push_back(make_ship_event("item.updated", "failover-test", std::move(payload)));
      PubAck ack = co_await emit_until_acked(bus, sent.back(), "event-" + std::to_string(i));
      acked[ack.sequence] = i;
    }
    REQUIRE(crash);
    REQUIRE(acked.size() == static_cast<std::size_t>(total));  // one sequence per event
    CHECK(test::connected_node(cluster, conn) != crash->node());

    // A new durable subscriber replays the stream while the node is still down.
    struct Replayed {
      std::uint64_t sequence;
      ShipEvent<nlohmann::json> event;
    };
    std::vector<Replayed> replayed;
    auto handler = [&replayed](ShipEvent<nlohmann::json> event, const JsMessage& msg) {
      replayed.push_back(Replayed{msg.stream_sequence(), std::move(event)});
    };
    ConsumerSubscription subscription = co_await bus.subscribe<nlohmann::json>(">", "replayer", handler);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (replayed.size() < acked.size() && std::chrono::steady_clock::now() < deadline) {
      co_await test::sleep_for(50ms);
    }
    co_await test::sleep_for(500ms);  // room for an event that should not be there
    subscription.stop();

    StreamInfo info = co_await bus.jetstream().stream_info("FAILOVER_EVENTS");
    CHECK(info.state.messages == static_cast<std::uint64_t>(total));
    REQUIRE(replayed.size() == acked.size());
    for (std::size_t i = 0; i < replayed.size(); ++i) {
      const auto expected = acked.find(replayed[i].sequence);
      REQUIRE(expected != acked.end());
      INFO("stream sequence " << replayed[i].sequence);
      CHECK(replayed[i].event == sent[static_cast<std::size_t>(expected->second)]);
      if (i > 0) CHECK(replayed[i].sequence > replayed[i - 1].sequence);  // in stream order
    }

    crash.reset();
    const bool deleted = co_await bus.jetstream().delete_stream("FAILOVER_EVENTS");
    CHECK(deleted);
  }, std::chrono::seconds(150));
}

TEST_CASE("kv keeps the last acked values after failover") {
  auto& cluster = test::shared_cluster();
  asio::io_context io;
  Connection conn(io.get_executor(), test::cluster_config(cluster));

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvBucketConfig config("failover_kv");
    config.replicas = 3;
    config.storage = StorageType::file;
    KvStore kv(conn, config);
    co_await kv.connect();
    co_await test::move_stream_leader(kv.jetstream(), "KV_failover_kv", test::connected_node(cluster, conn));

    constexpr int keys = 10;
    constexpr int rounds = 25;
    constexpr int crash_at = 80;  // write number, of keys * rounds
    struct Acked {
      std::string value;
      std::uint64_t revision = 0;
    };
    std::map<std::string, Acked> last;
    std::unique_ptr<NodeCrash> crash;
    int written = 0;
    for (int round = 0; round < rounds; ++round) {
      for (int k = 0; k < keys; ++k, ++written) {
        if (written == crash_at) crash = std::make_unique<NodeCrash>(cluster, test::connected_node(cluster, conn));
        const std::string key = "key-" + std::to_string(k);
        std::string value = "round-" + std::to_string(round) + "-of-" + key;
        const std::uint64_t revision = co_await put_until_acked(kv, key, value);
        last[key] = Acked{std::move(value), revision};
      }
    }
    REQUIRE(crash);
    CHECK(test::connected_node(cluster, conn) != crash->node());

    // Read with the node still down. A put retried after a lost ack may have stored the value
    // twice, but the acknowledged revision is the key's newest either way.
    for (const auto& [key, acked] : last) {
      INFO("key " << key);
      std::optional<KvEntry> entry = co_await kv.get(key);
      REQUIRE(entry);
      CHECK(entry->value == acked.value);
      CHECK(entry->revision == acked.revision);
    }
    std::vector<std::string> stored_keys = co_await kv.keys();
    CHECK(stored_keys.size() == static_cast<std::size_t>(keys));

    crash.reset();
    const bool destroyed = co_await kv.destroy();
    CHECK(destroyed);
  }, std::chrono::seconds(150));
}

// Compare-and-set on a replicated bucket: of many updates from the same revision that are in
// flight together, exactly one is stored. nats-server 2.9 checks the expected revision of a
// replicated stream only on the leader before it replicates the write, against the messages it
// has applied so far, so without more the leader accepts every one of them.
TEST_CASE("kv update from one revision wins once when replicated") {
  auto& cluster = test::shared_cluster();
  asio::io_context io;
  Connection conn(io.get_executor(), test::cluster_config(cluster));

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvBucketConfig config("cas_kv");
    config.replicas = 3;
    config.history = 64;
    KvStore kv(conn, config);
    co_await kv.connect();

    constexpr int rounds = 5;
    constexpr int writers = 20;
    for (int round = 0; round < rounds; ++round) {
      INFO("round " << round);
      const std::uint64_t base = co_await kv.put("counter", "base-" + std::to_string(round));
      int stored = 0;
      int conflicts = 0;
      int completed = 0;
      std::string winner;
      for (int i = 0; i < writers; ++i) {
        std::string value = "round-" + std::to_string(round) + "-writer-" + std::to_string(i);
        kv.update("counter", value, base, [&, value](std::error_code ec, std::uint64_t) {
          ++completed;
          if (!ec) {
            ++stored;
            winner = value;
          } else if (ec == errc::wrong_last_sequence) {
            ++conflicts;
          }
        });
      }
      while (completed < writers) co_await test::sleep_for(10ms);
      CHECK(stored == 1);
      CHECK(conflicts == writers - 1);

      // The key's history contains the base and exactly one winner after it.
      std::vector<KvEntry> history = co_await kv.history("counter");
      REQUIRE_FALSE(history.empty());
      CHECK(history.back().value == winner);
      const auto after_base = std::count_if(history.begin(), history.end(),
                                            [base](const KvEntry& entry) { return entry.revision > base; });
      CHECK(after_base == 1);
    }

    const bool destroyed = co_await kv.destroy();
    CHECK(destroyed);
  }, std::chrono::seconds(60));
}

namespace {

// One run of a job's handler, as the test saw it.
struct Execution {
  std::string job_id;
  int instance = 0;
  std::uint32_t attempt = 0;
  bool finished = false;
};

// Handler runs of every queue instance, and the jobs running right now.
struct ExecutionLog {
  std::vector<Execution> executions;
  std::map<std::string, int> running;  // job id -> handler runs in progress
  std::vector<std::string> overlaps;   // job ids that started while already running
  int finished = 0;
};

// Waits until every one of `total` jobs is complete, reading the records from the server; reads
// that fail during the failover are repeated. Returns the last listing.
awaitable<std::vector<Job<nlohmann::json>>> wait_until_complete(DurableJobQueue<nlohmann::json>& queue,
                                                                std::size_t total, std::chrono::seconds limit) {
  const auto stop_at = std::chrono::steady_clock::now() + limit;
  std::vector<Job<nlohmann::json>> jobs;
  for (;;) {
    auto [ec, listing] = co_await queue.list(JobStatus::complete, as_tuple(asio::use_awaitable));
    if (!ec) jobs = std::move(listing);
    if (jobs.size() >= total || std::chrono::steady_clock::now() > stop_at) co_return jobs;
    co_await test::sleep_for(500ms);
  }
}

}  // namespace

TEST_CASE("durable job queue loses no job in failover") {
  auto& cluster = test::shared_cluster();
  asio::io_context io;
  constexpr int instances = 3;
  constexpr int total = 60;
  constexpr int crash_after = 15;  // finished handler runs before the kill

  DurableJobQueueConfig config;
  config.prefix = "FAILOVER";
  config.replicas = 3;
  config.lease = 4s;
  config.reap_period = 250ms;
  // A claim whose ack was lost in the failover leaves the job running without a worker until
  // its lease expires. The reaper then queues it again, which costs an attempt.
  config.max_attempts = 10;
  // Lifecycle events are published without an ack, so a failover may lose some by design. The
  // checks below use the job records and the handler runs instead.
  config.emit_events = false;

  std::vector<Connection> connections;
  std::vector<DurableJobQueue<nlohmann::json>> queues;
  for (int k = 0; k < instances; ++k) {
    connections.emplace_back(io.get_executor(), test::cluster_config(cluster));
    queues.emplace_back(connections.back(), config);
  }
  ExecutionLog log;
  int loops_running = 0;

  test::run(io, [&]() -> awaitable<void> {
    for (auto& queue : queues) co_await queue.connect();
    JetStream js(connections[0]);
    co_await test::move_stream_leader(js, "KV_" + queues[0].bucket(), test::connected_node(cluster, connections[0]));
    std::set<std::string> submitted;
    for (int i = 0; i < total; ++i) {
      nlohmann::json payload;
      payload["n"] = i;
      submitted.insert(co_await queues[0].submit(std::move(payload), "builder", "failover-test"));
    }
    REQUIRE(submitted.size() == static_cast<std::size_t>(total));

    // Every instance runs jobs for the same worker name, so the three compete for each job.
    for (int k = 0; k < instances; ++k) {
      auto handler = [&log, k](Job<nlohmann::json> job) -> awaitable<nlohmann::json> {
        const std::size_t index = log.executions.size();
        log.executions.push_back(Execution{job.id, k, job.attempts, false});
        if (log.running[job.id]++ > 0) log.overlaps.push_back(job.id);
        co_await test::sleep_for(100ms);
        --log.running[job.id];
        log.executions[index].finished = true;
        ++log.finished;
        nlohmann::json result;
        result["instance"] = k;
        result["attempt"] = job.attempts;
        co_return result;
      };
      ++loops_running;
      asio::co_spawn(io, queues[static_cast<std::size_t>(k)].run("builder", handler),
                     [&loops_running](std::exception_ptr) { --loops_running; });
    }

    while (log.finished < crash_after) co_await test::sleep_for(20ms);
    auto crash = std::make_unique<NodeCrash>(cluster, test::connected_node(cluster, connections[0]));

    std::vector<Job<nlohmann::json>> complete = co_await wait_until_complete(queues[1], total, 90s);
    for (auto& queue : queues) queue.close();
    while (loops_running > 0) co_await test::sleep_for(20ms);
    crash.reset();

    // Every job completed once, by the last of its handler runs, and no two runs overlapped.
    CHECK(complete.size() == static_cast<std::size_t>(total));
    CHECK(log.overlaps.empty());
    for (const auto& job : complete) {
      INFO("job " << job.id << " attempts " << job.attempts << " result " << job.result.dump());
      CHECK(submitted.count(job.id) == 1);
      REQUIRE(job.result.is_object());
      std::vector<const Execution*> runs;
      for (const auto& execution : log.executions) {
        if (execution.job_id == job.id) runs.push_back(&execution);
      }
      REQUIRE_FALSE(runs.empty());
      for (std::size_t i = 1; i < runs.size(); ++i) CHECK(runs[i]->attempt > runs[i - 1]->attempt);
      const Execution& last_run = *runs.back();
      CHECK(last_run.finished);
      CHECK(last_run.attempt == job.attempts);
      CHECK(job.result.at("instance") == last_run.instance);
      CHECK(job.result.at("attempt") == last_run.attempt);
    }
    INFO("handler runs: " << log.executions.size() << " for " << total << " jobs");
    CHECK(log.executions.size() >= static_cast<std::size_t>(total));

    KvStore bucket(connections[1], KvBucketConfig(queues[1].bucket()));
    const bool destroyed = co_await bucket.destroy();
    CHECK(destroyed);
  }, std::chrono::seconds(180));
}

// Failover in a 3-node JetStream cluster on 127.0.0.1: the node the client is connected to is
// killed while the client publishes with acknowledgement; the client moves to another node and
// every acknowledged publish is in the replicated stream afterwards.
//
// To add a failover case for another building block (KV, job queue): write a TEST_CASE that
// takes shared_cluster(), starts its load, calls `NodeCrash crash(cluster, conn)` at the point of
// failure, and checks its data after the load; NodeCrash restarts the node at scope exit, so the
// next case finds three nodes again.
#include <catch2/catch.hpp>

#include <map>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/testing/cluster.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;

namespace {

testing::Cluster& shared_cluster() {
  static testing::Cluster cluster(3);
  return cluster;
}

NatsConfig config_for(const testing::Cluster& cluster) {
  NatsConfig config;
  config.servers.clear();
  for (std::size_t i = 0; i < cluster.size(); ++i) config.servers.push_back(cluster.node(i).url());
  config.reconnect.wait = 100ms;
  config.reconnect.jitter = 10ms;
  config.request_timeout = 2s;  // short, so a publish lost in the failover is retried quickly
  return config;
}

// Index of the node whose client port the connection's publish link uses.
std::size_t connected_node(const testing::Cluster& cluster, const Connection& conn) {
  char url[256] = {};
  REQUIRE(natsConnection_GetConnectedUrl(conn.native_handle(), url, sizeof url) == NATS_OK);
  const std::string connected(url);
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const std::string port = ":" + std::to_string(cluster.node(i).port());
    if (connected.size() >= port.size() && connected.ends_with(port)) return i;
  }
  FAIL("connected to an unknown server: " << connected);
  return 0;
}

// Kills the node `conn` publishes through; the destructor restarts it and waits for the
// JetStream meta-leader, so later test cases get a whole cluster.
class NodeCrash {
 public:
  NodeCrash(testing::Cluster& cluster, const Connection& conn)
      : cluster_(cluster), node_(connected_node(cluster, conn)) {
    cluster_.kill(node_);
  }
  ~NodeCrash() {
    try {
      cluster_.restart(node_);
    } catch (const std::exception& e) {
      WARN("restarting node " << node_ << " failed: " << e.what());
    }
  }
  NodeCrash(const NodeCrash&) = delete;
  NodeCrash& operator=(const NodeCrash&) = delete;

  std::size_t node() const noexcept { return node_; }

 private:
  testing::Cluster& cluster_;
  std::size_t node_;
};

// Publishes with a Nats-Msg-Id and retries the same id until acknowledged, so an ack lost in the
// failover neither loses nor duplicates the message. Gives up after `limit`.
awaitable<PubAck> publish_until_acked(JetStream& js, std::string subject, std::string data, std::string msg_id,
                                      std::chrono::seconds limit) {
  const auto stop_at = std::chrono::steady_clock::now() + limit;
  PublishOptions options;
  options.msg_id = std::move(msg_id);
  options.attempts = 1;
  for (;;) {
    auto [ec, ack] = co_await js.publish(subject, data, options, as_tuple(asio::use_awaitable));
    if (!ec) co_return ack;
    if (std::chrono::steady_clock::now() > stop_at) throw error(ec, "publish '" + options.msg_id + "' during failover");
    co_await test::sleep_for(100ms);
  }
}

StreamConfig replicated_stream(std::string name, std::string subject) {
  StreamConfig config;
  config.name = std::move(name);
  config.subjects.push_back(std::move(subject));
  config.replicas = 3;
  config.storage = StorageType::file;
  return config;
}

}  // namespace

TEST_CASE("acked JetStream publishes survive failover") {
  auto& cluster = shared_cluster();
  asio::io_context io;
  Connection conn(io.get_executor(), config_for(cluster));
  std::vector<ConnectionEventType> events;
  conn.on_event([&](const ConnectionEvent& e) { events.push_back(e.type); });

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(replicated_stream("FAILOVER", "failover.>"));

    constexpr int total = 300;
    constexpr int crash_at = 100;
    std::map<std::string, std::uint64_t> acked;  // payload -> stream sequence
    std::unique_ptr<NodeCrash> crash;
    for (int i = 0; i < total; ++i) {
      if (i == crash_at) crash = std::make_unique<NodeCrash>(cluster, conn);
      const std::string payload = "payload-" + std::to_string(i);
      PubAck ack = co_await publish_until_acked(js, "failover.item", payload, "id-" + std::to_string(i), 30s);
      acked[payload] = ack.sequence;
    }
    REQUIRE(crash);
    CHECK(connected_node(cluster, conn) != crash->node());  // the client moved on

    // Every acked publish is stored once, with its content, at the sequence its ack gave.
    StreamInfo info = co_await js.stream_info("FAILOVER");
    CHECK(info.state.messages == total);
    for (const auto& [payload, sequence] : acked) {
      StoredMessage stored = co_await js.get_message("FAILOVER", sequence);
      CHECK(stored.data == payload);
      CHECK(stored.subject == "failover.item");
    }
    co_await js.delete_stream("FAILOVER");
    crash.reset();  // restart the node before the io_context goes away
  }, std::chrono::seconds(120));

  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::disconnected) >= 1);
  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::reconnected) >= 1);
}

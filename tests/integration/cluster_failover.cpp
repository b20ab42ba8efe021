// Failover in a 3-node JetStream cluster on 127.0.0.1. The node the client is connected to, which
// also leads the stream, is killed while the client publishes with acknowledgement. The client
// moves to another node, and every acknowledged publish is in the replicated stream afterwards. A JetStream API call sent
// while the cluster elects a new meta-leader is retried until the new leader answers it.
//
// cluster_blocks.cpp runs the same kind of failover under the building blocks (event bus, KV,
// durable job queue); cluster_support.hpp explains how to add a case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>

#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/testing/cluster.hpp>

#include "capture_log.hpp"
#include "cluster_support.hpp"
#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;
using test::NodeCrash;

namespace {

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

}  // namespace

TEST_CASE("acked JetStream publishes survive failover") {
  auto& cluster = test::shared_cluster();
  asio::io_context io;
  Connection conn(io.get_executor(), test::cluster_config(cluster));
  std::vector<ConnectionEventType> events;
  conn.on_event([&](const ConnectionEvent& e) { events.push_back(e.type); });

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(test::replicated_stream("FAILOVER", "failover.>"));
    co_await test::move_stream_leader(js, "FAILOVER", test::connected_node(cluster, conn));

    constexpr int total = 300;
    constexpr int crash_at = 100;
    std::map<std::string, std::uint64_t> acked;  // payload -> stream sequence
    std::unique_ptr<NodeCrash> crash;
    for (int i = 0; i < total; ++i) {
      if (i == crash_at) crash = std::make_unique<NodeCrash>(cluster, test::connected_node(cluster, conn));
      const std::string payload = "payload-" + std::to_string(i);
      PubAck ack = co_await publish_until_acked(js, "failover.item", payload, "id-" + std::to_string(i), 30s);
      acked[payload] = ack.sequence;
    }
    REQUIRE(crash);
    CHECK(test::connected_node(cluster, conn) != crash->node());  // the client moved on

    // Every acked publish is stored once, with its content, at the sequence its ack gave. These
    // reads run with the node still down.
    StreamInfo info = co_await js.stream_info("FAILOVER");
    CHECK(info.state.messages == total);
    for (const auto& [payload, sequence] : acked) {
      StoredMessage stored = co_await js.get_message("FAILOVER", sequence);
      CHECK(stored.data == payload);
      CHECK(stored.subject == "failover.item");
    }

    // The node comes back before the cleanup: a stream delete is a meta-leader operation, and
    // right after the kill the cluster may still be electing one.
    crash.reset();
    const bool deleted = co_await js.delete_stream("FAILOVER");
    CHECK(deleted);
  }, std::chrono::seconds(120));

  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::disconnected) >= 1);
  CHECK(std::count(events.begin(), events.end(), ConnectionEventType::reconnected) >= 1);
}

// The survivors of a killed meta-leader leave API requests unanswered until one of them wins the
// election, 4 to 9 s after the last heartbeat in nats-server 2.9. A request sent right after the
// kill therefore gets no reply within a 2 s timeout, and the JetStream layer sends it again.
TEST_CASE("API call retried during leader election") {
  auto& cluster = test::shared_cluster();
  auto log = test::capture_library_log();
  asio::io_context io;
  Connection conn(io.get_executor(), test::cluster_config(cluster));

  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    JetStream js(conn);
    co_await js.ensure_stream(test::replicated_stream("ELECTION", "election.>"));
    PubAck stored = co_await js.publish("election.item", "kept");
    CHECK(stored.sequence == 1);

    auto crash = std::make_unique<NodeCrash>(cluster, test::meta_leader_node(cluster));
    const auto sent_at = std::chrono::steady_clock::now();
    auto [ec, deleted] = co_await js.delete_stream("ELECTION", as_tuple(asio::use_awaitable));
    const auto waited = std::chrono::steady_clock::now() - sent_at;
    INFO("delete_stream waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
    REQUIRE_FALSE(ec);
    CHECK(deleted);
    // The request outlived the 2 s timeout, so at least one attempt went unanswered and was sent
    // again, which the log records.
    CHECK(log->contains("JetStream API '$JS.API.STREAM.DELETE.ELECTION': attempt 1 failed"));

    crash.reset();
    auto [info_error, info] = co_await js.stream_info("ELECTION", std::string(), as_tuple(asio::use_awaitable));
    CHECK(is_jetstream_error(info_error, 10059));  // stream not found: the delete took effect
  }, std::chrono::seconds(90));
  set_logger(nullptr);
}

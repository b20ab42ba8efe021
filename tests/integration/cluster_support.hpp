// Helpers of the cluster failover tests: one 3-node cluster per test binary, a client
// configuration that fails over quickly, and NodeCrash, which kills a node and restarts it at
// scope exit.
//
// To add a failover case, write a TEST_CASE that takes shared_cluster() and moves the leader of
// its stream to the client's node with move_stream_leader(). It starts its load, creates
// `NodeCrash crash(cluster, connected_node(cluster, conn))` at the point of failure and checks
// its data after the load. It resets the crash before its cleanup, so the next case finds three
// nodes again and the cleanup's API calls do not go to a cluster that is still electing leaders.
#pragma once

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <asio/awaitable.hpp>
#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/stream_config.hpp>
#include <noesis/ship/testing/cluster.hpp>

#include "test_support.hpp"

namespace noesis::ship::test {

// The cluster that the test cases of one binary share. It starts on first use (3 nodes, a
// JetStream meta-leader elected) and stops when the process exits.
inline testing::Cluster& shared_cluster() {
  static testing::Cluster cluster(3);
  return cluster;
}

// A client configuration listing every node. Reconnects are retried every 100 ms. The 2 s
// request timeout makes a publish lost in the failover fail quickly, so the test sends it again.
inline NatsConfig cluster_config(const testing::Cluster& cluster) {
  NatsConfig config;
  config.servers.clear();
  for (std::size_t i = 0; i < cluster.size(); ++i) config.servers.push_back(cluster.node(i).url());
  config.reconnect.wait = std::chrono::milliseconds(100);
  config.reconnect.jitter = std::chrono::milliseconds(10);
  config.request_timeout = std::chrono::seconds(2);
  return config;
}

// Index of the node whose client port the connection's publish link uses.
inline std::size_t connected_node(const testing::Cluster& cluster, const Connection& conn) {
  char url[256] = {};
  REQUIRE(natsConnection_GetConnectedUrl(conn.native_handle(), url, sizeof url) == NATS_OK);
  const std::string connected(url);
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const std::string port = ":" + std::to_string(cluster.node(i).port());
    if (connected.ends_with(port)) return i;
  }
  FAIL("connected to an unknown server: " << connected);
  return 0;
}

// Index of the node that is the JetStream meta-leader, once all running nodes agree on one.
inline std::size_t meta_leader_node(const testing::Cluster& cluster) {
  const std::string leader = cluster.wait_for_meta_leader(std::chrono::seconds(30));
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (leader == "node-" + std::to_string(i)) return i;
  }
  FAIL("the meta-leader '" << leader << "' is not a node of the cluster");
  return 0;
}

// Kills node `node` with SIGKILL. The destructor restarts it and waits for the JetStream
// meta-leader, so later test cases get a whole cluster.
class NodeCrash {
 public:
  NodeCrash(testing::Cluster& cluster, std::size_t node) : cluster_(cluster), node_(node) { cluster_.kill(node_); }
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

// Returns the server_name of the node that leads `stream`, or "" while its replicas elect one.
inline asio::awaitable<std::string> stream_leader(JetStream& js, std::string stream) {
  nlohmann::json info = co_await js.api_request("STREAM.INFO." + stream, nlohmann::json());
  co_return info.value(nlohmann::json::json_pointer("/cluster/leader"), std::string());
}

// Makes node `target` the leader of `stream`, so that killing that node also costs the stream
// its leader. Asks the current leader to step down until `target` is elected: nats-server 2.9
// hands the leadership to another current replica, so with 3 replicas each step-down reaches
// `target` with a chance of about one half. Throws std::runtime_error after 20 step-downs.
inline asio::awaitable<void> move_stream_leader(JetStream& js, std::string stream, std::size_t target) {
  const std::string wanted = "node-" + std::to_string(target);
  for (int stepdowns = 0;; ++stepdowns) {
    std::string leader;
    for (int poll = 0; poll < 100 && leader.empty(); ++poll) {
      leader = co_await stream_leader(js, stream);
      if (leader.empty()) co_await sleep_for(std::chrono::milliseconds(100));
    }
    if (leader == wanted) co_return;
    if (stepdowns == 20) {
      throw std::runtime_error("stream '" + stream + "' is still led by '" + leader + "' after 20 step-downs");
    }
    co_await js.api_request("STREAM.LEADER.STEPDOWN." + stream, nlohmann::json());
  }
}

// A stream with 3 replicas in file storage, so it survives the loss of one node.
inline StreamConfig replicated_stream(std::string name, std::string subject) {
  StreamConfig config;
  config.name = std::move(name);
  config.subjects.push_back(std::move(subject));
  config.replicas = 3;
  config.storage = StorageType::file;
  return config;
}

}  // namespace noesis::ship::test

// A private nats-server cluster for tests: N nodes on 127.0.0.1, routed to each other, each with
// JetStream and its own store directory.
//
//   noesis::ship::testing::Cluster cluster;   // 3 nodes, returns once a meta-leader is elected
//   connect_to(cluster.urls());               // "nats://127.0.0.1:a,nats://127.0.0.1:b,..."
//   cluster.kill(0);                          // a node crashes; the others keep serving
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "noesis/ship/testing/server.hpp"

namespace noesis::ship::testing {

// Start settings of a Cluster.
struct ClusterOptions {
  // Number of nodes; at least 1. JetStream needs 3 for replicated streams that survive the
  // loss of one node.
  std::size_t size = 3;

  // The `cluster { name }` setting, shared by all nodes.
  std::string name = "noesis-test";

  // Prefix of each node's `server_name`; node i is named `<server_name_prefix><i>`.
  std::string server_name_prefix = "node-";

  // Enables JetStream on every node.
  bool jetstream = true;

  // Text appended to every node's generated configuration file.
  std::string extra_config;

  // Maximum time to wait for each node to accept clients.
  std::chrono::milliseconds ready_timeout{10000};

  // Maximum time to wait until every running node reports the same JetStream meta-leader,
  // in the constructor and in restart(). Ignored when jetstream is false.
  std::chrono::milliseconds leader_timeout{30000};
};

// Nodes started one after the other on free client, monitoring and route ports. Each node's
// config lists the route URLs of all other nodes. The nodes' ports stay fixed across kill()
// and restart(), so routes reconnect by themselves.
//
// Movable, not copyable. The destructor stops every node and removes their temporary
// directories.
class Cluster {
 public:
  // Starts all nodes and, with JetStream, waits for the meta-leader. Throws
  // std::invalid_argument when size is 0 and std::runtime_error when a node does not start or
  // no leader is elected within leader_timeout.
  explicit Cluster(ClusterOptions options = ClusterOptions());

  // A cluster of `size` nodes with the other options at their defaults.
  explicit Cluster(std::size_t size);

  std::size_t size() const;

  // Node i (0-based). Throws std::out_of_range for i >= size().
  Server& node(std::size_t i);
  const Server& node(std::size_t i) const;

  // Client URLs of all nodes, running or not, joined by commas: a server list for cnats.
  std::string urls() const;

  // Sends SIGKILL to node i, simulating a crash.
  void kill(std::size_t i);

  // Restarts node i (stopping it first if it runs) on its ports and store directory, then,
  // with JetStream, waits for the meta-leader again.
  void restart(std::size_t i);

  // Waits until every running node's `/jsz` reports the same non-empty meta-leader and returns
  // that leader's server_name. Throws std::runtime_error after `timeout`.
  std::string wait_for_meta_leader(std::chrono::milliseconds timeout) const;

 private:
  ClusterOptions options_;
  std::vector<Server> nodes_;
};

}  // namespace noesis::ship::testing

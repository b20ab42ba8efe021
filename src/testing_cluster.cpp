// noesis::ship::testing::Cluster: route ports chosen up front so every node's config can list
// the others, then the nodes started one by one as testing::Server instances.
#include "noesis/ship/testing/cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <deque>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace noesis::ship::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Finds `count` distinct free TCP ports on 127.0.0.1 by binding port 0; all sockets stay open
// until every port is chosen so the ports differ.
std::vector<int> free_ports(std::size_t count) {
  std::vector<int> sockets;
  std::vector<int> ports;
  auto close_all = [&] {
    for (int fd : sockets) ::close(fd);
  };
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      close_all();
      throw std::system_error(errno, std::generic_category(), "socket() failed");
    }
    sockets.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      int error = errno;
      close_all();
      throw std::system_error(error, std::generic_category(), "binding 127.0.0.1:0 failed");
    }
    ports.push_back(ntohs(address.sin_port));
  }
  close_all();
  return ports;
}

std::string cluster_block(const ClusterOptions& options, const std::vector<int>& route_ports,
                          std::size_t self) {
  std::string block = "cluster {\n  name: \"" + options.name + "\"\n  listen: \"127.0.0.1:" +
                      std::to_string(route_ports[self]) + "\"\n  routes: [\n";
  for (std::size_t i = 0; i < route_ports.size(); ++i) {
    if (i == self) continue;
    block += "    \"nats-route://127.0.0.1:" + std::to_string(route_ports[i]) + "\"\n";
  }
  return block + "  ]\n}\n";
}

std::string last_lines(const std::string& path, std::size_t max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string text;
  for (const auto& line : lines) text += "  " + line + "\n";
  return text;
}

// The meta-leader a node's /jsz reports; empty when it has none yet or the request fails.
std::string reported_meta_leader(const Server& node) {
  try {
    auto jsz = nlohmann::json::parse(node.monitor_get("/jsz", 1000ms));
    auto meta = jsz.find("meta_cluster");
    if (meta == jsz.end() || !meta->is_object()) return {};
    return meta->value("leader", std::string());
  } catch (const std::exception&) {
    // A node that is starting or being killed may refuse the connection or cut the response.
    return {};
  }
}

}  // namespace

Cluster::Cluster(std::size_t size) : Cluster([size] {
  ClusterOptions options;
  options.size = size;
  return options;
}()) {}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  if (options_.size == 0) {
    throw std::invalid_argument("Cluster size: '0' is invalid; allowed: 1 or more nodes");
  }

  // Another process may take a route port between free_ports() and the node's bind, so that
  // node exits. Then all ports are chosen again and the nodes started again.
  constexpr int max_attempts = 3;
  for (int attempt = 1;; ++attempt) {
    std::vector<int> route_ports = free_ports(options_.size);
    try {
      nodes_.clear();
      for (std::size_t i = 0; i < options_.size; ++i) {
        ServerOptions node_options;
        node_options.jetstream = options_.jetstream;
        node_options.ready_timeout = options_.ready_timeout;
        node_options.server_name = options_.server_name_prefix + std::to_string(i);
        // A single node gets no cluster block: a cluster of one never elects a JetStream
        // meta-leader, while a standalone server runs JetStream at once.
        if (options_.size > 1) node_options.extra_config = cluster_block(options_, route_ports, i);
        node_options.extra_config += options_.extra_config;
        nodes_.emplace_back(std::move(node_options));
      }
      break;
    } catch (const std::runtime_error& e) {
      bool port_taken = std::string(e.what()).find("address already in use") != std::string::npos;
      if (!port_taken || attempt == max_attempts) throw;
    }
  }

  if (options_.jetstream && options_.size > 1) wait_for_meta_leader(options_.leader_timeout);
}

std::size_t Cluster::size() const { return nodes_.size(); }

Server& Cluster::node(std::size_t i) { return nodes_.at(i); }
const Server& Cluster::node(std::size_t i) const { return nodes_.at(i); }

std::string Cluster::urls() const {
  std::string joined;
  for (const auto& node : nodes_) {
    if (!joined.empty()) joined += ",";
    joined += node.url();
  }
  return joined;
}

void Cluster::kill(std::size_t i) { nodes_.at(i).kill(); }

void Cluster::restart(std::size_t i) {
  nodes_.at(i).restart();
  if (options_.jetstream && options_.size > 1) wait_for_meta_leader(options_.leader_timeout);
}

std::string Cluster::wait_for_meta_leader(std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  std::string last_seen;
  while (true) {
    // The leader counts only if every running node reports it and it is itself running: right
    // after a crash the survivors still name the dead leader until their election timeout.
    std::string agreed;
    bool consistent = true;
    bool leader_running = false;
    for (std::size_t i = 0; i < nodes_.size() && consistent; ++i) {
      if (!nodes_[i].running()) continue;
      std::string leader = reported_meta_leader(nodes_[i]);
      if (leader.empty() || (!agreed.empty() && leader != agreed)) consistent = false;
      agreed = leader;
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (agreed == options_.server_name_prefix + std::to_string(i)) {
        leader_running = nodes_[i].running();
      }
    }
    if (consistent && leader_running) return agreed;
    if (!agreed.empty()) last_seen = agreed;

    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  // The logs go into the message because the constructor's failure removes the log files.
  std::string logs;
  for (const auto& node : nodes_) {
    logs += "\n" + node.log_file() + ":\n" + last_lines(node.log_file(), 8);
  }
  throw std::runtime_error("no JetStream meta-leader elected in cluster '" + options_.name +
                           "' within " + std::to_string(timeout.count()) +
                           " ms; last leader reported: '" + last_seen + "'; node logs:" + logs);
}

}  // namespace noesis::ship::testing

// Tests of testing::Cluster: three routed nats-server nodes with JetStream on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "noesis/ship/testing/cluster.hpp"

namespace {

using noesis::ship::testing::Cluster;
using namespace std::chrono_literals;

// Whether 127.0.0.1:port sends a NATS `INFO {` line within 2 s of connecting.
bool accepts_clients(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string data;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    char buffer[4096];
    while (data.find('\n') == std::string::npos) {
      pollfd entry{fd, POLLIN, 0};
      if (::poll(&entry, 1, 2000) <= 0) break;
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      data.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return data.rfind("INFO {", 0) == 0;
}

// Number of routes a node's /routez lists.
std::size_t route_count(const noesis::ship::testing::Server& node) {
  auto routez = nlohmann::json::parse(node.monitor_get("/routez"));
  return routez.value("num_routes", std::size_t{0});
}

}  // namespace

TEST_CASE("Cluster of three elects a leader", "[testing][cluster]") {
  auto started = std::chrono::steady_clock::now();
  Cluster cluster;
  INFO("startup took " << std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started).count() << " ms");

  REQUIRE(cluster.size() == 3);
  std::set<int> ports;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    INFO("node " << i);
    CHECK(cluster.node(i).running());
    CHECK(accepts_clients(cluster.node(i).port()));
    ports.insert(cluster.node(i).port());
  }
  CHECK(ports.size() == 3);

  std::string expected_urls = cluster.node(0).url() + "," + cluster.node(1).url() + "," +
                              cluster.node(2).url();
  CHECK(cluster.urls() == expected_urls);

  std::string leader = cluster.wait_for_meta_leader(5s);
  CHECK(leader.rfind("node-", 0) == 0);

  // Routes come up shortly after the leader; a full mesh gives each node two.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (route_count(cluster.node(0)) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK(route_count(cluster.node(0)) == 2);

  CHECK_THROWS_AS(cluster.node(3), std::out_of_range);
}

TEST_CASE("Cluster survives a killed node", "[testing][cluster]") {
  Cluster cluster;
  std::string leader = cluster.wait_for_meta_leader(5s);
  std::size_t leader_index = static_cast<std::size_t>(std::stoi(leader.substr(5)));

  // Killing the leader is the hard case: the other two must elect a new one.
  cluster.kill(leader_index);
  CHECK_FALSE(cluster.node(leader_index).running());
  CHECK_FALSE(accepts_clients(cluster.node(leader_index).port()));
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (i == leader_index) continue;
    INFO("surviving node " << i);
    CHECK(accepts_clients(cluster.node(i).port()));
  }

  std::string new_leader = cluster.wait_for_meta_leader(20s);
  CHECK(new_leader != leader);

  cluster.restart(leader_index);
  CHECK(cluster.node(leader_index).running());
  CHECK(accepts_clients(cluster.node(leader_index).port()));
  CHECK_FALSE(cluster.wait_for_meta_leader(5s).empty());
}

TEST_CASE("Cluster of one runs standalone", "[testing][cluster]") {
  Cluster cluster(1);
  CHECK(cluster.size() == 1);
  CHECK(cluster.urls() == cluster.node(0).url());
  CHECK(accepts_clients(cluster.node(0).port()));
}

TEST_CASE("Cluster size zero is rejected", "[testing][cluster]") {
  CHECK_THROWS_AS(Cluster(0), std::invalid_argument);
}

// Tests of testing::Server against the real nats-server binary. They need nats-server on PATH
// (or NOESIS_NATS_SERVER) but no server started by anyone else.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <string>

#include "noesis/ship/testing/server.hpp"

namespace {

namespace fs = std::filesystem;
using noesis::ship::testing::Server;
using noesis::ship::testing::ServerOptions;

// The first line a client receives from 127.0.0.1:port, or an empty string if the connection
// fails or nothing arrives within 2 s.
std::string first_line_from(int port) {
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
  return data.substr(0, data.find('\n'));
}

// Sets an environment variable for one scope and restores the previous value afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      ::setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

std::string thrown_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("Server sends INFO with JetStream", "[testing]") {
  Server server;

  CHECK(server.running());
  CHECK(server.pid() > 0);
  CHECK(server.port() > 0);
  CHECK(server.url() == "nats://127.0.0.1:" + std::to_string(server.port()));
  CHECK(fs::exists(server.config_file()));
  CHECK(fs::exists(server.log_file()));

  std::string info = first_line_from(server.port());
  CHECK(info.rfind("INFO {", 0) == 0);
  CHECK(info.find("\"jetstream\":true") != std::string::npos);
}

TEST_CASE("Server without JetStream", "[testing]") {
  ServerOptions options;
  options.jetstream = false;
  Server server(options);

  std::string info = first_line_from(server.port());
  CHECK(info.rfind("INFO {", 0) == 0);
  CHECK(info.find("\"jetstream\":true") == std::string::npos);
}

TEST_CASE("Server monitoring port serves jsz", "[testing]") {
  Server server;

  CHECK(server.monitor_port() > 0);
  CHECK(server.monitor_port() != server.port());
  std::string jsz = server.monitor_get("/jsz");
  CHECK(jsz.find("\"config\"") != std::string::npos);
  CHECK(jsz.find(server.store_dir()) != std::string::npos);

  CHECK_THROWS_WITH(server.monitor_get("/no-such-endpoint"), Catch::Contains("404"));
}

TEST_CASE("Server restart keeps port and store", "[testing]") {
  Server server;
  int port = server.port();
  std::string store = server.store_dir();
  pid_t first_pid = server.pid();

  // A marker file represents JetStream data that must survive the restart.
  fs::create_directories(store);
  std::ofstream(fs::path(store) / "marker") << "kept";

  server.restart();

  CHECK(server.running());
  CHECK(server.pid() != first_pid);
  CHECK(server.port() == port);
  CHECK(server.store_dir() == store);
  CHECK(fs::exists(fs::path(store) / "marker"));
  CHECK(first_line_from(port).rfind("INFO {", 0) == 0);
}

TEST_CASE("Server kill then start", "[testing]") {
  Server server;
  int port = server.port();

  server.kill();
  CHECK_FALSE(server.running());
  CHECK(server.pid() == -1);
  CHECK(first_line_from(port).empty());

  server.start();
  CHECK(server.running());
  CHECK(first_line_from(port).rfind("INFO {", 0) == 0);

  CHECK_THROWS_AS(server.start(), std::logic_error);
}

TEST_CASE("Server stop then start", "[testing]") {
  Server server;
  server.stop();
  CHECK_FALSE(server.running());
  server.stop();  // a second stop is a no-op
  server.start();
  CHECK(server.running());
}

TEST_CASE("Server destructor removes temp dir", "[testing]") {
  fs::path temp_dir;
  pid_t pid = -1;
  {
    Server server;
    temp_dir = fs::path(server.config_file()).parent_path();
    pid = server.pid();
    CHECK(fs::is_directory(temp_dir));
    CHECK(fs::path(server.store_dir()).parent_path() == temp_dir);
  }
  CHECK_FALSE(fs::exists(temp_dir));
  CHECK(::kill(pid, 0) != 0);  // the process is gone (and reaped)
}

TEST_CASE("Server keeps a caller's store dir", "[testing]") {
  fs::path store = fs::temp_directory_path() / ("noesis-test-store-" + std::to_string(::getpid()));
  fs::remove_all(store);
  {
    ServerOptions options;
    options.store_dir = store.string();
    Server server(options);
    CHECK(server.store_dir() == store.string());
  }
  CHECK(fs::is_directory(store));
  fs::remove_all(store);
}

TEST_CASE("Server move keeps the process", "[testing]") {
  Server first;
  pid_t pid = first.pid();
  Server second(std::move(first));
  CHECK(second.pid() == pid);
  CHECK(second.running());
}

TEST_CASE("Server extra_config reaches the server", "[testing]") {
  ServerOptions options;
  options.extra_config = "max_payload: 4096";
  Server server(options);
  CHECK(first_line_from(server.port()).find("\"max_payload\":4096") != std::string::npos);
}

TEST_CASE("Server invalid config reports the log", "[testing]") {
  ServerOptions options;
  options.extra_config = "this is { not valid";
  options.ready_timeout = std::chrono::milliseconds{3000};
  std::string message = thrown_message([&] { Server server(options); });
  CHECK(message.find("before accepting clients") != std::string::npos);
  CHECK(message.find("Parse error") != std::string::npos);
}

TEST_CASE("Server bad NOESIS_NATS_SERVER path", "[testing]") {
  ScopedEnv binary("NOESIS_NATS_SERVER", "/nonexistent/nats-server");
  std::string message = thrown_message([] { Server server; });
  CHECK(message.find("NOESIS_NATS_SERVER='/nonexistent/nats-server'") != std::string::npos);
  CHECK(message.find("apt-get install nats-server") != std::string::npos);
}

TEST_CASE("Server binary missing from PATH", "[testing]") {
  ScopedEnv binary("NOESIS_NATS_SERVER", nullptr);
  ScopedEnv path("PATH", "/nonexistent");
  std::string message = thrown_message([] { Server server; });
  CHECK(message ==
        "nats-server not found on PATH; install the Debian package nats-server "
        "(apt-get install nats-server) or set NOESIS_NATS_SERVER to its path");
}

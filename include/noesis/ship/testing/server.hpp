// A private nats-server for tests: started on 127.0.0.1 and free ports, with JetStream and a
// temporary store directory, stopped and cleaned up by the destructor.
//
//   noesis::ship::testing::Server server;   // throws if nats-server is missing or never ready
//   connect_to(server.url());               // "nats://127.0.0.1:<port>"
//
// The binary is `nats-server` found on PATH, or the path in the environment variable
// NOESIS_NATS_SERVER. POSIX only (fork and exec).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace noesis::ship::testing {

// Start settings of a Server. The defaults give a standalone server with JetStream.
struct ServerOptions {
  // Enables JetStream with its file store in store_dir.
  bool jetstream = true;

  // Text appended to the generated configuration file, for example a `tls { ... }` or an
  // `authorization { ... }` block. Later settings override earlier ones in nats-server config.
  std::string extra_config;

  // Command-line arguments appended after `-c <config file>`; they override the config file.
  std::vector<std::string> extra_args;

  // Maximum time the constructor and start() wait for the server to accept clients.
  std::chrono::milliseconds ready_timeout{10000};

  // JetStream store directory. Empty: `jetstream/` inside the server's temporary directory,
  // removed at destruction. A directory given here is kept.
  std::string store_dir;

  // The `server_name` setting; empty lets nats-server generate one. JetStream clusters need
  // a unique name per node.
  std::string server_name;

  // Client port on 127.0.0.1; 0 picks a free port.
  int port = 0;

  // HTTP monitoring port on 127.0.0.1; 0 picks a free port.
  int monitor_port = 0;
};

// A nats-server child process with its own temporary directory. That directory contains the
// generated config file, the log file and (by default) the JetStream store.
//
// Movable, not copyable. A moved-from Server may only be destroyed or assigned to.
// The child gets SIGKILL when the thread that started it exits, so a crashed test leaves no
// server behind. NOTE: that signal follows the starting thread, not the process
// (PR_SET_PDEATHSIG on Linux), so start servers from a thread that lives as long as they do.
class Server {
 public:
  // Starts the server and waits until it accepts clients. Throws std::runtime_error when the
  // binary is not found, the process exits early, or it is not ready within ready_timeout.
  // The message then includes the last lines of the server's log.
  explicit Server(ServerOptions options = ServerOptions());

  // Stops the server (as stop()) and removes the temporary directory it created.
  ~Server();

  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "nats://127.0.0.1:<port>".
  std::string url() const;
  int port() const;
  int monitor_port() const;

  // The JetStream store directory, kept across restart() and start().
  const std::string& store_dir() const;
  const std::string& log_file() const;
  const std::string& config_file() const;

  // Process id of the running server; -1 when it is not running.
  pid_t pid() const;

  // Whether the process is alive. Reaps it if it exited on its own.
  bool running() const;

  // Sends SIGTERM and waits up to 5 s for the process to exit, then sends SIGKILL.
  // A no-op when the server is not running.
  void stop();

  // Sends SIGKILL and reaps the process, simulating a crash. A no-op when not running.
  void kill();

  // Starts the server again on the same ports with the same store directory and waits until
  // it accepts clients. Throws std::logic_error if it is already running, and
  // std::runtime_error as the constructor does.
  void start();

  // stop() followed by start().
  void restart();

  // Sends `GET <path>` to the monitoring port and returns the response body, for example
  // monitor_get("/jsz") or monitor_get("/varz"). Throws std::runtime_error when the request
  // fails, times out or returns a status other than 200.
  std::string monitor_get(const std::string& path,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds{2000}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace noesis::ship::testing

// The nats-server launcher behind noesis::ship::testing::Server: fork and exec without a shell,
// readiness by reading the server's first INFO line, and a small HTTP/1.0 GET for monitoring.
#include "noesis/ship/testing/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace noesis::ship::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* binary_env = "NOESIS_NATS_SERVER";
constexpr const char* install_hint =
    "install the Debian package nats-server (apt-get install nats-server) or set "
    "NOESIS_NATS_SERVER to its path";

// Thrown when the server exits because a port chosen as free was taken before it could bind.
class PortInUse : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::system_error os_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

bool is_executable_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// Resolves the nats-server binary: NOESIS_NATS_SERVER when set and non-empty, else PATH.
std::string find_binary() {
  if (const char* configured = std::getenv(binary_env); configured && *configured) {
    if (!is_executable_file(configured)) {
      throw std::runtime_error(std::string("nats-server not found: ") + binary_env + "='" +
                               configured + "' is not an executable file; " + install_hint);
    }
    return configured;
  }

  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    // An empty PATH entry means the current directory. Not assigned to `dir`: GCC 12 at -O3
    // reports that assignment as a false -Wrestrict.
    const fs::path base = dir.empty() ? fs::path(".") : fs::path(dir);
    std::string candidate = (base / "nats-server").string();
    if (is_executable_file(candidate)) return candidate;
  }
  throw std::runtime_error(std::string("nats-server not found on PATH; ") + install_hint);
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

Fd connect_loopback(int port) {
  Fd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket_fd) throw os_error("socket() failed");
  sockaddr_in address = loopback(port);
  if (::connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return Fd();
  }
  return socket_fd;
}

struct ReadResult {
  std::string data;
  bool closed = false;  // the peer closed the connection (or it failed)
};

// Reads from `fd` until `done(data)` holds, the peer closes, or `deadline` passes.
template <typename Done>
ReadResult read_until(int fd, Clock::time_point deadline, Done done) {
  ReadResult result;
  std::string& data = result.data;
  std::array<char, 4096> buffer{};
  while (!done(data)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    pollfd entry{fd, POLLIN, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result.closed = true;
      break;
    }
    data.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return result;
}

// Whether a client connection to 127.0.0.1:port receives the `INFO {` line that a NATS server
// sends before anything else.
bool accepts_clients(int port, std::chrono::milliseconds timeout) {
  Fd socket_fd = connect_loopback(port);
  if (!socket_fd) return false;
  auto first_line = read_until(socket_fd.get(), Clock::now() + timeout, [](const std::string& data) {
    return data.find('\n') != std::string::npos;
  });
  return first_line.data.rfind("INFO {", 0) == 0;
}

// Finds `count` distinct free TCP ports on 127.0.0.1 by binding port 0. The sockets stay open
// until all are chosen so the ports differ. NOTE: another process may take a port between this
// check and the server's bind; the constructor retries that case.
std::vector<int> free_ports(std::size_t count) {
  std::vector<Fd> sockets;
  std::vector<int> ports;
  for (std::size_t i = 0; i < count; ++i) {
    Fd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket_fd) throw os_error("socket() failed");
    sockaddr_in address = loopback(0);
    if (::bind(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw os_error("bind() to 127.0.0.1:0 failed");
    }
    socklen_t length = sizeof address;
    if (::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw os_error("getsockname() failed");
    }
    ports.push_back(ntohs(address.sin_port));
    sockets.push_back(std::move(socket_fd));
  }
  return ports;
}

// The last `max_lines` lines of a text file; empty when it cannot be read.
std::string tail(const std::string& path, std::size_t max_lines) {
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

// A double-quoted string for the nats-server config format.
std::string quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "noesis-nats-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw os_error("mkdtemp('" + pattern + "') failed");
  }
  return pattern;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::string binary;
  std::string temp_dir;
  std::string store_dir;
  std::string log_file;
  std::string output_file;  // stdout and stderr, which hold errors from before the log opens
  std::string config_file;
  int port = 0;
  int monitor_port = 0;
  pid_t pid = -1;

  explicit Impl(ServerOptions opts) : options(std::move(opts)) {
    binary = find_binary();
    temp_dir = make_temp_dir();
    store_dir = options.store_dir.empty() ? (fs::path(temp_dir) / "jetstream").string()
                                          : options.store_dir;
    log_file = (fs::path(temp_dir) / "nats-server.log").string();
    output_file = (fs::path(temp_dir) / "nats-server.out").string();
    config_file = (fs::path(temp_dir) / "nats-server.conf").string();
  }

  ~Impl() {
    terminate();
    std::error_code ignored;
    fs::remove_all(temp_dir, ignored);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // First start: picks free ports, retrying a few times if one was taken before the bind.
  void launch() {
    constexpr int max_attempts = 3;
    for (int attempt = 1;; ++attempt) {
      std::vector<int> ports = free_ports(2);
      port = options.port != 0 ? options.port : ports[0];
      monitor_port = options.monitor_port != 0 ? options.monitor_port : ports[1];
      write_config();
      try {
        start();
        return;
      } catch (const PortInUse&) {
        bool chosen_here = options.port == 0 || options.monitor_port == 0;
        if (!chosen_here || attempt == max_attempts) throw;
      }
    }
  }

  void write_config() const {
    std::ofstream out(config_file, std::ios::trunc);
    out << "# Generated by noesis::ship::testing::Server.\n"
        << "listen: " << quoted("127.0.0.1:" + std::to_string(port)) << "\n"
        << "http: " << quoted("127.0.0.1:" + std::to_string(monitor_port)) << "\n"
        << "log_file: " << quoted(log_file) << "\n"
        << "logtime: true\n";
    if (!options.server_name.empty()) out << "server_name: " << quoted(options.server_name) << "\n";
    if (options.jetstream) out << "jetstream {\n  store_dir: " << quoted(store_dir) << "\n}\n";
    if (!options.extra_config.empty()) out << "\n" << options.extra_config << "\n";
    out.close();
    if (!out) throw std::runtime_error("writing the nats-server config '" + config_file + "' failed");
  }

  void start() {
    if (running()) {
      throw std::logic_error("nats-server on port " + std::to_string(port) + " is already running");
    }
    spawn();
    wait_ready();
  }

  void spawn() {
    // Everything the child needs is prepared here: between fork and exec it may only make
    // async-signal-safe calls, because other threads of the test may hold locks.
    std::vector<std::string> args{binary, "-c", config_file};
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    Fd output(::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!output) throw os_error("opening '" + output_file + "' failed");
    Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_input) throw os_error("opening /dev/null failed");

    // The child writes its errno here if exec fails; a successful exec closes the pipe.
    std::array<int, 2> pipe_fds{};
    if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) throw os_error("pipe2() failed");
    Fd exec_error_read(pipe_fds[0]);
    Fd exec_error_write(pipe_fds[1]);

    pid_t parent = ::getpid();
    pid_t child = ::fork();
    if (child < 0) throw os_error("fork() failed");
    if (child == 0) {
      run_child(parent, argv.data(), output.get(), null_input.get(), exec_error_write.get());
    }

    pid = child;
    exec_error_write.reset();
    int child_errno = 0;
    ssize_t n;
    do {
      n = ::read(exec_error_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
      reap_blocking();
      throw std::runtime_error("executing '" + binary + "' failed: " +
                               std::generic_category().message(child_errno));
    }
  }

  [[noreturn]] static void run_child(pid_t parent, char** argv, int output, int input,
                                     int exec_error) {
    // SIGKILL when the parent dies, so a crashed test leaves no server; the getppid() check
    // covers a parent that died before prctl() ran.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);

    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    ::dup2(input, STDIN_FILENO);
    ::dup2(output, STDOUT_FILENO);
    ::dup2(output, STDERR_FILENO);
    // Descriptors the test process opened (sockets of other clients) must not leak into the
    // server; marking them close-on-exec keeps exec_error open until exec succeeds.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

    ::execv(argv[0], argv);
    int error = errno;
    [[maybe_unused]] ssize_t written = ::write(exec_error, &error, sizeof error);
    ::_exit(127);
  }

  void wait_ready() {
    auto deadline = Clock::now() + options.ready_timeout;
    while (true) {
      int status = 0;
      if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        std::string logs = recent_logs();
        std::string message = "nats-server on 127.0.0.1:" + std::to_string(port) + " " +
                              describe_exit(status) + " before accepting clients; " + logs;
        if (logs.find("address already in use") != std::string::npos) throw PortInUse(message);
        throw std::runtime_error(message);
      }
      if (accepts_clients(port, 250ms)) return;
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(20ms);
    }
    terminate();
    throw std::runtime_error("nats-server on 127.0.0.1:" + std::to_string(port) +
                             " did not accept clients within " +
                             std::to_string(options.ready_timeout.count()) + " ms; " + recent_logs());
  }

  // The config path and the tails of the log and of stdout/stderr, for error messages: the
  // files themselves disappear with the temporary directory.
  std::string recent_logs() const {
    std::string text = "config file " + config_file;
    for (const auto& file : {log_file, output_file}) {
      std::string lines = tail(file, 20);
      if (!lines.empty()) text += "\nlast lines of " + file + ":\n" + lines;
    }
    return text;
  }

  bool running() {
    if (pid <= 0) return false;
    int status = 0;
    pid_t result = ::waitpid(pid, &status, WNOHANG);
    if (result == 0) return true;
    pid = -1;  // exited (now reaped) or no longer our child
    return false;
  }

  void reap_blocking() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }

  void terminate(std::chrono::milliseconds grace = 5000ms) {
    if (!running()) return;
    ::kill(pid, SIGTERM);
    auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline) {
      if (!running()) return;
      std::this_thread::sleep_for(10ms);
    }
    kill();
  }

  void kill() {
    if (!running()) return;
    ::kill(pid, SIGKILL);
    reap_blocking();
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  // If launch() throws, impl_ is already constructed, so its destructor stops the process
  // and removes the temporary directory.
  impl_->launch();
}

Server::~Server() = default;
Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&&) noexcept = default;

std::string Server::url() const { return "nats://127.0.0.1:" + std::to_string(impl_->port); }
int Server::port() const { return impl_->port; }
int Server::monitor_port() const { return impl_->monitor_port; }
const std::string& Server::store_dir() const { return impl_->store_dir; }
const std::string& Server::log_file() const { return impl_->log_file; }
const std::string& Server::config_file() const { return impl_->config_file; }
pid_t Server::pid() const { return impl_->running() ? impl_->pid : -1; }
bool Server::running() const { return impl_->running(); }
void Server::stop() { impl_->terminate(); }
void Server::kill() { impl_->kill(); }
void Server::start() { impl_->start(); }

void Server::restart() {
  impl_->terminate();
  impl_->start();
}

std::string Server::monitor_get(const std::string& path, std::chrono::milliseconds timeout) const {
  std::string target = "http://127.0.0.1:" + std::to_string(impl_->monitor_port) + path;
  auto deadline = Clock::now() + timeout;

  Fd socket_fd = connect_loopback(impl_->monitor_port);
  if (!socket_fd) throw std::runtime_error("GET " + target + " failed: connection refused");

  // HTTP/1.0 with Connection: close, so the body is not chunked and ends when the server
  // closes the connection.
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(socket_fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("GET " + target + " failed: " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }

  auto [response, closed] = read_until(socket_fd.get(), deadline, [](const std::string&) {
    return false;
  });
  if (!closed) {
    throw std::runtime_error("GET " + target + " timed out after " +
                             std::to_string(timeout.count()) + " ms");
  }

  auto status_end = response.find("\r\n");
  std::string status_line = response.substr(0, status_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.find(" 200") == std::string::npos) {
    throw std::runtime_error("GET " + target + " failed: '" + status_line + "'");
  }
  auto body_start = response.find("\r\n\r\n");
  return body_start == std::string::npos ? std::string() : response.substr(body_start + 4);
}

}  // namespace noesis::ship::testing

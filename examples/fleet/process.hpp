// Child processes of the fleet demo: this program started again in a worker role, and stopped
// and reaped however the steps ended.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

extern char** environ;

namespace fleet {

// Starts `program` with `args` (args[0] is the process name) and the current environment, and
// returns its pid. Throws std::runtime_error when posix_spawn fails.
inline pid_t spawn_program(const std::string& program, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) throw std::runtime_error(fmt::format("starting {} failed: {}", program, std::strerror(rc)));
  return pid;
}

// Returns the wait status once the child `pid` has exited, reaping it, or std::nullopt while it
// runs. A pid that is no longer our child (already reaped) counts as exited with status 0.
inline std::optional<int> poll_exit(pid_t pid) {
  int status = 0;
  const pid_t done = ::waitpid(pid, &status, WNOHANG);
  if (done == pid) return status;
  if (done < 0 && errno == ECHILD) return 0;
  return std::nullopt;
}

// Sends SIGTERM to the child `pid`, waits up to `grace` for it to exit, then sends SIGKILL, and
// reaps it. Blocks the calling thread, so it suits clean-up after the io_context has stopped.
inline void stop_and_reap(pid_t pid, std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto give_up_at = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < give_up_at) {
    if (poll_exit(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace fleet

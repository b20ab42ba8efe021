// A program that ends its connection with drain() or close() and returns from main() exits
// promptly. Each case starts a helper process many times, because the fault it guards against
// is a race. The library's blocking pool released the last reference to the connection while
// static destructors ran, and the process hung in exit in about one run of ten.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace {

constexpr int runs_per_case = 25;
constexpr auto exit_deadline = std::chrono::seconds(20);  // generous: a loaded CI machine

struct RunResult {
  bool exited = false;  // false: still running at the deadline, then killed
  int status = -1;      // the exit status when it exited normally
};

// Starts the helper with `mode` and waits until it exits or the deadline passes.
RunResult run_helper(const std::string& mode, const std::string& url) {
  std::vector<std::string> args = {NOESIS_EXIT_HELPER_PATH, mode, url};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) FAIL("posix_spawn failed");

  RunResult result;
  const auto stop_at = std::chrono::steady_clock::now() + exit_deadline;
  int status = 0;
  while (std::chrono::steady_clock::now() < stop_at) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      result.exited = WIFEXITED(status);
      result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return result;
}

}  // namespace

TEST_CASE("process exits promptly after drain") {
  const std::string url = noesis::ship::test::shared_server().url();
  for (int i = 0; i < runs_per_case; ++i) {
    const RunResult result = run_helper("drain", url);
    INFO("run " << i);
    REQUIRE(result.exited);
    REQUIRE(result.status == 0);
  }
}

TEST_CASE("process exits cleanly when it stops its io_context after drain") {
  const std::string url = noesis::ship::test::shared_server().url();
  for (int i = 0; i < runs_per_case; ++i) {
    const RunResult result = run_helper("drain-stop", url);
    INFO("run " << i);
    REQUIRE(result.exited);
    REQUIRE(result.status == 0);
  }
}

TEST_CASE("process exits promptly after close") {
  const std::string url = noesis::ship::test::shared_server().url();
  for (int i = 0; i < runs_per_case; ++i) {
    const RunResult result = run_helper("close", url);
    INFO("run " << i);
    REQUIRE(result.exited);
    REQUIRE(result.status == 0);
  }
}

// The fleet demo's step runner: a list of named coroutines run one after another, each with a
// time limit, printed as one line per step and a summary table at the end.
//
// A step's body returns a one-line description of what happened ("agent-2 answered ping from
// agent-1 in 0.4 ms") and throws to fail. Every step runs even when an earlier one failed, so
// the summary shows the whole picture; a step that needs an earlier result fails quickly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace fleet {

struct Step {
  std::string name;
  std::function<asio::awaitable<std::string>()> body;
  std::chrono::milliseconds time_limit{10000};
};

struct StepOutcome {
  std::string name;
  bool passed = false;
  std::string detail;  // the body's description, or the failure
  std::chrono::duration<double, std::milli> elapsed{};
};

class StepRunner {
 public:
  void add(std::string name, std::function<asio::awaitable<std::string>()> body,
           std::chrono::milliseconds time_limit = std::chrono::milliseconds(10000)) {
    steps_.push_back(Step{std::move(name), std::move(body), time_limit});
  }

  // Runs every step in order, printing one line each. Returns true when all passed.
  asio::awaitable<bool> run_all() {
    bool all_passed = true;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
      StepOutcome outcome = co_await run_one(steps_[i]);
      fmt::print("[step {}] {} {}: {} ({:.1f} ms)\n", i + 1, outcome.passed ? "ok  " : "FAIL", outcome.name,
                 outcome.detail, outcome.elapsed.count());
      std::fflush(stdout);  // keeps the order when a worker process shares stdout
      all_passed = all_passed && outcome.passed;
      outcomes_.push_back(std::move(outcome));
    }
    co_return all_passed;
  }

  void print_summary() const {
    std::size_t width = 4;
    for (const auto& outcome : outcomes_) width = std::max(width, outcome.name.size());
    std::size_t passed = 0;
    fmt::print("\n{:>3}  {:<{}}  {:<6}  {:>10}\n", "#", "step", width, "result", "time");
    for (std::size_t i = 0; i < outcomes_.size(); ++i) {
      const auto& outcome = outcomes_[i];
      if (outcome.passed) ++passed;
      fmt::print("{:>3}  {:<{}}  {:<6}  {:>7.1f} ms\n", i + 1, outcome.name, width,
                 outcome.passed ? "passed" : "FAILED", outcome.elapsed.count());
    }
    fmt::print("{} passed, {} failed\n", passed, outcomes_.size() - passed);
  }

 private:
  // Runs the body and turns its exception into a failed outcome. The time limit below uses
  // awaitable operator ||, which waits for the first operation that succeeds, so a body that
  // throws must still complete normally or the step would wait for its time limit.
  static asio::awaitable<StepOutcome> run_body(const Step& step) {
    StepOutcome outcome;
    outcome.name = step.name;
    try {
      std::string detail = co_await step.body();
      outcome.passed = true;
      outcome.detail = std::move(detail);
    } catch (const std::exception& e) {
      outcome.detail = e.what();
    }
    co_return outcome;
  }

  static asio::awaitable<StepOutcome> run_one(const Step& step) {
    using namespace asio::experimental::awaitable_operators;
    const auto started = std::chrono::steady_clock::now();
    asio::steady_timer limit(co_await asio::this_coro::executor, step.time_limit);
    auto result = co_await (run_body(step) || limit.async_wait(asio::use_awaitable));

    StepOutcome outcome;
    if (auto* finished = std::get_if<0>(&result)) {
      outcome = std::move(*finished);
    } else {
      outcome.name = step.name;
      outcome.detail = fmt::format("timed out after {} ms", step.time_limit.count());
    }
    outcome.elapsed = std::chrono::steady_clock::now() - started;
    co_return outcome;
  }

  std::vector<Step> steps_;
  std::vector<StepOutcome> outcomes_;
};

}  // namespace fleet

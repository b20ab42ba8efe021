// Shared pieces of noesis_bench: settings, result rows, timing, RSS and raw cnats helpers.
//
// Every figure measures the library and a raw cnats program doing the same work in the same
// process, against the same server, alternating run by run, and reports medians.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/awaitable.hpp>

#include <nats/nats.h>

namespace noesis::bench {

using clock_type = std::chrono::steady_clock;

struct Settings {
  std::string url;          // server every figure talks to
  int runs = 3;             // runs per side; the table shows medians
  bool quick = false;       // small counts, for CI
  bool big = false;         // also run the 1 GiB object figure
  std::string self_path;    // this executable, for the child process of the 1 GiB figure

  // The full-size count, or the small one with --quick.
  std::size_t count(std::size_t full, std::size_t quick_count) const { return quick ? quick_count : full; }
};

// The direction in which a ratio must meet its target.
enum class Goal { at_least, at_most, none };

// One line of the table.
struct Row {
  std::string figure;
  std::string library;      // the library's median, formatted with its unit
  std::string baseline;     // the raw cnats median, formatted ("-" when there is none)
  double ratio = 0;         // library / baseline, or a figure's own value when Goal::none
  std::string ratio_text;   // formatted ratio; empty: printed from `ratio`
  Goal goal = Goal::none;
  double target = 0;
  std::string target_text;  // the target as printed, e.g. ">= 0.95"
  bool pending = false;     // not measured yet (a block that is missing)
  bool failed = false;      // the figure threw; the run exits non-zero
  std::string note;

  bool met() const {
    switch (goal) {
      case Goal::at_least: return ratio >= target;
      case Goal::at_most: return ratio <= target;
      case Goal::none: return true;
    }
    return true;
  }
};

// A figure appends its rows; an exception from it marks the whole run as failed.
using Figure = std::function<void(const Settings&, std::vector<Row>&)>;

double median(std::vector<double> values);
double percentile(std::vector<double> values, double fraction);
double seconds_since(clock_type::time_point start);

std::string format_rate(double per_second, const char* unit);  // "612.3k msg/s"
std::string format_micros(double micros);                      // "251 µs"
std::string format_bytes(double bytes);                        // "12.3 MiB"

// Resident set size of this process now, in bytes (from /proc/self/statm).
std::size_t current_rss();

// A 128-byte payload (or `size` bytes) of printable characters.
std::string payload(std::size_t size = 128);

// Runs `make()` (returning asio::awaitable<void>) on a fresh single-threaded io_context until
// it finishes and rethrows its exception. Throws when the run exceeds `deadline`.
void run_coroutine(const std::function<asio::awaitable<void>()>& make,
                   std::chrono::seconds deadline = std::chrono::seconds(300));

// Throws std::runtime_error naming `what` when `status` is not NATS_OK.
void check(natsStatus status, const std::string& what);

// Raw cnats ownership, so a failing baseline leaks nothing.
struct NatsConnectionDeleter {
  void operator()(natsConnection* nc) const noexcept { natsConnection_Destroy(nc); }
};
struct NatsSubscriptionDeleter {
  void operator()(natsSubscription* sub) const noexcept { natsSubscription_Destroy(sub); }
};
struct NatsMsgDeleter {
  void operator()(natsMsg* msg) const noexcept { natsMsg_Destroy(msg); }
};
struct JsCtxDeleter {
  void operator()(jsCtx* js) const noexcept { jsCtx_Destroy(js); }
};
using RawConnection = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using RawSubscription = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using RawMsg = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using RawJs = std::unique_ptr<jsCtx, JsCtxDeleter>;

// A raw cnats connection to `url`; `send_asap` writes every publish at once.
RawConnection raw_connect(const std::string& url, bool send_asap);

// Replies to every request on `subject` with its own payload from a send-asap cnats connection,
// which writes each reply at once, until destroyed. A non-empty `queue_group` subscribes in that
// queue group.
class RawEchoResponder {
 public:
  RawEchoResponder(const std::string& url, const std::string& subject, const std::string& queue_group = "");

 private:
  static void on_request(natsConnection* nc, natsSubscription*, natsMsg* msg, void*);
  RawConnection connection_;
  RawSubscription subscription_;
};

// The figures, one function each (bench/*.cpp).
void figure_core_publish(const Settings&, std::vector<Row>&);
void figure_core_receive(const Settings&, std::vector<Row>&);
void figure_request_sequential(const Settings&, std::vector<Row>&);
void figure_request_concurrent(const Settings&, std::vector<Row>&);
void figure_jetstream_publish(const Settings&, std::vector<Row>&);
void figure_kv(const Settings&, std::vector<Row>&);
void figure_object_store(const Settings&, std::vector<Row>&);
void figure_object_big(const Settings&, std::vector<Row>&);
void figure_memory(const Settings&, std::vector<Row>&);
void figure_service(const Settings&, std::vector<Row>&);

// The child side of figure_object_big: put_file then get_to_file of `path`; returns the exit code.
int run_object_big_child(const std::string& url, const std::string& path);

}  // namespace noesis::bench

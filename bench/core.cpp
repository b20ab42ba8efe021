// Core NATS figures: publish, receive, request-reply (one at a time and 100 in flight).
#include <atomic>
#include <cstdio>
#include <thread>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <noesis/ship/connection.hpp>

#include "bench.hpp"

namespace noesis::bench {
namespace {

using ship::Connection;
using ship::Message;
using ship::NatsConfig;

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Publishes `count` messages from a raw default cnats connection on its own thread, as the
// common source of the receive figures, then flushes.
class RawPublisher {
 public:
  RawPublisher(const std::string& url, std::string subject) : connection_(raw_connect(url, false)), subject_(std::move(subject)) {}

  void start(std::size_t count) {
    thread_ = std::thread([this, count] {
      const std::string data = payload();
      for (std::size_t i = 0; i < count; ++i) {
        if (natsConnection_Publish(connection_.get(), subject_.c_str(), data.data(), static_cast<int>(data.size())) !=
            NATS_OK) {
          failed_ = true;
          return;
        }
      }
      if (natsConnection_FlushTimeout(connection_.get(), 60000) != NATS_OK) failed_ = true;
    });
  }

  void join() {
    if (thread_.joinable()) thread_.join();
    if (failed_) throw std::runtime_error("the raw publisher of the receive figure failed");
  }

  ~RawPublisher() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  RawConnection connection_;
  std::string subject_;
  std::thread thread_;
  std::atomic<bool> failed_{false};
};

// Waits until `received` reaches `count`, failing when nothing arrives for 10 s.
void wait_for_count(const std::atomic<std::size_t>& received, std::size_t count, const char* what) {
  std::size_t last = 0;
  auto last_progress = clock_type::now();
  while (received.load() < count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const std::size_t now = received.load();
    if (now != last) {
      last = now;
      last_progress = clock_type::now();
    } else if (seconds_since(last_progress) > 10) {
      throw std::runtime_error(std::string(what) + ": stalled at " + std::to_string(now) + " of " +
                               std::to_string(count) + " messages");
    }
  }
}

struct RawCounter {
  std::atomic<std::size_t> received{0};
  std::size_t count = 0;
  clock_type::time_point last;

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<RawCounter*>(closure);
    natsMsg_Destroy(msg);
    if (self->received.load(std::memory_order_relaxed) + 1 == self->count) self->last = clock_type::now();
    self->received.fetch_add(1, std::memory_order_release);
  }
};

double raw_receive_rate(const Settings& s, std::size_t count) {
  RawConnection nc = raw_connect(s.url, false);
  RawCounter counter;
  counter.count = count;
  natsSubscription* raw_sub = nullptr;
  check(natsConnection_Subscribe(&raw_sub, nc.get(), "bench.receive", &RawCounter::on_message, &counter),
        "raw subscribe");
  RawSubscription sub(raw_sub);
  natsSubscription_SetPendingLimits(raw_sub, -1, -1);
  check(natsConnection_Flush(nc.get()), "raw flush");
  RawPublisher publisher(s.url, "bench.receive");
  const auto start = clock_type::now();
  publisher.start(count);
  wait_for_count(counter.received, count, "raw receive");
  publisher.join();
  return static_cast<double>(count) / std::chrono::duration<double>(counter.last - start).count();
}

// Library side, async stream: next_batch until every message arrived.
double library_stream_rate(const Settings& s, std::size_t count) {
  double rate = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    ship::SubscribeOptions options;
    options.max_pending = count + 1;
    ship::Subscription sub = conn.subscribe("bench.receive", options);
    co_await conn.flush();
    RawPublisher publisher(s.url, "bench.receive");
    const auto start = clock_type::now();
    publisher.start(count);
    std::size_t received = 0;
    while (received < count) {
      std::vector<Message> batch = co_await sub.next_batch(1024);
      received += batch.size();
    }
    rate = static_cast<double>(count) / seconds_since(start);
    publisher.join();
    if (sub.dropped() != 0) throw std::runtime_error("library receive dropped messages");
    conn.close();
  });
  return rate;
}

// Library side, coroutine handler: a handler per message; the run polls for the last one.
double library_handler_rate(const Settings& s, std::size_t count) {
  double rate = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    std::size_t received = 0;
    clock_type::time_point last;
    ship::SubscribeOptions options;
    options.max_pending = count + 1;
    // The parameter is named: GCC 12 double-destroys an unnamed by-value coroutine parameter.
    auto handler = [&received, &last, count](Message msg) -> asio::awaitable<void> {
      if (!msg.empty() && ++received == count) last = clock_type::now();
      co_return;
    };
    ship::Subscription sub = conn.subscribe("bench.receive", handler, options);
    co_await conn.flush();
    RawPublisher publisher(s.url, "bench.receive");
    const auto start = clock_type::now();
    publisher.start(count);
    std::size_t seen = 0;
    auto last_progress = clock_type::now();
    while (received < count) {
      co_await pause(std::chrono::milliseconds(5));
      if (received != seen) {
        seen = received;
        last_progress = clock_type::now();
      } else if (seconds_since(last_progress) > 10) {
        throw std::runtime_error("library handler receive stalled at " + std::to_string(received) + " messages");
      }
    }
    rate = static_cast<double>(count) / std::chrono::duration<double>(last - start).count();
    publisher.join();
    sub.unsubscribe();
    conn.close();
  });
  return rate;
}

// p50 and p99 of `count` sequential requests, in microseconds.
struct Latency {
  double p50 = 0;
  double p99 = 0;
  double per_second = 0;
};

Latency raw_request_latency(const RawConnection& nc, const std::string& data, std::size_t count) {
  std::vector<double> micros;
  micros.reserve(count);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) {
    natsMsg* reply = nullptr;
    const auto sent = clock_type::now();
    check(natsConnection_Request(&reply, nc.get(), "bench.echo", data.data(), static_cast<int>(data.size()), 5000),
          "raw request");
    micros.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - sent).count());
    natsMsg_Destroy(reply);
  }
  const double elapsed = seconds_since(start);
  return {percentile(micros, 0.5), percentile(micros, 0.99), static_cast<double>(count) / elapsed};
}

Latency library_request_latency(const Settings& s, const std::string& data, std::size_t count) {
  Latency result;
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    for (int i = 0; i < 50; ++i) {  // warm-up: first requests set up the reply path
      Message warm = co_await conn.request("bench.echo", data);
    }
    std::vector<double> micros;
    micros.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const auto sent = clock_type::now();
      Message reply = co_await conn.request("bench.echo", data);
      micros.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - sent).count());
      if (reply.data().size() != data.size()) throw std::runtime_error("library request: wrong reply");
    }
    result.p50 = percentile(micros, 0.5);
    result.p99 = percentile(micros, 0.99);
    conn.close();
  });
  return result;
}

// `in_flight` coroutines on one thread share `count` requests; returns requests per second.
double library_request_throughput(const Settings& s, const std::string& data, std::size_t count,
                                  std::size_t in_flight) {
  double rate = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    Connection conn(executor, NatsConfig(s.url));
    co_await conn.connect();
    Message warm = co_await conn.request("bench.echo", data);
    std::size_t next = 0;
    std::size_t finished_workers = 0;
    std::exception_ptr failure;
    clock_type::time_point last;
    const auto start = clock_type::now();
    for (std::size_t w = 0; w < in_flight; ++w) {
      asio::co_spawn(
          executor,
          [&]() -> asio::awaitable<void> {
            while (next < count) {
              ++next;
              Message reply = co_await conn.request("bench.echo", data);
            }
          },
          [&](std::exception_ptr e) {
            if (e && !failure) failure = e;
            if (++finished_workers == in_flight) last = clock_type::now();
          });
    }
    while (finished_workers < in_flight) co_await pause(std::chrono::milliseconds(2));
    if (failure) std::rethrow_exception(failure);
    rate = static_cast<double>(count) / std::chrono::duration<double>(last - start).count();
    conn.close();
  });
  return rate;
}

double library_publish_rate(const Settings& s, const std::string& data, std::size_t count) {
  double rate = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < count; ++i) conn.publish("bench.publish", data);
    co_await conn.flush();
    rate = static_cast<double>(count) / seconds_since(start);
    conn.close();
  });
  return rate;
}

double raw_publish_rate(const Settings& s, const std::string& data, std::size_t count) {
  RawConnection nc = raw_connect(s.url, false);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) {
    check(natsConnection_Publish(nc.get(), "bench.publish", data.data(), static_cast<int>(data.size())), "raw publish");
  }
  check(natsConnection_FlushTimeout(nc.get(), 60000), "raw flush");
  return static_cast<double>(count) / seconds_since(start);
}

Row ratio_row(std::string figure, double library, double baseline, const char* unit, Goal goal, double target,
              std::string target_text) {
  Row row;
  row.figure = std::move(figure);
  row.library = format_rate(library, unit);
  row.baseline = format_rate(baseline, unit);
  row.ratio = baseline > 0 ? library / baseline : 0;
  row.goal = goal;
  row.target = target;
  row.target_text = std::move(target_text);
  return row;
}

}  // namespace

void figure_core_publish(const Settings& s, std::vector<Row>& rows) {
  const std::size_t count = s.count(1'000'000, 50'000);
  const std::string data = payload();
  std::vector<double> library;
  std::vector<double> raw;
  for (int run = 0; run < s.runs; ++run) {
    raw.push_back(raw_publish_rate(s, data, count));
    library.push_back(library_publish_rate(s, data, count));
  }
  rows.push_back(ratio_row("core publish, " + std::to_string(count) + " msgs", median(library), median(raw), "msg/s",
                           Goal::at_least, 0.95, ">= 0.95"));
}

void figure_core_receive(const Settings& s, std::vector<Row>& rows) {
  const std::size_t count = s.count(1'000'000, 50'000);
  std::vector<double> stream;
  std::vector<double> handler;
  std::vector<double> raw;
  for (int run = 0; run < s.runs; ++run) {
    std::fprintf(stderr, "  receive run %d: raw callback\n", run + 1);
    raw.push_back(raw_receive_rate(s, count));
    std::fprintf(stderr, "  receive run %d: library next_batch\n", run + 1);
    stream.push_back(library_stream_rate(s, count));
    std::fprintf(stderr, "  receive run %d: library coroutine handler\n", run + 1);
    handler.push_back(library_handler_rate(s, count));
  }
  rows.push_back(ratio_row("core receive, next_batch, " + std::to_string(count) + " msgs", median(stream),
                           median(raw), "msg/s", Goal::at_least, 0.90, ">= 0.90"));
  rows.push_back(ratio_row("core receive, coroutine handler", median(handler), median(raw), "msg/s", Goal::at_least,
                           0.90, ">= 0.90"));
}

void figure_request_sequential(const Settings& s, std::vector<Row>& rows) {
  const std::size_t count = s.count(5'000, 300);
  const std::string data = payload();
  RawEchoResponder responder(s.url, "bench.echo");
  RawConnection nc = raw_connect(s.url, false);
  raw_request_latency(nc, data, 50);  // warm-up
  std::vector<double> library_p50;
  std::vector<double> library_p99;
  std::vector<double> raw_p50;
  std::vector<double> raw_p99;
  for (int run = 0; run < s.runs; ++run) {
    const Latency raw = raw_request_latency(nc, data, count);
    raw_p50.push_back(raw.p50);
    raw_p99.push_back(raw.p99);
    const Latency library = library_request_latency(s, data, count);
    library_p50.push_back(library.p50);
    library_p99.push_back(library.p99);
  }
  Row row;
  row.figure = "request-reply, one at a time (p50)";
  row.library = format_micros(median(library_p50));
  row.baseline = format_micros(median(raw_p50));
  row.ratio = median(library_p50) / median(raw_p50);
  row.goal = Goal::at_most;
  row.target = 1.10;
  row.target_text = "<= 1.10";
  row.note = "p99 " + format_micros(median(library_p99)) + " vs " + format_micros(median(raw_p99));
  rows.push_back(row);
}

void figure_request_concurrent(const Settings& s, std::vector<Row>& rows) {
  const std::size_t library_count = s.count(100'000, 3'000);
  const std::size_t raw_count = s.count(10'000, 300);
  const std::string data = payload();
  RawEchoResponder responder(s.url, "bench.echo");
  RawConnection nc = raw_connect(s.url, false);
  raw_request_latency(nc, data, 50);
  std::vector<double> library;
  std::vector<double> raw;
  for (int run = 0; run < s.runs; ++run) {
    raw.push_back(raw_request_latency(nc, data, raw_count).per_second);
    library.push_back(library_request_throughput(s, data, library_count, 100));
  }
  rows.push_back(ratio_row("request-reply, 100 in flight vs sequential", median(library), median(raw), "req/s",
                           Goal::at_least, 10, ">= 10"));
}

void figure_memory(const Settings& s, std::vector<Row>& rows) {
  // A raw connection first, so cnats's one-time initialisation is not counted below.
  {
    RawConnection warm = raw_connect(s.url, false);
  }
  std::size_t idle_library = 0;
  std::size_t idle_raw = 0;
  {
    const std::size_t before = current_rss();
    RawConnection nc = raw_connect(s.url, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    idle_raw = current_rss() - before;
  }
  const std::size_t count = s.count(1'000'000, 50'000);
  const std::size_t window = 10'000;  // messages the publisher may run ahead of the consumer
  std::size_t warm_rss = 0;
  std::size_t end_rss = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    const std::size_t before = current_rss();
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    co_await pause(std::chrono::milliseconds(300));
    idle_library = current_rss() - before;

    ship::Subscription sub = conn.subscribe("bench.memory");
    co_await conn.flush();
    RawConnection publisher = raw_connect(s.url, false);
    const std::string data = payload();
    std::size_t received = 0;
    std::size_t published = 0;
    while (received < count) {
      // Keep at most `window` messages in flight, so the figure shows what the subscription
      // keeps, not a backlog.
      while (published < count && published < received + window) {
        check(natsConnection_Publish(publisher.get(), "bench.memory", data.data(), static_cast<int>(data.size())),
              "memory publish");
        ++published;
      }
      std::vector<Message> batch = co_await sub.next_batch(1024);
      received += batch.size();
      if (warm_rss == 0 && received >= count / 10) warm_rss = current_rss();
    }
    end_rss = current_rss();
    conn.close();
  });

  Row idle;
  idle.figure = "memory: RSS of an idle connection";
  idle.library = format_bytes(static_cast<double>(idle_library));
  idle.baseline = format_bytes(static_cast<double>(idle_raw));
  idle.ratio = static_cast<double>(idle_library) / static_cast<double>(std::max<std::size_t>(idle_raw, 1));
  idle.note = "library: two cnats links, each with its own threads and buffers";
  rows.push_back(idle);

  Row growth;
  growth.figure = "memory: RSS growth, " + std::to_string(count) + " msgs after warm-up";
  growth.library = format_bytes(static_cast<double>(end_rss)) + " at end";
  growth.baseline = "-";
  const double grown = static_cast<double>(end_rss) - static_cast<double>(warm_rss);
  growth.ratio = grown / (1024.0 * 1024.0);
  char text[64];
  std::snprintf(text, sizeof(text), "%+.2f MiB", growth.ratio);
  growth.ratio_text = text;
  growth.goal = Goal::at_most;
  growth.target = 1.0;
  growth.target_text = "<= +1 MiB";
  rows.push_back(growth);
}

}  // namespace noesis::bench

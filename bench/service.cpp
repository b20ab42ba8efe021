// Service figure: request-reply through a ServiceBuilder echo service against a raw cnats
// responder callback. Both serve `bench.svc.>` in queue group `q` and echo a 128-byte payload,
// and one raw cnats requester measures both: one request at a time (p50, p99) and 100 in flight
// (throughput). Only one of the two responders runs at a time, because they share the queue group.
#include <condition_variable>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <noesis/ship/service.hpp>

#include "bench.hpp"

namespace noesis::bench {
namespace {

constexpr const char* service_prefix = "bench.svc";
constexpr const char* echo_subject = "bench.svc.echo";
constexpr std::size_t requests_in_flight = 100;
constexpr std::size_t warm_up_requests = 50;
// A requester that receives no reply for this long reports a stall instead of waiting forever.
constexpr std::chrono::seconds stall_timeout{10};
constexpr std::chrono::seconds start_timeout{30};

std::string describe(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

struct LatencyPercentiles {
  double p50 = 0;  // microseconds
  double p99 = 0;  // microseconds
};

// One raw cnats connection with send-asap, so each request is written at once, sending either
// one request at a time (natsConnection_Request) or a window of requests whose replies arrive
// on one wildcard inbox subscription.
class RawRequester {
 public:
  explicit RawRequester(const std::string& url) : connection_(raw_connect(url, true)) {
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), "natsInbox_Create");
    inbox_ = inbox;
    natsInbox_Destroy(inbox);

    natsSubscription* sub = nullptr;
    check(natsConnection_Subscribe(&sub, connection_.get(), (inbox_ + ".*").c_str(), &RawRequester::on_reply, this),
          "subscribe the requester to its inbox");
    replies_.reset(sub);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    check(natsConnection_Flush(connection_.get()), "flush the requester's subscription");
  }

  // Sends `count` requests one after another and returns the latency percentiles.
  LatencyPercentiles sequential(const std::string& data, std::size_t count) {
    std::vector<double> micros;
    micros.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      natsMsg* raw_reply = nullptr;
      const auto sent = clock_type::now();
      check(natsConnection_Request(&raw_reply, connection_.get(), echo_subject, data.data(),
                                   static_cast<int>(data.size()), 5000),
            "raw request on bench.svc.echo");
      micros.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - sent).count());
      RawMsg reply(raw_reply);
      if (natsMsg_GetDataLength(raw_reply) != static_cast<int>(data.size())) {
        throw std::runtime_error("service figure: a reply to a sequential request has the wrong size");
      }
    }
    return {percentile(micros, 0.5), percentile(micros, 0.99)};
  }

  // Sends `count` requests with at most `in_flight` awaiting a reply and returns requests per
  // second, from the first send to the last reply.
  double pipelined(const std::string& data, std::size_t count, std::size_t in_flight) {
    {
      std::lock_guard lock(mutex_);
      outstanding_ = 0;
      received_ = 0;
      expected_ = count;
      wrong_replies_ = 0;
      expected_size_ = static_cast<int>(data.size());
    }
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < count; ++i) {
      {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, stall_timeout, [&] { return outstanding_ < in_flight; })) {
          throw std::runtime_error(stall_message());
        }
        ++outstanding_;
      }
      const std::string reply = inbox_ + "." + std::to_string(i);
      check(natsConnection_PublishRequest(connection_.get(), echo_subject, reply.c_str(), data.data(),
                                          static_cast<int>(data.size())),
            "raw pipelined request on bench.svc.echo");
    }

    std::unique_lock lock(mutex_);
    std::size_t seen = received_;
    while (received_ < count) {
      if (!changed_.wait_for(lock, stall_timeout, [&] { return received_ != seen; })) {
        throw std::runtime_error(stall_message());
      }
      seen = received_;
    }
    if (wrong_replies_ != 0) {
      throw std::runtime_error("service figure: " + std::to_string(wrong_replies_) + " replies had the wrong size");
    }
    return static_cast<double>(count) / std::chrono::duration<double>(last_reply_ - start).count();
  }

 private:
  static void on_reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<RawRequester*>(closure);
    RawMsg owned(msg);
    std::lock_guard lock(self->mutex_);
    if (natsMsg_GetDataLength(msg) != self->expected_size_) ++self->wrong_replies_;
    if (self->outstanding_ > 0) --self->outstanding_;
    if (++self->received_ == self->expected_) self->last_reply_ = clock_type::now();
    self->changed_.notify_one();
  }

  // Called with mutex_ held.
  std::string stall_message() const {
    return "service figure: no reply for " + std::to_string(stall_timeout.count()) + " s, " +
           std::to_string(received_) + " of " + std::to_string(expected_) + " replies received";
  }

  RawConnection connection_;
  RawSubscription replies_;
  std::string inbox_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t outstanding_ = 0;
  std::size_t received_ = 0;
  std::size_t expected_ = 0;
  std::size_t wrong_replies_ = 0;
  int expected_size_ = 0;
  clock_type::time_point last_reply_;
};

// The ServiceBuilder echo service, run on a thread of its own with its own io_context and
// connection, from construction until destruction.
class LibraryEchoService {
 public:
  explicit LibraryEchoService(const std::string& url) : service_(service_prefix, State{}) {
    // Shared, because the service keeps the callback after this constructor returns.
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> started_future = started->get_future();
    service_.nats_url(url)
        .name("bench")
        .handle_signals(false)
        .handler("echo", [](std::string_view payload, State&) { return std::string(payload); })
        .on_started([started] { started->set_value(); });

    thread_ = std::thread([this] {
      try {
        service_.run_blocking();
      } catch (...) {
        failure_ = std::current_exception();
      }
      finished_.set_value();
    });

    const auto deadline = clock_type::now() + start_timeout;
    while (started_future.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
      const bool finished = finished_future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      if (!finished && clock_type::now() < deadline) continue;
      service_.stop();
      thread_.join();
      if (failure_) std::rethrow_exception(failure_);
      throw std::runtime_error("service figure: the echo service did not start within " +
                               std::to_string(start_timeout.count()) + " s");
    }
  }

  ~LibraryEchoService() {
    service_.stop();
    if (thread_.joinable()) thread_.join();
    if (failure_) std::fprintf(stderr, "service figure: the echo service failed: %s\n", describe(failure_).c_str());
  }

  LibraryEchoService(const LibraryEchoService&) = delete;
  LibraryEchoService& operator=(const LibraryEchoService&) = delete;

 private:
  struct State {};

  ship::ServiceBuilder<State> service_;
  std::promise<void> finished_;
  std::future<void> finished_future_ = finished_.get_future();
  std::exception_ptr failure_;
  std::thread thread_;
};

struct SideResults {
  std::vector<double> p50;
  std::vector<double> p99;
  std::vector<double> per_second;
};

void measure(RawRequester& requester, const std::string& data, std::size_t sequential_count,
             std::size_t pipelined_count, SideResults& results) {
  requester.sequential(data, warm_up_requests);
  const LatencyPercentiles latency = requester.sequential(data, sequential_count);
  results.p50.push_back(latency.p50);
  results.p99.push_back(latency.p99);
  results.per_second.push_back(requester.pipelined(data, pipelined_count, requests_in_flight));
}

Row latency_row(std::string figure, double library, double raw) {
  Row row;
  row.figure = std::move(figure);
  row.library = format_micros(library);
  row.baseline = format_micros(raw);
  row.ratio = raw > 0 ? library / raw : 0;
  return row;
}

}  // namespace

void figure_service(const Settings& s, std::vector<Row>& rows) {
  const std::size_t sequential_count = s.count(5'000, 200);
  const std::size_t pipelined_count = s.count(100'000, 2'000);
  const std::string data = payload();
  RawRequester requester(s.url);

  SideResults library;
  SideResults raw;
  for (int run = 0; run < s.runs; ++run) {
    std::fprintf(stderr, "  service run %d: raw cnats responder\n", run + 1);
    {
      RawEchoResponder responder(s.url, std::string(service_prefix) + ".>", "q");
      measure(requester, data, sequential_count, pipelined_count, raw);
    }
    std::fprintf(stderr, "  service run %d: ServiceBuilder\n", run + 1);
    {
      LibraryEchoService service(s.url);
      measure(requester, data, sequential_count, pipelined_count, library);
    }
  }

  Row p50 = latency_row("service request-reply, one at a time (p50)", median(library.p50), median(raw.p50));
  p50.note = std::to_string(sequential_count) + " requests per run, 128 B, raw cnats requester";
  rows.push_back(p50);
  rows.push_back(latency_row("service request-reply, one at a time (p99)", median(library.p99), median(raw.p99)));

  Row throughput;
  throughput.figure = "service request-reply, " + std::to_string(requests_in_flight) + " in flight";
  throughput.library = format_rate(median(library.per_second), "req/s");
  throughput.baseline = format_rate(median(raw.per_second), "req/s");
  throughput.ratio = median(raw.per_second) > 0 ? median(library.per_second) / median(raw.per_second) : 0;
  throughput.note = std::to_string(pipelined_count) + " requests per run from one raw cnats connection";
  rows.push_back(throughput);
}

}  // namespace noesis::bench

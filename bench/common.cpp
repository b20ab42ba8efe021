#include "bench.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <unistd.h>

#include <asio/steady_timer.hpp>

namespace noesis::bench {

double median(std::vector<double> values) { return percentile(std::move(values), 0.5); }

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(std::lround(fraction * static_cast<double>(values.size() - 1)));
  return values[std::min(index, values.size() - 1)];
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string format_rate(double per_second, const char* unit) {
  char text[64];
  if (per_second >= 1e6) {
    std::snprintf(text, sizeof(text), "%.2fM %s", per_second / 1e6, unit);
  } else if (per_second >= 1e3) {
    std::snprintf(text, sizeof(text), "%.1fk %s", per_second / 1e3, unit);
  } else {
    std::snprintf(text, sizeof(text), "%.1f %s", per_second, unit);
  }
  return text;
}

std::string format_micros(double micros) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.0f us", micros);
  return text;
}

std::string format_bytes(double bytes) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

std::size_t current_rss() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0;
  std::size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string payload(std::size_t size) {
  std::string data(size, 'x');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
  return data;
}

void run_coroutine(const std::function<asio::awaitable<void>()>& make, std::chrono::seconds deadline) {
  asio::io_context io;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  const auto stop_at = clock_type::now() + deadline;
  while (!done) {
    io.run_for(std::chrono::milliseconds(100));
    if (io.stopped()) io.restart();
    if (clock_type::now() > stop_at) throw std::runtime_error("a library run exceeded its deadline");
  }
  if (failure) std::rethrow_exception(failure);
}

void check(natsStatus status, const std::string& what) {
  if (status == NATS_OK) return;
  const char* detail = nats_GetLastError(nullptr);
  throw std::runtime_error(what + ": " + natsStatus_GetText(status) +
                           (detail != nullptr && *detail != '\0' ? std::string(" (") + detail + ")" : ""));
}

RawConnection raw_connect(const std::string& url, bool send_asap) {
  natsOptions* options = nullptr;
  check(natsOptions_Create(&options), "natsOptions_Create");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> owned(options, &natsOptions_Destroy);
  check(natsOptions_SetURL(options, url.c_str()), "natsOptions_SetURL");
  if (send_asap) check(natsOptions_SetSendAsap(options, true), "natsOptions_SetSendAsap");
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, options), "connect to " + url);
  return RawConnection(nc);
}

RawEchoResponder::RawEchoResponder(const std::string& url, const std::string& subject, const std::string& queue_group)
    : connection_(raw_connect(url, true)) {
  natsSubscription* sub = nullptr;
  if (queue_group.empty()) {
    check(natsConnection_Subscribe(&sub, connection_.get(), subject.c_str(), &on_request, nullptr),
          "subscribe the responder to " + subject);
  } else {
    check(natsConnection_QueueSubscribe(&sub, connection_.get(), subject.c_str(), queue_group.c_str(), &on_request,
                                        nullptr),
          "subscribe the responder to " + subject + " in queue group " + queue_group);
  }
  subscription_.reset(sub);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  check(natsConnection_Flush(connection_.get()), "flush the responder's subscription");
}

void RawEchoResponder::on_request(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  RawMsg owned(msg);
  const char* reply = natsMsg_GetReply(msg);
  if (reply != nullptr) natsConnection_Publish(nc, reply, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
}

}  // namespace noesis::bench

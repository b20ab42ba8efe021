// JetStream figures: acknowledged publish and KV put/get.
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/kv.hpp>

#include "bench.hpp"

namespace noesis::bench {
namespace {

using ship::Connection;
using ship::NatsConfig;

constexpr std::size_t publish_in_flight = 256;  // awaited publishes in flight in the library run
constexpr std::size_t kv_workers = 64;          // coroutines of the KV run, one thread

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Runs `workers` coroutines on the current executor, each calling `step(index)` for the next
// unclaimed index below `count`, and returns the seconds until the last one finished.
template <typename Step>
asio::awaitable<double> spread(std::size_t count, std::size_t workers, Step step) {
  auto executor = co_await asio::this_coro::executor;
  std::size_t next = 0;
  std::size_t finished = 0;
  std::exception_ptr failure;
  clock_type::time_point last;
  const auto start = clock_type::now();
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(
        executor,
        [&]() -> asio::awaitable<void> {
          while (next < count && !failure) {
            const std::size_t index = next++;
            co_await step(index);
          }
        },
        [&](std::exception_ptr e) {
          if (e && !failure) failure = e;
          if (++finished == workers) last = clock_type::now();
        });
  }
  while (finished < workers) co_await pause(std::chrono::milliseconds(2));
  if (failure) std::rethrow_exception(failure);
  co_return std::chrono::duration<double>(last - start).count();
}

// Creates (or replaces) a stream with cnats's own API, shared by both sides of a figure.
void raw_add_stream(jsCtx* js, const char* name, const char* subject, jsStorageType storage) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  js_DeleteStream(js, name, nullptr, &jerr);
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name;
  const char* subjects[] = {subject};
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = storage;
  jsStreamInfo* info = nullptr;
  check(js_AddStream(&info, js, &config, nullptr, &jerr), std::string("create stream ") + name);
  jsStreamInfo_Destroy(info);
}

void raw_purge(jsCtx* js, const char* name) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_PurgeStream(js, name, nullptr, &jerr), std::string("purge stream ") + name);
}

struct AsyncErrors {
  std::atomic<std::size_t> count{0};
  static void on_error(jsCtx*, jsPubAckErr*, void* closure) { static_cast<AsyncErrors*>(closure)->count++; }
};

double raw_js_publish_rate(const RawConnection& nc, const std::string& data, std::size_t count) {
  AsyncErrors errors;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.ErrHandler = &AsyncErrors::on_error;
  options.PublishAsync.ErrHandlerClosure = &errors;
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), &options), "raw JetStream context");
  RawJs js(raw_js);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < count; ++i) {
    check(js_PublishAsync(js.get(), "bench.js.data", data.data(), static_cast<int>(data.size()), nullptr),
          "js_PublishAsync");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  check(js_PublishAsyncComplete(js.get(), &wait), "js_PublishAsyncComplete");
  const double elapsed = seconds_since(start);
  if (errors.count != 0) throw std::runtime_error("raw JetStream publish: " + std::to_string(errors.count.load()) + " failed");
  return static_cast<double>(count) / elapsed;
}

double library_js_publish_rate(const Settings& s, const std::string& data, std::size_t count) {
  double rate = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
    co_await conn.connect();
    ship::JetStream js(conn);
    const double elapsed = co_await spread(count, publish_in_flight, [&](std::size_t) -> asio::awaitable<void> {
      std::string subject = "bench.js.data";
      std::string body = data;
      ship::PubAck ack = co_await js.publish(std::move(subject), std::move(body));
      if (ack.sequence == 0) throw std::runtime_error("library JetStream publish: no sequence in the ack");
    });
    rate = static_cast<double>(count) / elapsed;
    conn.close();
  });
  return rate;
}

Row rate_row(std::string figure, double library, double baseline, const char* unit, double target,
             std::string target_text) {
  Row row;
  row.figure = std::move(figure);
  row.library = format_rate(library, unit);
  row.baseline = format_rate(baseline, unit);
  row.ratio = baseline > 0 ? library / baseline : 0;
  row.goal = Goal::at_least;
  row.target = target;
  row.target_text = std::move(target_text);
  return row;
}

// Appended piecewise: `"k" + std::string` trips a false -Wrestrict in GCC 12 at -O3.
std::string kv_key(std::size_t index) {
  std::string key = "k";
  key += std::to_string(index);
  return key;
}

}  // namespace

void figure_jetstream_publish(const Settings& s, std::vector<Row>& rows) {
  const std::size_t count = s.count(200'000, 5'000);
  const std::string data = payload();
  RawConnection nc = raw_connect(s.url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "raw JetStream context");
  RawJs admin(raw_js);
  raw_add_stream(admin.get(), "BENCH_JS", "bench.js.>", js_MemoryStorage);
  std::vector<double> library;
  std::vector<double> raw;
  for (int run = 0; run < s.runs; ++run) {
    raw.push_back(raw_js_publish_rate(nc, data, count));
    raw_purge(admin.get(), "BENCH_JS");
    library.push_back(library_js_publish_rate(s, data, count));
    raw_purge(admin.get(), "BENCH_JS");
  }
  jsErrCode jerr = static_cast<jsErrCode>(0);
  js_DeleteStream(admin.get(), "BENCH_JS", nullptr, &jerr);
  Row row = rate_row("JetStream publish with ack, " + std::to_string(count) + " msgs", median(library), median(raw),
                     "msg/s", 0.90, ">= 0.90");
  row.note = std::to_string(publish_in_flight) + " awaited publishes in flight vs js_PublishAsync (4,000); memory storage";
  rows.push_back(row);
}

void figure_kv(const Settings& s, std::vector<Row>& rows) {
  const std::size_t count = s.count(20'000, 500);
  const std::string data = payload();
  RawConnection nc = raw_connect(s.url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "raw JetStream context");
  RawJs js(raw_js);
  js_DeleteKeyValue(js.get(), "bench_kv");
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = "bench_kv";
  config.History = 1;
  kvStore* raw_kv = nullptr;
  check(js_CreateKeyValue(&raw_kv, js.get(), &config), "create KV bucket bench_kv");
  std::unique_ptr<kvStore, void (*)(kvStore*)> kv(raw_kv, &kvStore_Destroy);

  std::vector<double> library_put;
  std::vector<double> library_get;
  std::vector<double> raw_put;
  std::vector<double> raw_get;
  for (int run = 0; run < s.runs; ++run) {
    auto start = clock_type::now();
    for (std::size_t i = 0; i < count; ++i) {
      std::uint64_t revision = 0;
      const std::string key = kv_key(i);
      check(kvStore_Put(&revision, kv.get(), key.c_str(), data.data(), static_cast<int>(data.size())), "kvStore_Put");
    }
    raw_put.push_back(static_cast<double>(count) / seconds_since(start));
    start = clock_type::now();
    for (std::size_t i = 0; i < count; ++i) {
      kvEntry* entry = nullptr;
      const std::string key = kv_key(i);
      check(kvStore_Get(&entry, kv.get(), key.c_str()), "kvStore_Get");
      kvEntry_Destroy(entry);
    }
    raw_get.push_back(static_cast<double>(count) / seconds_since(start));

    run_coroutine([&]() -> asio::awaitable<void> {
      Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
      co_await conn.connect();
      ship::KvBucketConfig bucket("bench_kv");
      bucket.history = 1;
      ship::KvStore store(conn, bucket);
      co_await store.open();
      const double put_seconds = co_await spread(count, kv_workers, [&](std::size_t index) -> asio::awaitable<void> {
        std::string key = kv_key(index);
        std::uint64_t revision = co_await store.put(std::move(key), data);
        if (revision == 0) throw std::runtime_error("library KV put: no revision");
      });
      library_put.push_back(static_cast<double>(count) / put_seconds);
      const double get_seconds = co_await spread(count, kv_workers, [&](std::size_t index) -> asio::awaitable<void> {
        std::string key = kv_key(index);
        std::optional<std::string> value = co_await store.get<std::string>(std::move(key));
        if (!value || value->size() != data.size()) throw std::runtime_error("library KV get: wrong value");
      });
      library_get.push_back(static_cast<double>(count) / get_seconds);
      conn.close();
    });
  }
  kv.reset();
  js_DeleteKeyValue(js.get(), "bench_kv");
  const std::string n = std::to_string(count);
  Row put = rate_row("KV put, " + n + ", 64 coroutines vs sequential", median(library_put), median(raw_put), "op/s", 4,
                     ">= 4");
  Row get = rate_row("KV get, " + n + ", 64 coroutines vs sequential", median(library_get), median(raw_get), "op/s", 4,
                     ">= 4");
  rows.push_back(put);
  rows.push_back(get);
}

}  // namespace noesis::bench

// noesis_cost_probe: runs one side of one hot path (library or raw cnats) `count` times and
// nothing else, so that an instruction counter measures what one operation costs.
//
//   valgrind --tool=callgrind noesis_cost_probe publish-library 20000
//
// A whole-process instruction count includes fixed costs (server start, connect, setup).
// Running the same mode with two counts and dividing the difference of the two totals by the
// difference of the counts removes them: bench/instruction_counts.sh does that for every mode.
// The counts include every thread of this process, cnats's threads too, but not the private
// nats-server child, so the probe prints that child's CPU time and context switches at the end.
//
// The object modes count 128 KiB chunks: object-get-* put the object and then read it back, so
// the cost of a read is the get mode's count minus the put mode's. They also print wall-clock
// rates. NOESIS_PROBE_OBJECT_WINDOW sets the library's chunks in flight (default 8).
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/object_store.hpp>
#include <noesis/ship/testing/server.hpp>

#include "bench.hpp"

namespace noesis::bench {
namespace {

using ship::Connection;
using ship::Message;
using ship::NatsConfig;

// Keys the KV modes read in turn. Their puts are setup, the same for every count.
constexpr std::size_t kv_keys = 100;
constexpr std::size_t kv_workers = 64;  // coroutines of the library KV get, as in noesis_bench
constexpr std::size_t js_publish_in_flight = 256;  // awaited JetStream publishes, as in noesis_bench
constexpr std::size_t object_chunk_size = 128 * 1024;  // the object store's default chunk size

constexpr std::array<std::string_view, 14> modes = {
    "publish-raw",     "publish-library",    "receive-raw",    "receive-batch",      "receive-handler",
    "kv-get-raw",      "kv-get-library",     "kv-direct-get-library", "js-publish-raw", "js-publish-library",
    "object-put-raw",  "object-put-library", "object-get-raw", "object-get-library"};

std::string modes_text() {
  std::string text;
  for (const auto mode : modes) {
    if (!text.empty()) text += ", ";
    text += mode;
  }
  return text;
}

std::string key_name(std::size_t index) {
  std::string key = "k";
  key += std::to_string(index % kv_keys);
  return key;
}

asio::awaitable<void> pause(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

void publish_raw(const std::string& url, std::size_t count) {
  RawConnection nc = raw_connect(url, false);
  const std::string data = payload();
  for (std::size_t i = 0; i < count; ++i) {
    check(natsConnection_Publish(nc.get(), "probe.publish", data.data(), static_cast<int>(data.size())), "publish");
  }
  check(natsConnection_FlushTimeout(nc.get(), 60000), "flush");
}

void publish_library(const std::string& url, std::size_t count) {
  run_coroutine([&]() -> asio::awaitable<void> {
    Connection conn(co_await asio::this_coro::executor, NatsConfig(url));
    co_await conn.connect();
    const std::string data = payload();
    for (std::size_t i = 0; i < count; ++i) conn.publish("probe.publish", data);
    co_await conn.flush();
    conn.close();
  });
}

// Publishes `count` messages to probe.receive from a raw connection on its own thread.
std::thread start_publisher(const std::string& url, std::size_t count) {
  return std::thread([url, count] {
    RawConnection nc = raw_connect(url, false);
    const std::string data = payload();
    for (std::size_t i = 0; i < count; ++i) {
      check(natsConnection_Publish(nc.get(), "probe.receive", data.data(), static_cast<int>(data.size())), "publish");
    }
    check(natsConnection_FlushTimeout(nc.get(), 60000), "flush");
  });
}

struct RawReceiver {
  std::atomic<std::size_t> received{0};

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    natsMsg_Destroy(msg);
    static_cast<RawReceiver*>(closure)->received.fetch_add(1, std::memory_order_release);
  }
};

void receive_raw(const std::string& url, std::size_t count) {
  RawConnection nc = raw_connect(url, false);
  RawReceiver receiver;
  natsSubscription* raw_sub = nullptr;
  check(natsConnection_Subscribe(&raw_sub, nc.get(), "probe.receive", &RawReceiver::on_message, &receiver),
        "subscribe");
  RawSubscription sub(raw_sub);
  natsSubscription_SetPendingLimits(raw_sub, -1, -1);
  check(natsConnection_Flush(nc.get()), "flush");
  std::thread publisher = start_publisher(url, count);
  publisher.join();
  const auto deadline = clock_type::now() + std::chrono::minutes(10);
  while (receiver.received.load(std::memory_order_acquire) < count) {
    if (clock_type::now() > deadline) throw std::runtime_error("raw receive timed out");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void receive_library(const std::string& url, std::size_t count, bool handler) {
  run_coroutine(
      [&]() -> asio::awaitable<void> {
        Connection conn(co_await asio::this_coro::executor, NatsConfig(url));
        co_await conn.connect();
        ship::SubscribeOptions options;
        options.max_pending = count + 1;
        std::size_t received = 0;
        // The parameter is named: GCC 12 double-destroys an unnamed by-value coroutine parameter.
        auto on_message = [&received](Message msg) -> asio::awaitable<void> {
          if (!msg.empty()) ++received;
          co_return;
        };
        ship::Subscription sub =
            handler ? conn.subscribe("probe.receive", on_message, options) : conn.subscribe("probe.receive", options);
        co_await conn.flush();
        std::thread publisher = start_publisher(url, count);
        while (received < count) {
          if (handler) {
            co_await pause(std::chrono::milliseconds(5));
          } else {
            std::vector<Message> batch = co_await sub.next_batch(1024);
            received += batch.size();
          }
        }
        publisher.join();
        if (sub.dropped() != 0) throw std::runtime_error("library receive dropped messages");
        sub.unsubscribe();
        conn.close();
      },
      std::chrono::seconds(600));
}

void kv_get_raw(const std::string& url, std::size_t count) {
  RawConnection nc = raw_connect(url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "JetStream context");
  RawJs js(raw_js);
  js_DeleteKeyValue(js.get(), "probe_kv");
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = "probe_kv";
  config.History = 1;
  kvStore* raw_kv = nullptr;
  check(js_CreateKeyValue(&raw_kv, js.get(), &config), "create KV bucket probe_kv");
  std::unique_ptr<kvStore, void (*)(kvStore*)> kv(raw_kv, &kvStore_Destroy);
  const std::string data = payload();
  for (std::size_t i = 0; i < kv_keys; ++i) {
    std::uint64_t revision = 0;
    check(kvStore_Put(&revision, kv.get(), key_name(i).c_str(), data.data(), static_cast<int>(data.size())), "put");
  }
  for (std::size_t i = 0; i < count; ++i) {
    kvEntry* entry = nullptr;
    check(kvStore_Get(&entry, kv.get(), key_name(i).c_str()), "kvStore_Get");
    kvEntry_Destroy(entry);
  }
}

// `direct`: read with JetStream direct get instead of KvStore::get(), which uses the
// STREAM.MSG.GET API, to compare what each costs the client and the server.
void kv_get_library(const std::string& url, std::size_t count, bool direct) {
  run_coroutine(
      [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Connection conn(executor, NatsConfig(url));
        co_await conn.connect();
        ship::KvBucketConfig bucket("probe_kv");
        bucket.history = 1;
        ship::KvStore store(conn, bucket);
        co_await store.connect();  // creates the bucket
        const std::string data = payload();
        for (std::size_t i = 0; i < kv_keys; ++i) {
          std::uint64_t revision = co_await store.put(key_name(i), data);
          if (revision == 0) throw std::runtime_error("library KV put: no revision");
        }

        std::size_t next = 0;
        std::size_t finished = 0;
        std::exception_ptr failure;
        for (std::size_t w = 0; w < kv_workers; ++w) {
          asio::co_spawn(
              executor,
              [&]() -> asio::awaitable<void> {
                while (next < count && !failure) {
                  std::string key = key_name(next++);
                  if (direct) {
                    std::string stream = "KV_probe_kv";
                    std::string subject = "$KV.probe_kv.";
                    subject += key;
                    ship::StoredMessage stored =
                        co_await store.jetstream().get_last_message(std::move(stream), std::move(subject), true);
                    if (stored.data.size() != data.size()) throw std::runtime_error("library direct get: wrong value");
                    continue;
                  }
                  std::optional<std::string> value = co_await store.get<std::string>(std::move(key));
                  if (!value || value->size() != data.size()) throw std::runtime_error("library KV get: wrong value");
                }
              },
              [&](std::exception_ptr e) {
                if (e && !failure) failure = e;
                ++finished;
              });
        }
        while (finished < kv_workers) co_await pause(std::chrono::milliseconds(2));
        if (failure) std::rethrow_exception(failure);
        conn.close();
      },
      std::chrono::seconds(600));
}

// Creates (or replaces) stream `name` on `subject` with cnats's API, the same setup for both sides.
void create_probe_stream(jsCtx* js, const char* name, const char* subject, jsStorageType storage) {
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

// Publishes `count` 128-byte messages with js_PublishAsync (cnats's default window of 4,000) to
// the memory stream PROBE_JS and waits for every ack, as the raw side of noesis_bench does.
void js_publish_raw(const std::string& url, std::size_t count) {
  RawConnection nc = raw_connect(url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "JetStream context");
  RawJs js(raw_js);
  create_probe_stream(js.get(), "PROBE_JS", "probe.js.>", js_MemoryStorage);
  const std::string data = payload();
  for (std::size_t i = 0; i < count; ++i) {
    check(js_PublishAsync(js.get(), "probe.js.data", data.data(), static_cast<int>(data.size()), nullptr),
          "js_PublishAsync");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 120000;
  check(js_PublishAsyncComplete(js.get(), &wait), "js_PublishAsyncComplete");
}

// `count` awaited JetStream publishes, 256 in flight, as the library side of noesis_bench.
void js_publish_library(const std::string& url, std::size_t count) {
  {
    RawConnection nc = raw_connect(url, false);
    jsCtx* raw_js = nullptr;
    check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "JetStream context");
    RawJs js(raw_js);
    create_probe_stream(js.get(), "PROBE_JS", "probe.js.>", js_MemoryStorage);
  }
  run_coroutine(
      [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        Connection conn(executor, NatsConfig(url));
        co_await conn.connect();
        ship::JetStream js(conn);
        const std::string data = payload();
        std::size_t next = 0;
        std::size_t finished = 0;
        std::exception_ptr failure;
        for (std::size_t w = 0; w < js_publish_in_flight; ++w) {
          asio::co_spawn(
              executor,
              [&]() -> asio::awaitable<void> {
                while (next < count && !failure) {
                  ++next;
                  std::string subject = "probe.js.data";
                  std::string body = data;
                  ship::PubAck ack = co_await js.publish(std::move(subject), std::move(body));
                  if (ack.sequence == 0) throw std::runtime_error("library JetStream publish: no sequence");
                }
              },
              [&](std::exception_ptr e) {
                if (e && !failure) failure = e;
                ++finished;
              });
        }
        while (finished < js_publish_in_flight) co_await pause(std::chrono::milliseconds(2));
        if (failure) std::rethrow_exception(failure);
        conn.close();
      },
      std::chrono::seconds(600));
}

// Chunks in flight of the library object modes: NOESIS_PROBE_OBJECT_WINDOW, or the library's
// default (ObjectStoreConfig::max_chunks_in_flight) when unset.
std::size_t object_window() {
  const char* text = std::getenv("NOESIS_PROBE_OBJECT_WINDOW");
  if (text == nullptr || *text == '\0') return ship::ObjectStoreConfig().max_chunks_in_flight;
  char* end = nullptr;
  const unsigned long long window = std::strtoull(text, &end, 10);
  if (*end != '\0' || window == 0) {
    throw std::invalid_argument(std::string("NOESIS_PROBE_OBJECT_WINDOW '") + text + "': use a whole number of at least 1");
  }
  return static_cast<std::size_t>(window);
}

// CPU seconds of the calling thread and of every thread of this process, and the process's minor
// page faults (a fresh mapping of a freed buffer costs one per 4 KiB page).
struct CpuClock {
  double thread = 0;
  double process = 0;
  long minor_faults = 0;

  static CpuClock now() {
    CpuClock clock;
    timespec spec{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec);
    clock.thread = static_cast<double>(spec.tv_sec) + static_cast<double>(spec.tv_nsec) / 1e9;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec);
    clock.process = static_cast<double>(spec.tv_sec) + static_cast<double>(spec.tv_nsec) / 1e9;
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    clock.minor_faults = usage.ru_minflt;
    return clock;
  }
};

// Prints the wall-clock rate of a step over `count` chunks and, per chunk, the CPU time of the
// calling thread (the io_context's thread in library modes) and of the whole probe, and the
// probe's minor page faults.
void print_rate(const char* step, std::size_t count, clock_type::time_point start, const CpuClock& cpu_start) {
  const double seconds = seconds_since(start);
  const CpuClock cpu = CpuClock::now();
  const double per_chunk = 1e6 / static_cast<double>(count);
  std::printf("%s: %.1f MiB/s, per chunk: %.1f us CPU of this thread, %.1f us CPU of the process, %.1f minor faults\n",
              step, static_cast<double>(count * object_chunk_size) / (1024.0 * 1024.0) / seconds,
              (cpu.thread - cpu_start.thread) * per_chunk, (cpu.process - cpu_start.process) * per_chunk,
              static_cast<double>(cpu.minor_faults - cpu_start.minor_faults) / static_cast<double>(count));
}

// Puts one object of `count` 128 KiB chunks into the file-backed bucket probe_obj and, with
// `read_back`, gets it again. Prints the wall-clock rate of each step.
void object_library(const std::string& url, std::size_t count, bool read_back) {
  run_coroutine(
      [&]() -> asio::awaitable<void> {
        Connection conn(co_await asio::this_coro::executor, NatsConfig(url));
        co_await conn.connect();
        ship::ObjectStoreConfig config;
        config.bucket = "probe_obj";
        config.max_chunks_in_flight = object_window();
        ship::ObjectStore store(conn, config);
        co_await store.connect();
        std::string name = "blob";
        // Built by copying one chunk, so that building it adds little to the instructions per chunk.
        const std::string chunk = payload(object_chunk_size);
        std::string content;
        content.reserve(count * object_chunk_size);
        for (std::size_t i = 0; i < count; ++i) content += chunk;
        ship::PutOptions options;
        auto start = clock_type::now();
        CpuClock cpu_start = CpuClock::now();
        ship::ObjectMeta meta = co_await store.put(name, std::move(content), options);
        print_rate("library put", count, start, cpu_start);
        if (meta.size != count * object_chunk_size) throw std::runtime_error("library object put: wrong size in the meta");
        if (read_back) {
          start = clock_type::now();
          cpu_start = CpuClock::now();
          std::string read = co_await store.get(name);
          print_rate("library get", count, start, cpu_start);
          if (read.size() != count * object_chunk_size) throw std::runtime_error("library object get: wrong size");
        }
        conn.close();
      },
      std::chrono::seconds(600));
}

// Publishes `count` 128 KiB chunks with js_PublishAsync to the file-backed stream PROBE_CHUNKS
// and, with `read_back`, reads them again with an ordered consumer, as noesis_bench's baseline.
void object_raw(const std::string& url, std::size_t count, bool read_back) {
  RawConnection nc = raw_connect(url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "JetStream context");
  RawJs js(raw_js);
  create_probe_stream(js.get(), "PROBE_CHUNKS", "probe.chunks.>", js_FileStorage);
  const std::string data = payload(object_chunk_size);
  auto start = clock_type::now();
  CpuClock cpu_start = CpuClock::now();
  for (std::size_t i = 0; i < count; ++i) {
    check(js_PublishAsync(js.get(), "probe.chunks.data", data.data(), static_cast<int>(data.size()), nullptr),
          "js_PublishAsync");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 120000;
  check(js_PublishAsyncComplete(js.get(), &wait), "js_PublishAsyncComplete");
  print_rate("raw put", count, start, cpu_start);
  if (!read_back) return;

  start = clock_type::now();
  cpu_start = CpuClock::now();
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Ordered = true;
  natsSubscription* raw_sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_SubscribeSync(&raw_sub, js.get(), "probe.chunks.data", nullptr, &options, &jerr), "ordered consumer");
  RawSubscription sub(raw_sub);
  natsSubscription_SetPendingLimits(raw_sub, -1, -1);
  for (std::size_t i = 0; i < count; ++i) {
    natsMsg* msg = nullptr;
    check(natsSubscription_NextMsg(&msg, raw_sub, 10000), "chunk read");
    natsMsg_Destroy(msg);
  }
  print_rate("raw get", count, start, cpu_start);
  natsSubscription_Unsubscribe(raw_sub);
}

// CPU seconds (user and system) that process `pid` has used so far, from /proc/<pid>/stat.
double process_cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields 14 and 15 (utime, stime, in clock ticks) follow the command name in parentheses.
  const auto name_end = text.rfind(')');
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(text.substr(name_end + 2));
  std::string field;
  unsigned long long user_ticks = 0;
  unsigned long long system_ticks = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) user_ticks = std::stoull(field);
    if (index == 15) {
      system_ticks = std::stoull(field);
      break;
    }
  }
  return static_cast<double>(user_ticks + system_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Context switches (voluntary and involuntary) of the live threads of process `pid` so far,
// summed from /proc/<pid>/task/*/status. Threads that have exited are not counted.
unsigned long long process_context_switches(pid_t pid) {
  unsigned long long total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream status(task.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

int run(const std::string& mode, const std::string& url, std::size_t count) {
  if (mode == "publish-raw") {
    publish_raw(url, count);
  } else if (mode == "publish-library") {
    publish_library(url, count);
  } else if (mode == "receive-raw") {
    receive_raw(url, count);
  } else if (mode == "receive-batch") {
    receive_library(url, count, false);
  } else if (mode == "receive-handler") {
    receive_library(url, count, true);
  } else if (mode == "kv-get-raw") {
    kv_get_raw(url, count);
  } else if (mode == "kv-get-library") {
    kv_get_library(url, count, false);
  } else if (mode == "kv-direct-get-library") {
    kv_get_library(url, count, true);
  } else if (mode == "js-publish-raw") {
    js_publish_raw(url, count);
  } else if (mode == "js-publish-library") {
    js_publish_library(url, count);
  } else if (mode == "object-put-raw") {
    object_raw(url, count, false);
  } else if (mode == "object-put-library") {
    object_library(url, count, false);
  } else if (mode == "object-get-raw") {
    object_raw(url, count, true);
  } else if (mode == "object-get-library") {
    object_library(url, count, true);
  } else {
    throw std::logic_error("mode '" + mode + "' has no implementation");
  }
  return 0;
}

}  // namespace
}  // namespace noesis::bench

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: noesis_cost_probe MODE COUNT\n  MODE: %s\n  COUNT: operations, at least 1\n",
                 noesis::bench::modes_text().c_str());
    return 2;
  }
  const std::string mode = argv[1];
  const auto& modes = noesis::bench::modes;
  if (std::find(modes.begin(), modes.end(), mode) == modes.end()) {
    std::fprintf(stderr, "noesis_cost_probe: unknown mode '%s'; use one of: %s\n", mode.c_str(),
                 noesis::bench::modes_text().c_str());
    return 2;
  }
  char* end = nullptr;
  const unsigned long long count = std::strtoull(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || count == 0) {
    std::fprintf(stderr, "noesis_cost_probe: invalid COUNT '%s': use a whole number of at least 1\n", argv[2]);
    return 2;
  }
  noesis::ship::logger()->set_level(spdlog::level::warn);
  try {
    // A private nats-server on 127.0.0.1, removed at exit.
    noesis::ship::testing::Server server;
    const double server_before = noesis::bench::process_cpu_seconds(server.pid());
    const unsigned long long server_switches_before = noesis::bench::process_context_switches(server.pid());
    const int status = noesis::bench::run(mode, server.url(), static_cast<std::size_t>(count));
    // The server's share, which an instruction count of this process leaves out. CPU time
    // depends on machine load, so compare it between runs of one session only.
    std::printf("nats-server CPU: %.3f s\n", noesis::bench::process_cpu_seconds(server.pid()) - server_before);
    // perf stat counts the child too; subtract this to get the probe's own context switches.
    std::printf("nats-server context switches: %llu\n",
                noesis::bench::process_context_switches(server.pid()) - server_switches_before);
    return status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "noesis_cost_probe: %s failed: %s\n", mode.c_str(), e.what());
    return 1;
  }
}

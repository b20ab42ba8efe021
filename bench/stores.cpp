// Object store figures: 64 MiB put/get against JetStream publishes of the same chunks, and the
// peak RSS of a 1 GiB put_file/get_to_file in a child process.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/this_coro.hpp>

#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/object_store.hpp>

#include "bench.hpp"

namespace noesis::bench {
namespace {

using ship::Connection;
using ship::NatsConfig;

constexpr std::size_t chunk_size = 128 * 1024;  // the object store's default chunk size
constexpr double mebibyte = 1024.0 * 1024.0;

std::string random_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  for (std::size_t i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    bytes[i] = static_cast<char>(state & 0xff);
  }
  return bytes;
}

struct RawObjectRates {
  double put = 0;  // MiB/s
  double get = 0;  // MiB/s
};

// The same chunks as the object store writes, published with js_PublishAsync (cnats's default
// window of 4,000), then read back with an ordered consumer.
RawObjectRates raw_chunk_rates(const RawConnection& nc, jsCtx* js, const std::string& bytes) {
  RawObjectRates rates;
  const std::size_t chunks = (bytes.size() + chunk_size - 1) / chunk_size;
  auto start = clock_type::now();
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t size = std::min(chunk_size, bytes.size() - i * chunk_size);
    check(js_PublishAsync(js, "bench.chunks.data", bytes.data() + i * chunk_size, static_cast<int>(size), nullptr),
          "chunk js_PublishAsync");
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 120000;
  check(js_PublishAsyncComplete(js, &wait), "chunk js_PublishAsyncComplete");
  rates.put = static_cast<double>(bytes.size()) / mebibyte / seconds_since(start);

  start = clock_type::now();
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Ordered = true;
  natsSubscription* raw_sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_SubscribeSync(&raw_sub, js, "bench.chunks.data", nullptr, &options, &jerr), "chunk ordered consumer");
  RawSubscription sub(raw_sub);
  natsSubscription_SetPendingLimits(raw_sub, -1, -1);
  std::size_t received = 0;
  for (std::size_t i = 0; i < chunks; ++i) {
    natsMsg* msg = nullptr;
    check(natsSubscription_NextMsg(&msg, raw_sub, 10000), "chunk read");
    received += static_cast<std::size_t>(natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
  }
  rates.get = static_cast<double>(bytes.size()) / mebibyte / seconds_since(start);
  natsSubscription_Unsubscribe(raw_sub);
  if (received != bytes.size()) throw std::runtime_error("raw chunk read: wrong size");
  (void)nc;
  return rates;
}

}  // namespace

void figure_object_store(const Settings& s, std::vector<Row>& rows) {
  const std::size_t size = s.count(64, 4) * 1024 * 1024;
  const std::string bytes = random_bytes(size);
  RawConnection nc = raw_connect(s.url, false);
  jsCtx* raw_js = nullptr;
  check(natsConnection_JetStream(&raw_js, nc.get(), nullptr), "raw JetStream context");
  RawJs js(raw_js);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  js_DeleteStream(js.get(), "BENCH_CHUNKS", nullptr, &jerr);
  {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = "BENCH_CHUNKS";
    const char* subjects[] = {"bench.chunks.>"};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo* info = nullptr;
    check(js_AddStream(&info, js.get(), &config, nullptr, &jerr), "create stream BENCH_CHUNKS");
    jsStreamInfo_Destroy(info);
  }

  std::vector<double> library_put;
  std::vector<double> library_get;
  std::vector<double> raw_put;
  std::vector<double> raw_get;
  for (int run = 0; run < s.runs; ++run) {
    const RawObjectRates raw = raw_chunk_rates(nc, js.get(), bytes);
    raw_put.push_back(raw.put);
    raw_get.push_back(raw.get);
    check(js_PurgeStream(js.get(), "BENCH_CHUNKS", nullptr, &jerr), "purge BENCH_CHUNKS");

    run_coroutine([&]() -> asio::awaitable<void> {
      Connection conn(co_await asio::this_coro::executor, NatsConfig(s.url));
      co_await conn.connect();
      ship::ObjectStoreConfig config;
      config.bucket = "bench_obj";
      ship::ObjectStore store(conn, config);
      co_await store.connect();
      std::string name = "blob";
      std::string content = bytes;  // copied before the clock starts; put takes it by value
      ship::PutOptions options;
      auto start = clock_type::now();
      ship::ObjectMeta meta = co_await store.put(name, std::move(content), options);
      library_put.push_back(static_cast<double>(size) / mebibyte / seconds_since(start));
      start = clock_type::now();
      std::string read = co_await store.get(name);
      library_get.push_back(static_cast<double>(size) / mebibyte / seconds_since(start));
      if (read.size() != size) throw std::runtime_error("library object get: wrong size");
      conn.close();
    });
  }
  js_DeleteStream(js.get(), "BENCH_CHUNKS", nullptr, &jerr);
  js_DeleteStream(js.get(), "OBJ_bench_obj", nullptr, &jerr);

  const std::string mib = std::to_string(size / (1024 * 1024)) + " MiB";
  for (int which = 0; which < 2; ++which) {
    const double library = median(which == 0 ? library_put : library_get);
    const double raw = median(which == 0 ? raw_put : raw_get);
    Row row;
    row.figure = std::string("object store ") + (which == 0 ? "put, " : "get, ") + mib;
    char text[64];
    std::snprintf(text, sizeof(text), "%.1f MiB/s", library);
    row.library = text;
    std::snprintf(text, sizeof(text), "%.1f MiB/s", raw);
    row.baseline = text;
    row.ratio = raw > 0 ? library / raw : 0;
    row.goal = Goal::at_least;
    row.target = 0.80;
    row.target_text = ">= 0.80";
    row.note = which == 0 ? "baseline: js_PublishAsync of the same 128 KiB chunks"
                          : "baseline: ordered consumer reading the same chunks";
    rows.push_back(row);
  }
}

int run_object_big_child(const std::string& url, const std::string& path) {
  try {
    double put_rate = 0;
    double get_rate = 0;
    run_coroutine(
        [&]() -> asio::awaitable<void> {
          Connection conn(co_await asio::this_coro::executor, NatsConfig(url));
          co_await conn.connect();
          ship::ObjectStoreConfig config;
          config.bucket = "bench_big";
          ship::ObjectStore store(conn, config);
          co_await store.connect();
          const auto size = static_cast<double>(std::filesystem::file_size(path));
          std::string name = "big";
          std::string description = "1 GiB benchmark object";
          std::filesystem::path source(path);
          auto start = clock_type::now();
          ship::ObjectMeta meta = co_await store.put_file(name, source, description);
          put_rate = size / mebibyte / seconds_since(start);
          std::filesystem::path target(path + ".out");
          start = clock_type::now();
          ship::ObjectInfo info = co_await store.get_to_file(name, target);
          get_rate = size / mebibyte / seconds_since(start);
          const auto written = std::filesystem::file_size(target);
          std::filesystem::remove(target);
          bool deleted = co_await store.delete_bucket();
          if (written != std::filesystem::file_size(path) || !deleted) {
            throw std::runtime_error("1 GiB object: wrong size read back or bucket not deleted");
          }
          conn.close();
        },
        std::chrono::seconds(1200));
    std::printf("%.1f %.1f\n", put_rate, get_rate);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "1 GiB object child: %s\n", e.what());
    return 1;
  }
}

void figure_object_big(const Settings& s, std::vector<Row>& rows) {
  if (!s.big) return;
  const std::size_t size = std::size_t{1} << 30;
  const std::string path = (std::filesystem::temp_directory_path() / ("noesis_bench_big_" + std::to_string(getpid()))).string();
  {
    std::ofstream file(path, std::ios::binary);
    const std::string block = random_bytes(chunk_size * 8);
    for (std::size_t written = 0; written < size; written += block.size()) file.write(block.data(), static_cast<std::streamsize>(block.size()));
    if (!file) throw std::runtime_error("cannot write " + path);
  }
  std::string output_path = path + ".rates";
  // posix_spawn, not fork: this process runs cnats and asio threads.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args = {s.self_path, "--url", s.url, "--object-big-child", path};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t child = 0;
  const int spawned = posix_spawn(&child, s.self_path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::filesystem::remove(path);
    throw std::runtime_error("cannot start " + s.self_path + " for the 1 GiB object figure");
  }
  int status = 0;
  rusage usage{};
  const pid_t waited = wait4(child, &status, 0, &usage);
  std::filesystem::remove(path);
  double put_rate = 0;
  double get_rate = 0;
  {
    std::ifstream rates(output_path);
    rates >> put_rate >> get_rate;
  }
  std::filesystem::remove(output_path);
  if (waited != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the 1 GiB object child failed (status " + std::to_string(status) + ")");
  }
  Row row;
  row.figure = "object store, 1 GiB put_file + get_to_file";
  const double peak = static_cast<double>(usage.ru_maxrss) * 1024.0;  // ru_maxrss is in KiB
  row.library = format_bytes(peak) + " peak RSS";
  row.baseline = "-";
  row.ratio = peak / mebibyte;
  char text[96];
  std::snprintf(text, sizeof(text), "%.1f MiB", row.ratio);
  row.ratio_text = text;
  row.goal = Goal::at_most;
  row.target = 64;
  row.target_text = "< 64 MiB";
  std::snprintf(text, sizeof(text), "put_file %.1f MiB/s, get_to_file %.1f MiB/s", put_rate, get_rate);
  row.note = text;
  rows.push_back(row);
}

}  // namespace noesis::bench

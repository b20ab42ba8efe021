// Interop helper for kv.test.mjs: one KvStore operation per run, output as JSON lines.
//
//   interop_kv_helper --url URL --bucket B put KEY VALUE   {"revision"}; creates the bucket if missing
//   interop_kv_helper --url URL --bucket B delete KEY      {"revision"} of the delete marker
//   interop_kv_helper --url URL --bucket B purge KEY       {"revision"} of the purge marker
//   interop_kv_helper --url URL --bucket B read KEY...     {"key", "found", "value", "revision"} per
//                                                          key, then {"keys": [...]}
//   interop_kv_helper --url URL --bucket B watch COUNT     each initial entry, then {"marker": true},
//                                                          then COUNT later entries, then exits
//
// An entry line is {"key", "operation", "value", "revision"} with operation "PUT", "DEL" or "PURGE".
// Values are passed and printed as they are stored (raw bytes, expected to be UTF-8 text).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/kv.hpp>

using namespace noesis::ship;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: interop_kv_helper --url URL --bucket BUCKET "
               "(put KEY VALUE | delete KEY | purge KEY | read KEY... | watch COUNT)\n");
  return 2;
}

// Prints one JSON line and flushes, so the test reads it while a watch is still running.
void print_line(const nlohmann::json& line) {
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

nlohmann::json entry_line(const KvEntry& entry) {
  nlohmann::json line;
  line["key"] = entry.key;
  line["operation"] = std::string(to_string(entry.operation));
  line["value"] = entry.value;
  line["revision"] = entry.revision;
  return line;
}

// The JSON lines below are built outside the coroutine: GCC 12 miscompiles braced
// initializer lists of strings inside coroutines.
nlohmann::json revision_line(std::uint64_t revision) { return nlohmann::json{{"revision", revision}}; }
nlohmann::json keys_line(const std::vector<std::string>& keys) { return nlohmann::json{{"keys", keys}}; }
nlohmann::json marker_line() { return nlohmann::json{{"marker", true}}; }

nlohmann::json read_line(const std::string& key, const std::optional<KvEntry>& entry) {
  nlohmann::json line;
  line["key"] = key;
  line["found"] = entry.has_value();
  if (entry) {
    line["value"] = entry->value;
    line["revision"] = entry->revision;
  } else {
    line["value"] = nullptr;
    line["revision"] = 0;
  }
  return line;
}

asio::awaitable<void> run_command(KvStore kv, std::string command, std::vector<std::string> args) {
  if (command == "put") {
    co_await kv.connect();
    const std::uint64_t revision = co_await kv.put(args.at(0), args.at(1));
    print_line(revision_line(revision));
    co_return;
  }

  co_await kv.open();
  if (command == "delete") {
    const std::uint64_t revision = co_await kv.erase(args.at(0));
    print_line(revision_line(revision));
  } else if (command == "purge") {
    const std::uint64_t revision = co_await kv.purge(args.at(0));
    print_line(revision_line(revision));
  } else if (command == "read") {
    for (const std::string& key : args) {
      std::optional<KvEntry> entry = co_await kv.get(key);
      print_line(read_line(key, entry));
    }
    std::vector<std::string> keys = co_await kv.keys();
    print_line(keys_line(keys));
  } else if (command == "watch") {
    const int later = std::stoi(args.at(0));
    KvWatcher watcher = co_await kv.watch();
    for (;;) {
      std::optional<KvEntry> entry = co_await watcher.next();
      if (!entry) break;
      print_line(entry_line(*entry));
    }
    print_line(marker_line());
    for (int i = 0; i < later; ++i) {
      std::optional<KvEntry> entry = co_await watcher.next();
      if (entry) {
        print_line(entry_line(*entry));
      } else {
        print_line(marker_line());  // a second marker: the test fails on it
      }
    }
    watcher.stop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7 || std::string(argv[1]) != "--url" || std::string(argv[3]) != "--bucket") return usage();
  const std::string url = argv[2];
  const std::string bucket = argv[4];
  const std::string command = argv[5];
  const std::vector<std::string> args(argv + 6, argv + argc);
  const bool valid = (command == "put" && args.size() == 2) ||
                     ((command == "delete" || command == "purge" || command == "watch") && args.size() == 1) ||
                     (command == "read" && !args.empty());
  if (!valid) return usage();

  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig(url));
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await conn.connect();
        KvStore kv(conn, KvBucketConfig(bucket));
        co_await run_command(kv, command, args);
        co_await conn.drain();
        status = 0;
      },
      [](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "interop_kv_helper: %s\n", e.what());
        }
      });
  io.run();
  return status;
}

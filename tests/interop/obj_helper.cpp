// Interop helper for obj.test.mjs: writes or reads one object with noesis::ship::ObjectStore.
//
//   interop_obj_helper --url URL --bucket B put NAME SIZE   stores SIZE pattern bytes under NAME
//   interop_obj_helper --url URL --bucket B get NAME        reads NAME and compares with the pattern
//
// Prints one JSON line: {"name", "size", "chunks", "digest"} for put, {"name", "size", "matches"}
// for get. Byte i of the pattern is (i * 31 + 7) mod 256, which obj.test.mjs computes too.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/object_store.hpp>

using namespace noesis::ship;

namespace {

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 31 + 7) & 0xff);
  return bytes;
}

int usage() {
  std::fprintf(stderr, "usage: interop_obj_helper --url URL --bucket BUCKET (put NAME SIZE | get NAME)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7 || std::string(argv[1]) != "--url" || std::string(argv[3]) != "--bucket") return usage();
  const std::string url = argv[2];
  const std::string bucket = argv[4];
  const std::string command = argv[5];
  const std::string name = argv[6];
  if (command == "put" && argc != 8) return usage();
  if (command != "put" && command != "get") return usage();

  asio::io_context io;
  Connection conn(io.get_executor(), NatsConfig(url));
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await conn.connect();
        ObjectStoreConfig config;
        config.bucket = bucket;
        ObjectStore store(conn, config);
        co_await store.connect();
        nlohmann::json line;
        if (command == "put") {
          std::string bytes = pattern(std::stoull(argv[7]));
          ObjectMeta meta = co_await store.put(name, std::move(bytes));
          line = {{"name", meta.name}, {"size", meta.size}, {"chunks", meta.chunks}, {"digest", meta.digest}};
        } else {
          std::string bytes = co_await store.get(name);
          line = {{"name", name}, {"size", bytes.size()}, {"matches", bytes == pattern(bytes.size())}};
        }
        std::printf("%s\n", line.dump().c_str());
        co_await conn.drain();
        status = 0;
      },
      [](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "interop_obj_helper: %s\n", e.what());
        }
      });
  io.run();
  return status;
}

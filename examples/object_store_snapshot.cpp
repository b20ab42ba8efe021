// Stores a file in an object store bucket, reads it back into another file, and takes and
// restores a snapshot of an agent's state.
//
//   object_store_snapshot [--url nats://127.0.0.1:4222] [FILE]
//
// Needs a nats-server with JetStream (`nats-server -js`). Without FILE it stores its own text.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/being_snapshots.hpp>
#include <noesis/ship/object_store.hpp>

namespace ship = noesis::ship;

asio::awaitable<void> run(ship::Connection conn, std::filesystem::path file) {
  co_await conn.connect();

  // put_file and get_to_file stream one chunk at a time, so the file may be larger than memory.
  ship::ObjectStoreConfig config;
  config.bucket = "examples";
  ship::ObjectStore store(conn, config);
  co_await store.connect();
  ship::ObjectMeta meta = co_await store.put_file(file.filename().string(), file, "an example upload");
  std::printf("stored %s: %llu bytes in %u chunks, %s\n", meta.name.c_str(),
              static_cast<unsigned long long>(meta.size), meta.chunks, meta.digest.c_str());

  std::filesystem::path copy = file;
  copy += ".copy";
  co_await store.get_to_file(meta.name, copy);
  std::printf("read it back into %s (size and digest checked)\n", copy.string().c_str());

  ship::BeingSnapshots snapshots(conn);
  co_await snapshots.connect();
  nlohmann::json state = {{"task", "upload"}, {"object", meta.name}};
  std::string id = co_await snapshots.take("example-agent", state, "after upload");
  nlohmann::json restored = co_await snapshots.restore(id);
  std::printf("snapshot %s restored: %s\n", id.c_str(), restored.dump().c_str());

  co_await conn.drain();
}

int main(int argc, char** argv) {
  std::string url = "nats://127.0.0.1:4222";
  std::filesystem::path file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--url" && i + 1 < argc) {
      url = argv[++i];
    } else {
      file = arg;
    }
  }
  if (file.empty()) {
    file = std::filesystem::temp_directory_path() / "noesis-object-example.txt";
    std::ofstream(file) << "hello from the object store example\n";
  }

  asio::io_context io;
  ship::Connection conn(io.get_executor(), ship::NatsConfig(url));
  int status = 0;
  asio::co_spawn(io, run(conn, file), [&status](std::exception_ptr failure) {
    if (!failure) return;
    status = 1;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "object_store_snapshot: %s\n", e.what());
    }
  });
  io.run();
  return status;
}

// ObjectStore against a private nats-server: put/get round trips, digests, names, deletes,
// tampered chunks, list, watch and update_meta.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/detail/sha256.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/object_store.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

namespace {

constexpr const char* hello_digest = "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=";
constexpr const char* empty_digest = "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=";

ObjectStoreConfig bucket_config(std::string bucket) {
  ObjectStoreConfig config;
  config.bucket = std::move(bucket);
  config.storage = StorageType::memory;
  return config;
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("noesis-obj-test-" + std::to_string(::getpid()) + "-" + name);
}

// Runs `op` and returns the error code it completes with (success when it does not fail).
template <typename Op>
awaitable<std::error_code> error_of(Op op) {
  try {
    co_await op();
  } catch (const error& e) {
    UNSCOPED_INFO("error: " << e.what());  // shown when a check of the code fails
    co_return e.code();
  }
  co_return std::error_code();
}

}  // namespace

TEST_CASE("hello world round trips with its digest") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("hello"));
    co_await store.connect();

    ObjectMeta meta = co_await store.put("greeting.txt", "hello world", "a greeting");
    CHECK(meta.name == "greeting.txt");
    CHECK(meta.bucket == "hello");
    CHECK(meta.size == 11);
    CHECK(meta.chunks == 1);
    CHECK(meta.digest == hello_digest);
    CHECK(meta.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    CHECK(meta.description == std::optional<std::string>("a greeting"));
    CHECK(meta.nuid.size() == 22);
    CHECK_FALSE(meta.created.empty());

    std::string content = co_await store.get("greeting.txt");
    CHECK(content == "hello world");

    ObjectInfo info = co_await store.info("greeting.txt");
    CHECK(info.digest == hello_digest);
    CHECK(info.description == "a greeting");
    CHECK(info.max_chunk_size == 128 * 1024);
    CHECK(std::chrono::system_clock::now() - info.mtime < 60s);
  });
}

TEST_CASE("empty object has no chunks") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("empty"));
    co_await store.connect();

    ObjectMeta meta = co_await store.put("nothing", "");
    CHECK(meta.size == 0);
    CHECK(meta.chunks == 0);
    CHECK(meta.digest == empty_digest);
    CHECK_FALSE(meta.description.has_value());

    const auto started = std::chrono::steady_clock::now();
    std::string content = co_await store.get("nothing");
    CHECK(content.empty());
    CHECK(std::chrono::steady_clock::now() - started < 1s);
  });
}

TEST_CASE("multi-chunk object round trips") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStoreConfig config = bucket_config("multi");
    config.chunk_size = 1000;
    config.max_chunks_in_flight = 3;
    ObjectStore store(conn, config);
    co_await store.connect();

    const std::string bytes = random_bytes(10 * 1000 + 7, 1);
    ObjectMeta meta = co_await store.put("blob", bytes);
    CHECK(meta.chunks == 11);
    CHECK(meta.size == bytes.size());
    CHECK(meta.digest == detail::nats_digest(bytes));

    std::string content = co_await store.get("blob");
    CHECK(content == bytes);

    // Exactly two chunks, then a larger chunk size read back by the same reader.
    const std::string exact = random_bytes(2000, 2);
    ObjectMeta exact_meta = co_await store.put("exact", exact);
    CHECK(exact_meta.chunks == 2);
    std::string exact_content = co_await store.get("exact");
    CHECK(exact_content == exact);
  });
}

// Blocks the io_context's thread for `busy` at a time, as a loaded machine delays it, until
// `done` is set or `limit` has passed.
awaitable<void> occupy_thread(const bool& done, std::chrono::milliseconds busy, std::chrono::seconds limit) {
  const auto stop_at = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < stop_at) {
    std::this_thread::sleep_for(busy);
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
}

// A reader whose subscription queue fills drops the chunks beyond it. The queued chunks came
// before the loss and must be read first, then the read resumes after the last one. Recreating
// the consumer at the first report of the drop throws the queue away: when the io_context's
// thread is busy while the burst arrives, the queue fills before the reader takes a chunk, and
// no chunk ever gets through.
TEST_CASE("get completes when the pending limit is reached") {
  asio::io_context io;
  NatsConfig connection_config = test::config_for(test::shared_server());
  connection_config.max_pending_messages = 8;
  Connection conn(io.get_executor(), connection_config);
  const std::string bytes = random_bytes(400 * 1024 + 3, 3);
  bool read = false;  // outlives the io_context's handlers, which occupy_thread reads it from
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStoreConfig config = bucket_config("pending");
    config.chunk_size = 1024;  // 401 chunks, all inside the server's first flow control window
    ObjectStore store(conn, config);
    co_await store.connect();
    ObjectMeta meta = co_await store.put("blob", bytes);
    REQUIRE(meta.chunks == 401);

    asio::co_spawn(io, occupy_thread(read, 5ms, 100s), asio::detached);
    std::string content = co_await store.get("blob");
    read = true;
    CHECK(content.size() == bytes.size());
    CHECK(content == bytes);
  }, std::chrono::seconds(60));
}

TEST_CASE("names are encoded in meta subjects") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("O"));
    co_await store.connect();
    JetStream js(conn);

    for (const std::string name : {"a", "ab", "dir/file name.txt", "d\xc3\xa9j\xc3\xa0 vu.tar.gz"}) {
      co_await store.put(name, "content of " + name);
      StoredMessage stored = co_await js.get_last_message("OBJ_O", detail::object_meta_subject("O", name));
      CHECK(stored.header(detail::header::rollup) == std::optional<std::string>("sub"));
      ObjectInfo info = detail::decode_object_info(stored.data, "test");
      CHECK(info.name == name);
      std::string content = co_await store.get(name);
      CHECK(content == "content of " + name);
    }
    StoredMessage a = co_await js.get_last_message("OBJ_O", "$O.O.M.YQ==");
    CHECK(a.data.find(R"("name":"a")") != std::string::npos);
    StoredMessage ab = co_await js.get_last_message("OBJ_O", "$O.O.M.YWI=");
    CHECK(ab.data.find(R"("name":"ab")") != std::string::npos);
    StoredMessage dir = co_await js.get_last_message("OBJ_O", "$O.O.M.ZGlyL2ZpbGUgbmFtZS50eHQ=");
    CHECK(dir.data.find(R"("name":"dir/file name.txt")") != std::string::npos);

    std::error_code empty_name = co_await error_of([&] { return store.put("", "x"); });
    CHECK(empty_name == errc::invalid_name);
    std::error_code bad_utf8 = co_await error_of([&] { return store.put("bad\xff", "x"); });
    CHECK(bad_utf8 == errc::invalid_name);
  });
}

TEST_CASE("altered chunk fails with a digest mismatch") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  const auto target = temp_path("altered.txt");
  std::filesystem::remove(target);
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("altered"));
    co_await store.connect();
    JetStream js(conn);

    ObjectMeta meta = co_await store.put("doc", "hello world");
    const std::string chunk_subject = detail::object_chunk_subject("altered", meta.nuid);
    const std::string stream = "OBJ_altered";
    PurgeOptions purge;
    purge.subject = chunk_subject;
    co_await js.purge_stream(stream, purge);
    std::string altered = "hello WORLD";
    co_await js.publish(chunk_subject, altered);

    std::error_code get_error = co_await error_of([&] { return store.get("doc"); });
    CHECK(get_error == errc::digest_mismatch);

    std::error_code file_error = co_await error_of([&] { return store.get_to_file("doc", target); });
    CHECK(file_error == errc::digest_mismatch);
    CHECK_FALSE(std::filesystem::exists(target));
    std::size_t leftovers = 0;
    for (const auto& entry : std::filesystem::directory_iterator(target.parent_path())) {
      if (entry.path().filename().string().starts_with(target.filename().string())) ++leftovers;
    }
    CHECK(leftovers == 0);

    // A chunk that is longer than recorded fails as a size mismatch.
    co_await js.purge_stream(stream, purge);
    std::string longer = "hello world and more";
    co_await js.publish(chunk_subject, longer);
    std::error_code long_error = co_await error_of([&] { return store.get("doc"); });
    CHECK(long_error == errc::size_mismatch);

    // All chunks gone: a size mismatch at once rather than a hang.
    co_await js.purge_stream(stream, purge);
    std::error_code missing_error = co_await error_of([&] { return store.get("doc"); });
    CHECK(missing_error == errc::size_mismatch);
  });
}

TEST_CASE("put_file and get_to_file stream through files") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  const auto source = temp_path("source.bin");
  const auto target = temp_path("target.bin");
  const std::string bytes = random_bytes(3 * 128 * 1024 + 5, 3);
  {
    std::ofstream out(source, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("files"));
    co_await store.connect();

    ObjectMeta meta = co_await store.put_file("data.bin", source, "from a file");
    CHECK(meta.size == bytes.size());
    CHECK(meta.chunks == 4);
    CHECK(meta.digest == detail::nats_digest(bytes));

    ObjectInfo info = co_await store.get_to_file("data.bin", target);
    CHECK(info.size == bytes.size());
    std::ifstream in(target, std::ios::binary);
    std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(written == bytes);

    std::error_code missing_file = co_await error_of([&] { return store.put_file("x", temp_path("no-such-file")); });
    CHECK(missing_file == std::errc::no_such_file_or_directory);
    std::error_code not_found = co_await error_of([&] { return store.get_to_file("x", temp_path("x")); });
    CHECK(not_found == errc::object_not_found);
    CHECK_FALSE(std::filesystem::exists(temp_path("x")));
  });
  std::filesystem::remove(source);
  std::filesystem::remove(target);
}

// TODO: this case aborts with "free(): invalid pointer" while ~ObjectInfo runs at the end of
// ObjectStore::do_put; not yet traced (GCC 12 coroutine frame, or a reply completed twice).
TEST_CASE("put_stream takes pieces from a source") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStoreConfig config = bucket_config("stream");
    config.chunk_size = 64;
    ObjectStore store(conn, config);
    co_await store.connect();

    const std::string bytes = random_bytes(1000, 4);
    ObjectSource source = [&bytes, offset = std::size_t{0},
                           step = std::size_t{1}]() mutable -> awaitable<std::optional<std::string>> {
      if (offset >= bytes.size()) co_return std::nullopt;
      std::string piece = bytes.substr(offset, step);
      offset += piece.size();
      step = step * 3 + 1;  // pieces of uneven sizes, smaller and larger than a chunk
      co_return piece;
    };
    ObjectMeta meta = co_await store.put_stream("pieces", std::move(source));
    CHECK(meta.size == 1000);
    CHECK(meta.chunks == 16);
    std::string content = co_await store.get("pieces");
    CHECK(content == bytes);

    // A source that fails leaves no chunks behind.
    ObjectSource failing = [calls = 0]() mutable -> awaitable<std::optional<std::string>> {
      if (++calls > 3) throw error(errc::invalid_argument, "source failed");
      co_return std::string(100, 'x');
    };
    std::error_code failed = co_await error_of([&] { return store.put_stream("broken", std::move(failing)); });
    CHECK(failed == errc::invalid_argument);
    std::error_code info_error = co_await error_of([&] { return store.info("broken"); });
    CHECK(info_error == errc::object_not_found);
    StreamInfo stream = co_await store.jetstream().stream_info("OBJ_stream", "$O.stream.C.>");
    CHECK(stream.state.subjects.size() == 1);  // only the chunks of "pieces"
  });
}

TEST_CASE("replacing an object purges the old chunks") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("replace"));
    co_await store.connect();
    JetStream js(conn);

    ObjectMeta first = co_await store.put("obj", "first version");
    ObjectMeta second = co_await store.put("obj", "second version", "v2");
    CHECK(first.nuid != second.nuid);
    std::string content = co_await store.get("obj");
    CHECK(content == "second version");

    StreamInfo stream = co_await js.stream_info("OBJ_replace", "$O.replace.C.>");
    CHECK(stream.state.subjects.size() == 1);
    CHECK(stream.state.subjects.count(detail::object_chunk_subject("replace", second.nuid)) == 1);
  });
}

TEST_CASE("deleted objects leave list and info") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("deletes"));
    co_await store.connect();

    auto started = std::chrono::steady_clock::now();
    std::vector<ObjectInfo> empty = co_await store.list();
    CHECK(empty.empty());
    CHECK(std::chrono::steady_clock::now() - started < 1s);

    co_await store.put("x", "xx");
    co_await store.put("y", "yyy");
    std::vector<ObjectInfo> both = co_await store.list();
    REQUIRE(both.size() == 2);
    CHECK(both[0].name == "x");
    CHECK(both[1].name == "y");
    CHECK(both[1].size == 3);

    co_await store.delete_object("x");
    co_await store.delete_object("y");
    co_await store.delete_object("y");  // already deleted: nothing to do

    started = std::chrono::steady_clock::now();
    std::vector<ObjectInfo> after = co_await store.list();
    CHECK(after.empty());
    CHECK(std::chrono::steady_clock::now() - started < 1s);

    std::error_code info_error = co_await error_of([&] { return store.info("x"); });
    CHECK(info_error == errc::object_not_found);
    CHECK(info_error == condition::key_not_found);
    std::error_code get_error = co_await error_of([&] { return store.get("y"); });
    CHECK(get_error == errc::object_not_found);
    std::error_code delete_error = co_await error_of([&] { return store.delete_object("never"); });
    CHECK(delete_error == errc::object_not_found);

    ObjectInfo deleted = co_await store.info("x", true);
    CHECK(deleted.deleted);
    CHECK(deleted.size == 0);
    CHECK(deleted.chunks == 0);
    CHECK(deleted.digest.empty());
    std::vector<ObjectInfo> with_deleted = co_await store.list(true);
    CHECK(with_deleted.size() == 2);

    StreamInfo stream = co_await store.jetstream().stream_info("OBJ_deletes", "$O.deletes.C.>");
    CHECK(stream.state.subjects.empty());
  });
}

TEST_CASE("opening a bucket keeps its objects") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore first(conn, bucket_config("reopen"));
    co_await first.connect();
    co_await first.put("kept", "still here");

    ObjectStoreConfig other = bucket_config("reopen");
    other.description = "different settings are not applied to an existing bucket";
    ObjectStore second(conn, other);
    co_await second.connect();
    std::string content = co_await second.get("kept");
    CHECK(content == "still here");

    CHECK_THROWS_AS(ObjectStore(conn, bucket_config("bad.name")), error);
  });
}

TEST_CASE("update_meta changes description, headers and name") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("meta"));
    co_await store.connect();
    co_await store.put("old", "content");
    co_await store.put("other", "other content");

    ObjectMetaUpdate update;
    update.description = "described";
    update.headers = {{"Content-Type", "text/plain"}};
    co_await store.update_meta("old", update);
    ObjectInfo info = co_await store.info("old");
    CHECK(info.description == "described");
    CHECK(info.headers == Headers{{"Content-Type", "text/plain"}});

    update.name = "new";
    co_await store.update_meta("old", update);
    std::string content = co_await store.get("new");
    CHECK(content == "content");
    std::error_code old_error = co_await error_of([&] { return store.info("old"); });
    CHECK(old_error == errc::object_not_found);

    update.name = "other";
    std::error_code clash = co_await error_of([&] { return store.update_meta("new", update); });
    CHECK(clash == errc::invalid_argument);
  });
}

TEST_CASE("watch delivers infos then updates") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("watched"));
    co_await store.connect();

    ObjectWatcher empty_watch = co_await store.watch();
    std::optional<ObjectInfo> marker = co_await empty_watch.next();
    CHECK_FALSE(marker.has_value());
    empty_watch.stop();

    co_await store.put("first", "1");
    ObjectWatcher watcher = co_await store.watch();
    std::optional<ObjectInfo> initial = co_await watcher.next();
    REQUIRE(initial.has_value());
    CHECK(initial->name == "first");
    std::optional<ObjectInfo> end = co_await watcher.next();
    CHECK_FALSE(end.has_value());

    co_await store.put("second", "22");
    std::optional<ObjectInfo> update = co_await watcher.next();
    REQUIRE(update.has_value());
    CHECK(update->name == "second");
    CHECK(update->size == 2);

    co_await store.delete_object("first");
    std::optional<ObjectInfo> deletion = co_await watcher.next();
    REQUIRE(deletion.has_value());
    CHECK(deletion->name == "first");
    CHECK(deletion->deleted);
    watcher.stop();
  });
}

// Reproduces a lower-layer fault seen here: a request made right after OrderedConsumer::stop()
// sometimes times out, which makes reads after a get or list fail.
TEST_CASE("direct get after consumer stop") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ObjectStore store(conn, bucket_config("scratch"));
    co_await store.connect();
    co_await store.put("doc", "hello");
    JetStream js(conn);
    const std::string stream = "OBJ_scratch";
    const std::string subject = detail::object_meta_subject("scratch", "doc");
    for (int i = 0; i < 5; ++i) {
      OrderedConsumerConfig config;
      config.filter_subject = detail::object_meta_filter("scratch");
      OrderedConsumer consumer = co_await js.ordered_consumer(stream, config);
      JsMessage first = co_await consumer.next();
      CHECK(first.subject() == subject);
      consumer.stop();
      StoredMessage stored = co_await js.get_last_message(stream, subject, true);
      CHECK_FALSE(stored.data.empty());
    }
  });
}

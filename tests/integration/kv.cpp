// KvStore against a private nats-server: values, markers, listing, history, watches and TTL.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/kv.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::experimental::as_tuple;

namespace {

// A fresh bucket per test, in memory so the tests stay fast.
KvStore make_bucket(Connection conn, const std::string& name, int history = 5) {
  KvBucketConfig config(name);
  config.history = history;
  config.storage = StorageType::memory;
  return KvStore(std::move(conn), std::move(config));
}

// Runs `count` coroutines made by `make(i)` concurrently and waits for all of them; rethrows
// the first failure.
template <typename Make>
awaitable<void> run_concurrently(int count, Make make) {
  auto executor = co_await asio::this_coro::executor;
  int remaining = count;
  std::exception_ptr first_failure;
  for (int i = 0; i < count; ++i) {
    asio::co_spawn(executor, make(i), [&](std::exception_ptr e) {
      if (e && !first_failure) first_failure = e;
      --remaining;
    });
  }
  while (remaining > 0) co_await test::sleep_for(5ms);
  if (first_failure) std::rethrow_exception(first_failure);
}

// Waits for the watcher's next item at most `limit`; nullopt when nothing arrived in time.
awaitable<std::optional<std::optional<KvEntry>>> next_within(KvWatcher& watcher, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto outcome = co_await (watcher.next(as_tuple(asio::use_awaitable)) || timer.async_wait(as_tuple(asio::use_awaitable)));
  if (outcome.index() == 1) co_return std::nullopt;
  auto [ec, item] = std::move(std::get<0>(outcome));
  if (ec) throw error(ec, "watch next");
  co_return std::optional<std::optional<KvEntry>>(std::move(item));
}

}  // namespace

TEST_CASE("kv put get update erase purge") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "basic");
    co_await kv.connect();

    const std::uint64_t r1 = co_await kv.put("a.b", std::string("one"));
    // Built outside the co_await expression: GCC 12 miscompiles a braced json temporary there.
    nlohmann::json value;
    value["n"] = 2;
    const std::uint64_t r2 = co_await kv.put("a.b", value);
    CHECK(r2 > r1);

    std::optional<KvEntry> entry = co_await kv.get("a.b");
    REQUIRE(entry);
    CHECK(entry->key == "a.b");
    CHECK(entry->bucket == "basic");
    CHECK(entry->revision == r2);
    CHECK(entry->operation == KvOperation::put);
    CHECK(entry->value == R"({"n":2})");
    CHECK(std::chrono::system_clock::now() - entry->created < 10s);

    std::optional<nlohmann::json> typed = co_await kv.get<nlohmann::json>("a.b");
    REQUIRE(typed);
    CHECK((*typed)["n"] == 2);

    std::optional<KvEntry> old = co_await kv.get_revision("a.b", r1);
    REQUIRE(old);
    CHECK(old->value == "one");

    std::optional<std::string> missing = co_await kv.get<std::string>("nothing.here");
    CHECK_FALSE(missing);

    const std::uint64_t r3 = co_await kv.update("a.b", std::string("three"), r2);
    auto [stale_ec, stale_rev] = co_await kv.update("a.b", std::string("stale"), r2, as_tuple(asio::use_awaitable));
    CHECK(stale_ec == errc::wrong_last_sequence);
    (void)stale_rev;

    const std::uint64_t del_rev = co_await kv.erase("a.b");
    CHECK(del_rev > r3);
    std::optional<KvEntry> deleted = co_await kv.get("a.b");
    CHECK_FALSE(deleted);
    std::optional<KvEntry> marker_by_revision = co_await kv.get_revision("a.b", del_rev);
    CHECK_FALSE(marker_by_revision);

    std::vector<KvEntry> history = co_await kv.history("a.b");
    REQUIRE(history.size() == 4);
    CHECK(history.back().operation == KvOperation::del);

    co_await kv.purge("a.b");
    history = co_await kv.history("a.b");
    REQUIRE(history.size() == 1);
    CHECK(history[0].operation == KvOperation::purge);

    KvStatus status = co_await kv.status();
    CHECK(status.bucket == "basic");
    CHECK(status.history == 5);
    CHECK_FALSE(status.ttl);
    CHECK(status.values == 1);
    CHECK(status.bytes > 0);

    auto [key_ec, key_rev] = co_await kv.put("bad key", std::string("x"), as_tuple(asio::use_awaitable));
    CHECK(key_ec == errc::invalid_key);
    (void)key_rev;

    const bool destroyed = co_await kv.destroy();
    CHECK(destroyed);
    auto [gone_ec, gone] = co_await kv.status(as_tuple(asio::use_awaitable));
    CHECK(gone_ec == errc::bucket_not_found);
    (void)gone;

    // Reads and writes of a deleted bucket fail at once, well within the request timeout.
    const auto started = std::chrono::steady_clock::now();
    auto [get_gone_ec, get_gone] = co_await kv.get("a.b", as_tuple(asio::use_awaitable));
    CHECK(get_gone_ec == errc::bucket_not_found);
    (void)get_gone;
    auto [put_gone_ec, put_gone] = co_await kv.put("a.b", std::string("x"), as_tuple(asio::use_awaitable));
    CHECK(put_gone_ec == errc::bucket_not_found);
    (void)put_gone;
    CHECK(std::chrono::steady_clock::now() - started < 1s);
  });
}

TEST_CASE("kv connect keeps an existing bucket") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore first = make_bucket(conn, "existing", 10);
    co_await first.connect();
    co_await first.put("k", std::string("kept"));

    KvStore second(conn, KvBucketConfig("existing").with_history(2).with_ttl(60s));
    co_await second.connect();
    CHECK(second.config().history == 10);
    CHECK_FALSE(second.config().ttl);
    std::optional<std::string> value = co_await second.get<std::string>("k");
    CHECK(value == std::optional<std::string>("kept"));

    KvStore absent(conn, KvBucketConfig("never_created"));
    auto [ec] = co_await absent.open(as_tuple(asio::use_awaitable));
    CHECK(ec == errc::bucket_not_found);
  });
}

TEST_CASE("kv create over delete markers") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "creates");
    co_await kv.connect();

    // 1,000 keys, each created and deleted twice; 20 workers share the keys.
    std::atomic<int> created{0};
    co_await run_concurrently(20, [&](int worker) -> awaitable<void> {
      for (int i = worker; i < 1000; i += 20) {
        const std::string key = "job." + std::to_string(i);
        for (int round = 0; round < 2; ++round) {
          co_await kv.create(key, std::string("v"));
          ++created;
          co_await kv.erase(key);
        }
      }
    });
    CHECK(created == 2000);

    co_await kv.put("live", std::string("x"));
    auto [exists_ec, exists_rev] = co_await kv.create("live", std::string("y"), as_tuple(asio::use_awaitable));
    CHECK(exists_ec == errc::key_exists);
    (void)exists_rev;

    co_await kv.purge("live");
    const std::uint64_t after_purge = co_await kv.create("live", std::string("z"));
    CHECK(after_purge > 0);

    // Two concurrent creates of a deleted key: exactly one wins.
    co_await kv.erase("live");
    Connection other(io.get_executor(), test::config_for(test::shared_server()));
    co_await other.connect();
    KvStore kv2(other, kv.config());
    co_await kv2.open();
    std::vector<std::error_code> outcomes;
    co_await run_concurrently(2, [&](int i) -> awaitable<void> {
      KvStore& store = i == 0 ? kv : kv2;
      auto [ec, rev] = co_await store.create("live", "writer-" + std::to_string(i), as_tuple(asio::use_awaitable));
      (void)rev;
      outcomes.push_back(ec);
    });
    REQUIRE(outcomes.size() == 2);
    const auto wins = std::count(outcomes.begin(), outcomes.end(), std::error_code());
    const auto exists = std::count(outcomes.begin(), outcomes.end(), std::error_code(errc::key_exists));
    CHECK(wins == 1);
    CHECK(exists == 1);
    other.close();
  });
}

TEST_CASE("kv keys with delete markers and empty buckets") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "keys");
    co_await kv.connect();

    auto started = std::chrono::steady_clock::now();
    std::vector<std::string> none = co_await kv.keys();
    CHECK(none.empty());
    CHECK(std::chrono::steady_clock::now() - started < 2s);

    for (int i = 0; i < 10; ++i) co_await kv.put("k" + std::to_string(i), std::string("v"));
    co_await kv.erase("k9");  // the newest message of the stream is a delete marker

    started = std::chrono::steady_clock::now();
    std::vector<std::string> keys = co_await kv.keys();
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    CHECK(keys.size() == 9);
    CHECK(std::set<std::string>(keys.begin(), keys.end()).count("k9") == 0);

    for (int i = 0; i < 9; ++i) co_await kv.erase("k" + std::to_string(i));
    started = std::chrono::steady_clock::now();
    keys = co_await kv.keys();
    CHECK(keys.empty());
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    std::vector<KvEntry> live = co_await kv.entries();
    CHECK(live.empty());
  });
}

TEST_CASE("kv lists 5000 keys and 50 revisions in order") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "many", 64);
    co_await kv.connect();

    co_await run_concurrently(50, [&](int worker) -> awaitable<void> {
      for (int i = worker; i < 5000; i += 50) co_await kv.put("key." + std::to_string(i), std::to_string(i));
    });
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::string> keys = co_await kv.keys();
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(keys.size() == 5000);
    CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == 5000);

    for (int i = 0; i < 50; ++i) co_await kv.put("counter", std::to_string(i));
    std::vector<KvEntry> history = co_await kv.history("counter");
    REQUIRE(history.size() == 50);
    for (std::size_t i = 0; i < history.size(); ++i) {
      CHECK(history[i].value == std::to_string(i));
      if (i > 0) CHECK(history[i].revision > history[i - 1].revision);
    }
  });
}

TEST_CASE("kv end of initial values under concurrent writes") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "schedule");
    co_await kv.connect();
    for (int i = 1; i <= 50; ++i) co_await kv.put("schedule." + std::to_string(i), std::to_string(i));

    // Another task keeps writing other keys while the listings run.
    bool writing = true;
    int other_writes = 0;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          while (writing) {
            co_await kv.put("other." + std::to_string(other_writes % 20), std::string("x"));
            ++other_writes;
          }
        },
        asio::detached);

    int complete_listings = 0;
    for (int round = 0; round < 200; ++round) {
      std::vector<std::string> keys = co_await kv.keys("schedule.*");
      if (keys.size() == 50) ++complete_listings;
    }
    std::vector<KvEntry> history = co_await kv.history("schedule.*");
    writing = false;
    co_await test::sleep_for(20ms);
    CHECK(complete_listings == 200);
    CHECK(history.size() == 50);
    CHECK(other_writes > 0);

    // A raw watch: every initial entry before the marker, and the marker once.
    KvWatcher watcher = co_await kv.watch("schedule.*");
    std::set<std::string> before_marker;
    for (;;) {
      std::optional<KvEntry> entry = co_await watcher.next();
      if (!entry) break;
      before_marker.insert(entry->key);
    }
    CHECK(before_marker.size() == 50);
    co_await kv.put("schedule.51", std::string("51"));
    auto next = co_await next_within(watcher, 5s);
    REQUIRE(next);
    REQUIRE(*next);
    CHECK((*next)->key == "schedule.51");
    auto extra = co_await next_within(watcher, 300ms);
    CHECK_FALSE(extra);  // no second marker, no other entry
    watcher.stop();

    // The marker also comes for an empty range, and at once for updates_only.
    KvWatcher empty = co_await kv.watch("nothing.>");
    auto marker = co_await next_within(empty, 2s);
    REQUIRE(marker);
    CHECK_FALSE(*marker);
    KvWatchOptions updates;
    updates.updates_only = true;
    KvWatcher fresh = co_await kv.watch("schedule.*", updates);
    marker = co_await next_within(fresh, 2s);
    REQUIRE(marker);
    CHECK_FALSE(*marker);
  });
}

TEST_CASE("kv watch reports deletes and purges") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "watchops");
    co_await kv.connect();
    co_await kv.put("a", std::string("1"));

    KvWatcher watcher = co_await kv.watch();
    std::optional<KvEntry> first = co_await watcher.next();
    REQUIRE(first);
    CHECK(first->value == "1");
    std::optional<KvEntry> marker = co_await watcher.next();
    CHECK_FALSE(marker);

    co_await kv.erase("a");
    co_await kv.put("b", std::string("2"));
    co_await kv.purge("b");
    std::optional<KvEntry> del = co_await watcher.next();
    std::optional<KvEntry> put = co_await watcher.next();
    std::optional<KvEntry> purge = co_await watcher.next();
    REQUIRE(del);
    REQUIRE(put);
    REQUIRE(purge);
    CHECK(del->operation == KvOperation::del);
    CHECK(del->key == "a");
    CHECK(put->operation == KvOperation::put);
    CHECK(purge->operation == KvOperation::purge);
    CHECK(purge->key == "b");

    KvWatchOptions meta;
    meta.meta_only = true;
    meta.include_history = true;
    KvWatcher headers = co_await kv.watch(">", meta);
    std::optional<KvEntry> h = co_await headers.next();
    REQUIRE(h);
    CHECK(h->value.empty());
  });
}

TEST_CASE("kv watch of 10000 keys with a slow consumer") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "bigwatch");
    co_await kv.connect();
    co_await run_concurrently(50, [&](int worker) -> awaitable<void> {
      for (int i = worker; i < 10000; i += 50) co_await kv.put("k." + std::to_string(i), std::string(100, 'x'));
    });

    KvWatcher watcher = co_await kv.watch();
    co_await test::sleep_for(1500ms);  // the consumer is slow at first
    std::set<std::string> seen;
    int slow_reads = 0;
    for (;;) {
      std::optional<KvEntry> entry = co_await watcher.next();
      if (!entry) break;
      seen.insert(entry->key);
      if (slow_reads < 100) {  // keep being slow for a while
        ++slow_reads;
        co_await test::sleep_for(2ms);
      }
    }
    CHECK(seen.size() == 10000);
  });
}

TEST_CASE("kv value expires after ttl") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvBucketConfig config("expiring");
    config.ttl = 2s;
    config.storage = StorageType::memory;
    KvStore kv(conn, config);
    co_await kv.connect();
    KvStatus status = co_await kv.status();
    CHECK(status.ttl == std::optional<std::chrono::seconds>(2s));

    co_await kv.put("short", std::string("lived"));
    std::optional<KvEntry> fresh = co_await kv.get("short");
    CHECK(fresh);
    co_await test::sleep_for(3s);
    std::optional<KvEntry> expired = co_await kv.get("short");
    CHECK_FALSE(expired);
  });
}

TEST_CASE("kv watch survives a server restart") {
  testing::Server server;  // its own server with a file store, restarted below
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(server));
  test::run(
      io,
      [&]() -> awaitable<void> {
        co_await conn.connect();
        KvStore kv(conn, KvBucketConfig("restart"));  // file storage survives the restart
        co_await kv.connect();
        const std::uint64_t first = co_await kv.put("k1", std::string("v1"));

        KvWatcher watcher = co_await kv.watch();
        std::optional<KvEntry> initial = co_await watcher.next();
        REQUIRE(initial);
        std::optional<KvEntry> marker = co_await watcher.next();
        CHECK_FALSE(marker);

        server.restart();
        // Wait for the reconnect, then for JetStream to answer again.
        std::uint64_t second = 0;
        for (int attempt = 0; attempt < 100 && second == 0; ++attempt) {
          auto [ec, rev] = co_await kv.put("k1", std::string("v2"), as_tuple(asio::use_awaitable));
          if (!ec) second = rev;
          else co_await test::sleep_for(100ms);
        }
        REQUIRE(second > first);

        auto update = co_await next_within(watcher, 15s);
        REQUIRE(update);
        REQUIRE(*update);
        CHECK((*update)->key == "k1");
        CHECK((*update)->value == "v2");
        CHECK((*update)->operation == KvOperation::put);
        CHECK((*update)->revision == second);
        auto duplicate = co_await next_within(watcher, 1s);
        CHECK_FALSE(duplicate);  // exactly once, and the watch did not end
        watcher.stop();
      },
      60s);
}

TEST_CASE("kv 64 concurrent coroutines on one thread") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    KvStore kv = make_bucket(conn, "concurrent64");
    co_await kv.connect();

    constexpr int workers = 64;
    constexpr int rounds = 100;
    std::atomic<int> mismatches = 0;
    std::atomic<int> completed = 0;
    co_await run_concurrently(workers, [&](int worker) -> awaitable<void> {
      const std::string key = "worker." + std::to_string(worker);
      for (int round = 0; round < rounds; ++round) {
        const std::string value = std::to_string(worker) + ":" + std::to_string(round);
        const std::uint64_t revision = co_await kv.put(key, value);
        std::optional<KvEntry> read = co_await kv.get(key);
        // Only this coroutine writes `key`, so it reads back exactly what it wrote.
        if (!read || read->value != value || read->revision != revision) ++mismatches;
      }
      ++completed;
    });
    CHECK(completed == workers);
    CHECK(mismatches == 0);

    std::vector<std::string> keys = co_await kv.keys();
    CHECK(keys.size() == static_cast<std::size_t>(workers));
    std::optional<std::string> last = co_await kv.get<std::string>("worker.63");
    CHECK(last == std::optional<std::string>("63:99"));
  });
}

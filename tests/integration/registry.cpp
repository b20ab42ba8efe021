// BeingRegistry, ShipConfig and HealthMetrics against a private nats-server.
#include <catch2/catch.hpp>

#include <set>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <noesis/ship/being_registry.hpp>
#include <noesis/ship/health_metrics.hpp>
#include <noesis/ship/ship_config.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

TEST_CASE("registry lifecycle and online filter") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    BeingRegistry registry(conn);
    co_await registry.connect();
    KvStatus status = co_await registry.store().status();
    CHECK(status.bucket == "beings_status");
    CHECK(status.ttl == std::optional<std::chrono::seconds>(300s));
    CHECK(status.history == 5);

    BeingRegistryWatcher watcher = co_await registry.watch();

    std::vector<std::string> capabilities{"build", "test"};  // a braced list inside co_await trips GCC 12
    BeingStatus fresh = co_await registry.register_being("worker-1", capabilities);
    CHECK(fresh.state == BeingState::idle);
    CHECK(fresh.uptime_seconds == 0);
    co_await registry.register_being("worker-2");

    co_await test::sleep_for(1100ms);
    BeingStatus busy = co_await registry.update_status("worker-1", BeingState::working, "BUILD-001");
    CHECK(busy.state == BeingState::working);
    CHECK(busy.current_task == std::optional<std::string>("BUILD-001"));
    CHECK(busy.uptime_seconds >= 1);
    CHECK(busy.capabilities == std::vector<std::string>{"build", "test"});

    BeingStatus beat = co_await registry.heartbeat("worker-1");
    CHECK(beat.state == BeingState::working);
    CHECK(beat.current_task == std::optional<std::string>("BUILD-001"));

    std::optional<BeingStatus> read = co_await registry.get_status("worker-1");
    REQUIRE(read);
    CHECK(*read == beat);

    std::vector<BeingStatus> all = co_await registry.get_online();
    CHECK(all.size() == 2);
    OnlineFilter working;
    working.states = {BeingState::working};
    std::vector<BeingStatus> busy_only = co_await registry.get_online(working);
    REQUIRE(busy_only.size() == 1);
    CHECK(busy_only[0].being_id == "worker-1");
    OnlineFilter recent;
    recent.max_heartbeat_age = 1s;
    std::vector<BeingStatus> fresh_only = co_await registry.get_online(recent);
    REQUIRE(fresh_only.size() == 1);  // worker-2's heartbeat is older than 1 s
    CHECK(fresh_only[0].being_id == "worker-1");

    co_await registry.unregister("worker-2");
    std::optional<BeingStatus> gone = co_await registry.get_status("worker-2");
    CHECK_FALSE(gone);
    auto [missing_ec, missing] = co_await registry.heartbeat("worker-2", asio::experimental::as_tuple(asio::use_awaitable));
    CHECK(missing_ec == errc::key_not_found);
    (void)missing;

    // joined 1, joined 2, updated 1 (status), updated 1 (heartbeat), left 2
    std::vector<BeingChange> changes;
    for (int i = 0; i < 5; ++i) changes.push_back(co_await watcher.next());
    CHECK(changes[0].kind == BeingChangeKind::joined);
    CHECK(changes[0].being_id == "worker-1");
    CHECK(changes[1].kind == BeingChangeKind::joined);
    CHECK(changes[1].being_id == "worker-2");
    CHECK(changes[2].kind == BeingChangeKind::updated);
    CHECK(changes[3].kind == BeingChangeKind::updated);
    CHECK(changes[4].kind == BeingChangeKind::left);
    CHECK(changes[4].being_id == "worker-2");
    CHECK_FALSE(changes[4].status);
    watcher.stop();
  });
}

TEST_CASE("registry concurrent updates lose nothing") {
  asio::io_context io;
  Connection conn_a(io.get_executor(), test::config_for(test::shared_server()));
  Connection conn_b(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn_a.connect();
    co_await conn_b.connect();
    BeingRegistry a(conn_a);
    BeingRegistry b(conn_b);
    co_await a.connect();
    co_await b.connect();
    co_await a.register_being("contended");

    KvWatchOptions all_revisions;
    all_revisions.updates_only = true;
    KvWatcher watcher = co_await a.store().watch("contended", all_revisions);
    std::optional<KvEntry> marker = co_await watcher.next();
    CHECK_FALSE(marker);

    // 20 update_status calls (each sets a new task) and 10 heartbeats, from two connections.
    int finished = 0;
    int failed = 0;
    std::string first_failure;
    for (int i = 0; i < 30; ++i) {
      // The registry and index are coroutine parameters, copied into the coroutine frame: a
      // lambda's captures would dangle once the lambda object goes out of scope.
      auto op = [](BeingRegistry registry, int index) -> awaitable<void> {
        if (index % 3 == 2) {
          co_await registry.heartbeat("contended");
        } else {
          std::optional<std::string> task = "task-" + std::to_string(index);
          co_await registry.update_status("contended", BeingState::working, task);
        }
      };
      asio::co_spawn(io, op(i % 2 == 0 ? a : b, i), [&](std::exception_ptr e) {
        if (e) {
          ++failed;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& failure) {
            if (first_failure.empty()) first_failure = failure.what();
          }
        }
        ++finished;
      });
    }
    while (finished < 30) co_await test::sleep_for(5ms);
    INFO("first failure: " << first_failure);
    REQUIRE(failed == 0);

    // Every write is a revision. A heartbeat that overwrote a newer task with a stale one would
    // show an earlier task again.
    std::vector<std::string> tasks;
    for (int i = 0; i < 30; ++i) {
      std::optional<KvEntry> entry = co_await watcher.next();
      REQUIRE(entry);
      tasks.push_back(entry->json<BeingStatus>().current_task.value_or(""));
    }
    std::set<std::string> finished_tasks;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      const bool same_as_before = i > 0 && tasks[i] == tasks[i - 1];
      if (!same_as_before) {
        CHECK(finished_tasks.count(tasks[i]) == 0);  // never back to an older task
        finished_tasks.insert(tasks[i]);
      }
    }
    finished_tasks.erase("");
    CHECK(finished_tasks.size() == 20);

    std::optional<BeingStatus> final_record = co_await a.get_status("contended");
    REQUIRE(final_record);
    CHECK(final_record->current_task == std::optional<std::string>(tasks.back()));
    watcher.stop();
  });
}

TEST_CASE("ship config and health metrics") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ShipConfig config(conn);
    co_await config.connect();
    ConfigWatcher watcher = co_await config.watch();

    co_await config.set("build.parallelism", 4);
    co_await config.set("owner", std::string("fleet"));
    const int jobs = co_await config.get("build.parallelism", 1);
    CHECK(jobs == 4);
    const int fallback = co_await config.get("missing.key", 7);
    CHECK(fallback == 7);
    std::optional<std::string> raw = co_await config.store().get<std::string>("owner");
    CHECK(raw == std::optional<std::string>("\"fleet\""));  // a JSON string, as Rust stores it
    std::vector<std::string> keys = co_await config.keys();
    CHECK(std::set<std::string>(keys.begin(), keys.end()) == std::set<std::string>{"build.parallelism", "owner"});

    ConfigChange first = co_await watcher.next();
    CHECK(first.key == "build.parallelism");
    CHECK(first.value_as<int>() == 4);
    ConfigChange second = co_await watcher.next();
    CHECK(second.value_as<std::string>() == "fleet");
    co_await config.remove("owner");
    ConfigChange removed = co_await watcher.next();
    CHECK(removed.key == "owner");
    CHECK_FALSE(removed.value);

    HealthMetrics health(conn);
    co_await health.connect();
    KvStatus status = co_await health.store().status();
    CHECK(status.ttl == std::optional<std::chrono::seconds>(120s));
    nlohmann::json report;
    report["cpu"] = 0.5;
    co_await health.report("worker-1", report);
    co_await health.report("worker-2", report);
    std::optional<nlohmann::json> one = co_await health.get("worker-1");
    REQUIRE(one);
    CHECK((*one)["cpu"] == 0.5);
    auto all = co_await health.get_all();
    CHECK(all.size() == 2);
  });
}

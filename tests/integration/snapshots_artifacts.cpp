// BeingSnapshots and ArtifactStore against a private nats-server.
#include <catch2/catch.hpp>

#include <set>

#include <noesis/ship/artifact_store.hpp>
#include <noesis/ship/being_snapshots.hpp>
#include <noesis/ship/testing/server.hpp>

#include "test_support.hpp"

using namespace noesis::ship;
using namespace std::chrono_literals;
using asio::awaitable;

TEST_CASE("snapshots take, list, restore and delete") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    SnapshotsConfig config;
    config.storage = StorageType::memory;
    BeingSnapshots snapshots(conn, config);
    co_await snapshots.connect();

    std::optional<SnapshotInfo> none = co_await snapshots.latest("agent-1");
    CHECK_FALSE(none.has_value());

    // Several in the same second keep distinct ids.
    std::set<std::string> ids;
    for (int i = 0; i < 5; ++i) {
      nlohmann::json state = {{"step", i}};
      std::string id = co_await snapshots.take("agent-1", state, "step " + std::to_string(i));
      ids.insert(id);
    }
    CHECK(ids.size() == 5);
    nlohmann::json other_state = {{"other", true}};
    std::string other = co_await snapshots.take("agent-1_b", other_state, "other being");

    std::vector<SnapshotInfo> listed = co_await snapshots.list("agent-1");
    REQUIRE(listed.size() == 5);
    CHECK(listed.front().reason == "step 4");
    CHECK(listed.back().reason == "step 0");
    CHECK(listed.front().being_id == "agent-1");

    std::optional<SnapshotInfo> latest = co_await snapshots.latest("agent-1");
    REQUIRE(latest.has_value());
    nlohmann::json restored = co_await snapshots.restore(latest->snapshot_id);
    CHECK(restored == nlohmann::json({{"step", 4}}));

    std::string stored = co_await snapshots.store().get(latest->snapshot_id);
    nlohmann::json whole = nlohmann::json::parse(stored);
    CHECK(stored.find(R"({"being_id":"agent-1","created":")") == 0);
    CHECK(whole["reason"] == "step 4");
    CHECK(whole["state"] == restored);
    ObjectInfo info = co_await snapshots.store().info(latest->snapshot_id);
    CHECK(info.description == "step 4");

    co_await snapshots.delete_snapshot(latest->snapshot_id);
    std::vector<SnapshotInfo> after = co_await snapshots.list("agent-1");
    CHECK(after.size() == 4);
    std::error_code missing;
    try {
      co_await snapshots.restore(latest->snapshot_id);
    } catch (const error& e) {
      missing = e.code();
    }
    CHECK(missing == errc::object_not_found);

    std::vector<SnapshotInfo> other_list = co_await snapshots.list("agent-1_b");
    REQUIRE(other_list.size() == 1);
    CHECK(other_list.front().snapshot_id == other);
  });
}

TEST_CASE("artifacts store, list by type and task, delete") {
  asio::io_context io;
  Connection conn(io.get_executor(), test::config_for(test::shared_server()));
  test::run(io, [&]() -> awaitable<void> {
    co_await conn.connect();
    ArtifactsConfig config;
    config.storage = StorageType::memory;
    ArtifactStore artifacts(conn, config);
    co_await artifacts.connect();

    ObjectMeta report = co_await artifacts.store_artifact("report.md", "# Report", "report", std::string("exp-1"));
    CHECK(report.description == std::optional<std::string>("type=report, expedition=exp-1"));
    co_await artifacts.store_artifact("build.bin", "\x7f" "ELF", "binary");
    co_await artifacts.store_artifact("notes.md", "notes", "report", std::string("exp-2"));

    std::string content = co_await artifacts.get("report.md");
    CHECK(content == "# Report");

    std::vector<ArtifactInfo> all = co_await artifacts.list();
    CHECK(all.size() == 3);
    // Filters are named locals: GCC 12 miscompiles a braced aggregate temporary inside co_await.
    ArtifactFilter report_filter;
    report_filter.type = "report";
    ArtifactFilter exp2_filter;
    exp2_filter.task = "exp-2";
    std::vector<ArtifactInfo> reports = co_await artifacts.list(report_filter);
    REQUIRE(reports.size() == 2);
    CHECK(reports[0].name == "report.md");
    CHECK(reports[1].name == "notes.md");
    std::vector<ArtifactInfo> exp2 = co_await artifacts.list(exp2_filter);
    REQUIRE(exp2.size() == 1);
    CHECK(exp2[0].name == "notes.md");
    CHECK(exp2[0].size == 5);

    co_await artifacts.delete_artifact("report.md");
    std::vector<ArtifactInfo> remaining = co_await artifacts.list(report_filter);
    REQUIRE(remaining.size() == 1);
    CHECK(remaining[0].name == "notes.md");
  });
}

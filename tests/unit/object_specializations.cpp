// Snapshot ids and artifact descriptions, the formats BeingSnapshots and ArtifactStore store.
#include <catch2/catch.hpp>

#include <noesis/ship/artifact_store.hpp>
#include <noesis/ship/being_snapshots.hpp>
#include <noesis/ship/timestamp.hpp>

using namespace noesis::ship;

TEST_CASE("snapshot id keeps the Rust prefix and adds a suffix") {
  const auto time = *parse_rfc3339("2026-03-20T04:37:32.123456+00:00");
  CHECK(make_snapshot_id("agent-7", time, 0x00af) == "agent-7_20260320_043732_123_00af");
  CHECK(make_snapshot_id("a", time, 0xffff) == "a_20260320_043732_123_ffff");
}

TEST_CASE("snapshot ids in one second differ") {
  const auto time = *parse_rfc3339("2026-03-20T04:37:32+00:00");
  CHECK(make_snapshot_id("a", time, 1) != make_snapshot_id("a", time, 2));
  CHECK(make_snapshot_id("a", time, 1) != make_snapshot_id("a", time + std::chrono::milliseconds(1), 1));
}

TEST_CASE("snapshot time keys select one being") {
  CHECK(snapshot_id_time_key("a_20260320_043732_123_00af", "a") == std::optional<std::string>("20260320_043732_123_00af"));
  CHECK(snapshot_id_time_key("a_20260320_043732", "a") == std::optional<std::string>("20260320_043732"));
  // Another being whose id starts with "a_".
  CHECK_FALSE(snapshot_id_time_key("a_b_20260320_043732", "a").has_value());
  CHECK(snapshot_id_time_key("a_b_20260320_043732", "a_b").has_value());
  CHECK_FALSE(snapshot_id_time_key("ab_20260320_043732", "a").has_value());
  CHECK_FALSE(snapshot_id_time_key("a_2026032_043732", "a").has_value());
  CHECK_FALSE(snapshot_id_time_key("a_20260320_043732_123_00AF", "a").has_value());
  CHECK_FALSE(snapshot_id_time_key("a_", "a").has_value());
}

TEST_CASE("snapshot time keys sort newest last as strings") {
  const auto older = *snapshot_id_time_key("a_20260320_043732", "a");
  const auto same_second = *snapshot_id_time_key("a_20260320_043732_500_0001", "a");
  const auto newer = *snapshot_id_time_key("a_20260320_043733_000_0000", "a");
  CHECK(older < same_second);
  CHECK(same_second < newer);
}

TEST_CASE("artifact descriptions match the Rust form") {
  CHECK(artifact_description("report", std::string("exp-42")) == "type=report, expedition=exp-42");
  CHECK(artifact_description("binary", std::nullopt) == "type=binary");
}

TEST_CASE("artifact descriptions parse back") {
  auto with_task = parse_artifact_description("type=report, expedition=exp-42");
  REQUIRE(with_task.has_value());
  CHECK(with_task->type == "report");
  CHECK(with_task->task == std::optional<std::string>("exp-42"));

  auto without_task = parse_artifact_description("type=binary");
  REQUIRE(without_task.has_value());
  CHECK(without_task->type == "binary");
  CHECK_FALSE(without_task->task.has_value());

  CHECK_FALSE(parse_artifact_description("a plain description").has_value());
  CHECK_FALSE(parse_artifact_description("").has_value());
}

// The claim order shared by JobQueue and DurableJobQueue: priority (where honoured), then age,
// then submission order, then id, and the per-worker index of queued jobs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <noesis/ship/detail/job_order.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;

namespace {

Job<int> queued_job(std::string id, std::int64_t queued_at, int priority = 0) {
  Job<int> job;
  job.id = std::move(id);
  job.worker = "w";
  job.queued_by = "test";
  job.queued_at = queued_at;
  job.priority = priority;
  return job;
}

std::vector<std::string> ids_in_order(const std::set<JobOrderKey>& keys) {
  std::vector<std::string> ids;
  for (const auto& key : keys) ids.push_back(key.id);
  return ids;
}

std::vector<std::string> ids_of(const std::vector<const JobOrderKey*>& keys) {
  std::vector<std::string> ids;
  for (const auto* key : keys) ids.push_back(key->id);
  return ids;
}

}  // namespace

TEST_CASE("job order: priority, then age, then submission") {
  const auto old_low = queued_job("JOB-003", 500);
  const auto same_ms_first = queued_job("JOB-001", 1000);
  const auto same_ms_second = queued_job("JOB-002", 1000);
  const auto new_high = queued_job("JOB-004", 9000, 5);
  const auto negative = queued_job("JOB-005", 1, -1);

  std::set<JobOrderKey> keys;
  keys.insert(job_order_key(same_ms_second, 2, JobPriority::honoured));
  keys.insert(job_order_key(negative, 5, JobPriority::honoured));
  keys.insert(job_order_key(new_high, 4, JobPriority::honoured));
  keys.insert(job_order_key(same_ms_first, 1, JobPriority::honoured));
  keys.insert(job_order_key(old_low, 3, JobPriority::honoured));
  CHECK(ids_in_order(keys) == std::vector<std::string>{"JOB-004", "JOB-003", "JOB-001", "JOB-002", "JOB-005"});
}

TEST_CASE("job order without priority is by age") {
  const auto high = queued_job("JOB-002", 2000, 100);
  const auto low = queued_job("JOB-001", 1000, -100);
  const auto key_high = job_order_key(high, 2, JobPriority::ignored);
  const auto key_low = job_order_key(low, 1, JobPriority::ignored);
  CHECK(key_high.priority_rank == 0);
  CHECK(key_low < key_high);
}

TEST_CASE("job order: submission number, not id text") {
  // "JOB-1000" sorts before "JOB-999" as text, so the sequence must decide first.
  const auto earlier = queued_job("JOB-999", 1000);
  const auto later = queued_job("JOB-1000", 1000);
  CHECK(job_order_key(earlier, 999, JobPriority::honoured) < job_order_key(later, 1000, JobPriority::honoured));
}

TEST_CASE("job order puts foreign ids last, by id") {
  const auto numbered = queued_job("JOB-500", 1000);
  const auto manual_b = queued_job("manual-b", 1000);
  const auto manual_a = queued_job("manual-a", 1000);
  std::set<JobOrderKey> keys;
  keys.insert(job_order_key(manual_b, foreign_job_sequence, JobPriority::honoured));
  keys.insert(job_order_key(numbered, 500, JobPriority::honoured));
  keys.insert(job_order_key(manual_a, foreign_job_sequence, JobPriority::honoured));
  CHECK(ids_in_order(keys) == std::vector<std::string>{"JOB-500", "manual-a", "manual-b"});
}

TEST_CASE("job order handles extreme priorities") {
  // Negating the smallest int in int arithmetic overflows, so the rank is widened first.
  const auto lowest = queued_job("JOB-001", 1000, std::numeric_limits<int>::min());
  const auto normal = queued_job("JOB-002", 2000, 0);
  const auto highest = queued_job("JOB-003", 3000, std::numeric_limits<int>::max());
  std::set<JobOrderKey> keys;
  keys.insert(job_order_key(lowest, 1, JobPriority::honoured));
  keys.insert(job_order_key(normal, 2, JobPriority::honoured));
  keys.insert(job_order_key(highest, 3, JobPriority::honoured));
  CHECK(ids_in_order(keys) == std::vector<std::string>{"JOB-003", "JOB-002", "JOB-001"});
}

TEST_CASE("queued index keeps workers apart") {
  QueuedJobIndex index;
  CHECK(index.first("a") == nullptr);

  const auto a_old = queued_job("JOB-001", 100);
  const auto b_older = queued_job("JOB-002", 50);
  const auto a_new = queued_job("JOB-003", 200);
  index.insert("a", job_order_key(a_old, 1, JobPriority::honoured));
  index.insert("b", job_order_key(b_older, 2, JobPriority::honoured));
  index.insert("a", job_order_key(a_new, 3, JobPriority::honoured));

  REQUIRE(index.first("a") != nullptr);
  CHECK(index.first("a")->id == "JOB-001");
  REQUIRE(index.first("b") != nullptr);
  CHECK(index.first("b")->id == "JOB-002");
  CHECK(index.first("A") == nullptr);
  CHECK(index.size("a") == 2);

  index.erase("a", job_order_key(a_old, 1, JobPriority::honoured));
  REQUIRE(index.first("a") != nullptr);
  CHECK(index.first("a")->id == "JOB-003");

  index.erase("b", job_order_key(b_older, 2, JobPriority::honoured));
  CHECK(index.first("b") == nullptr);
  CHECK(index.size("b") == 0);

  // Erasing a key that is not there changes nothing.
  index.erase("a", job_order_key(b_older, 2, JobPriority::honoured));
  index.erase("nobody", job_order_key(b_older, 2, JobPriority::honoured));
  CHECK(index.size("a") == 1);
}

TEST_CASE("queued index top priority candidates") {
  QueuedJobIndex index;
  CHECK(index.first_of_top_priority("w", 8).empty());

  for (int i = 1; i <= 5; ++i) {
    const auto job = queued_job("JOB-00" + std::to_string(i), 1000 + i, i <= 3 ? 7 : 1);
    index.insert("w", job_order_key(job, static_cast<std::uint64_t>(i), JobPriority::honoured));
  }
  CHECK(ids_of(index.first_of_top_priority("w", 8)) == std::vector<std::string>{"JOB-001", "JOB-002", "JOB-003"});
  CHECK(ids_of(index.first_of_top_priority("w", 2)) == std::vector<std::string>{"JOB-001", "JOB-002"});
  CHECK(index.first_of_top_priority("other", 8).empty());
}

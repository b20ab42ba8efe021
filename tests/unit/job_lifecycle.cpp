// The durable job queue's state changes without a server: claim, lease extension and expiry,
// attempts, completion, failure and cancellation.
#include <catch2/catch.hpp>

#include <noesis/ship/detail/job_lifecycle.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;
using namespace std::chrono_literals;

namespace {

Job<int> queued_job() {
  Job<int> job;
  job.id = "JOB-001";
  job.payload = 7;
  job.worker = "w";
  job.queued_by = "test";
  job.queued_at = 1000;
  return job;
}

}  // namespace

TEST_CASE("start sets running, attempts and lease") {
  auto job = queued_job();
  REQUIRE(start_job(job, 5000, 2s));
  CHECK(job.status == JobStatus::running);
  CHECK(job.started_at == 5000);
  CHECK(job.attempts == 1);
  CHECK(job.lease_expires_at == 7000);

  const auto before = job;
  CHECK_FALSE(start_job(job, 6000, 2s));
  CHECK(job == before);
}

TEST_CASE("lease extension moves the expiry for the current attempt only") {
  auto job = queued_job();
  CHECK_FALSE(extend_job_lease(job, 1000, 2s));
  REQUIRE(start_job(job, 5000, 2s));
  REQUIRE(extend_job_lease(job, 6500, 2s));
  CHECK(job.lease_expires_at == 8500);
  CHECK_FALSE(extend_job_lease(job, 6600, 2s, 2u));
  CHECK(job.lease_expires_at == 8500);
  CHECK(extend_job_lease(job, 6600, 2s, 1u));
  CHECK(job.lease_expires_at == 8600);
}

TEST_CASE("complete and fail only from running") {
  auto job = queued_job();
  const auto queued = job;
  CHECK_FALSE(complete_job(job, {{"ok", true}}, 2000));
  CHECK_FALSE(fail_job(job, "boom", 2000));
  CHECK(job == queued);

  REQUIRE(start_job(job, 3000, 10s));
  CHECK_FALSE(complete_job(job, {{"ok", true}}, 4000, 2u));  // another attempt's worker
  REQUIRE(complete_job(job, {{"ok", true}}, 4000, 1u));
  CHECK(job.status == JobStatus::complete);
  CHECK(job.completed_at == 4000);
  CHECK(job.result == nlohmann::json{{"ok", true}});
  CHECK_FALSE(job.lease_expires_at);

  const auto done = job;
  CHECK_FALSE(fail_job(job, "late", 5000));
  CHECK_FALSE(complete_job(job, nullptr, 5000));
  CHECK_FALSE(cancel_job(job, 5000));
  CHECK(job == done);

  auto other = queued_job();
  REQUIRE(start_job(other, 3000, 10s));
  REQUIRE(fail_job(other, "boom", 3500));
  CHECK(other.status == JobStatus::failed);
  CHECK(other.error == "boom");
  CHECK_FALSE(complete_job(other, nullptr, 3600));
}

TEST_CASE("expired lease requeues until max attempts then fails with the reason") {
  auto job = queued_job();
  CHECK_FALSE(expire_job_lease(job, 99999, 3));  // queued: nothing to expire

  REQUIRE(start_job(job, 1000, 2s));
  CHECK_FALSE(lease_expired(job, 3000));  // expiry is strictly after lease_expires_at
  CHECK_FALSE(expire_job_lease(job, 3000, 2));
  CHECK(job.status == JobStatus::running);

  CHECK(expire_job_lease(job, 3001, 2) == JobEvent::requeued);
  CHECK(job.status == JobStatus::queued);
  CHECK_FALSE(job.started_at);
  CHECK_FALSE(job.lease_expires_at);
  CHECK(job.attempts == 1);

  REQUIRE(start_job(job, 4000, 2s));
  CHECK(job.attempts == 2);
  CHECK(expire_job_lease(job, 7000, 2) == JobEvent::failed);
  CHECK(job.status == JobStatus::failed);
  CHECK(job.error == "lease expired after 2 attempts");
  CHECK(job.completed_at == 7000);
  CHECK_FALSE(start_job(job, 8000, 2s));
}

TEST_CASE("max attempts 1 fails at the first expiry") {
  auto job = queued_job();
  REQUIRE(start_job(job, 0, 1s));
  CHECK(expire_job_lease(job, 1001, 1) == JobEvent::failed);
  CHECK(job.error == "lease expired after 1 attempt");
}

TEST_CASE("a running job without a lease never expires") {
  auto job = queued_job();
  job.status = JobStatus::running;
  CHECK_FALSE(lease_expired(job, std::numeric_limits<std::int64_t>::max()));
}

TEST_CASE("cancel only from queued") {
  auto job = queued_job();
  REQUIRE(cancel_job(job, 1500));
  CHECK(job.status == JobStatus::failed);
  CHECK(job.error == std::string(cancelled_reason));
  CHECK_FALSE(cancel_job(job, 1600));
}

TEST_CASE("lease arithmetic saturates and events have names") {
  CHECK(add_ms(std::numeric_limits<std::int64_t>::max() - 5, 10ms) == std::numeric_limits<std::int64_t>::max());
  CHECK(add_ms(100, 10ms) == 110);
  CHECK(to_string(JobEvent::requeued) == "requeued");
  CHECK(to_string(JobEvent::started) == "started");
}

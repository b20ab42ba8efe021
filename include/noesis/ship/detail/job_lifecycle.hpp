// Sans-I/O lifecycle of a durable job: the state changes that DurableJobQueue writes with a
// compare-and-set, as pure functions of a job and the current time, so they are unit-tested
// without a server.
//
// queued -> running      start_job (claim): attempts + 1, started_at, lease_expires_at
// running -> running     extend_job_lease: lease_expires_at moves forward
// running -> complete    complete_job
// running -> failed      fail_job
// running -> queued      expire_job_lease while attempts < max_attempts ("requeued")
// running -> failed      expire_job_lease once attempts reach max_attempts
// queued -> failed       cancel_job
//
// Every function returns false (or std::nullopt) and leaves the job unchanged when the job's
// status does not allow the change.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <noesis/ship/job.hpp>

namespace noesis::ship::detail {

// What a lifecycle change announces on the event bus as `job.<name>`.
enum class JobEvent { queued, started, completed, failed, requeued };

// "queued", "started", "completed", "failed" or "requeued".
std::string_view to_string(JobEvent event) noexcept;

// The error text of a job failed by lease expiry: "lease expired after N attempts".
std::string lease_expired_reason(std::uint32_t attempts);

// The error text of a cancelled job.
inline constexpr std::string_view cancelled_reason = "cancelled before it started";

// Milliseconds, saturating instead of overflowing for huge leases.
std::int64_t add_ms(std::int64_t now_ms, std::chrono::milliseconds duration) noexcept;

// queued -> running for a claim at `now_ms` with a lease of `lease`.
template <class T>
bool start_job(Job<T>& job, std::int64_t now_ms, std::chrono::milliseconds lease) {
  if (job.status != JobStatus::queued) return false;
  job.status = JobStatus::running;
  job.started_at = now_ms;
  job.attempts += 1;
  job.lease_expires_at = add_ms(now_ms, lease);
  return true;
}

// Moves the lease of a running job to now + lease. `attempt`, when given, must equal the job's
// attempts: a worker whose lease already expired and whose job was claimed again must not
// extend the new holder's lease.
template <class T>
bool extend_job_lease(Job<T>& job, std::int64_t now_ms, std::chrono::milliseconds lease,
                      std::optional<std::uint32_t> attempt = std::nullopt) {
  if (job.status != JobStatus::running) return false;
  if (attempt && *attempt != job.attempts) return false;
  job.lease_expires_at = add_ms(now_ms, lease);
  return true;
}

// running -> complete. The lease is cleared because it no longer means anything.
template <class T>
bool complete_job(Job<T>& job, nlohmann::json result, std::int64_t now_ms,
                  std::optional<std::uint32_t> attempt = std::nullopt) {
  if (job.status != JobStatus::running) return false;
  if (attempt && *attempt != job.attempts) return false;
  job.status = JobStatus::complete;
  job.completed_at = now_ms;
  job.result = std::move(result);
  job.lease_expires_at.reset();
  return true;
}

// running -> failed with `error_text`.
template <class T>
bool fail_job(Job<T>& job, std::string error_text, std::int64_t now_ms,
              std::optional<std::uint32_t> attempt = std::nullopt) {
  if (job.status != JobStatus::running) return false;
  if (attempt && *attempt != job.attempts) return false;
  job.status = JobStatus::failed;
  job.completed_at = now_ms;
  job.error = std::move(error_text);
  job.lease_expires_at.reset();
  return true;
}

// queued -> failed with cancelled_reason.
template <class T>
bool cancel_job(Job<T>& job, std::int64_t now_ms) {
  if (job.status != JobStatus::queued) return false;
  job.status = JobStatus::failed;
  job.completed_at = now_ms;
  job.error = std::string(cancelled_reason);
  return true;
}

// Whether a running job's lease ended before `now_ms`. A running job without a lease (written
// by a queue that does not use leases, such as a Rust reader's copy) never expires.
template <class T>
bool lease_expired(const Job<T>& job, std::int64_t now_ms) noexcept {
  return job.status == JobStatus::running && job.lease_expires_at && *job.lease_expires_at < now_ms;
}

// Handles an expired lease: back to queued (JobEvent::requeued) while attempts < max_attempts,
// otherwise failed with lease_expired_reason (JobEvent::failed). std::nullopt, changing
// nothing, when the lease has not expired. Attempts are counted at claim time, so a job
// claimed max_attempts times is not queued again.
template <class T>
std::optional<JobEvent> expire_job_lease(Job<T>& job, std::int64_t now_ms, std::uint32_t max_attempts) {
  if (!lease_expired(job, now_ms)) return std::nullopt;
  job.lease_expires_at.reset();
  if (job.attempts < max_attempts) {
    job.status = JobStatus::queued;
    job.started_at.reset();
    return JobEvent::requeued;
  }
  job.status = JobStatus::failed;
  job.completed_at = now_ms;
  job.error = lease_expired_reason(job.attempts);
  return JobEvent::failed;
}

}  // namespace noesis::ship::detail

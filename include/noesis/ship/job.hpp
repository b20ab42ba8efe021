// The job model shared by the in-memory JobQueue and the durable queue: JobStatus and Job<T>.
//
// A job's JSON matches the Rust noesis-ship 0.14/0.15 field for field:
//   {"id": "BUILD-001", "payload": <T>, "status": "queued", "worker": "ci-server",
//    "queued_by": "developer-1", "queued_at": 1700000000000, "started_at": null,
//    "completed_at": null, "result": null, "error": null}
// Times are Unix milliseconds. started_at, completed_at, result and error are written as null when
// absent, and a missing key decodes as null, as serde does for Option fields.
//
// Job<T> also has three fields that the Rust job lacks: attempts, priority and lease_expires_at.
// They are written only when they differ from their defaults (0, 0 and absent). A job that never
// used them therefore encodes to exactly the keys and values that the Rust library writes, and a
// Rust job decodes with the defaults.
// NOTE: a Rust reader skips the extra keys only if the Rust Job type does not use serde's
// deny_unknown_fields; that has not been checked against the Rust source.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <noesis/ship/error.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace noesis::ship {

// A job's place in its lifecycle: queued -> running -> complete | failed.
enum class JobStatus { queued, running, complete, failed };

// Returns the status's JSON string: "queued", "running", "complete" or "failed".
constexpr std::string_view to_string(JobStatus status) noexcept {
  switch (status) {
    case JobStatus::queued:
      return "queued";
    case JobStatus::running:
      return "running";
    case JobStatus::complete:
      return "complete";
    case JobStatus::failed:
      return "failed";
  }
  return "unknown";
}

// Parses one of the four lowercase status strings. Any other text, including other case, gives
// std::nullopt.
constexpr std::optional<JobStatus> parse_job_status(std::string_view text) noexcept {
  for (auto status : {JobStatus::queued, JobStatus::running, JobStatus::complete, JobStatus::failed}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

inline void to_json(nlohmann::json& j, JobStatus status) {
  j = to_string(status);
}

// Throws noesis::ship::error(errc::serialization) for anything but the four status strings.
inline void from_json(const nlohmann::json& j, JobStatus& status) {
  if (!j.is_string()) {
    throw error(errc::serialization,
                "job status: " + j.dump() + " is not a string; allowed: queued, running, complete, failed");
  }
  const auto parsed = parse_job_status(j.get_ref<const std::string&>());
  if (!parsed) {
    throw error(errc::serialization, "job status: '" + j.get<std::string>() +
                                         "' is invalid; allowed: queued, running, complete, failed");
  }
  status = *parsed;
}

// One unit of work addressed to a worker. T is the caller's payload type, which needs nlohmann
// to_json/from_json (found by ADL) and, for decoding, a default constructor.
template <class T>
struct Job {
  std::string id;  // "<PREFIX>-<n>", n zero-padded to at least 3 digits
  T payload{};
  JobStatus status = JobStatus::queued;
  std::string worker;  // the worker that may claim the job; compared exactly, case-sensitive
  std::string queued_by;
  std::int64_t queued_at = 0;                // Unix milliseconds
  std::optional<std::int64_t> started_at;    // Unix milliseconds, set when claimed
  std::optional<std::int64_t> completed_at;  // Unix milliseconds, set when completed or failed
  nlohmann::json result;                     // set by complete; null while absent
  std::optional<std::string> error;          // set by fail

  // Fields for the durable queue, not in the Rust format; omitted from JSON at their defaults.
  std::uint32_t attempts = 0;  // times the job has been claimed
  int priority = 0;            // larger runs first where honoured, but the in-memory queue ignores it
  // Unix milliseconds after which a running job may be reclaimed.
  std::optional<std::int64_t> lease_expires_at;

  friend bool operator==(const Job&, const Job&) = default;
};

namespace detail {

// Builds the serialization error for one field of a job; `where` names the job ("job 'BUILD-001'").
inline error job_field_error(std::string_view where, std::string_view field, std::string_view problem) {
  return error(errc::serialization,
               std::string(where) + ": field '" + std::string(field) + "' " + std::string(problem));
}

inline const nlohmann::json& required_field(const nlohmann::json& j, std::string_view where,
                                            const char* field) {
  const auto it = j.find(field);
  if (it == j.end()) throw job_field_error(where, field, "is missing");
  return *it;
}

// Returns nullptr when the field is missing or null, the two spellings of "absent".
inline const nlohmann::json* optional_field(const nlohmann::json& j, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

inline std::string string_field(const nlohmann::json& value, std::string_view where, const char* field) {
  if (!value.is_string()) throw job_field_error(where, field, "is " + value.dump() + ", expected a string");
  return value.get<std::string>();
}

// Reads a JSON integer into [min, max]. Floating-point numbers are rejected, as serde rejects them
// for Rust integer fields.
inline std::int64_t integer_field(const nlohmann::json& value, std::string_view where, const char* field,
                                  std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                  std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
  const auto out_of_range = [&] {
    return job_field_error(where, field,
                           "is " + value.dump() + ", expected an integer from " + std::to_string(min) +
                               " to " + std::to_string(max));
  };
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (number > static_cast<std::uint64_t>(max)) throw out_of_range();
    return static_cast<std::int64_t>(number);
  }
  if (!value.is_number_integer()) throw out_of_range();
  const auto number = value.get<std::int64_t>();
  if (number < min || number > max) throw out_of_range();
  return number;
}

inline std::optional<std::int64_t> optional_integer_field(const nlohmann::json& j, std::string_view where,
                                                          const char* field) {
  const auto* value = optional_field(j, field);
  if (value == nullptr) return std::nullopt;
  return integer_field(*value, where, field);
}

inline JobStatus status_field(const nlohmann::json& value, std::string_view where) {
  const auto parsed =
      value.is_string() ? parse_job_status(value.get_ref<const std::string&>()) : std::nullopt;
  if (!parsed) {
    throw job_field_error(where, "status",
                          "is " + value.dump() + ", allowed: queued, running, complete, failed");
  }
  return *parsed;
}

// Decodes a job, naming `where` and the field in every error. Used by from_json(Job<T>) and by
// queues that know the job's key.
template <class T>
Job<T> job_from_json(const nlohmann::json& j, std::string_view where) {
  if (!j.is_object()) {
    throw error(errc::serialization,
                std::string(where) + ": is a JSON " + j.type_name() + ", expected an object");
  }

  Job<T> job;
  job.id = string_field(required_field(j, where, "id"), where, "id");
  job.status = status_field(required_field(j, where, "status"), where);
  job.worker = string_field(required_field(j, where, "worker"), where, "worker");
  job.queued_by = string_field(required_field(j, where, "queued_by"), where, "queued_by");
  job.queued_at = integer_field(required_field(j, where, "queued_at"), where, "queued_at");
  job.started_at = optional_integer_field(j, where, "started_at");
  job.completed_at = optional_integer_field(j, where, "completed_at");
  if (const auto* result = optional_field(j, "result")) job.result = *result;
  if (const auto* text = optional_field(j, "error")) job.error = string_field(*text, where, "error");

  if (const auto* attempts = optional_field(j, "attempts")) {
    job.attempts = static_cast<std::uint32_t>(
        integer_field(*attempts, where, "attempts", 0, std::numeric_limits<std::uint32_t>::max()));
  }
  if (const auto* priority = optional_field(j, "priority")) {
    job.priority = static_cast<int>(integer_field(
        *priority, where, "priority", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  }
  job.lease_expires_at = optional_integer_field(j, where, "lease_expires_at");

  // The payload's own from_json may throw any nlohmann exception, so report it against this field.
  const auto& payload = required_field(j, where, "payload");
  try {
    job.payload = payload.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw job_field_error(where, "payload", std::string("does not decode: ") + e.what());
  }
  return job;
}

}  // namespace detail

template <class T>
void to_json(nlohmann::json& j, const Job<T>& job) {
  const auto optional_integer = [](const std::optional<std::int64_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };

  j = nlohmann::json::object();
  j["id"] = job.id;
  j["payload"] = job.payload;
  j["status"] = job.status;
  j["worker"] = job.worker;
  j["queued_by"] = job.queued_by;
  j["queued_at"] = job.queued_at;
  j["started_at"] = optional_integer(job.started_at);
  j["completed_at"] = optional_integer(job.completed_at);
  j["result"] = job.result;
  j["error"] = job.error ? nlohmann::json(*job.error) : nlohmann::json(nullptr);

  // Written only when set, so a job that never used them keeps the Rust library's exact keys.
  if (job.attempts != 0) j["attempts"] = job.attempts;
  if (job.priority != 0) j["priority"] = job.priority;
  if (job.lease_expires_at) j["lease_expires_at"] = *job.lease_expires_at;
}

// Throws noesis::ship::error(errc::serialization) naming the job id (when readable) and the field
// that is missing or has the wrong type.
template <class T>
void from_json(const nlohmann::json& j, Job<T>& job) {
  std::string where = "job";
  if (j.is_object()) {
    const auto id = j.find("id");
    if (id != j.end() && id->is_string()) where += " '" + id->template get<std::string>() + "'";
  }
  job = detail::job_from_json<T>(j, where);
}

}  // namespace noesis::ship

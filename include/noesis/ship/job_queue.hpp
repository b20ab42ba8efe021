// JobQueue<T>: an in-memory, thread-safe job queue with the Rust noesis-ship's JSON format.
//
// Jobs are submitted for a named worker, claimed by that worker (queued -> running) and finished
// with complete() or fail(). Nothing here touches NATS: the queue lives in one process, and
// save()/load() persist it to a file. Two changes from the Rust JobQueue: jobs queued in the same
// millisecond are claimed and listed in submission order (Rust breaks such ties by hash-map
// order), and every member function may be called from any thread.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <noesis/ship/detail/job_order.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/job.hpp>
#include <noesis/ship/names.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace noesis::ship {

// Number of jobs in each status. Usable with structured bindings:
// `auto [queued, running, complete, failed] = queue.counts();`
struct JobCounts {
  std::size_t queued = 0;
  std::size_t running = 0;
  std::size_t complete = 0;
  std::size_t failed = 0;

  friend bool operator==(const JobCounts&, const JobCounts&) = default;
};

namespace detail {

// The Rust format stores next_id as a u32, so no id number may exceed this.
inline constexpr std::uint64_t max_job_number = std::numeric_limits<std::uint32_t>::max();

// A prefix is used in job ids and, by the durable queue, in KV keys and subjects, so it is limited
// to characters that are valid in all three.
inline bool is_valid_job_prefix(std::string_view prefix) noexcept {
  if (prefix.empty()) return false;
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

inline constexpr std::string_view allowed_prefix_text =
    "allowed: one or more ASCII letters, digits, '_' and '-'";

// Formats "<prefix>-<number>" with the number zero-padded to at least 3 digits.
inline std::string format_job_id(std::string_view prefix, std::uint64_t number) {
  auto digits = std::to_string(number);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return std::string(prefix) + "-" + digits;
}

// Returns n when `id` is exactly format_job_id(prefix, n), the form submit() gives.
inline std::optional<std::uint64_t> parse_job_number(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() + 1 || id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '-') {
    return std::nullopt;
  }
  const auto digits = id.substr(prefix.size() + 1);
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  if (format_job_id(prefix, number) != id) return std::nullopt;
  return number;
}

inline std::int64_t system_clock_ms() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

inline error file_error(int errno_value, const std::string& context) {
  return error(std::error_code(errno_value, std::generic_category()), context);
}

// Closes a POSIX file descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const noexcept { return fd_; }

  // Closes now, returning close()'s errno or 0, because a failed close can mean lost data.
  int close_now() noexcept {
    const int result = ::close(std::exchange(fd_, -1));
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

inline void write_all(int fd, std::string_view content, const std::string& context) {
  while (!content.empty()) {
    const auto written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw file_error(errno, context);
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
}

// Replaces `path` with `content`, so readers see the old or the new content in full, also after a
// crash or power loss. The data goes to a temporary file in the same directory, is flushed with
// fsync and is renamed over `path`. POSIX only.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                  const std::string& context) {
  static std::atomic<std::uint64_t> temp_counter{0};

  // O_EXCL never reuses a leftover temporary file, and the counter makes names unique in this
  // process.
  std::filesystem::path temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = path;
    temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter++);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      throw file_error(errno, context + ": cannot create '" + temp.string() + "'");
  }
  if (fd < 0) throw file_error(EEXIST, context + ": cannot create a temporary file next to it");

  FileDescriptor file(fd);
  try {
    write_all(file.get(), content, context + ": cannot write '" + temp.string() + "'");
    if (::fsync(file.get()) != 0) throw file_error(errno, context + ": cannot fsync '" + temp.string() + "'");
    if (const int close_errno = file.close_now(); close_errno != 0) {
      throw file_error(close_errno, context + ": cannot close '" + temp.string() + "'");
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      throw file_error(errno, context + ": cannot rename '" + temp.string() + "' to '" + path.string() + "'");
    }
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }

  // The rename is durable only once the directory entry is flushed as well.
  // NOTE: a failure to fsync the directory is ignored: the new file is complete and in place, and
  // only its survival across a power loss is then uncertain.
  auto directory = path.parent_path();
  if (directory.empty()) directory = ".";
  FileDescriptor directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory_fd.get() >= 0) ::fsync(directory_fd.get());
}

inline std::string read_file(const std::filesystem::path& path, const std::string& context) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw file_error(errno, context + ": cannot open");

  std::string content;
  char buffer[16384];
  for (;;) {
    const auto count = ::read(file.get(), buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      throw file_error(errno, context + ": cannot read");
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
  }
  return content;
}

}  // namespace detail

template <class T>
class JobQueue {
 public:
  // Returns the current time in Unix milliseconds; replaceable so tests control queued_at.
  using Clock = std::function<std::int64_t()>;

  // Throws noesis::ship::error(errc::invalid_name) unless the prefix is one or more ASCII
  // letters, digits, '_' or '-'. An empty `now_ms` means std::chrono::system_clock; the queue
  // calls the clock with its mutex held, so the clock must not call back into the queue.
  explicit JobQueue(std::string prefix = "JOB", Clock now_ms = {})
      : now_ms_(now_ms ? std::move(now_ms) : Clock(detail::system_clock_ms)) {
    if (!detail::is_valid_job_prefix(prefix)) {
      throw error(errc::invalid_name,
                  "job id prefix: '" + prefix + "' is invalid; " + std::string(detail::allowed_prefix_text));
    }
    state_.prefix = std::move(prefix);
  }

  // Moving locks the source, and the target too for assignment. The moved-from queue is empty
  // and keeps its prefix and clock.
  JobQueue(JobQueue&& other) {
    std::lock_guard lock(other.mutex_);
    state_ = std::exchange(other.state_, empty_state(other.state_.prefix));
    now_ms_ = other.now_ms_;
  }

  JobQueue& operator=(JobQueue&& other) {
    if (this == &other) return *this;
    std::scoped_lock lock(mutex_, other.mutex_);
    state_ = std::exchange(other.state_, empty_state(other.state_.prefix));
    now_ms_ = other.now_ms_;
    return *this;
  }

  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;
  ~JobQueue() = default;

  std::string prefix() const {
    std::lock_guard lock(mutex_);
    return state_.prefix;
  }

  // Stores a queued job for `worker` and returns its id, "<PREFIX>-<n>" with n zero-padded to at
  // least 3 digits. Throws noesis::ship::error(errc::invalid_argument) once next_id reaches the
  // u32 maximum, so the saved next_id always fits the Rust format's u32, and errc::invalid_name
  // for a worker name that validate_worker_name() rejects.
  std::string submit(T payload, std::string worker, std::string queued_by) {
    validate_worker_name(worker);
    std::lock_guard lock(mutex_);
    if (state_.next_id >= detail::max_job_number) {
      throw error(errc::invalid_argument, "job queue '" + state_.prefix + "': next_id " +
                                              std::to_string(state_.next_id) + " has reached the u32 limit");
    }

    const auto number = state_.next_id++;
    Entry entry{Job<T>{}, number};
    entry.job.id = detail::format_job_id(state_.prefix, number);
    entry.job.payload = std::move(payload);
    entry.job.worker = std::move(worker);
    entry.job.queued_by = std::move(queued_by);
    entry.job.queued_at = now_ms_();

    auto id = entry.job.id;
    state_.queued.insert(entry.job.worker, order_key(entry));
    state_.jobs.insert_or_assign(id, std::move(entry));
    return id;
  }

  // Takes the oldest queued job whose worker equals `worker` exactly (case-sensitive), marks it
  // running with started_at = now, and returns a copy. Jobs queued in the same millisecond are
  // taken in submission order. Returns std::nullopt when no queued job is addressed to `worker`.
  // The priority, attempts and lease fields are neither read nor changed.
  std::optional<Job<T>> claim(const std::string& worker) {
    std::lock_guard lock(mutex_);
    const auto* first = state_.queued.first(worker);
    if (first == nullptr) return std::nullopt;

    const detail::JobOrderKey key = *first;
    auto& job = state_.jobs.at(key.id).job;
    state_.queued.erase(worker, key);
    job.status = JobStatus::running;
    job.started_at = now_ms_();
    return job;
  }

  // Marks a running job complete with completed_at = now and `result`. Returns false, changing
  // nothing, when the id is unknown or the job is not running.
  bool complete(const std::string& id, nlohmann::json result) {
    std::lock_guard lock(mutex_);
    auto* job = running_job(id);
    if (job == nullptr) return false;
    job->status = JobStatus::complete;
    job->completed_at = now_ms_();
    job->result = std::move(result);
    return true;
  }

  // Marks a running job failed with completed_at = now and `error_text`. Returns false, changing
  // nothing, when the id is unknown or the job is not running.
  bool fail(const std::string& id, std::string error_text) {
    std::lock_guard lock(mutex_);
    auto* job = running_job(id);
    if (job == nullptr) return false;
    job->status = JobStatus::failed;
    job->completed_at = now_ms_();
    job->error = std::move(error_text);
    return true;
  }

  // Returns copies of the jobs with status `filter` (all jobs without one), ordered by queued_at,
  // then submission order, then id for jobs whose id submit() did not make.
  std::vector<Job<T>> list(std::optional<JobStatus> filter = std::nullopt) const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<detail::JobOrderKey, const Entry*>> matching;
    for (const auto& [id, entry] : state_.jobs) {
      if (!filter || entry.job.status == *filter) matching.emplace_back(order_key(entry), &entry);
    }
    std::sort(matching.begin(), matching.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });

    std::vector<Job<T>> jobs;
    jobs.reserve(matching.size());
    for (const auto& item : matching) jobs.push_back(item.second->job);
    return jobs;
  }

  std::optional<Job<T>> get(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const auto it = state_.jobs.find(id);
    if (it == state_.jobs.end()) return std::nullopt;
    return it->second.job;
  }

  JobCounts counts() const {
    std::lock_guard lock(mutex_);
    JobCounts counts;
    for (const auto& [id, entry] : state_.jobs) {
      switch (entry.job.status) {
        case JobStatus::queued:
          ++counts.queued;
          break;
        case JobStatus::running:
          ++counts.running;
          break;
        case JobStatus::complete:
          ++counts.complete;
          break;
        case JobStatus::failed:
          ++counts.failed;
          break;
      }
    }
    return counts;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return state_.jobs.size();
  }

  bool empty() const { return size() == 0; }

  // Encodes the queue as {"jobs": {id: job}, "prefix": str, "next_id": n}, the Rust format.
  nlohmann::json to_json() const {
    std::lock_guard lock(mutex_);
    auto jobs = nlohmann::json::object();
    for (const auto& [id, entry] : state_.jobs) jobs[id] = entry.job;
    return {{"jobs", std::move(jobs)}, {"prefix", state_.prefix}, {"next_id", state_.next_id}};
  }

  // Decodes the Rust format. Throws noesis::ship::error(errc::serialization), naming the field,
  // when a field is missing or has the wrong type, a status is unknown or the prefix is invalid.
  // It also rejects a job whose id differs from its key in "jobs", and a next_id that does not
  // exceed the number of every id in the submit() form, because submit() would overwrite that job.
  static JobQueue from_json(const nlohmann::json& j, Clock now_ms = {}) {
    return JobQueue(parse_state(j, "job queue"), std::move(now_ms));
  }

  // Writes to_json() to `path` atomically: a crash leaves either the old file or the new one in
  // full. Throws noesis::ship::error with a std::generic_category() code naming the path when a
  // file operation fails.
  void save(const std::filesystem::path& path) const {
    const auto text = to_json().dump();
    detail::write_file_atomically(path, text, "save job queue to '" + path.string() + "'");
  }

  // Replaces every job, the prefix and next_id with the content of `path`; the clock stays.
  // Throws noesis::ship::error naming the path when the file cannot be read (generic category) or
  // is not a valid queue (errc::serialization), and then leaves the queue unchanged.
  void load(const std::filesystem::path& path) {
    const auto where = "job queue file '" + path.string() + "'";
    const auto text = detail::read_file(path, "load " + where);

    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw error(errc::serialization, where + ": invalid JSON: " + e.what());
    }
    auto state = parse_state(j, where);

    std::lock_guard lock(mutex_);
    state_ = std::move(state);
  }

 private:
  struct Entry {
    Job<T> job;
    // Tie-breaker for equal queued_at: the id's number for ids in the submit() form, and
    // detail::foreign_job_sequence for other ids, which then sort by id.
    std::uint64_t sequence;
  };

  struct State {
    std::string prefix;
    std::uint64_t next_id = 1;
    std::unordered_map<std::string, Entry> jobs;
    detail::QueuedJobIndex queued;
  };

  JobQueue(State state, Clock now_ms)
      : state_(std::move(state)), now_ms_(now_ms ? std::move(now_ms) : Clock(detail::system_clock_ms)) {}

  static State empty_state(std::string prefix) {
    State state;
    state.prefix = std::move(prefix);
    return state;
  }

  // Claims and listings both ignore the priority, as the Rust queue does.
  static detail::JobOrderKey order_key(const Entry& entry) {
    return detail::job_order_key(entry.job, entry.sequence, detail::JobPriority::ignored);
  }

  // Returns the job if it exists and is running; the caller holds mutex_.
  Job<T>* running_job(const std::string& id) {
    const auto it = state_.jobs.find(id);
    if (it == state_.jobs.end() || it->second.job.status != JobStatus::running) return nullptr;
    return &it->second.job;
  }

  static State parse_state(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) {
      throw error(errc::serialization,
                  where + ": is a JSON " + std::string(j.type_name()) + ", expected an object");
    }

    State state;
    const auto& prefix = detail::required_field(j, where, "prefix");
    state.prefix = detail::string_field(prefix, where, "prefix");
    if (!detail::is_valid_job_prefix(state.prefix)) {
      throw detail::job_field_error(
          where, "prefix",
          "is '" + state.prefix + "', which is invalid; " + std::string(detail::allowed_prefix_text));
    }
    state.next_id = static_cast<std::uint64_t>(
        detail::integer_field(detail::required_field(j, where, "next_id"), where, "next_id", 1,
                              static_cast<std::int64_t>(detail::max_job_number)));

    const auto& jobs = detail::required_field(j, where, "jobs");
    if (!jobs.is_object()) {
      throw detail::job_field_error(where, "jobs",
                                    "is a JSON " + std::string(jobs.type_name()) + ", expected an object");
    }
    for (const auto& [key, value] : jobs.items()) {
      const auto job_where = where + ": job '" + key + "'";
      Entry entry{detail::job_from_json<T>(value, job_where), detail::foreign_job_sequence};
      if (entry.job.id != key) {
        throw detail::job_field_error(job_where, "id",
                                      "is '" + entry.job.id + "', expected its key in 'jobs'");
      }

      if (const auto number = detail::parse_job_number(key, state.prefix)) {
        if (*number >= state.next_id) {
          throw detail::job_field_error(where, "next_id",
                                        "is " + std::to_string(state.next_id) + ", expected more than " +
                                            std::to_string(*number) + " because job '" + key + "' exists");
        }
        entry.sequence = *number;
      }

      if (entry.job.status == JobStatus::queued) state.queued.insert(entry.job.worker, order_key(entry));
      state.jobs.emplace(key, std::move(entry));
    }
    return state;
  }

  State state_;
  Clock now_ms_;
  mutable std::mutex mutex_;
};

}  // namespace noesis::ship

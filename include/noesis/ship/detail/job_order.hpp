// The order in which queued jobs are claimed and listed, shared by the in-memory JobQueue and
// the durable queue so that both follow one rule:
//
//   1. higher priority first, where the queue honours Job::priority,
//   2. then the smaller queued_at (older first),
//   3. then the smaller sequence, the id's number, which is the submission order of jobs
//      queued in the same millisecond,
//   4. then the id, for ids that submit() did not make, which share foreign_job_sequence.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <noesis/ship/job.hpp>

namespace noesis::ship::detail {

// Whether an order reads Job::priority. The in-memory JobQueue ignores it, as the Rust queue
// does, and listings are by age in both queues.
enum class JobPriority { ignored, honoured };

// The sequence of an id that is not in the "<prefix>-<n>" form of submit(): such jobs come
// after every numbered job of the same priority and age, and among themselves sort by id.
inline constexpr std::uint64_t foreign_job_sequence = std::numeric_limits<std::uint64_t>::max();

// Sort key of a job. The smaller key is claimed (or listed) first.
struct JobOrderKey {
  // The negated priority, widened so that negating the smallest int cannot overflow. 0 when
  // the priority is ignored.
  std::int64_t priority_rank = 0;
  std::int64_t queued_at = 0;
  std::uint64_t sequence = foreign_job_sequence;
  std::string id;

  friend auto operator<=>(const JobOrderKey&, const JobOrderKey&) = default;
};

// Builds the key of `job`. `sequence` is the number of the job's id, or foreign_job_sequence.
template <class T>
JobOrderKey job_order_key(const Job<T>& job, std::uint64_t sequence, JobPriority priority) {
  JobOrderKey key;
  key.priority_rank = priority == JobPriority::honoured ? -static_cast<std::int64_t>(job.priority) : 0;
  key.queued_at = job.queued_at;
  key.sequence = sequence;
  key.id = job.id;
  return key;
}

// The queued jobs of each worker, in claim order. Not thread-safe: the owning queue guards it.
class QueuedJobIndex {
 public:
  void insert(const std::string& worker, JobOrderKey key) { by_worker_[worker].insert(std::move(key)); }

  // Removes the key if present. A worker without queued jobs is dropped, so the index does not
  // grow with the number of worker names ever seen.
  void erase(const std::string& worker, const JobOrderKey& key) {
    const auto it = by_worker_.find(worker);
    if (it == by_worker_.end()) return;
    it->second.erase(key);
    if (it->second.empty()) by_worker_.erase(it);
  }

  // The job that `worker` claims next, or nullptr when none is queued for it. The pointer is
  // valid until the next insert() or erase().
  const JobOrderKey* first(const std::string& worker) const {
    const auto it = by_worker_.find(worker);
    if (it == by_worker_.end() || it->second.empty()) return nullptr;
    return &*it->second.begin();
  }

  // The first `limit` jobs of `worker` (fewer when fewer are queued) that share the top
  // priority rank, in claim order. Empty when none is queued for it.
  std::vector<const JobOrderKey*> first_of_top_priority(const std::string& worker, std::size_t limit) const {
    std::vector<const JobOrderKey*> keys;
    const auto it = by_worker_.find(worker);
    if (it == by_worker_.end() || it->second.empty()) return keys;
    const std::int64_t top_rank = it->second.begin()->priority_rank;
    for (const auto& key : it->second) {
      if (key.priority_rank != top_rank || keys.size() == limit) break;
      keys.push_back(&key);
    }
    return keys;
  }

  // The number of queued jobs of `worker`.
  std::size_t size(const std::string& worker) const {
    const auto it = by_worker_.find(worker);
    return it == by_worker_.end() ? 0 : it->second.size();
  }

 private:
  std::map<std::string, std::set<JobOrderKey>, std::less<>> by_worker_;
};

}  // namespace noesis::ship::detail

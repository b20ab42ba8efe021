#include <noesis/ship/detail/job_lifecycle.hpp>

#include <limits>

namespace noesis::ship::detail {

std::string_view to_string(JobEvent event) noexcept {
  switch (event) {
    case JobEvent::queued:
      return "queued";
    case JobEvent::started:
      return "started";
    case JobEvent::completed:
      return "completed";
    case JobEvent::failed:
      return "failed";
    case JobEvent::requeued:
      return "requeued";
  }
  return "unknown";
}

std::string lease_expired_reason(std::uint32_t attempts) {
  return "lease expired after " + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

std::int64_t add_ms(std::int64_t now_ms, std::chrono::milliseconds duration) noexcept {
  const auto ms = static_cast<std::int64_t>(duration.count());
  if (ms > 0 && now_ms > std::numeric_limits<std::int64_t>::max() - ms) return std::numeric_limits<std::int64_t>::max();
  return now_ms + ms;
}

}  // namespace noesis::ship::detail

#include <noesis/ship/logger.hpp>

#include <atomic>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace noesis::ship {
namespace {

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> current_logger;

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard lock(logger_mutex);
  if (!current_logger) {
    current_logger = spdlog::get(logger_name);
    if (!current_logger) {
      current_logger = spdlog::stderr_color_mt(logger_name);
    }
  }
  return current_logger;
}

void set_logger(std::shared_ptr<spdlog::logger> replacement) {
  std::lock_guard lock(logger_mutex);
  current_logger = std::move(replacement);
}

}  // namespace noesis::ship

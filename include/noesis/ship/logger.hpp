// The library's spdlog logger, named "noesis.ship".
//
// Every log line of the library goes through this logger, so applications route, filter or
// silence it with spdlog's usual tools. No log line contains a password, token, seed or key.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace noesis::ship {

inline constexpr const char* logger_name = "noesis.ship";

// Returns the library's logger. On first use it is created with spdlog's default sinks (stderr,
// colour) and registered under logger_name, unless the application registered one first.
std::shared_ptr<spdlog::logger> logger();

// Replaces the library's logger, for example with one that writes to the application's sinks.
void set_logger(std::shared_ptr<spdlog::logger> replacement);

}  // namespace noesis::ship

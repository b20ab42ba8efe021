// The NATS micro services protocol (NATS ADR-32, "Service API") without any I/O: control
// subjects, the JSON bodies of the PING, INFO and STATS responses, per-endpoint statistics and
// the name and version checks. The network side subscribes and replies, and this file decides
// what it subscribes to and what it sends.
//
// The JSON matches what nats.go (micro package) and nats.js (@nats-io/services) emit, so
// `nats micro ls|info|stats` and both clients read it. Where those two clients differ, the
// response follows the ADR-32 types:
//  - `metadata` is always an object, `{}` when empty, for the service and for each endpoint
//    (nats.go writes `null` for empty endpoint metadata, nats.js leaves the key out).
//  - `description` is always present, `""` when empty.
//  - `last_error` is always present, `""` when the endpoint has had no error.
//  - `data` is left out when the stats handler gave nothing (both clients do this).
//  - `started` is RFC 3339 in UTC with nine fraction digits and a `Z` suffix.
//
// tests/interop/services.test.mjs pins these choices against the nats.js service client and a
// nats.js service (@nats-io/services 3.0.0-25). NOTE: no live `nats micro info` call (nats.go)
// has read them yet, so the nats.go side was checked against its sources only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace noesis::ship::detail {

// Root of the control subjects. ADR-32 lets tools override it to reach across accounts.
inline constexpr std::string_view micro_api_prefix = "$SRV";

// The queue group an endpoint joins unless the service, group or endpoint names another.
inline constexpr std::string_view micro_default_queue_group = "q";

// Reply headers that mark a request as failed. The code header contains a decimal number.
inline constexpr std::string_view micro_error_header = "Nats-Service-Error";
inline constexpr std::string_view micro_error_code_header = "Nats-Service-Error-Code";

inline constexpr std::string_view micro_ping_response_type = "io.nats.micro.v1.ping_response";
inline constexpr std::string_view micro_info_response_type = "io.nats.micro.v1.info_response";
inline constexpr std::string_view micro_stats_response_type = "io.nats.micro.v1.stats_response";

// The discovery and monitoring requests every service instance responds to.
enum class MicroVerb { ping, info, stats };

// Returns the verb's subject token: "PING", "INFO" or "STATS".
std::string_view to_string(MicroVerb verb) noexcept;

// Fields common to every response: the service kind, the instance id (a NUID), the semver
// version and the immutable free-form metadata.
struct MicroIdentity {
  std::string name;
  std::string id;
  std::string version;
  std::map<std::string, std::string> metadata;
};

// One endpoint as INFO reports it, with the subject and queue group actually subscribed,
// defaults included.
struct MicroEndpointInfo {
  std::string name;
  std::string subject;
  std::string queue_group{micro_default_queue_group};
  std::map<std::string, std::string> metadata;
};

// Request counters of one endpoint. Thread-compatible: the caller serializes record(),
// reset() and reads, for example by touching it only on the service's executor.
class EndpointStats {
 public:
  // Counts one handled request that took `processing_time`. A request that failed also counts
  // as an error, and `error` becomes last_error().
  void record(std::chrono::nanoseconds processing_time,
              std::optional<std::string> error = std::nullopt);

  // Clears every counter and last_error(), as the STATS reset of a service does.
  void reset() noexcept;

  std::uint64_t num_requests() const noexcept { return num_requests_; }
  std::uint64_t num_errors() const noexcept { return num_errors_; }

  // The message of the most recent failed request, empty when none failed since the last reset.
  const std::string& last_error() const noexcept { return last_error_; }

  // Total time spent in the handler over all requests.
  std::chrono::nanoseconds processing_time() const noexcept { return processing_time_; }

  // processing_time() / num_requests(), truncated to whole nanoseconds, or zero before the
  // first request.
  std::chrono::nanoseconds average_processing_time() const noexcept;

 private:
  std::uint64_t num_requests_ = 0;
  std::uint64_t num_errors_ = 0;
  std::string last_error_;
  std::chrono::nanoseconds processing_time_{0};
};

// One endpoint's entry in a STATS response.
struct MicroEndpointStats {
  MicroEndpointInfo endpoint;
  EndpointStats stats;
  // The stats handler's result for this endpoint. An empty optional leaves the key out, and a
  // JSON null is written as `"data":null`.
  std::optional<nlohmann::json> data;
};

// Returns the three subjects an instance subscribes to for `verb`, from the widest to the
// narrowest: `<prefix>.<VERB>`, `<prefix>.<VERB>.<name>` and `<prefix>.<VERB>.<name>.<id>`.
// Throws noesis::ship::error(errc::invalid_name) when `name` or `id` is not a valid micro name
// (see validate_micro_name()).
std::array<std::string, 3> micro_control_subjects(MicroVerb verb, std::string_view name,
                                                  std::string_view id,
                                                  std::string_view api_prefix = micro_api_prefix);

// Returns the PING reply body: name, id, version, metadata, type.
std::string micro_ping_response(const MicroIdentity& identity);

// Returns the INFO reply body: the PING fields plus description and endpoints[], in the order
// given.
std::string micro_info_response(const MicroIdentity& identity, std::string_view description,
                                const std::vector<MicroEndpointInfo>& endpoints);

// Returns the STATS reply body: the PING fields plus started and endpoints[] with their
// counters, all durations in nanoseconds.
std::string micro_stats_response(const MicroIdentity& identity,
                                 std::chrono::system_clock::time_point started,
                                 const std::vector<MicroEndpointStats>& endpoints);

// Formats `time` as RFC 3339 in UTC with nanoseconds, e.g. `2024-03-20T04:37:32.123456789Z`,
// the form of the STATS `started` field.
std::string micro_timestamp(std::chrono::system_clock::time_point time);

// True for a name ADR-32 allows for services and endpoints: one or more of A-Z a-z 0-9 - _.
bool is_valid_micro_name(std::string_view name) noexcept;

// True for a Semantic Versioning 2.0.0 version: MAJOR.MINOR.PATCH with numbers without leading
// zeros, an optional `-pre.release` and an optional `+build.metadata`.
bool is_semver(std::string_view version) noexcept;

// Throws noesis::ship::error(errc::invalid_name) naming `label` (e.g. "service name") and the
// value unless is_valid_micro_name(name).
void validate_micro_name(std::string_view name, std::string_view label);

// Throws noesis::ship::error(errc::invalid_argument) naming the value unless is_semver(version).
void validate_micro_version(std::string_view version);

}  // namespace noesis::ship::detail

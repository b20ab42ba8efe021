// The settings of a service and the values its callbacks exchange with it: ServiceConfig,
// MutationEvent and ServiceError. ServiceBuilder (service.hpp) fills a ServiceConfig through
// its setters.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <noesis/ship/config.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

// Settings of one service instance. run() checks them and throws noesis::ship::error naming
// the invalid value.
struct ServiceConfig {
  // Server URL used when the service opens its own connection.
  std::string nats_url = default_nats_url();

  // Micro service name, one or more of `A-Z a-z 0-9 - _`. Empty: derived from the subject
  // prefix with every other character replaced by `_` (`echo.cmd` gives `echo_cmd`).
  std::string name;
  std::string version = "0.0.0";  // Semantic Versioning 2.0.0
  std::string description;
  std::map<std::string, std::string> metadata;

  // Instances in one queue group share the requests: each request reaches one of them. Empty:
  // no queue group, every instance gets every request.
  std::string queue_group = "q";

  // Requests taken from the subscription and not yet finished (handler running, or mutation
  // event awaiting its JetStream ack). At the limit the service takes no more, so further
  // requests wait in the subscription's queue.
  std::size_t max_in_flight = 64;

  // Requests the subscription queues, in messages; beyond it the newest are dropped, a warning
  // is logged and their callers time out. 0 uses NatsConfig::max_pending_messages.
  std::size_t max_pending = 0;

  // Time after a stop request that requests already received may take to finish. Handlers
  // still running then are cancelled and their callers get no reply.
  std::chrono::milliseconds shutdown_timeout{10000};

  // run() stops on SIGINT or SIGTERM when true.
  bool handle_signals = true;

  // Mutation events go to `<event_prefix>.<event_type>`, or to `<event_type>` when empty.
  std::string event_prefix;

  // When set, mutation events are ShipEvent envelopes published to this JetStream stream (made
  // sure to exist at start) with `event_source` as their source. Otherwise they are the
  // callback's bytes, published on core NATS.
  std::optional<StreamConfig> event_stream;
  std::string event_source;
};

// An event a mutation callback returns for the service to publish: `data` goes to
// `<event_prefix>.<event_type>`.
struct MutationEvent {
  std::string event_type;
  std::string data;

  MutationEvent() = default;
  MutationEvent(std::string type, std::string bytes) : event_type(std::move(type)), data(std::move(bytes)) {}
};

// Thrown by a handler to fail a request with a chosen code. The reply body is
// `{"error":<message>,"code":<code>}` and the reply carries the headers Nats-Service-Error
// (the message) and Nats-Service-Error-Code (the code). Any other exception fails the request
// with code 500 and the exception's what() as the message.
class ServiceError : public std::runtime_error {
 public:
  ServiceError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}

  int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace noesis::ship

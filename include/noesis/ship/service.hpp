// ServiceBuilder: a request-reply service over NATS with typed state (the Rust noesis-ship's
// NatsServiceBuilder), discoverable with the NATS micro services protocol.
//
//   struct Counter { int count = 0; };
//   noesis::ship::ServiceBuilder<Counter> service("echo.cmd", Counter{});
//   service.handler("echo", [](std::string_view payload, Counter&) { return std::string(payload); })
//       .handler("count", [](std::string_view, Counter& s) { return std::to_string(++s.count); });
//   service.run_blocking();   // until SIGINT or SIGTERM
//
// Routing: the command is the request subject after `<prefix>.` and may contain dots. A named
// handler for the command runs, else the default handler (given the full subject), else the
// reply is `{"error":"UNKNOWN_COMMAND: <command>","code":404}`.
//
// Handlers run one at a time per instance, so they use the state without locking. A handler is
// a plain function or a coroutine returning asio::awaitable; while a coroutine handler waits,
// the next request waits too. A handler that throws fails only its request (see ServiceError).
//
// The instance subscribes once to `<prefix>.>` in a queue group, so replicas share the requests.
// It also answers `$SRV.PING|INFO|STATS` (NATS ADR-32). INFO and STATS list one endpoint per
// named handler, with subject `<prefix>.<command>`, and, with a default handler, an endpoint
// named `default` with subject `<prefix>.>`. Dots and other characters micro names do not
// allow become `_` in endpoint names. Requests for unknown commands count in no endpoint.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/service_core.hpp>
#include <noesis/ship/detail/service_routing.hpp>
#include <noesis/ship/service_config.hpp>

namespace noesis::ship {

// Returns `{"error":<message>,"code":<code>}`, the error body services reply with.
inline std::string error_response(std::string_view message, int code) {
  return detail::error_response(message, code);
}

// Encodes `value` as compact JSON, or `{}` when it cannot be encoded.
inline std::string serialize_response(const nlohmann::json& value) { return detail::serialize_response(value); }

// Decodes a request payload as T (any type with an nlohmann from_json). Throws
// ServiceError(400, ...) naming the decoding problem, so a handler that lets it escape replies
// with a 400 error.
template <typename T>
T parse_payload(std::string_view payload) {
  try {
    return nlohmann::json::parse(payload).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw ServiceError(400, std::string("invalid payload: ") + e.what());
  }
}

namespace detail {

template <typename T>
struct is_awaitable : std::false_type {};
template <typename T, typename Executor>
struct is_awaitable<asio::awaitable<T, Executor>> : std::true_type {};

// Converts what a handler returned into reply bytes: JSON values are encoded, anything
// convertible to std::string is taken as it is.
template <typename R>
std::string to_reply(R&& value) {
  if constexpr (std::is_same_v<std::decay_t<R>, nlohmann::json>) {
    return serialize_response(value);
  } else {
    static_assert(std::is_constructible_v<std::string, R>,
                  "a handler returns std::string, std::string_view, nlohmann::json or an asio::awaitable of one");
    return std::string(std::forward<R>(value));
  }
}

// Calls a user handler and returns its reply as a coroutine. Parameters are taken by value,
// so the coroutine frame owns everything it uses.
template <typename Fn, typename State, typename... Args>
asio::awaitable<std::string> invoke_handler(std::shared_ptr<Fn> fn, std::shared_ptr<State> state, Args... args) {
  using Result = std::invoke_result_t<Fn&, Args..., State&>;
  if constexpr (is_awaitable<Result>::value) {
    auto value = co_await std::invoke(*fn, args..., *state);
    co_return to_reply(std::move(value));
  } else {
    co_return to_reply(std::invoke(*fn, args..., *state));
  }
}

}  // namespace detail

// Builds and runs a service owning a `State`. A cheap handle: copies share the service.
// Register handlers and settings before run().
template <typename State>
class ServiceBuilder {
 public:
  // Throws noesis::ship::error(errc::invalid_subject) unless `subject_prefix` is a subject
  // without wildcards.
  ServiceBuilder(std::string subject_prefix, State state)
      : core_(std::make_shared<detail::service_core>(std::move(subject_prefix))),
        state_(std::make_shared<State>(std::move(state))) {}

  // Server to connect to when no connection() is given. Default: NATS_URL, else
  // nats://localhost:4222.
  ServiceBuilder& nats_url(std::string url) {
    core_->config().nats_url = std::move(url);
    return *this;
  }

  // Serves on an existing connection (connected by run() when needed) instead of opening one.
  // The service then leaves the connection open when it stops.
  ServiceBuilder& connection(Connection conn) {
    core_->set_connection(std::move(conn));
    return *this;
  }

  // Micro service name. Throws noesis::ship::error(errc::invalid_name) unless it is one or more
  // of `A-Z a-z 0-9 - _`.
  ServiceBuilder& name(std::string service_name) {
    detail::validate_micro_name(service_name, "service name");
    core_->config().name = std::move(service_name);
    return *this;
  }

  // Throws noesis::ship::error(errc::invalid_argument) unless `service_version` is semver.
  ServiceBuilder& version(std::string service_version) {
    detail::validate_micro_version(service_version);
    core_->config().version = std::move(service_version);
    return *this;
  }

  ServiceBuilder& description(std::string text) {
    core_->config().description = std::move(text);
    return *this;
  }

  ServiceBuilder& metadata(std::map<std::string, std::string> values) {
    core_->config().metadata = std::move(values);
    return *this;
  }

  // Queue group of the request subscription (default `q`); empty gives every instance every
  // request.
  ServiceBuilder& queue_group(std::string group) {
    core_->config().queue_group = std::move(group);
    return *this;
  }

  ServiceBuilder& max_in_flight(std::size_t requests) {
    core_->config().max_in_flight = requests;
    return *this;
  }

  ServiceBuilder& max_pending(std::size_t requests) {
    core_->config().max_pending = requests;
    return *this;
  }

  ServiceBuilder& shutdown_timeout(std::chrono::milliseconds timeout) {
    core_->config().shutdown_timeout = timeout;
    return *this;
  }

  // Whether run() stops on SIGINT and SIGTERM (default true).
  ServiceBuilder& handle_signals(bool enabled) {
    core_->config().handle_signals = enabled;
    return *this;
  }

  ServiceBuilder& event_prefix(std::string prefix) {
    core_->config().event_prefix = std::move(prefix);
    return *this;
  }

  // Publishes mutation events as ShipEvent envelopes with `source` to JetStream and waits for
  // each acknowledgement; run() creates or updates `stream` first. A failed publish is logged.
  ServiceBuilder& event_bus_stream(StreamConfig stream, std::string source) {
    core_->config().event_stream = std::move(stream);
    core_->config().event_source = std::move(source);
    return *this;
  }

  // Replaces every setting at once.
  ServiceBuilder& config(ServiceConfig settings) {
    core_->config() = std::move(settings);
    return *this;
  }
  const ServiceConfig& config() const noexcept { return core_->config(); }

  // Registers `fn(std::string_view payload, State&)` for `command`, replacing an earlier one.
  // It returns the reply (std::string, std::string_view or nlohmann::json) or an
  // asio::awaitable of one. Throws noesis::ship::error(errc::invalid_subject) when
  // `<prefix>.<command>` is not a subject without wildcards.
  template <typename Fn>
  ServiceBuilder& handler(std::string command, Fn fn) {
    static_assert(std::is_invocable_v<Fn&, std::string_view, State&>,
                  "a handler is callable as fn(std::string_view payload, State& state)");
    auto shared_fn = std::make_shared<Fn>(std::move(fn));
    core_->set_handler(std::move(command), [shared_fn, state = state_](std::string_view, std::string_view payload) {
      return detail::invoke_handler(shared_fn, state, payload);
    });
    return *this;
  }

  // Registers `fn(std::string_view subject, std::string_view payload, State&)` for every command
  // without a named handler. It gets the full request subject.
  template <typename Fn>
  ServiceBuilder& default_handler(Fn fn) {
    static_assert(std::is_invocable_v<Fn&, std::string_view, std::string_view, State&>,
                  "a default handler is callable as fn(std::string_view subject, std::string_view payload, State&)");
    auto shared_fn = std::make_shared<Fn>(std::move(fn));
    core_->set_default_handler([shared_fn, state = state_](std::string_view subject, std::string_view payload) {
      return detail::invoke_handler(shared_fn, state, subject, payload);
    });
    return *this;
  }

  // Registers `fn(std::string_view command, std::string_view response, const State&)` returning
  // std::optional<MutationEvent>. It runs after every request, including unknown commands and
  // failed requests. It gets the command (not the full subject) and the reply body, and the
  // service publishes the event it returns.
  template <typename Fn>
  ServiceBuilder& mutation_callback(Fn fn) {
    static_assert(std::is_invocable_r_v<std::optional<MutationEvent>, Fn&, std::string_view, std::string_view,
                                        const State&>,
                  "a mutation callback is callable as fn(std::string_view command, std::string_view response, "
                  "const State&) and returns std::optional<MutationEvent>");
    core_->set_mutation_callback([fn = std::move(fn), state = state_](std::string_view command,
                                                                      std::string_view response) mutable {
      return std::optional<MutationEvent>(fn(command, response, std::as_const(*state)));
    });
    return *this;
  }

  // Registers `fn(State&)`, called once per run() after the requests received before the stop
  // finished, or shutdown_timeout passed.
  template <typename Fn>
  ServiceBuilder& on_shutdown(Fn fn) {
    core_->set_on_shutdown([fn = std::move(fn), state = state_]() mutable { fn(*state); });
    return *this;
  }

  // Registers `fn()`, called once per run() when the service is subscribed and serving requests.
  ServiceBuilder& on_started(std::function<void()> fn) {
    core_->set_on_started(std::move(fn));
    return *this;
  }

  // Connects (unless connection() gave a connected one), creates the event stream when set,
  // subscribes and serves until SIGINT, SIGTERM or stop(). Then it takes no new requests, lets
  // those received finish within shutdown_timeout, calls on_shutdown once and drains its own
  // connection. Runs on a strand of the connection's executor. Throws noesis::ship::error when
  // the configuration is invalid, the connection or the event stream fails, or the service is
  // already running. When run() has returned, the builder keeps no object of the io_context, so
  // it may outlive it and run again on another. Destroying the io_context while run() is still
  // suspended is not supported: call stop() and let run() return first.
  asio::awaitable<void> run() { return detail::service_core::run(core_); }

  // Runs the service on an io_context of its own until it stops; rethrows what run() throws.
  // Not for a service with a connection(), whose executor belongs to someone else.
  void run_blocking() {
    if (core_->has_connection()) {
      throw error(errc::invalid_argument, "run_blocking(): the service has a connection(); co_await run() instead");
    }
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, run(), [&failure](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
  }

  // Asks the running service to stop (or the next run() to stop right after starting). Safe to
  // call from any thread and from a handler.
  void stop() { core_->stop(); }

  bool running() const { return core_->running(); }

  // The instance id (a NUID), fixed for the life of this builder.
  const std::string& id() const noexcept { return core_->id(); }
  const std::string& subject_prefix() const noexcept { return core_->subject_prefix(); }

  // The state. Touch it only while the service is not running, because handlers use it
  // without locking.
  State& state() noexcept { return *state_; }
  const State& state() const noexcept { return *state_; }

  // Runs the named handler of `command` on `payload` and returns its reply, without NATS, for
  // tests. Like the Rust library it never consults the default handler: an unknown command
  // gives the 404 body. A handler's exception becomes its error body. Do not call while the
  // service is running.
  asio::awaitable<std::string> dispatch(std::string command, std::string payload) {
    return detail::service_core::dispatch(core_, std::move(command), std::move(payload));
  }

 private:
  std::shared_ptr<detail::service_core> core_;
  std::shared_ptr<State> state_;
};

}  // namespace noesis::ship

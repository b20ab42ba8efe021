// The non-template engine behind ServiceBuilder: subscriptions, routing, micro statistics,
// mutation events and shutdown. ServiceBuilder turns the user's typed callbacks into the
// type-erased functions below, each bound to the service's state.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/micro.hpp>
#include <noesis/ship/service_config.hpp>

namespace noesis::ship::detail {

class service_core : public std::enable_shared_from_this<service_core> {
 public:
  // A handler bound to the state. Named handlers ignore `subject`; the default handler gets the
  // full request subject. `payload` stays valid until the returned coroutine finishes.
  using handler_fn = std::function<asio::awaitable<std::string>(std::string_view subject, std::string_view payload)>;
  using mutation_fn = std::function<std::optional<MutationEvent>(std::string_view command, std::string_view response)>;
  using callback_fn = std::function<void()>;

  // Throws noesis::ship::error(errc::invalid_subject) unless `subject_prefix` is a subject
  // without wildcards.
  explicit service_core(std::string subject_prefix);

  const std::string& subject_prefix() const noexcept { return subject_prefix_; }
  const std::string& id() const noexcept { return id_; }
  ServiceConfig& config() noexcept { return config_; }
  const ServiceConfig& config() const noexcept { return config_; }
  void set_connection(Connection conn) { connection_ = std::move(conn); }
  bool has_connection() const noexcept { return connection_.has_value(); }

  // Registers the handler of `command`, replacing an earlier one. Throws
  // noesis::ship::error(errc::invalid_subject) when `<prefix>.<command>` is not a subject
  // without wildcards.
  void set_handler(std::string command, handler_fn handler);
  void set_default_handler(handler_fn handler) { default_handler_ = std::move(handler); }
  void set_mutation_callback(mutation_fn callback) { mutation_callback_ = std::move(callback); }
  void set_on_shutdown(callback_fn callback) { on_shutdown_ = std::move(callback); }
  void set_on_started(callback_fn callback) { on_started_ = std::move(callback); }

  // Serves until stop() or a signal, then shuts down. See ServiceBuilder::run().
  static asio::awaitable<void> run(std::shared_ptr<service_core> self);

  // Asks a running service to stop, or the next run() to stop right after it starts. Safe to
  // call from any thread.
  void stop();

  bool running() const;

  // Runs the named handler of `command` as a request would, without NATS.
  static asio::awaitable<std::string> dispatch(std::shared_ptr<service_core> self, std::string command,
                                               std::string payload);

 private:
  // One micro endpoint: a named handler, or the default handler as the catch-all endpoint.
  struct endpoint {
    MicroEndpointInfo info;
    EndpointStats stats;
  };

  // A request's reply and, when it failed, the error message and code.
  struct outcome {
    std::string body;
    std::optional<std::string> error;
    int code = 0;
  };

  void begin_run(const asio::any_io_executor& strand);
  void end_run();
  void validate_config() const;
  std::string service_name() const;
  void build_endpoints();

  asio::awaitable<void> serve(Connection conn, bool own_connection);
  asio::awaitable<void> wait_for_stop();
  asio::awaitable<void> shut_down(Connection conn, bool own_connection);
  // Waits (at most `limit`) until the request loop and the control loops have ended, then
  // destroys the timers, subscriptions and executor of the run, which belong to the run's
  // io_context: the builder may outlive that io_context (run_blocking() always does).
  asio::awaitable<void> release_run_objects(std::chrono::milliseconds limit);
  void subscribe_all(Connection& conn);

  static asio::awaitable<void> serve_requests(std::shared_ptr<service_core> self, Connection conn);
  static asio::awaitable<void> serve_control(std::shared_ptr<service_core> self, Connection conn, std::size_t index);
  asio::awaitable<void> handle_request(Connection& conn, Message msg);
  void send_reply(Connection& conn, const Message& msg, const outcome& result) const;
  asio::awaitable<outcome> invoke(const handler_fn& handler, std::string_view subject, std::string_view payload,
                                  std::string_view command);
  void publish_event(Connection& conn, std::string_view command, std::string_view response);
  static asio::awaitable<void> publish_ship_event(std::shared_ptr<service_core> self, Connection conn,
                                                  std::string subject, std::string event_type, std::string data);
  std::string control_response(MicroVerb verb) const;
  MicroIdentity identity() const;

  bool idle() const noexcept;
  void finish_one();
  void notify();
  bool stop_requested() const;

  // Fixed at construction or before run().
  std::string subject_prefix_;
  std::string id_;
  ServiceConfig config_;
  std::optional<Connection> connection_;
  std::map<std::string, handler_fn> handlers_;
  handler_fn default_handler_;
  mutation_fn mutation_callback_;
  callback_fn on_shutdown_;
  callback_fn on_started_;

  // Guards the fields that stop() reads from other threads.
  mutable std::mutex mutex_;
  bool running_ = false;
  bool stop_requested_ = false;
  std::optional<asio::any_io_executor> strand_;

  // State of the current run, touched only on the strand.
  std::vector<endpoint> endpoints_;
  std::map<std::string, std::size_t> endpoint_of_command_;
  std::optional<std::size_t> default_endpoint_;
  asio::any_io_executor executor_;  // the strand
  std::chrono::system_clock::time_point started_;
  Subscription requests_;
  std::vector<Subscription> control_;
  std::vector<MicroVerb> control_verbs_;
  std::size_t in_flight_ = 0;
  bool requests_done_ = true;
  std::size_t control_loops_ = 0;  // control loops not yet ended
  // Waiters park on these timers and are woken by cancel(): the shutdown on `idle_timer_` and
  // the request loop on `slot_timer_` when in_flight_ or requests_done_ changes, run() on
  // `stop_timer_` at a stop request. Each timer has one waiter, so re-arming one never wakes
  // another.
  std::optional<asio::steady_timer> idle_timer_;
  std::optional<asio::steady_timer> slot_timer_;
  std::optional<asio::steady_timer> stop_timer_;
  asio::cancellation_signal cancel_requests_;
};

}  // namespace noesis::ship::detail

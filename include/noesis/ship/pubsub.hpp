// PubSub: fire-and-forget events over core NATS, without persistence.
//
//   Connection conn(io.get_executor(), NatsConfig(default_nats_url()));
//   co_await conn.connect();
//
//   Publisher publisher(conn, "agent-1");
//   publisher.emit(EventType::heartbeat(), nlohmann::json{{"load", 0.3}});   // subject `heartbeat`
//   publisher.emit_being("agent-1", EventType::started(), nlohmann::json{}); // `agent-1.started`
//
//   Subscriber subscriber(conn, "monitor");
//   subscriber.on(EventType::heartbeat(), [](const Event<>& event) { ... });
//   subscriber.subscribe("*.started", [](Event<> event) -> asio::awaitable<void> { co_return; });
//   co_await subscriber.run();   // until subscriber.stop() or the connection closes
//
// Wire format, as the Rust noesis-ship writes it: an event goes to the subject named by its
// type's bare token (`heartbeat`, `deploy.started`) or to `<being_id>.<token>`, with no prefix.
// The payload is the JSON of Event<T> (see event.hpp). Every subscriber receives every message,
// because PubSub has no queue groups unless SubscriberOptions::queue_group sets one.
//
// Sharing one Connection between every Publisher, Subscriber and other block is the recommended
// way to use PubSub. The constructors that take a NatsConfig open a private connection, so code
// ported from the Rust library, where each object connects on its own, keeps its structure.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/event.hpp>
#include <noesis/ship/event_type.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/message.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/subscription.hpp>

namespace noesis::ship {

namespace detail {

// Drains `conn` when `owned` is true and it is connected; otherwise does nothing.
asio::awaitable<void> drain_if_owned(Connection conn, bool owned);

}  // namespace detail

// Publishes events and raw messages. A cheap handle: copies share the connection.
class Publisher {
 public:
  // Publishes on `conn`, which the caller connects and closes. Events carry `source_id` as
  // their `source` field.
  Publisher(Connection conn, std::string source_id)
      : conn_(std::move(conn)), source_id_(std::move(source_id)) {}

  // Opens a private connection with `config` on `executor`; call connect() before publishing.
  Publisher(asio::any_io_executor executor, std::string source_id, NatsConfig config)
      : conn_(std::move(executor), std::move(config)), source_id_(std::move(source_id)), owns_connection_(true) {}

  // Connects the connection (a no-op when it is already connected).
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return conn_.connect(std::forward<Token>(token));
  }

  // Drains and closes a private connection. Does nothing to a connection given to the
  // constructor, because other blocks may still use it: its owner drains it.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto disconnect(Token&& token = {}) {
    return detail::run_awaitable<void>(conn_.get_executor(), std::forward<Token>(token),
                                       detail::drain_if_owned(conn_, owns_connection_));
  }

  // Publishes `data` on `subject` as it is, without an Event envelope. Does not wait: the
  // connection buffers the message. Throws noesis::ship::error with errc::invalid_subject for a
  // subject that is empty, contains wildcards or whitespace, errc::payload_too_large beyond the
  // server's max_payload, and errc::not_connected before connect() or after the connection closed.
  void publish(std::string_view subject, std::string_view data) { conn_.publish(subject, data); }

  // Publishes an Event of `type` with this publisher's source id on the subject `type.token()`.
  // T is any type with an nlohmann to_json. Throws like publish(), and errc::serialization when
  // the payload cannot be encoded (for example a string that is not valid UTF-8).
  template <class T = nlohmann::json>
  void emit(const EventType& type, const T& payload = T{}) {
    publish_event(type.token(), type, payload);
  }

  // Publishes an Event of `type` on the subject `<being_id>.<token>`; the event's `event_type`
  // field is still the bare token. Throws errc::invalid_subject when `being_id` is empty or
  // contains whitespace, `*` or `>`, and otherwise like emit().
  template <class T = nlohmann::json>
  void emit_being(std::string_view being_id, const EventType& type, const T& payload = T{}) {
    publish_event(type.with_entity(being_id), type, payload);
  }

  const std::string& source_id() const noexcept { return source_id_; }
  Connection connection() const noexcept { return conn_; }

 private:
  template <class T>
  void publish_event(const std::string& subject, const EventType& type, const T& payload) {
    conn_.publish(subject, encode_json(make_event(type, source_id_, payload)));
  }

  Connection conn_;
  std::string source_id_;
  bool owns_connection_ = false;
};

struct SubscriberOptions {
  // Maximum messages handed from a subscription to its handler loop at once. Larger batches cost
  // fewer hand-overs to the executor; the handler still sees one event at a time.
  std::size_t batch_size = 256;

  // Pending limit of each subscription in messages; 0 uses NatsConfig::max_pending_messages.
  // Beyond it newer messages are dropped and a slow-consumer warning is logged.
  std::size_t max_pending = 0;

  // Empty: every Subscriber receives every message, as in the Rust library. Otherwise the
  // subscribers sharing this queue group name split the messages of each pattern between them.
  std::string queue_group;

  // Minimum time between two warnings about undecodable messages (and, separately, about
  // handlers that threw). Warnings in between are counted and the count is reported with the
  // next warning.
  std::chrono::milliseconds warning_interval{1000};
};

namespace detail {

// Thrown by a route when a message is not the JSON of the Event<T> the route expects, so the
// run loop can tell a decode failure from an exception thrown by the user's handler.
class event_decode_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A recorded pattern with its type-erased handler. Exactly one of the two functions is set.
// Both decode the message first and throw event_decode_error when that fails.
struct subscriber_route {
  std::string pattern;
  std::function<void(const Message&)> handle;
  std::function<asio::awaitable<void>(const Message&)> handle_async;
};

// Lets through the first warning of each interval and counts the ones it holds back.
class warning_limiter {
 public:
  explicit warning_limiter(std::chrono::milliseconds interval) : interval_(interval) {}

  // Returns true when a warning may be logged now; `suppressed` then receives the number of
  // warnings held back since the last one logged.
  bool allow(std::uint64_t& suppressed);

 private:
  std::mutex mutex_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_once_ = false;
  std::uint64_t suppressed_ = 0;
};

struct subscriber_state {
  subscriber_state(std::string id, SubscriberOptions opts)
      : subscriber_id(std::move(id)),
        options(std::move(opts)),
        decode_warnings(options.warning_interval),
        handler_warnings(options.warning_interval) {}

  const std::string subscriber_id;
  const SubscriberOptions options;

  std::mutex mutex;  // guards routes, subscriptions, started and running
  std::vector<std::shared_ptr<const subscriber_route>> routes;
  std::vector<Subscription> subscriptions;  // one per route, in the same order, after start()
  bool started = false;
  bool running = false;
  std::atomic<bool> stopped{false};

  std::atomic<std::uint64_t> decode_failures{0};
  std::atomic<std::uint64_t> handler_failures{0};
  warning_limiter decode_warnings;
  warning_limiter handler_warnings;
};

// Decodes the message as Event<T>. Anything thrown while decoding, including by a user's
// from_json, becomes an event_decode_error carrying the original description.
template <class T>
Event<T> decode_event(const Message& msg) {
  const std::string_view bytes = msg.data();
  try {
    const auto document = nlohmann::json::parse(bytes.begin(), bytes.end());
    return from_document<Event<T>>(document);
  } catch (const std::exception& e) {
    throw event_decode_error(e.what());
  }
}

// Calls a coroutine handler with an event that lives in this frame until the handler is done,
// so a handler taking `const Event<T>&` is as safe as one taking the event by value.
template <class T, class Handler>
asio::awaitable<void> call_async_handler(std::shared_ptr<Handler> handler, Event<T> event) {
  co_await (*handler)(std::move(event));
}

template <class T, class Handler>
subscriber_route make_route(std::string pattern, Handler handler) {
  using result = std::invoke_result_t<Handler&, Event<T>&&>;
  subscriber_route route;
  route.pattern = std::move(pattern);
  if constexpr (std::is_same_v<result, asio::awaitable<void>>) {
    auto shared = std::make_shared<Handler>(std::move(handler));
    route.handle_async = [shared](const Message& msg) {
      return call_async_handler<T>(shared, decode_event<T>(msg));
    };
  } else {
    static_assert(std::is_void_v<result>,
                  "a Subscriber handler returns void or asio::awaitable<void>");
    route.handle = [handler = std::move(handler)](const Message& msg) mutable {
      handler(decode_event<T>(msg));
    };
  }
  return route;
}

}  // namespace detail

// Receives events. A cheap handle: copies share the recorded patterns and the running state.
//
// Record patterns with subscribe() or on(), then co_await run(): it subscribes once per pattern
// and calls the handlers on the connection's executor, one message at a time per pattern, until
// stop() is called or the connection closes. Messages of different patterns may be handled
// concurrently, and in parallel when several threads run the executor.
//
// Unlike the Rust library, which drops them silently, a message that does not decode as
// Event<T> is logged (a warning naming the subject and the decode error, at most one per
// SubscriberOptions::warning_interval) and skipped. A handler that throws is logged the same way
// and run() goes on with the next message.
class Subscriber {
 public:
  Subscriber(Connection conn, std::string subscriber_id, SubscriberOptions options = SubscriberOptions())
      : conn_(std::move(conn)),
        state_(std::make_shared<detail::subscriber_state>(std::move(subscriber_id), std::move(options))) {}

  // Opens a private connection with `config` on `executor`; call connect() before run().
  Subscriber(asio::any_io_executor executor, std::string subscriber_id, NatsConfig config,
             SubscriberOptions options = SubscriberOptions())
      : conn_(std::move(executor), std::move(config)),
        state_(std::make_shared<detail::subscriber_state>(std::move(subscriber_id), std::move(options))),
        owns_connection_(true) {}

  // Connects the connection (a no-op when it is already connected).
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return conn_.connect(std::forward<Token>(token));
  }

  // Stops run(), then drains and closes a private connection. A connection given to the
  // constructor stays open. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto disconnect(Token&& token = {}) {
    stop();
    return detail::run_awaitable<void>(conn_.get_executor(), std::forward<Token>(token),
                                       detail::drain_if_owned(conn_, owns_connection_));
  }

  // Records `handler` for messages on `pattern` (NATS wildcards `*` and `>` allowed), decoded as
  // Event<T>. The handler is `void(const Event<T>&)` or a coroutine
  // `asio::awaitable<void>(Event<T>)`; T defaults to nlohmann::json and needs an nlohmann
  // from_json otherwise. Call before start() or run(). Throws errc::invalid_subject for an
  // invalid pattern and errc::invalid_argument once the subscriber has started.
  // NOTE: a handler does not receive the message's subject, as in the Rust library, so under a
  // wildcard pattern it tells senders apart only by the event's `source`.
  template <class T = nlohmann::json, class Handler>
  void subscribe(std::string pattern, Handler handler) {
    validate_subject(pattern, SubjectUse::subscribe);
    add_route(std::make_shared<const detail::subscriber_route>(
        detail::make_route<T>(std::move(pattern), std::move(handler))));
  }

  // Records `handler` for events of `type` published with Publisher::emit(), that is, on the
  // subject `type.token()`. Same handler forms and errors as subscribe().
  template <class T = nlohmann::json, class Handler>
  void on(const EventType& type, Handler handler) {
    subscribe<T>(type.token(), std::move(handler));
  }

  // Subscribes to every recorded pattern now, so that after a flush of the connection the server
  // routes matching messages to this subscriber even before run() is awaited. They wait in each
  // subscription's pending queue. run() calls start() itself when needed; a second call does
  // nothing. Throws errc::not_connected when the connection is not connected.
  void start();

  // Handles messages until stop() is called or the connection closes, then completes without an
  // error. Fails with errc::invalid_argument when run() is already in progress or no pattern was
  // recorded, and like start() when subscribing fails. Cancelling run() stops the subscriber.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto run(Token&& token = {}) {
    return detail::run_awaitable<void>(conn_.get_executor(), std::forward<Token>(token), do_run(*this));
  }

  // Makes run() return after the message being handled, if any; queued messages are dropped.
  // Safe from any thread. A stopped subscriber stays stopped: a later run() returns at once.
  void stop();

  // The same as stop(); the Rust library's name.
  void shutdown() { stop(); }

  bool stopped() const noexcept { return state_->stopped.load(); }
  const std::string& subscriber_id() const noexcept { return state_->subscriber_id; }
  Connection connection() const noexcept { return conn_; }

  // Counts since construction of messages skipped because they did not decode, and of handler
  // calls that threw.
  std::uint64_t decode_failures() const noexcept { return state_->decode_failures.load(); }
  std::uint64_t handler_failures() const noexcept { return state_->handler_failures.load(); }

 private:
  void add_route(std::shared_ptr<const detail::subscriber_route> route);

  static asio::awaitable<void> do_run(Subscriber self);
  static asio::awaitable<void> consume(std::shared_ptr<detail::subscriber_state> state, std::size_t index);

  Connection conn_;
  std::shared_ptr<detail::subscriber_state> state_;
  bool owns_connection_ = false;
};

// Publisher and Subscriber on one connection, with one id for both: the Rust library's combined
// bus. A cheap handle.
class PubSub {
 public:
  PubSub(Connection conn, std::string bus_id, SubscriberOptions options = SubscriberOptions())
      : publisher_(conn, bus_id), subscriber_(conn, bus_id, std::move(options)) {}

  // Opens a private connection with `config` on `executor`; call connect() before use.
  PubSub(asio::any_io_executor executor, std::string bus_id, NatsConfig config, SubscriberOptions options = SubscriberOptions())
      : PubSub(Connection(std::move(executor), std::move(config)), std::move(bus_id), std::move(options)) {
    owns_connection_ = true;
  }

  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return publisher_.connect(std::forward<Token>(token));
  }

  // Stops run(), then drains and closes a private connection; a shared one stays open.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto disconnect(Token&& token = {}) {
    subscriber_.stop();
    return detail::run_awaitable<void>(connection().get_executor(), std::forward<Token>(token),
                                       detail::drain_if_owned(connection(), owns_connection_));
  }

  void publish(std::string_view subject, std::string_view data) { publisher_.publish(subject, data); }

  template <class T = nlohmann::json>
  void emit(const EventType& type, const T& payload = T{}) {
    publisher_.emit(type, payload);
  }

  template <class T = nlohmann::json>
  void emit_being(std::string_view being_id, const EventType& type, const T& payload = T{}) {
    publisher_.emit_being(being_id, type, payload);
  }

  template <class T = nlohmann::json, class Handler>
  void subscribe(std::string pattern, Handler handler) {
    subscriber_.subscribe<T>(std::move(pattern), std::move(handler));
  }

  template <class T = nlohmann::json, class Handler>
  void on(const EventType& type, Handler handler) {
    subscriber_.on<T>(type, std::move(handler));
  }

  void start() { subscriber_.start(); }

  template <typename Token = use_awaitable_t>
  auto run(Token&& token = {}) {
    return subscriber_.run(std::forward<Token>(token));
  }

  void shutdown() { subscriber_.stop(); }
  void stop() { subscriber_.stop(); }

  const std::string& bus_id() const noexcept { return publisher_.source_id(); }
  Connection connection() const noexcept { return publisher_.connection(); }
  Publisher& publisher() noexcept { return publisher_; }
  Subscriber& subscriber() noexcept { return subscriber_; }

 private:
  Publisher publisher_;
  Subscriber subscriber_;
  bool owns_connection_ = false;
};

}  // namespace noesis::ship

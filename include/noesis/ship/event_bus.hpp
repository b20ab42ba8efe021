// EventBus: durable events on a JetStream stream, replayed to late subscribers.
//
//   EventBus bus = EventBus(conn).with_source("kanban-server");
//   co_await bus.connect();                                    // ensures stream SHIP_EVENTS
//   PubAck ack = co_await bus.emit_event("item.created", Item{"EX-3001"});
//   auto sub = co_await bus.subscribe<Item>("item.*", "dashboard",
//       [](ShipEvent<Item> event) -> asio::awaitable<void> { ...; co_return; });
//   ...
//   sub.stop();
//
// Wire format, shared with the Rust noesis-ship: an event of type `item.created` is the JSON of
// ShipEvent (see ship_event.hpp) published on `ship.events.item.created` into the stream
// SHIP_EVENTS (subjects `ship.events.>`, 24 h, 100,000 messages, file storage).
//
// Subscribers use a durable PULL consumer named exactly after the consumer name, filtered on
// `<prefix>.<pattern>`, delivering all stored events first. The Rust library uses a push
// consumer; a pull consumer lets a second process with the same name share the durable and
// resume where the first stopped, and its position survives restarts of either side. The two
// kinds cannot share one durable name: a Rust subscriber and a C++ subscriber need different
// consumer names.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/consumer_subscription.hpp>
#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/detail/consumer_runner.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/json.hpp>
#include <noesis/ship/ship_event.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

// Subject prefix of the default event stream.
inline constexpr const char* default_event_subject_prefix = "ship.events";

// Stream SHIP_EVENTS on `ship.events.>`: 24 h, 100,000 messages, file storage.
StreamConfig default_event_stream_config();

// A durable event bus over one Connection. A cheap value: copies share the connection, and the
// with_* builders return a modified copy.
class EventBus {
 public:
  // Uses the default stream and prefix. The caller owns the connection.
  explicit EventBus(Connection conn)
      : EventBus(std::move(conn), default_event_stream_config(), default_event_subject_prefix) {}

  // Uses `stream` and publishes on `<subject_prefix>.<type>`. The stream's subjects must cover
  // `<subject_prefix>.>`; connect() checks that. Throws errc::invalid_subject for a prefix that is
  // not a valid literal subject, and the error of validate(StreamConfig) for an invalid stream
  // configuration.
  EventBus(Connection conn, StreamConfig stream, std::string subject_prefix);

  // The Rust library's constructor with a custom stream.
  static EventBus with_stream(Connection conn, StreamConfig stream, std::string subject_prefix) {
    return EventBus(std::move(conn), std::move(stream), std::move(subject_prefix));
  }

  // Returns a copy whose emit_event() stamps events with `source`.
  EventBus with_source(std::string source) const {
    EventBus copy = *this;
    copy.source_ = std::move(source);
    return copy;
  }

  // Returns a copy whose subscriptions use `options` unless subscribe() is given its own.
  EventBus with_consumer_options(ConsumerOptions options) const {
    EventBus copy = *this;
    copy.consumer_options_ = std::move(options);
    return copy;
  }

  // Connects the connection (a no-op when connected) and creates or updates the stream.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    return detail::run_awaitable<void>(conn_.get_executor(), std::forward<Token>(token), do_connect(*this));
  }

  // Publishes a ShipEvent of `event_type` with this bus's source and a fresh correlation id on
  // `<prefix>.<event_type>`, and waits for the stream's ack. T is any type with nlohmann to_json.
  // Throws errc::invalid_subject for an event type that is empty or contains spaces or
  // wildcards, and the JetStream error when the stream does not store the event.
  // Signature: void(std::error_code, PubAck).
  template <class T = nlohmann::json, typename Token = use_awaitable_t>
  auto emit_event(std::string event_type, const T& payload, Token&& token = {}) {
    return emit(std::move(event_type), source_, payload, std::nullopt, std::forward<Token>(token));
  }

  // Publishes a ShipEvent with an explicit source and correlation id (a fresh 8-hex-digit id
  // when absent). Signature: void(std::error_code, PubAck).
  template <class T = nlohmann::json, typename Token = use_awaitable_t>
  auto emit(std::string event_type, std::string source, const T& payload,
            std::optional<std::string> correlation_id = std::nullopt, Token&& token = {}) {
    auto event = make_ship_event(std::move(event_type), std::move(source), payload, std::move(correlation_id));
    return publish_event(event, {}, std::forward<Token>(token));
  }

  // Publishes a ready envelope on `<prefix>.<event.event_type>`. A non-empty `msg_id` is sent as
  // Nats-Msg-Id: within the stream's duplicate window (2 minutes by default) a second event with
  // the same id is not stored again, and its PubAck has duplicate set.
  // Signature: void(std::error_code, PubAck).
  template <class T, typename Token = use_awaitable_t>
  auto publish_event(const ShipEvent<T>& event, std::string msg_id = {}, Token&& token = {}) {
    std::string subject = subject_for(event.event_type);
    std::string data = encode_json(event);
    return detail::run_awaitable<PubAck>(conn_.get_executor(), std::forward<Token>(token),
                                         do_publish(*this, std::move(subject), std::move(data), std::move(msg_id)));
  }

  // Starts a durable subscriber named `consumer_name` on events matching `pattern` (subject
  // wildcards allowed, relative to the prefix: "item.*", ">"). A new consumer first replays every
  // event the stream holds, then follows new ones; an existing one resumes after its last ack,
  // also from another process. An empty consumer_name makes an ephemeral consumer that the
  // server deletes after stop().
  //
  // `handler` takes ShipEvent<T> (and optionally `const JsMessage&` for the stream sequence and
  // delivery count) and returns asio::awaitable<void> or void. It runs on a strand of the
  // connection's executor, one event at a time in stream order. An event is acked after the
  // handler returns; an exception makes it redelivered (see ConsumerOptions). An event that does
  // not decode as ShipEvent<T> is logged with its subject and sequence and terminated, so it is
  // not redelivered; the stream keeps it until its max_age for inspection.
  //
  // Throws errc::invalid_name for a consumer name containing '.', '*', '>', '/', '\' or
  // whitespace, errc::invalid_subject for an invalid pattern, and the JetStream error when the
  // consumer cannot be created. Signature: void(std::error_code, ConsumerSubscription).
  template <class T = nlohmann::json, class Handler, typename Token = use_awaitable_t>
  auto subscribe(std::string pattern, std::string consumer_name, Handler handler,
                 std::optional<ConsumerOptions> options = std::nullopt, Token&& token = {}) {
    detail::message_handler wrapped = [handler = std::move(handler)](const JsMessage& msg) mutable
        -> asio::awaitable<void> {
      ShipEvent<T> event = detail::decode_consumed<ShipEvent<T>>(msg);
      co_await detail::invoke_user_handler(handler, std::move(event), msg);
    };
    return detail::run_awaitable<ConsumerSubscription>(
        conn_.get_executor(), std::forward<Token>(token),
        do_subscribe(*this, std::move(pattern), std::move(consumer_name), std::move(wrapped),
                     options ? std::move(*options) : consumer_options_));
  }

  // `<prefix>.<event_type>`.
  std::string subject_for(std::string_view event_type) const;

  const Connection& connection() const noexcept { return conn_; }
  JetStream& jetstream() noexcept { return js_; }
  const StreamConfig& stream_config() const noexcept { return stream_; }
  const std::string& subject_prefix() const noexcept { return prefix_; }
  const std::string& source() const noexcept { return source_; }
  bool is_connected() const noexcept { return conn_.is_connected(); }

 private:
  static asio::awaitable<void> do_connect(EventBus self);
  static asio::awaitable<PubAck> do_publish(EventBus self, std::string subject, std::string data, std::string msg_id);
  static asio::awaitable<ConsumerSubscription> do_subscribe(EventBus self, std::string pattern,
                                                            std::string consumer_name,
                                                            detail::message_handler handler, ConsumerOptions options);

  Connection conn_;
  JetStream js_;
  StreamConfig stream_;
  std::string prefix_;
  std::string source_;
  ConsumerOptions consumer_options_;
};

}  // namespace noesis::ship

// The consumer loop shared by EventBus and ChannelService: a pull consumer read with long-lived
// pull requests, one handler call at a time, ack after success, nak or term after failure, and
// recovery after fetch errors. The pure decisions (redelivery delay, retry pause, batch size)
// are separate functions so unit tests cover them without a server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/consumer_subscription.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/json.hpp>

namespace noesis::ship::detail {

// Thrown by a message handler wrapper when the payload does not decode. The loop terminates
// such a message instead of redelivering it, because a redelivery would fail the same way.
class undecodable_message : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes the JSON payload of `msg` as T, throwing undecodable_message naming the subject and
// stream sequence.
template <class T>
T decode_consumed(const JsMessage& msg) {
  try {
    return decode_json<T>(msg.data(), "message on '" + std::string(msg.subject()) + "' at stream sequence " +
                                          std::to_string(msg.stream_sequence()));
  } catch (const error& e) {
    throw undecodable_message(e.what());
  }
}

// Calls a user handler with `value` (and the delivered message when the handler takes it). The
// handler may return asio::awaitable<void> (awaited) or anything else (a plain function).
template <class Handler, class T>
asio::awaitable<void> invoke_user_handler(Handler& handler, T value, const JsMessage& msg) {
  if constexpr (std::is_invocable_v<Handler&, T, const JsMessage&>) {
    using result = std::invoke_result_t<Handler&, T, const JsMessage&>;
    if constexpr (std::is_same_v<result, asio::awaitable<void>>) {
      co_await handler(std::move(value), msg);
    } else {
      handler(std::move(value), msg);
    }
  } else {
    static_assert(std::is_invocable_v<Handler&, T>,
                  "the handler must take the decoded value, optionally followed by const JsMessage&");
    using result = std::invoke_result_t<Handler&, T>;
    if constexpr (std::is_same_v<result, asio::awaitable<void>>) {
      co_await handler(std::move(value));
    } else {
      handler(std::move(value));
    }
  }
}

// The loop's view of a handler: returns normally to ack, throws undecodable_message to term,
// throws anything else to nak (or term after max_deliver deliveries).
using message_handler = std::function<asio::awaitable<void>(const JsMessage&)>;

// What to do with a message whose handler threw.
struct failure_action {
  bool terminate = false;                 // give up: the message reached max_deliver
  std::chrono::milliseconds delay{0};     // redelivery delay of the nak
};

// Chooses term once `num_delivered` reached `max_deliver` (when positive), and otherwise a nak
// delayed by nak_delays[num_delivered - 1], the last entry repeating.
failure_action action_after_failure(std::uint64_t num_delivered, std::int64_t max_deliver,
                                    const std::vector<std::chrono::milliseconds>& nak_delays);

// Pause before retry number `attempt` (1 for the first) after a fetch error: initial doubled
// per attempt, at most `max`.
std::chrono::milliseconds retry_pause(unsigned attempt, std::chrono::milliseconds initial,
                                      std::chrono::milliseconds max);

// Batch size for the next pull request: the configured maximum, lowered so that a full batch
// queued behind the handler is handled within half of ack_wait at the measured mean handler
// time. At least 1.
std::size_t adaptive_batch(std::size_t configured, std::chrono::nanoseconds mean_handler_time,
                           std::chrono::milliseconds ack_wait);

// Remembers the stream sequences most recently acked, so that a redelivery that overtook its own
// ack is acked again instead of handled twice. Bounded to `capacity` sequences.
class recent_sequences {
 public:
  explicit recent_sequences(std::size_t capacity) : capacity_(capacity) {}
  void insert(std::uint64_t sequence);
  bool contains(std::uint64_t sequence) const noexcept;

 private:
  std::size_t capacity_;
  std::vector<std::uint64_t> ring_;
  std::size_t next_ = 0;
};

// Everything the loop needs to (re)create its consumer and to label its logs.
struct consumer_target {
  JetStream js;
  std::string stream;
  ConsumerConfig config;  // durable_name empty: an ephemeral consumer
  // Run before the consumer is created again after the server lost it, for example to create
  // a memory stream again after a restart. May be empty.
  std::function<asio::awaitable<void>()> ensure_stream;
  std::string label;  // names the subscription in logs, for example "event subscriber 'audit'"
};

// Builds the server config of a consumer from the loop options.
ConsumerConfig consumer_config_from(ConsumerConfig base, const ConsumerOptions& options);

// Creates (or binds to) the consumer and starts its loop on a strand of the connection's
// executor. Throws the creation error, so invalid names and missing streams surface at once.
asio::awaitable<ConsumerSubscription> start_consumer(consumer_target target, ConsumerOptions options,
                                                     message_handler handler);

}  // namespace noesis::ship::detail

// ConsumerSubscription: the handle of a running JetStream consumer loop, returned by
// EventBus::subscribe and ChannelService::subscribe, and the options of that loop.
//
// The loop pulls messages from a pull consumer and hands them to the handler one at a time, in
// stream order, on a strand of the connection's executor. A message is acked only after its
// handler returned without an exception. A handler that throws gets its message redelivered
// (nak with a delay from ConsumerOptions::nak_delays) until max_deliver deliveries, after which
// the message is terminated and an error is logged. Fetch errors (for example while the server
// restarts) are logged and retried with a growing pause until stop().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/use_awaitable.hpp>

namespace noesis::ship {

// Settings of a consumer loop. The first four also go into the server's consumer config.
struct ConsumerOptions {
  // Time the server waits for an ack before it redelivers a message.
  std::chrono::milliseconds ack_wait{30000};
  // Deliveries of one message before it is given up (terminated); -1 means unlimited.
  std::int64_t max_deliver = 5;
  // Unacked messages the server lets the consumer have; 0 uses the server default (1,000).
  std::int64_t max_ack_pending = 0;
  // Time after which the server deletes an unused ephemeral consumer. Durables never expire.
  std::chrono::milliseconds inactive_threshold{std::chrono::minutes(5)};

  // Maximum messages requested by one pull request. The loop lowers it while the handler is
  // slow, so that queued messages are handled within half of ack_wait.
  std::size_t batch_size = 256;
  // Lifetime of one pull request. stop() of a loop waiting for messages returns within it.
  std::chrono::milliseconds fetch_expires{5000};
  // Redelivery delay after the n-th failed delivery is nak_delays[n - 1]; the last entry repeats.
  // Empty: redeliver at once.
  std::vector<std::chrono::milliseconds> nak_delays{std::chrono::seconds(1), std::chrono::seconds(5),
                                                    std::chrono::seconds(30)};
  // Pause after a fetch error, doubling on each further error up to retry_max.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{5000};
};

// Checks the options of a consumer loop and throws noesis::ship::error(errc::invalid_argument)
// naming `label` and the value. Rejected: ack_wait, fetch_expires or retry_initial of 0 or less,
// batch_size 0, max_deliver other than -1 or a positive count, max_ack_pending below -1, a
// negative inactive_threshold or nak delay, and retry_max shorter than retry_initial.
void validate(const ConsumerOptions& options, std::string_view label = "consumer options");

namespace detail {
struct consumer_runner;
}

// A running consumer loop. Copies share the loop. Dropping every handle does not stop the loop,
// which runs until stop() or until the connection is closed.
class ConsumerSubscription {
 public:
  ConsumerSubscription() = default;
  explicit ConsumerSubscription(std::shared_ptr<detail::consumer_runner> runner) : runner_(std::move(runner)) {}

  bool valid() const noexcept { return runner_ != nullptr; }
  const std::string& stream() const noexcept;
  // The consumer's name on the server: the durable name, or the server-chosen ephemeral name.
  const std::string& consumer_name() const noexcept;

  // Asks the loop to end. A handler still running is cancelled at its next asynchronous wait and
  // its message is nak'ed, so it is redelivered at once to another subscriber of the durable.
  // A loop waiting for messages ends within ConsumerOptions::fetch_expires. Thread-safe.
  void stop();

  // Whether the loop has ended (after stop() or the connection's close).
  bool finished() const noexcept;

  // Waits until the loop has ended. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto wait(Token&& token = {}) {
    return detail::run_awaitable<void>(executor(), std::forward<Token>(token), do_wait(runner_));
  }

  // Messages acked after a successful handler, handler failures (each nak or term after an
  // exception), and undecodable messages terminated, since the loop started.
  std::uint64_t handled() const noexcept;
  std::uint64_t failures() const noexcept;
  std::uint64_t undecodable() const noexcept;

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<void> do_wait(std::shared_ptr<detail::consumer_runner> runner);

  std::shared_ptr<detail::consumer_runner> runner_;
};

}  // namespace noesis::ship

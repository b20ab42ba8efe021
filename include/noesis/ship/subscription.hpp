// A core NATS subscription as an asynchronous stream of messages.
//
//   auto sub = conn.subscribe("agents.*.status");
//   for (;;) {
//     Message msg = co_await sub.next();          // throws error(errc::subscription_closed) at the end
//     ...
//   }
//
// Messages wait in a bounded queue (NatsConfig::max_pending_messages unless the subscription
// sets its own limit). When the queue is full, newer messages are dropped, a warning is logged and
// the next call to next() or next_batch() fails once with errc::slow_consumer; later calls go on
// delivering what is queued. Destroying the Subscription unsubscribes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <concepts>
#include <exception>
#include <type_traits>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/logger.hpp>
#include <noesis/ship/detail/subscription_state.hpp>
#include <noesis/ship/message.hpp>

namespace noesis::ship {

namespace detail {

// Messages a handler subscription takes per executor hop; larger batches amortise the hand-over.
inline constexpr std::size_t handler_batch_size = 256;

// Calls `handler` for every message of `state` on the subscription's executor until the
// subscription ends. A handler may return void or asio::awaitable<void>; one that throws is
// logged and the loop goes on with the next message.
template <typename Handler>
asio::awaitable<void> run_message_handler(std::shared_ptr<subscription_state> state, Handler handler) {
  // The initiation, the batch and each handler call are named locals, never temporaries inside
  // a co_await expression: GCC 12 destroys such temporaries wrongly, which corrupted the heap
  // and stalled this loop under load.
  auto token = asio::experimental::as_tuple(asio::use_awaitable);
  auto initiation = [state](auto completion_handler) {
    auto slot = asio::get_associated_cancellation_slot(completion_handler);
    subscription_state::batch_completion done(std::move(completion_handler), state->executor());
    state->async_next_batch(handler_batch_size, std::move(done), slot);
  };
  for (;;) {
    auto outcome =
        co_await asio::async_initiate<decltype(token), void(std::error_code, std::vector<Message>)>(initiation, token);
    const std::error_code ec = std::get<0>(outcome);
    if (ec == errc::slow_consumer) continue;
    if (ec) co_return;
    std::vector<Message> batch = std::move(std::get<1>(outcome));
    for (Message& msg : batch) {
      try {
        if constexpr (std::is_same_v<std::invoke_result_t<Handler&, Message>, asio::awaitable<void>>) {
          asio::awaitable<void> call = handler(std::move(msg));
          co_await std::move(call);
        } else {
          handler(std::move(msg));
        }
      } catch (const std::exception& e) {
        logger()->error("message handler for subject '{}' threw: {}", state->subject(), e.what());
      }
    }
  }
}

}  // namespace detail

class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::shared_ptr<detail::subscription_state> state) : state_(std::move(state)) {}
  Subscription(Subscription&&) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept {
    if (this != &other) {
      unsubscribe();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Subscription() { unsubscribe(); }

  bool valid() const noexcept { return state_ != nullptr; }
  const std::string& subject() const { return state_->subject(); }
  const std::string& queue_group() const { return state_->queue_group(); }

  // Waits for the next message. Completes with errc::subscription_closed after unsubscribe(),
  // drain() or the connection's close, once the queued messages are consumed. Supports asio
  // per-operation cancellation (for example `co_await (sub.next() || timer.async_wait(...))`).
  // Signature: void(std::error_code, Message).
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    auto state = state_;
    return detail::initiate<Message>(std::forward<Token>(token), context(), [state](auto handler) {
      auto slot = asio::get_associated_cancellation_slot(handler);
      detail::subscription_state::next_completion done(std::move(handler), state->executor());
      state->async_next(std::move(done), slot);
    });
  }

  // Waits until at least one message is queued and returns up to max_messages of them, which
  // costs one hand-over to the executor per batch instead of one per message.
  // Signature: void(std::error_code, std::vector<Message>).
  template <typename Token = use_awaitable_t>
  auto next_batch(std::size_t max_messages, Token&& token = {}) {
    auto state = state_;
    return detail::initiate<std::vector<Message>>(std::forward<Token>(token), context(),
                                                  [state, max_messages](auto handler) {
                                                    auto slot = asio::get_associated_cancellation_slot(handler);
                                                    detail::subscription_state::batch_completion done(
                                                        std::move(handler), state->executor());
                                                    state->async_next_batch(max_messages, std::move(done), slot);
                                                  });
  }

  // Stops delivery at once; messages already queued can still be read.
  void unsubscribe() {
    if (state_) state_->unsubscribe();
  }

  // Asks the server to stop sending, delivers what is in flight, then ends the stream.
  void drain() {
    if (state_) throw_if(state_->drain(), context());
  }

  std::size_t queued() const { return state_ ? state_->queued() : 0; }
  const std::shared_ptr<detail::subscription_state>& state() const noexcept { return state_; }
  std::uint64_t dropped() const { return state_ ? state_->dropped() : 0; }

 private:
  std::string context() const { return state_ ? "subscription to '" + state_->subject() + "'" : "subscription"; }

  std::shared_ptr<detail::subscription_state> state_;
};

}  // namespace noesis::ship

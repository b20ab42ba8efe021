// The shared state behind a Subscription: a bounded queue between a cnats delivery thread and
// the coroutines awaiting messages on the user's executor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/cancellation_signal.hpp>

#include <noesis/ship/detail/completion.hpp>
#include <noesis/ship/detail/handles.hpp>
#include <noesis/ship/message.hpp>

namespace noesis::ship::detail {

// Counts the subscriptions of a connection whose cnats completion callback has not run yet.
// cnats runs that callback on its delivery thread, possibly after natsConnection_Close() has
// returned, and the callback may post to the user's executor. Closing the connection waits for
// the count to reach zero, so no callback outlives the connection and its io_context.
class subscription_tracker {
 public:
  void add();
  void remove();
  // Returns false when subscriptions were still open after `timeout`.
  bool wait_until_none(std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable none_open_;
  std::size_t open_ = 0;
};

class subscription_state : public std::enable_shared_from_this<subscription_state> {
 public:
  using next_completion = completion<std::error_code, Message>;
  using batch_completion = completion<std::error_code, std::vector<Message>>;

  subscription_state(asio::any_io_executor executor, std::string subject, std::string queue_group,
                     std::size_t max_pending, std::shared_ptr<subscription_tracker> tracker = nullptr);

  // Subscribes on `connection`. On success the state keeps itself alive until cnats reports
  // that the subscription completed, because cnats holds a raw pointer to it until then.
  std::error_code start(natsConnection* connection);

  void async_next(next_completion done, asio::cancellation_slot slot);
  void async_next_batch(std::size_t max_messages, batch_completion done, asio::cancellation_slot slot);

  void unsubscribe();
  std::error_code drain();

  const std::string& subject() const noexcept { return subject_; }
  const std::string& queue_group() const noexcept { return queue_group_; }
  const asio::any_io_executor& executor() const noexcept { return executor_; }
  std::size_t queued() const;
  std::uint64_t dropped() const;
  bool closed() const;

 private:
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static void on_complete(void* closure);

  void push(message_handle msg);
  void mark_closed(std::error_code reason);
  void schedule_delivery_locked();
  void deliver();
  void cancel_waiter();

  asio::any_io_executor executor_;
  std::string subject_;
  std::string queue_group_;
  std::size_t max_pending_;

  mutable std::mutex mutex_;
  std::deque<message_handle> queue_;
  next_completion waiter_;
  batch_completion batch_waiter_;
  std::size_t batch_max_ = 0;
  bool delivery_scheduled_ = false;
  bool closed_ = false;
  std::error_code close_reason_;
  std::uint64_t dropped_ = 0;
  bool report_slow_consumer_ = false;
  std::uint64_t waiter_generation_ = 0;

  subscription_handle handle_;
  std::shared_ptr<subscription_state> self_;  // released when cnats completes the subscription
  std::shared_ptr<subscription_tracker> tracker_;
};

}  // namespace noesis::ship::detail

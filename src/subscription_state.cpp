#include <noesis/ship/detail/subscription_state.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <noesis/ship/error.hpp>
#include <noesis/ship/logger.hpp>

namespace noesis::ship::detail {

void subscription_tracker::add() {
  std::lock_guard lock(mutex_);
  ++open_;
}

void subscription_tracker::remove() {
  std::lock_guard lock(mutex_);
  if (open_ > 0 && --open_ == 0) none_open_.notify_all();
}

bool subscription_tracker::wait_until_none(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return none_open_.wait_for(lock, timeout, [this] { return open_ == 0; });
}

subscription_state::subscription_state(asio::any_io_executor executor, std::string subject,
                                       std::string queue_group, std::size_t max_pending,
                                       std::shared_ptr<subscription_tracker> tracker)
    : executor_(std::move(executor)),
      subject_(std::move(subject)),
      queue_group_(std::move(queue_group)),
      max_pending_(max_pending == 0 ? 1 : max_pending),
      tracker_(std::move(tracker)) {}

std::error_code subscription_state::start(natsConnection* connection) {
  natsSubscription* raw = nullptr;
  natsStatus status = queue_group_.empty()
                          ? natsConnection_Subscribe(&raw, connection, subject_.c_str(), &on_message, this)
                          : natsConnection_QueueSubscribe(&raw, connection, subject_.c_str(),
                                                          queue_group_.c_str(), &on_message, this);
  if (status != NATS_OK) return make_nats_error_code(status);
  handle_.reset(raw);

  // Our own bounded queue enforces the pending limit, so cnats's limit only needs to be at
  // least as large; messages leave cnats's queue as soon as the callback runs.
  natsSubscription_SetPendingLimits(raw, -1, -1);
  self_ = shared_from_this();
  if (tracker_) tracker_->add();
  natsSubscription_SetOnCompleteCB(raw, &on_complete, this);
  return {};
}

void subscription_state::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<subscription_state*>(closure)->push(message_handle(msg));
}

void subscription_state::on_complete(void* closure) {
  auto* self = static_cast<subscription_state*>(closure);
  self->mark_closed(errc::subscription_closed);

  // Release the self-reference here, on the cnats thread. Posting the release to the executor
  // would crash when the application has already destroyed its io_context, which is common: cnats
  // completes a subscription some time after the connection closes. cnats keeps its own reference
  // to the subscription while this callback runs, so the release cannot free it under cnats.
  std::shared_ptr<subscription_state> keep;
  {
    std::lock_guard lock(self->mutex_);
    keep = std::move(self->self_);
  }
  // A closing connection waits for this count, so the callback ends before close() returns.
  auto tracker = self->tracker_;
  keep.reset();
  if (tracker) tracker->remove();
}

void subscription_state::push(message_handle msg) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (queue_.size() >= max_pending_) {
    ++dropped_;
    if (!report_slow_consumer_) {
      report_slow_consumer_ = true;
      logger()->warn("slow consumer on subject '{}': {} messages pending, dropping new messages; "
                     "consume faster or raise max_pending_messages",
                     subject_, queue_.size());
      schedule_delivery_locked();
    }
    return;
  }
  queue_.push_back(std::move(msg));
  schedule_delivery_locked();
}

void subscription_state::schedule_delivery_locked() {
  if (delivery_scheduled_ || (!waiter_ && !batch_waiter_)) return;
  delivery_scheduled_ = true;
  asio::post(executor_, [self = shared_from_this()] { self->deliver(); });
}

// Runs on the executor: hands queued messages, a slow-consumer report or the end of the
// subscription to the waiting operation.
void subscription_state::deliver() {
  std::unique_lock lock(mutex_);
  delivery_scheduled_ = false;

  std::error_code ec;
  if (report_slow_consumer_) {
    report_slow_consumer_ = false;
    ec = errc::slow_consumer;
  } else if (queue_.empty()) {
    if (!closed_) return;
    ec = close_reason_;
  }

  if (waiter_) {
    auto done = std::move(waiter_);
    waiter_ = {};
    Message msg;
    if (!ec) {
      msg = Message(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    done.complete(ec, std::move(msg));
    return;
  }

  if (batch_waiter_) {
    auto done = std::move(batch_waiter_);
    batch_waiter_ = {};
    std::vector<Message> batch;
    if (!ec) {
      const std::size_t count = std::min(batch_max_, queue_.size());
      batch.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        batch.emplace_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    lock.unlock();
    done.complete(ec, std::move(batch));
  }
}

void subscription_state::async_next(next_completion done, asio::cancellation_slot slot) {
  std::lock_guard lock(mutex_);
  if (waiter_ || batch_waiter_) {
    asio::post(executor_, [done = std::move(done)]() mutable {
      done.complete(make_error_code(errc::invalid_argument), Message{});
    });
    return;
  }
  waiter_ = std::move(done);
  const auto generation = ++waiter_generation_;
  if (slot.is_connected()) {
    slot.assign([weak = weak_from_this(), generation](asio::cancellation_type) {
      if (auto self = weak.lock()) {
        std::unique_lock lock(self->mutex_);
        if (self->waiter_generation_ != generation || !self->waiter_) return;
        auto waiter = std::move(self->waiter_);
        self->waiter_ = {};
        lock.unlock();
        waiter.complete(asio::error::operation_aborted, Message{});
      }
    });
  }
  if (!queue_.empty() || closed_ || report_slow_consumer_) {
    delivery_scheduled_ = false;
    schedule_delivery_locked();
  }
}

void subscription_state::async_next_batch(std::size_t max_messages, batch_completion done,
                                          asio::cancellation_slot slot) {
  std::lock_guard lock(mutex_);
  if (waiter_ || batch_waiter_) {
    asio::post(executor_, [done = std::move(done)]() mutable {
      done.complete(make_error_code(errc::invalid_argument), std::vector<Message>{});
    });
    return;
  }
  batch_waiter_ = std::move(done);
  batch_max_ = max_messages == 0 ? 1 : max_messages;
  const auto generation = ++waiter_generation_;
  if (slot.is_connected()) {
    slot.assign([weak = weak_from_this(), generation](asio::cancellation_type) {
      if (auto self = weak.lock()) {
        std::unique_lock lock(self->mutex_);
        if (self->waiter_generation_ != generation || !self->batch_waiter_) return;
        auto waiter = std::move(self->batch_waiter_);
        self->batch_waiter_ = {};
        lock.unlock();
        waiter.complete(asio::error::operation_aborted, std::vector<Message>{});
      }
    });
  }
  if (!queue_.empty() || closed_ || report_slow_consumer_) {
    delivery_scheduled_ = false;
    schedule_delivery_locked();
  }
}

void subscription_state::mark_closed(std::error_code reason) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  close_reason_ = reason;
  schedule_delivery_locked();
}

void subscription_state::unsubscribe() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
  }
  if (handle_) natsSubscription_Unsubscribe(handle_.get());
  mark_closed(errc::subscription_closed);
}

std::error_code subscription_state::drain() {
  if (!handle_) return errc::subscription_closed;
  return make_nats_error_code(natsSubscription_Drain(handle_.get()));
}

std::size_t subscription_state::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t subscription_state::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

bool subscription_state::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace noesis::ship::detail

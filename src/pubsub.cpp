#include <noesis/ship/pubsub.hpp>

#include <exception>
#include <string>
#include <system_error>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/logger.hpp>

namespace noesis::ship {

namespace detail {

asio::awaitable<void> drain_if_owned(Connection conn, bool owned) {
  if (!owned || !conn.is_connected()) co_return;
  co_await conn.drain();
}

bool warning_limiter::allow(std::uint64_t& suppressed) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (logged_once_ && now - last_ < interval_) {
    ++suppressed_;
    return false;
  }
  logged_once_ = true;
  last_ = now;
  suppressed = std::exchange(suppressed_, 0);
  return true;
}

}  // namespace detail

namespace {

std::string suppressed_note(std::uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar warnings suppressed)";
}

void report_decode_failure(detail::subscriber_state& state, const Message& msg, const char* reason) {
  ++state.decode_failures;
  std::uint64_t suppressed = 0;
  if (!state.decode_warnings.allow(suppressed)) return;
  logger()->warn("subscriber '{}' skipped a message on subject '{}' that is not a valid event: {}{}",
                 state.subscriber_id, msg.subject(), reason, suppressed_note(suppressed));
}

void report_handler_failure(detail::subscriber_state& state, const Message& msg, const char* reason) {
  ++state.handler_failures;
  std::uint64_t suppressed = 0;
  if (!state.handler_warnings.allow(suppressed)) return;
  logger()->warn("subscriber '{}': the handler for a message on subject '{}' threw: {}; continuing with the next "
                 "message{}",
                 state.subscriber_id, msg.subject(), reason, suppressed_note(suppressed));
}

// Receives the route index of every handler loop that ended. Thread-safe, because the loops may
// end on different threads of the executor. asio 1.22 cannot instantiate a channel of
// void(std::error_code) alone, hence the index.
using loop_end_channel = asio::experimental::concurrent_channel<void(std::error_code, std::size_t)>;

}  // namespace

void Subscriber::add_route(std::shared_ptr<const detail::subscriber_route> route) {
  std::lock_guard lock(state_->mutex);
  if (state_->started) {
    throw error(errc::invalid_argument, "subscribe subscriber '" + state_->subscriber_id + "' to '" +
                                            route->pattern + "': it has already started; record every pattern " +
                                            "before start() or run()");
  }
  state_->routes.push_back(std::move(route));
}

void Subscriber::start() {
  std::lock_guard lock(state_->mutex);
  if (state_->started || state_->stopped) return;

  const auto& options = state_->options;
  std::vector<Subscription> subscriptions;
  subscriptions.reserve(state_->routes.size());
  // A throw leaves `started` false; the Subscription destructors undo the patterns already made.
  for (const auto& route : state_->routes) {
    subscriptions.push_back(conn_.subscribe(route->pattern, SubscribeOptions{options.queue_group, options.max_pending}));
  }
  state_->subscriptions = std::move(subscriptions);
  state_->started = true;
  logger()->debug("subscriber '{}' subscribed to {} pattern(s)", state_->subscriber_id, state_->routes.size());
}

void Subscriber::stop() {
  std::lock_guard lock(state_->mutex);
  if (state_->stopped.exchange(true)) return;
  // Unsubscribing completes each loop's pending next_batch() with errc::subscription_closed.
  for (auto& subscription : state_->subscriptions) subscription.unsubscribe();
}

asio::awaitable<void> Subscriber::do_run(Subscriber self) {
  auto state = self.state_;
  {
    std::lock_guard lock(state->mutex);
    if (state->running) {
      throw error(errc::invalid_argument, "run subscriber '" + state->subscriber_id + "': run() is already in progress");
    }
    if (state->routes.empty()) {
      throw error(errc::invalid_argument,
                  "run subscriber '" + state->subscriber_id + "': no pattern recorded; call subscribe() or on() first");
    }
    state->running = true;
  }
  struct running_reset {
    detail::subscriber_state& state;
    ~running_reset() {
      std::lock_guard lock(state.mutex);
      state.running = false;
    }
  } reset{*state};

  self.start();
  std::size_t loops = 0;
  {
    std::lock_guard lock(state->mutex);
    loops = state->subscriptions.size();  // 0 when stop() came first
  }

  const auto executor = self.conn_.get_executor();
  auto ended = std::make_shared<loop_end_channel>(executor, loops);
  for (std::size_t index = 0; index < loops; ++index) {
    asio::co_spawn(executor, consume(state, index), [state, ended, index](std::exception_ptr failure) {
      if (failure) {
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          logger()->error("subscriber '{}': the loop for pattern '{}' failed: {}", state->subscriber_id,
                          state->routes[index]->pattern, e.what());
        } catch (...) {
          logger()->error("subscriber '{}': the loop for pattern '{}' failed", state->subscriber_id,
                          state->routes[index]->pattern);
        }
      }
      ended->try_send(std::error_code{}, index);
    });
  }

  try {
    for (std::size_t i = 0; i < loops; ++i) co_await ended->async_receive(asio::use_awaitable);
  } catch (const std::system_error&) {
    // Only cancellation of run() itself interrupts the wait. The loops end on their own once
    // stop() has unsubscribed them.
    self.stop();
    throw;
  }
  logger()->debug("subscriber '{}' stopped", state->subscriber_id);
}

asio::awaitable<void> Subscriber::consume(std::shared_ptr<detail::subscriber_state> state, std::size_t index) {
  // Neither vector changes after start(), so these references stay valid while `state` lives.
  const detail::subscriber_route& route = *state->routes[index];
  Subscription& subscription = state->subscriptions[index];

  for (;;) {
    auto [ec, batch] = co_await subscription.next_batch(state->options.batch_size,
                                                        asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == errc::slow_consumer) continue;  // the subscription has logged the dropped messages
    if (ec) co_return;

    for (const Message& msg : batch) {
      if (state->stopped) co_return;
      try {
        if (route.handle) {
          route.handle(msg);
        } else {
          co_await route.handle_async(msg);
        }
      } catch (const detail::event_decode_error& e) {
        report_decode_failure(*state, msg, e.what());
      } catch (const std::exception& e) {
        report_handler_failure(*state, msg, e.what());
      } catch (...) {
        report_handler_failure(*state, msg, "an exception not derived from std::exception");
      }
    }
  }
}

}  // namespace noesis::ship

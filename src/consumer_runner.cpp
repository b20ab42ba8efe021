#include <noesis/ship/detail/consumer_runner.hpp>

#include <algorithm>
#include <atomic>
#include <exception>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/logger.hpp>

namespace noesis::ship {
namespace detail {

using asio::awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;
using clock = std::chrono::steady_clock;

// ---- Pure decisions ----

failure_action action_after_failure(std::uint64_t num_delivered, std::int64_t max_deliver,
                                    const std::vector<std::chrono::milliseconds>& nak_delays) {
  failure_action action;
  if (max_deliver > 0 && num_delivered >= static_cast<std::uint64_t>(max_deliver)) {
    action.terminate = true;
    return action;
  }
  if (!nak_delays.empty()) {
    const std::size_t index = num_delivered == 0 ? 0 : static_cast<std::size_t>(num_delivered - 1);
    action.delay = nak_delays[std::min(index, nak_delays.size() - 1)];
  }
  return action;
}

std::chrono::milliseconds retry_pause(unsigned attempt, std::chrono::milliseconds initial,
                                      std::chrono::milliseconds max) {
  if (initial.count() <= 0) return std::max(max, std::chrono::milliseconds(0));
  std::chrono::milliseconds pause = initial;
  for (unsigned i = 1; i < attempt && pause < max; ++i) pause *= 2;
  return std::min(pause, max);
}

std::size_t adaptive_batch(std::size_t configured, std::chrono::nanoseconds mean_handler_time,
                           std::chrono::milliseconds ack_wait) {
  const std::size_t maximum = std::max<std::size_t>(configured, 1);
  if (mean_handler_time.count() <= 0) return maximum;
  const auto budget = std::chrono::duration_cast<std::chrono::nanoseconds>(ack_wait) / 2;
  const auto fits = static_cast<std::size_t>(budget / mean_handler_time);
  return std::clamp<std::size_t>(fits, 1, maximum);
}

void recent_sequences::insert(std::uint64_t sequence) {
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(sequence);
    return;
  }
  ring_[next_] = sequence;
  next_ = (next_ + 1) % capacity_;
}

bool recent_sequences::contains(std::uint64_t sequence) const noexcept {
  return std::find(ring_.begin(), ring_.end(), sequence) != ring_.end();
}

ConsumerConfig consumer_config_from(ConsumerConfig base, const ConsumerOptions& options) {
  base.ack_policy = AckPolicy::explicit_ack;
  base.ack_wait = options.ack_wait;
  base.max_deliver = options.max_deliver;
  base.max_ack_pending = options.max_ack_pending;
  if (base.durable_name.empty()) base.inactive_threshold = options.inactive_threshold;
  return base;
}

// ---- The loop ----

struct consumer_runner {
  consumer_runner(consumer_target t, ConsumerOptions o, message_handler h, asio::any_io_executor executor)
      : target(std::move(t)),
        options(std::move(o)),
        handler(std::move(h)),
        strand(asio::make_strand(executor)),
        wake(strand),
        done(strand, clock::time_point::max()),
        keep_alive_timer(strand) {}

  consumer_target target;
  ConsumerOptions options;
  message_handler handler;
  asio::strand<asio::any_io_executor> strand;
  std::string consumer_name;

  // Everything below is touched only on the strand, except the atomics.
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> finished{false};
  std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> undecodable{0};

  asio::steady_timer wake;  // bounds each wait; stop() cancels it
  asio::steady_timer done;  // never expires; cancelled when the loop ends, waking wait()
  asio::steady_timer keep_alive_timer;
  asio::cancellation_signal handler_cancel;
  Subscription subscription;  // on `inbox`, the reply subject of every pull request
  std::string inbox;
  bool recreate = false;
  clock::time_point request_end{};  // local deadline of the latest pull request
  recent_sequences recent{4096};
  std::chrono::nanoseconds mean_handler_time{0};
  JsMessage* current = nullptr;  // the message whose handler runs now, owned by handle()
  std::vector<JsMessage> cancelled;  // messages whose handler stop() cancelled, nak'ed at the end
  clock::time_point current_since{};
};

namespace {

std::string describe(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// Sends an ack, nak or term. Terms carry no reason: nats-server 2.9 ignores "+TERM <reason>"
// (it compares the whole body with "+TERM"), which would leave the message pending. The reason
// goes to the log instead. A failed send is logged and not retried: the server then redelivers
// the message after ack_wait, which is the outcome a lost ack has anyway.
template <class Send>
void settle(const consumer_runner& r, const JsMessage& msg, const char* what, Send send) {
  try {
    send();
  } catch (const std::exception& e) {
    logger()->warn("{}: {} of stream sequence {} failed ({}); the server redelivers it after ack_wait",
                   r.target.label, what, msg.stream_sequence(), e.what());
  }
}

awaitable<void> create_consumer(consumer_runner& r) {
  ConsumerInfo info = co_await r.target.js.create_consumer(r.target.stream, r.target.config, asio::use_awaitable);
  r.consumer_name = info.name;
}

// Sends in-progress acks for a handler that runs longer than a third of ack_wait, so the
// server does not redeliver its message meanwhile.
awaitable<void> keep_alive(std::shared_ptr<consumer_runner> r) {
  const auto interval = std::max(std::chrono::milliseconds(50), r->options.ack_wait / 3);
  while (!r->finished) {
    r->keep_alive_timer.expires_after(interval);
    auto waited = co_await r->keep_alive_timer.async_wait(as_tuple(asio::use_awaitable));
    (void)waited;
    if (r->finished) co_return;
    if (r->current && clock::now() - r->current_since >= interval) {
      JsMessage& current = *r->current;
      settle(*r, current, "in-progress ack", [&] { current.in_progress(); });
    }
  }
}

awaitable<void> handle(std::shared_ptr<consumer_runner> r, JsMessage msg) {
  const std::uint64_t sequence = msg.stream_sequence();
  if (msg.num_delivered() > 1 && r->recent.contains(sequence)) {
    // A redelivery that overtook the ack of a copy already handled.
    settle(*r, msg, "ack", [&] { msg.ack(); });
    co_return;
  }

  r->current = &msg;
  r->current_since = clock::now();
  std::exception_ptr failure;
  bool decode_failed = false;
  try {
    co_await asio::co_spawn(r->strand, r->handler(msg),
                            asio::bind_cancellation_slot(r->handler_cancel.slot(), asio::use_awaitable));
  } catch (const undecodable_message&) {
    failure = std::current_exception();
    decode_failed = true;
  } catch (...) {
    failure = std::current_exception();
  }
  const auto elapsed = clock::now() - r->current_since;
  r->current = nullptr;
  // Exponential moving average with weight 1/8 for the newest sample.
  r->mean_handler_time = r->mean_handler_time.count() == 0
                             ? std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)
                             : (r->mean_handler_time * 7 + elapsed) / 8;

  if (!failure) {
    settle(*r, msg, "ack", [&] { msg.ack(); });
    r->recent.insert(sequence);
    ++r->handled;
    co_return;
  }

  const std::string reason = describe(failure);
  if (decode_failed) {
    // Terminated, not deleted: the stream keeps the message until its max_age, for inspection.
    ++r->undecodable;
    logger()->warn("{}: undecodable message on '{}' at stream sequence {} terminated: {}", r->target.label,
                   msg.subject(), sequence, reason);
    settle(*r, msg, "term", [&] { msg.term(); });
    co_return;
  }
  if (r->stop_requested) {
    // Nak'ed after the loop unsubscribed (see run()), so the redelivery cannot go to this
    // loop's still-open pull request and get lost.
    logger()->debug("{}: handler of stream sequence {} cancelled by stop()", r->target.label, sequence);
    r->cancelled.push_back(std::move(msg));
    co_return;
  }

  ++r->failures;
  const failure_action action = action_after_failure(msg.num_delivered(), r->options.max_deliver, r->options.nak_delays);
  if (action.terminate) {
    logger()->error("{}: handler failed on '{}' at stream sequence {} (delivery {} of {}); giving up on the message: {}",
                    r->target.label, msg.subject(), sequence, msg.num_delivered(), r->options.max_deliver, reason);
    settle(*r, msg, "term", [&] { msg.term(); });
    co_return;
  }
  logger()->warn("{}: handler failed on '{}' at stream sequence {} (delivery {}); redelivery in {} ms: {}",
                 r->target.label, msg.subject(), sequence, msg.num_delivered(), action.delay.count(), reason);
  settle(*r, msg, "nak", [&] { msg.nak(action.delay); });
}

// Sends one pull request and handles what it brings until the request is complete, expired or
// silent for three heartbeats (for example after a server restart).
awaitable<void> pull_cycle(std::shared_ptr<consumer_runner> r) {
  Connection conn = r->target.js.connection();
  const ConsumerOptions& options = r->options;
  const std::size_t batch = adaptive_batch(options.batch_size, r->mean_handler_time, options.ack_wait);

  if (!r->subscription.valid()) {
    r->inbox = conn.new_inbox();
    r->subscription = conn.subscribe(r->inbox, SubscribeOptions{{}, std::max<std::size_t>(options.batch_size, 1) * 2 + 64});
    co_await conn.flush();
  }
  if (r->recreate) {
    if (r->target.ensure_stream) co_await r->target.ensure_stream();
    co_await create_consumer(*r);
    r->recreate = false;
    logger()->info("{}: consumer '{}' on stream '{}' created again", r->target.label, r->consumer_name,
                   r->target.stream);
  }

  const auto expires = std::max(options.fetch_expires, std::chrono::milliseconds(100));
  const auto heartbeat = std::max(std::chrono::milliseconds(50), expires / 4);
  const nlohmann::json request{
      {"batch", batch},
      {"expires", std::chrono::duration_cast<std::chrono::nanoseconds>(expires).count()},
      {"idle_heartbeat", std::chrono::duration_cast<std::chrono::nanoseconds>(heartbeat).count()}};
  OutgoingMessage pull(
      api_subject(r->target.js.api_prefix(), "CONSUMER.MSG.NEXT." + r->target.stream + "." + r->consumer_name),
      request.dump());
  pull.reply = r->inbox;
  throw_if(conn.core()->publish(link_kind::request, pull), r->target.label + ": pull request");

  const auto request_end = clock::now() + expires + std::chrono::milliseconds(500);
  r->request_end = request_end;
  auto last_activity = clock::now();
  std::size_t received = 0;
  while (received < batch && !r->stop_requested) {
    r->wake.expires_at(std::min(request_end, last_activity + 3 * heartbeat));
    auto outcome = co_await (r->subscription.next(as_tuple(asio::use_awaitable)) ||
                             r->wake.async_wait(as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) co_return;  // expired, silent or stopped: the caller decides

    auto [ec, msg] = std::move(std::get<0>(outcome));
    if (ec == errc::slow_consumer) continue;
    if (ec) throw error(ec, r->target.label + ": pull subscription");
    last_activity = clock::now();

    const int status = msg.status();
    if (status == 100) continue;                // idle heartbeat
    if (status == 404 || status == 408) co_return;  // no messages now, or the request expired
    if (status == 409) {
      const std::string description(msg.status_description());
      if (description.find("Deleted") != std::string::npos) {
        r->recreate = true;
        throw error(errc::consumer_not_found, r->target.label + ": " + description);
      }
      co_return;  // for example "Exceeded MaxWaiting": send a new request
    }
    if (status == 503) {
      r->recreate = true;
      throw error(errc::no_responders, r->target.label + ": consumer '" + r->consumer_name +
                                           "' is missing or JetStream is not ready");
    }
    if (status != 0) continue;

    auto metadata = parse_ack_subject(msg.reply());
    if (!metadata) continue;
    ++received;
    co_await handle(r, JsMessage(conn, std::move(msg), std::move(*metadata)));
  }
}

awaitable<void> run(std::shared_ptr<consumer_runner> r) {
  unsigned attempt = 0;
  while (!r->stop_requested) {
    std::string failure;
    std::error_code code;
    try {
      co_await pull_cycle(r);
      if (attempt > 0) logger()->info("{}: receiving again after {} failed attempts", r->target.label, attempt);
      attempt = 0;
      continue;
    } catch (const std::system_error& e) {
      failure = e.what();
      code = e.code();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (r->stop_requested) break;

    if (code == condition::not_connected && !r->target.js.connection().is_connected() && !r->subscription.valid()) {
      logger()->info("{}: connection closed; the consumer loop ends", r->target.label);
      break;
    }
    if (code == errc::subscription_closed) r->subscription = Subscription();
    if (code == errc::consumer_not_found || code == errc::stream_not_found) r->recreate = true;

    ++attempt;
    const auto pause = retry_pause(attempt, r->options.retry_initial, r->options.retry_max);
    logger()->warn("{}: {}; retrying in {} ms (attempt {})", r->target.label, failure, pause.count(), attempt);
    r->wake.expires_after(pause);
    co_await r->wake.async_wait(as_tuple(asio::use_awaitable));
  }

  if (!r->cancelled.empty() && r->subscription.valid()) {
    // The server still holds this loop's last pull request. A nak now would send the message
    // back into that request, and nats-server 2.9 then reports a wrong delivery count to the
    // next subscriber. So wait for the request to expire, collecting what it still brings.
    Connection conn = r->target.js.connection();
    while (clock::now() < r->request_end) {
      r->wake.expires_at(r->request_end);
      auto outcome = co_await (r->subscription.next(as_tuple(asio::use_awaitable)) ||
                               r->wake.async_wait(as_tuple(asio::use_awaitable)));
      if (outcome.index() == 1) break;
      auto [ec, msg] = std::move(std::get<0>(outcome));
      if (ec == errc::slow_consumer) continue;
      if (ec) break;
      const int status = msg.status();
      if (status == 404 || status == 408 || status == 409) break;
      if (status != 0) continue;
      if (auto metadata = parse_ack_subject(msg.reply())) r->cancelled.emplace_back(conn, std::move(msg), std::move(*metadata));
    }
  }
  if (r->subscription.valid()) r->subscription.unsubscribe();
  r->subscription = Subscription();
  if (!r->cancelled.empty()) {
    // The flush makes sure the server has dropped the pull request with the subscription before
    // the naks put the messages back for other subscribers of the durable.
    auto flushed = co_await r->target.js.connection().flush(as_tuple(asio::use_awaitable));
    (void)flushed;
    for (JsMessage& msg : r->cancelled) settle(*r, msg, "nak", [&] { msg.nak(); });
    r->cancelled.clear();
  }
  r->finished = true;
  r->keep_alive_timer.cancel();
  r->done.cancel();
  if (r->target.config.durable_name.empty() && r->target.js.connection().is_connected()) {
    // An ephemeral consumer is useless once its loop ended; the server would delete it after
    // inactive_threshold anyway.
    auto [ec, deleted] = co_await r->target.js.delete_consumer(r->target.stream, r->consumer_name,
                                                               as_tuple(asio::use_awaitable));
    (void)deleted;
    if (ec) logger()->debug("{}: deleting ephemeral consumer '{}' failed: {}", r->target.label, r->consumer_name, ec.message());
  }
  logger()->debug("{}: consumer loop ended", r->target.label);
}

}  // namespace

awaitable<ConsumerSubscription> start_consumer(consumer_target target, ConsumerOptions options,
                                               message_handler handler) {
  validate(options, target.label);
  auto executor = target.js.connection().get_executor();
  auto r = std::make_shared<consumer_runner>(std::move(target), std::move(options), std::move(handler), executor);

  std::exception_ptr create_failure;
  std::error_code create_code;
  try {
    co_await create_consumer(*r);
  } catch (const error& e) {
    create_failure = std::current_exception();
    create_code = e.code();
  }
  if (create_failure) {
    // A durable that exists with a different start policy cannot be updated; reuse it when it
    // still reads the same subjects, because its position is what a durable is for.
    const std::string& durable = r->target.config.durable_name;
    if (durable.empty() || create_code.category() != jetstream_category()) std::rethrow_exception(create_failure);
    auto [ec, info] = co_await r->target.js.consumer_info(r->target.stream, durable, as_tuple(asio::use_awaitable));
    if (ec || info.config.filter_subject != r->target.config.filter_subject) std::rethrow_exception(create_failure);
    logger()->warn("{}: durable '{}' exists with a different configuration ({}); resuming it as it is",
                   r->target.label, durable, describe(create_failure));
    r->consumer_name = info.name;
  }

  asio::co_spawn(r->strand, run(r), asio::detached);
  asio::co_spawn(r->strand, keep_alive(r), asio::detached);
  co_return ConsumerSubscription(r);
}

}  // namespace detail

// ---- ConsumerOptions ----

namespace {

void check_option(bool valid, std::string_view label, const std::string& problem) {
  if (!valid) throw error(errc::invalid_argument, std::string(label) + ": " + problem);
}

std::string milliseconds_text(std::chrono::milliseconds value) { return std::to_string(value.count()) + " ms"; }

}  // namespace

void validate(const ConsumerOptions& options, std::string_view label) {
  check_option(options.ack_wait.count() > 0, label,
               "ack_wait " + milliseconds_text(options.ack_wait) + " is invalid; allowed: 1 ms or more");
  check_option(options.max_deliver == -1 || options.max_deliver >= 1, label,
               "max_deliver " + std::to_string(options.max_deliver) + " is invalid; allowed: -1 (unlimited) or 1 or more");
  check_option(options.max_ack_pending >= -1, label,
               "max_ack_pending " + std::to_string(options.max_ack_pending) +
                   " is invalid; allowed: -1 (unlimited), 0 (server default) or more");
  check_option(options.inactive_threshold.count() >= 0, label,
               "inactive_threshold " + milliseconds_text(options.inactive_threshold) +
                   " is invalid; allowed: 0 (server default) or more");
  check_option(options.batch_size >= 1, label, "batch_size 0 is invalid; allowed: 1 or more");
  check_option(options.fetch_expires.count() > 0, label,
               "fetch_expires " + milliseconds_text(options.fetch_expires) + " is invalid; allowed: 1 ms or more");
  for (const auto delay : options.nak_delays) {
    check_option(delay.count() >= 0, label,
                 "nak delay " + milliseconds_text(delay) + " is invalid; allowed: 0 ms or more");
  }
  check_option(options.retry_initial.count() > 0, label,
               "retry_initial " + milliseconds_text(options.retry_initial) + " is invalid; allowed: 1 ms or more");
  check_option(options.retry_max >= options.retry_initial, label,
               "retry_max " + milliseconds_text(options.retry_max) + " is shorter than retry_initial " +
                   milliseconds_text(options.retry_initial));
}

// ---- ConsumerSubscription ----

const std::string& ConsumerSubscription::stream() const noexcept { return runner_->target.stream; }
const std::string& ConsumerSubscription::consumer_name() const noexcept { return runner_->consumer_name; }
bool ConsumerSubscription::finished() const noexcept { return !runner_ || runner_->finished; }
std::uint64_t ConsumerSubscription::handled() const noexcept { return runner_ ? runner_->handled.load() : 0; }
std::uint64_t ConsumerSubscription::failures() const noexcept { return runner_ ? runner_->failures.load() : 0; }
std::uint64_t ConsumerSubscription::undecodable() const noexcept { return runner_ ? runner_->undecodable.load() : 0; }
asio::any_io_executor ConsumerSubscription::executor() const { return runner_->target.js.connection().get_executor(); }

void ConsumerSubscription::stop() {
  if (!runner_) return;
  runner_->stop_requested = true;
  asio::post(runner_->strand, [r = runner_] {
    r->wake.cancel();
    r->handler_cancel.emit(asio::cancellation_type::terminal);
  });
}

asio::awaitable<void> ConsumerSubscription::do_wait(std::shared_ptr<detail::consumer_runner> runner) {
  if (!runner) co_return;
  co_await asio::post(runner->strand, asio::use_awaitable);
  if (runner->finished) co_return;
  auto [ec] = co_await runner->done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  (void)ec;
}

}  // namespace noesis::ship

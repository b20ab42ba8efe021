#include <noesis/ship/jetstream.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/detail/ordered_tracker.hpp>
#include <noesis/ship/logger.hpp>

namespace noesis::ship {
namespace {

using asio::awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

constexpr int stream_not_found_code = 10059;
constexpr int consumer_not_found_code = 10014;

awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

std::string string_of(std::string_view text) { return std::string(text); }

}  // namespace

bool is_jetstream_error(const std::error_code& ec, int err_code) noexcept {
  return ec.category() == jetstream_category() && ec.value() == err_code;
}

// ---------------------------------------------------------------------------------------------
// JsMessage

void JsMessage::send_ack(std::string_view body) {
  if (!conn_ || msg_.reply().empty()) {
    throw error(errc::invalid_argument, "ack of a message on '" + string_of(msg_.subject()) +
                                            "': it has no reply subject (not from a consumer with acks)");
  }
  throw_if(conn_->core()->publish(detail::link_kind::publish, msg_.reply(), body),
           "ack of stream sequence " + std::to_string(metadata_.stream_sequence));
}

void JsMessage::nak(std::optional<std::chrono::nanoseconds> delay) {
  if (!delay) {
    send_ack("-NAK");
    return;
  }
  send_ack("-NAK " + nlohmann::json{{"delay", delay->count()}}.dump());
}

void JsMessage::term(const std::string& reason) { send_ack(reason.empty() ? "+TERM" : "+TERM " + reason); }

// ---------------------------------------------------------------------------------------------
// JetStream

JetStream::JetStream(Connection conn, JetStreamOptions options)
    : conn_(std::move(conn)),
      options_(std::move(options)),
      timeout_(options_.timeout.count() > 0 ? options_.timeout : conn_.config().request_timeout) {
  if (options_.api_retry_window.count() < 0) {
    throw error(errc::invalid_argument, "JetStreamOptions::api_retry_window: " +
                                            std::to_string(options_.api_retry_window.count()) +
                                            " ms is invalid; allowed: 0 (no retries) or more");
  }
}

namespace {

// Sends an API request, and sends it again while should_retry_api_call() allows. Every attempt
// carries the same body, so a retry of a request that the server did process (its reply was
// lost) gets the reply of a repeat: creating the same stream succeeds, deleting it again finds
// no stream.
awaitable<nlohmann::json> api_call(Connection conn, std::string subject, std::string body,
                                   std::chrono::milliseconds timeout, std::chrono::milliseconds retry_window) {
  const std::string context = "JetStream API '" + subject + "'";
  const auto first_sent = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    OutgoingMessage request(subject, body);
    auto [ec, reply] = co_await conn.request(std::move(request), timeout, as_tuple(asio::use_awaitable));
    if (ec == errc::no_responders) {
      throw error(errc::jetstream_unavailable, context + ": no JetStream server responded; enable JetStream on the server (-js)");
    }

    std::error_code outcome = ec;
    nlohmann::json parsed;
    if (!ec) {
      parsed = detail::parse_api_reply(reply.data(), context);
      const std::optional<detail::ApiError> failure = detail::api_error(parsed);
      if (!failure || failure->err_code != detail::cluster_unavailable_err_code) co_return parsed;
      outcome = make_jetstream_error_code(failure->err_code);
    }

    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - first_sent);
    if (!detail::should_retry_api_call(outcome, elapsed, timeout, retry_window)) {
      if (ec) throw error(ec, context);
      co_return parsed;  // the caller throws the API error with the server's description
    }
    logger()->warn("{}: attempt {} failed after {} ms ({}); sending it again, since a JetStream cluster electing a "
                   "leader leaves API requests unanswered",
                   context, attempt, elapsed.count(), outcome.message());
    co_await sleep_for(detail::api_retry_pause);
  }
}

}  // namespace

awaitable<nlohmann::json> JetStream::do_api_request(JetStream self, std::string suffix, nlohmann::json body) {
  const std::string subject = detail::api_subject(self.options_.api_prefix, suffix);
  // The payload is built before the co_await: GCC 12 mishandles temporaries created inside a
  // conditional expression of a co_await full-expression.
  std::string payload;
  if (!body.is_null()) payload = body.dump();
  co_return co_await api_call(self.conn_, subject, std::move(payload), self.timeout_, self.options_.api_retry_window);
}

awaitable<PubAck> JetStream::do_publish(JetStream self, OutgoingMessage msg, PublishOptions options) {
  validate_subject(msg.subject, SubjectUse::publish);
  namespace h = detail::header;
  if (!options.msg_id.empty()) msg.headers.emplace_back(h::msg_id, options.msg_id);
  if (options.expected_last_subject_sequence)
    msg.headers.emplace_back(h::expected_last_subject_sequence, std::to_string(*options.expected_last_subject_sequence));
  if (options.expected_last_sequence)
    msg.headers.emplace_back(h::expected_last_sequence, std::to_string(*options.expected_last_sequence));
  if (!options.expected_stream.empty()) msg.headers.emplace_back(h::expected_stream, options.expected_stream);
  for (auto& header : options.headers) msg.headers.push_back(std::move(header));

  // Formatted only on failure, because formatting it for every publish cost an allocation each.
  const auto context = [&msg] { return "JetStream publish to '" + msg.subject + "'"; };
  const int attempts = std::max(options.attempts, 1);
  for (int attempt = 1;; ++attempt) {
    OutgoingMessage request = msg;
    std::tuple<std::error_code, Message> outcome = co_await self.conn_.request_on(
        detail::link_kind::publish, std::move(request), self.timeout_, as_tuple(asio::use_awaitable));
    const std::error_code ec = std::get<0>(outcome);
    const Message& reply = std::get<1>(outcome);
    if (ec == errc::no_responders && attempt < attempts) {
      co_await sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    if (ec == errc::no_responders) {
      throw error(errc::stream_not_found, context() + ": no stream stores this subject (no responders)");
    }
    if (ec) throw error(ec, context());
    co_return detail::parse_pub_ack(reply.data(), msg.subject);
  }
}

awaitable<StreamInfo> JetStream::do_create_stream(JetStream self, StreamConfig config, bool update) {
  validate(config);
  const std::string suffix = std::string(update ? "STREAM.UPDATE." : "STREAM.CREATE.") + config.name;
  auto reply = co_await do_api_request(self, suffix, to_api_json(config));
  co_return detail::parse_stream_info(reply, (update ? "update stream '" : "create stream '") + config.name + "'");
}

awaitable<StreamInfo> JetStream::do_stream_info(JetStream self, std::string name, std::string filter) {
  validate_stream_name(name);
  const std::string context = "stream info of '" + name + "'";
  StreamInfo merged;
  std::uint64_t offset = 0;
  for (;;) {
    auto reply = co_await do_api_request(self, "STREAM.INFO." + name, detail::stream_info_request(filter, offset));
    StreamInfo page = detail::parse_stream_info(reply, context);
    const std::size_t page_size = page.state.subjects.size();
    if (offset == 0) {
      merged = std::move(page);
    } else {
      merged.state.subjects.merge(page.state.subjects);
    }
    // Subject counts come in pages, and the reply's total is the number of subjects that matched.
    if (filter.empty() || page_size == 0 || merged.state.subjects.size() >= merged.total) break;
    offset = merged.state.subjects.size();
  }
  co_return merged;
}

awaitable<StreamInfo> JetStream::do_ensure_stream(JetStream self, StreamConfig config) {
  validate(config);
  StreamInfo existing;
  bool missing = false;
  try {
    existing = co_await do_stream_info(self, config.name, {});
  } catch (const error& e) {
    if (!is_jetstream_error(e.code(), stream_not_found_code)) throw;
    missing = true;
  }
  if (missing) {
    logger()->info("creating stream '{}'", config.name);
    co_return co_await do_create_stream(self, config, false);
  }

  const auto differences = stream_config_differences(existing.config, config);
  if (differences.empty()) co_return existing;

  std::string fields;
  for (const auto& field : differences) fields += (fields.empty() ? "" : ", ") + field;
  logger()->info("updating stream '{}': {} differ", config.name, fields);
  try {
    co_return co_await do_create_stream(self, config, true);
  } catch (const error& e) {
    throw error(e.code(), "update stream '" + config.name + "' (" + fields + " differ) was rejected by the server; " +
                              "change it by hand or keep the existing configuration: " + e.what());
  }
}

awaitable<bool> JetStream::do_delete_stream(JetStream self, std::string name) {
  validate_stream_name(name);
  try {
    co_await do_api_request(self, "STREAM.DELETE." + name, nullptr);
  } catch (const error& e) {
    if (is_jetstream_error(e.code(), stream_not_found_code)) co_return false;
    throw;
  }
  co_return true;
}

awaitable<std::uint64_t> JetStream::do_purge_stream(JetStream self, std::string name, PurgeOptions options) {
  validate_stream_name(name);
  if (!options.subject.empty()) validate_subject(options.subject, SubjectUse::subscribe);
  nlohmann::json body = nlohmann::json::object();
  if (!options.subject.empty() && options.keep) {
    body = detail::purge_request_keep(options.subject, *options.keep);
  } else if (!options.subject.empty()) {
    body = detail::purge_request(options.subject);
  } else if (options.keep) {
    body["keep"] = *options.keep;
  }
  auto reply = co_await do_api_request(self, "STREAM.PURGE." + name, std::move(body));
  co_return detail::parse_purge_reply(reply, "purge stream '" + name + "'");
}

awaitable<StoredMessage> JetStream::do_get_message(JetStream self, std::string stream, std::uint64_t sequence) {
  validate_stream_name(stream);
  if (sequence == 0) {
    throw error(errc::invalid_argument, "get message of stream '" + stream +
                                            "': sequence 0 is invalid; stream sequences start at 1");
  }
  auto reply = co_await do_api_request(self, "STREAM.MSG.GET." + stream, detail::msg_get_request_sequence(sequence));
  co_return detail::parse_stored_message(reply, "get message " + std::to_string(sequence) + " of stream '" + stream + "'");
}

awaitable<StoredMessage> JetStream::do_get_last_message(JetStream self, std::string stream, std::string subject,
                                                        bool direct) {
  validate_stream_name(stream);
  validate_subject(subject, SubjectUse::subscribe);
  const std::string context = "get last message on '" + subject + "' of stream '" + stream + "'";
  if (!direct) {
    auto reply = co_await do_api_request(self, "STREAM.MSG.GET." + stream,
                                         detail::msg_get_request_last_by_subject(subject));
    co_return detail::parse_stored_message(reply, context);
  }

  const std::string api = detail::direct_get_subject(self.options_.api_prefix, stream);
  OutgoingMessage request(api, detail::msg_get_request_last_by_subject(subject).dump());
  auto [ec, reply] = co_await self.conn_.request(std::move(request), self.timeout_, as_tuple(asio::use_awaitable));
  if (ec == errc::no_responders) {
    throw error(errc::jetstream_unavailable, context + ": no server responded to the direct get; check that the stream allows direct get");
  }
  if (ec) throw error(ec, context);
  detail::HeaderBlock block;
  block.status = reply.status();
  block.description = std::string(reply.status_description());
  for (auto& [key, value] : reply.headers()) {
    if (key != "Status" && key != "Description") block.headers.emplace_back(std::move(key), std::move(value));
  }
  co_return detail::parse_direct_get_reply(block, std::string(reply.data()), context);
}

awaitable<ConsumerInfo> JetStream::do_create_consumer(JetStream self, std::string stream, ConsumerConfig config) {
  validate_stream_name(stream);
  validate(config);
  const std::string subject = consumer_create_subject(self.options_.api_prefix, stream, config, false);
  std::string payload = consumer_create_request(stream, config).dump();
  auto reply = co_await api_call(self.conn_, subject, std::move(payload), self.timeout_, self.options_.api_retry_window);
  co_return parse_consumer_info(reply, "create consumer on stream '" + stream + "'");
}

awaitable<ConsumerInfo> JetStream::do_consumer_info(JetStream self, std::string stream, std::string name) {
  validate_stream_name(stream);
  validate_consumer_name(name);
  auto reply = co_await do_api_request(self, "CONSUMER.INFO." + stream + "." + name, nullptr);
  co_return parse_consumer_info(reply, "consumer info of '" + name + "' on stream '" + stream + "'");
}

awaitable<bool> JetStream::do_delete_consumer(JetStream self, std::string stream, std::string name) {
  validate_stream_name(stream);
  validate_consumer_name(name);
  try {
    co_await do_api_request(self, "CONSUMER.DELETE." + stream + "." + name, nullptr);
  } catch (const error& e) {
    if (is_jetstream_error(e.code(), consumer_not_found_code) || is_jetstream_error(e.code(), stream_not_found_code))
      co_return false;
    throw;
  }
  co_return true;
}

// ---------------------------------------------------------------------------------------------
// PullConsumer

struct PullConsumer::state {
  JetStream js;
  std::string stream;
  std::string name;
  std::string inbox;
  Subscription subscription;
  bool fetching = false;
};

PullConsumer::PullConsumer(JetStream js, std::string stream, std::string name)
    : state_(std::make_shared<state>(state{std::move(js), std::move(stream), std::move(name), {}, {}, false})) {
  validate_stream_name(state_->stream);
  validate_consumer_name(state_->name);
}

const std::string& PullConsumer::stream() const noexcept { return state_->stream; }
const std::string& PullConsumer::name() const noexcept { return state_->name; }
asio::any_io_executor PullConsumer::executor() const { return state_->js.connection().get_executor(); }

// How long a fetch that received a redelivery waits for more redeliveries of the same burst.
constexpr std::chrono::milliseconds redelivery_grace{50};

awaitable<std::vector<JsMessage>> PullConsumer::do_fetch(std::shared_ptr<state> s, std::size_t batch,
                                                         std::chrono::milliseconds expires) {
  const std::string context = "fetch from consumer '" + s->name + "' on stream '" + s->stream + "'";
  if (batch == 0) throw error(errc::invalid_argument, context + ": batch 0 is invalid; fetch at least 1 message");
  // An expiry of 0 makes the server keep the pull request open forever, taking one of the
  // consumer's max_waiting slots, and a negative expiry has no meaning.
  if (expires <= std::chrono::milliseconds::zero()) {
    throw error(errc::invalid_argument, context + ": expires " + std::to_string(expires.count()) +
                                            " ms is invalid; give a positive wait");
  }
  if (s->fetching) throw error(errc::invalid_argument, context + ": another fetch on this consumer is in progress");
  s->fetching = true;
  struct reset_flag {
    state* target;
    ~reset_flag() { target->fetching = false; }
  } reset{s.get()};

  Connection& conn = s->js.connection();
  if (!s->subscription.valid()) {
    s->inbox = conn.new_inbox();
    s->subscription = conn.subscribe(s->inbox);
    // The subscription lives on the publish link and the pull request goes out on the request
    // link; the flush makes sure the server knows the subscription before it sends messages.
    co_await conn.flush();
  }

  const auto expires_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(expires).count();
  nlohmann::json request{{"batch", batch}, {"expires", expires_ns}};
  OutgoingMessage pull(detail::api_subject(s->js.api_prefix(), "CONSUMER.MSG.NEXT." + s->stream + "." + s->name),
                       request.dump());
  pull.reply = s->inbox;
  throw_if(conn.core()->publish(detail::link_kind::request, pull), context);

  std::vector<JsMessage> result;
  asio::steady_timer deadline(co_await asio::this_coro::executor, expires + std::chrono::seconds(1));
  while (result.size() < batch) {
    auto outcome = co_await (s->subscription.next(as_tuple(asio::use_awaitable)) ||
                             deadline.async_wait(as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) break;
    auto [ec, msg] = std::move(std::get<0>(outcome));
    if (ec == errc::slow_consumer) continue;
    if (ec) throw error(ec, context);

    const int status = msg.status();
    if (status == 100) continue;               // heartbeat
    if (status == 404 || status == 408) break;  // nothing more now, or the request expired
    if (status == 409) {
      const std::string description(msg.status_description());
      if (description.find("Deleted") != std::string::npos)
        throw error(errc::consumer_not_found, context + ": " + description);
      break;  // for example "Exceeded MaxWaiting"; the caller fetches again
    }
    if (status != 0) continue;

    auto metadata = detail::parse_ack_subject(msg.reply());
    if (!metadata) continue;
    const bool nothing_more = metadata->num_pending == 0;
    const bool redelivery = metadata->num_delivered > 1;
    result.emplace_back(conn, std::move(msg), std::move(*metadata));
    // Nothing else is waiting for this consumer now: return what we have instead of holding the
    // caller until the batch fills or the request expires. The server keeps the pull request
    // open, so messages stored before it expires still arrive and the next fetch returns them.
    // num_pending does not count redeliveries. Messages whose ack_wait ran out together come
    // back in a burst, so after a redelivery wait briefly for the rest of it.
    if (nothing_more && !redelivery) break;
    if (nothing_more && deadline.expiry() - std::chrono::steady_clock::now() > redelivery_grace) {
      deadline.expires_after(redelivery_grace);
    }
  }
  co_return result;
}

// ---------------------------------------------------------------------------------------------
// OrderedConsumer

struct OrderedConsumer::state {
  JetStream js;
  std::string stream;
  OrderedConsumerConfig config;
  std::string consumer_name;
  Subscription subscription;
  detail::OrderedTracker tracker;
  std::uint64_t initial_pending = 0;
  bool created_once = false;
  bool stopped = false;
};

std::uint64_t OrderedConsumer::initial_pending() const noexcept { return state_ ? state_->initial_pending : 0; }
asio::any_io_executor OrderedConsumer::executor() const { return state_->js.connection().get_executor(); }

namespace {

void delete_consumer_later(JetStream js, std::string stream, std::string name) {
  if (name.empty() || !js.connection().is_connected()) return;
  asio::co_spawn(js.connection().get_executor(), js.delete_consumer(std::move(stream), std::move(name), asio::use_awaitable),
                 [](std::exception_ptr, bool) {});
}

awaitable<void> create_ordered(OrderedConsumer::state& s) {
  Connection& conn = s.js.connection();
  const std::string deliver = conn.new_inbox();
  Subscription subscription = conn.subscribe(deliver);
  co_await conn.flush();

  ConsumerConfig config;
  config.deliver_subject = deliver;
  config.ack_policy = AckPolicy::none;
  config.flow_control = true;
  config.idle_heartbeat = s.config.heartbeat;
  config.filter_subject = s.config.filter_subject;
  config.headers_only = s.config.headers_only;
  config.mem_storage = true;
  config.num_replicas = 1;
  config.max_deliver = 1;
  config.inactive_threshold = std::chrono::minutes(5);
  if (const std::optional<std::uint64_t> start = s.tracker.resume_sequence()) {
    config.deliver_policy = DeliverPolicy::by_start_sequence;
    config.opt_start_seq = *start;
  } else {
    config.deliver_policy = s.config.deliver_policy;
    config.opt_start_seq = s.config.opt_start_seq;
  }

  ConsumerInfo info = co_await s.js.create_consumer(s.stream, config, asio::use_awaitable);
  s.consumer_name = info.name;
  s.subscription = std::move(subscription);
  s.tracker.on_created(s.config.deliver_policy, info.delivered.stream_seq);
  if (!s.created_once) {
    s.initial_pending = info.num_pending;
    s.created_once = true;
  }
}

// Describes where a recreated consumer starts, for the log.
std::string resume_point(const detail::OrderedTracker& tracker) {
  const std::optional<std::uint64_t> start = tracker.resume_sequence();
  return start ? "stream sequence " + std::to_string(*start) : std::string("its original deliver policy");
}

void reset_ordered(OrderedConsumer::state& s) {
  s.subscription.unsubscribe();
  s.subscription = Subscription();
  delete_consumer_later(s.js, s.stream, s.consumer_name);
  s.consumer_name.clear();
}

}  // namespace

void OrderedConsumer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  reset_ordered(*state_);
}

awaitable<JsMessage> OrderedConsumer::do_next(std::shared_ptr<state> s) {
  const std::string context = "ordered consumer on stream '" + s->stream + "'";
  std::chrono::milliseconds backoff(100);
  for (;;) {
    if (s->stopped) throw error(errc::subscription_closed, context);

    if (!s->subscription.valid()) {
      std::string failure;
      try {
        co_await create_ordered(*s);
        backoff = std::chrono::milliseconds(100);
      } catch (const error& e) {
        if (s->stopped) throw;
        failure = e.what();
      }
      if (!failure.empty()) {
        // The server may be restarting: keep trying, with a growing pause, until stop().
        logger()->warn("{}: recreating the consumer failed ({}); retrying in {} ms", context, failure, backoff.count());
        reset_ordered(*s);
        co_await sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        continue;
      }
    }

    if (s->tracker.must_recreate_now(s->subscription.queued())) {
      logger()->debug("{}: messages were dropped; recreating it from {}", context, resume_point(s->tracker));
      reset_ordered(*s);
      continue;
    }

    // The server sends a heartbeat whenever it has sent nothing for one heartbeat period, so
    // three periods of silence mean the consumer or its connection is gone.
    Connection& conn = s->js.connection();
    asio::steady_timer silence(co_await asio::this_coro::executor, 3 * s->config.heartbeat);
    auto outcome = co_await (s->subscription.next(as_tuple(asio::use_awaitable)) ||
                             silence.async_wait(as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) {
      logger()->info("{}: no message or heartbeat for {} ms; recreating it from {}", context,
                     (3 * s->config.heartbeat).count(), resume_point(s->tracker));
      reset_ordered(*s);
      continue;
    }

    auto [ec, msg] = std::move(std::get<0>(outcome));
    if (ec == errc::slow_consumer) {
      s->tracker.on_dropped();
      continue;
    }
    if (ec) {
      if (s->stopped) throw error(errc::subscription_closed, context);
      reset_ordered(*s);
      continue;
    }

    detail::OrderedInput input;
    input.status = msg.status();
    input.description = msg.status_description();
    input.reply = msg.reply();
    input.last_consumer_sequence = msg.header(detail::header::last_consumer.data());
    input.stalled_reply = msg.header(detail::header::consumer_stalled.data());
    detail::OrderedStep step = s->tracker.on_message(input);
    if (!step.flow_control_reply.empty()) {
      conn.core()->publish(detail::link_kind::publish, step.flow_control_reply, {});
    }
    if (step.action == detail::OrderedStep::Action::recreate) {
      logger()->info("{}: {}; recreating it from {}", context, step.reason, resume_point(s->tracker));
      reset_ordered(*s);
      continue;
    }
    if (step.action == detail::OrderedStep::Action::deliver) {
      co_return JsMessage(conn, std::move(msg), std::move(step.metadata));
    }
  }
}

awaitable<OrderedConsumer> JetStream::do_ordered_consumer(JetStream self, std::string stream,
                                                          OrderedConsumerConfig config) {
  validate_stream_name(stream);
  if (!config.filter_subject.empty()) validate_subject(config.filter_subject, SubjectUse::subscribe);
  auto s = std::make_shared<OrderedConsumer::state>(OrderedConsumer::state{self, std::move(stream), std::move(config),
                                                                           {}, {}, {}, 0, false, false});
  co_await create_ordered(*s);
  co_return OrderedConsumer(std::move(s));
}

}  // namespace noesis::ship

// Connection: one NATS connection shared by every building block (the Rust noesis-ship's
// ConnectionManager).
//
//   asio::io_context io;
//   noesis::ship::Connection conn(io.get_executor(), noesis::ship::NatsConfig("nats://localhost:4222"));
//   co_await conn.connect();
//   conn.publish("heartbeat", R"({"ok":true})");
//   auto reply = co_await conn.request("svc.echo", "hi");
//
// Connection is a cheap handle: copies share the same underlying connection. Every completion
// and event handler runs on the executor given here (or the completion handler's own associated
// executor), never on a cnats thread. Operations before connect() or after close() fail with
// errc::not_connected. Like an asio I/O object, the last copy must be destroyed before the
// execution context of its executor (the io_context).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection_event.hpp>
#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/detail/connection_core.hpp>
#include <noesis/ship/message.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/subscription.hpp>

namespace noesis::ship {

struct SubscribeOptions {
  std::string queue_group;       // members of one queue group share the messages of the subject
  std::size_t max_pending = 0;   // messages; 0 uses NatsConfig::max_pending_messages
};

class Connection {
 public:
  using executor_type = asio::any_io_executor;

  explicit Connection(executor_type executor, NatsConfig config = NatsConfig())
      : core_(std::make_shared<detail::connection_core>(std::move(executor), std::move(config))) {}

  executor_type get_executor() const noexcept { return core_->executor(); }
  const NatsConfig& config() const noexcept { return core_->config(); }
  bool is_connected() const noexcept { return core_->connected(); }

  // Connects to the configured servers, within NatsConfig::connect_timeout per attempt.
  // Does nothing when already connected. The blocking cnats connect runs on a small internal
  // thread pool, never on the caller's executor. A credentials or NKey seed file that cannot be
  // read or contains no usable credentials fails with errc::invalid_argument before anything is
  // sent, and the error names the file. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(Token&& token = {}) {
    auto core = core_;
    // The files are local and small, so reading them here costs no network wait, and the
    // problem can go into the error's context.
    std::string problem = core->connected() ? std::string() : core->credential_files_problem();
    std::string context = "connect to " + servers_text();
    if (!problem.empty()) context += ": " + problem;
    return detail::initiate<void>(std::forward<Token>(token), std::move(context),
                                  [core, rejected = !problem.empty()](auto handler) {
                                    detail::completion<std::error_code> done(std::move(handler), core->executor());
                                    if (rejected) {
                                      done.complete(errc::invalid_argument);
                                      return;
                                    }
                                    core->async_connect(std::move(done));
                                  });
  }

  // Closes at once: pending requests fail with errc::connection_closed and subscriptions end.
  void close() { core_->close(); }

  // Stops subscriptions, delivers what is in flight, flushes publishes, then closes.
  // Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto drain(Token&& token = {}) {
    auto core = core_;
    return detail::initiate<void>(std::forward<Token>(token), "drain", [core](auto handler) {
      core->async_drain(core->config().drain_timeout,
                        detail::completion<std::error_code>(std::move(handler), core->executor()));
    });
  }

  // Publishes without waiting: cnats buffers the message and writes it within about 1 ms.
  // Throws noesis::ship::error on an invalid subject, on a payload (headers included) larger than
  // the server's max_payload (errc::payload_too_large), when not connected, or when the
  // reconnect buffer is full while disconnected.
  // The error context is built only on failure: publish is the hot path of bulk senders.
  void publish(std::string_view subject, std::string_view data) {
    validate_subject(subject, SubjectUse::publish);
    throw_if_too_large(data.size(), subject, "publish to");
    if (auto ec = core_->publish(detail::link_kind::publish, subject, data)) {
      throw_publish_error(ec, data.size(), subject, "publish to");
    }
  }

  void publish(const OutgoingMessage& msg) {
    validate_subject(msg.subject, SubjectUse::publish);
    const std::size_t size = wire_payload_size(msg);
    throw_if_too_large(size, msg.subject, "publish to");
    if (auto ec = core_->publish(detail::link_kind::publish, msg)) throw_publish_error(ec, size, msg.subject, "publish to");
  }

  // Publishes the JSON encoding of `value` (any type with an nlohmann to_json).
  template <typename T>
  void publish_json(std::string_view subject, const T& value) {
    publish(subject, nlohmann::json(value).dump());
  }

  // Sends `data` to the reply subject of `request` at once (on the send-asap link), so a
  // responder adds no buffering delay. Throws when the request has no reply subject.
  void respond(const Message& request, std::string_view data, const Headers& headers = {}) {
    if (request.reply().empty()) {
      throw error(errc::invalid_argument, "respond to a message on '" + std::string(request.subject()) +
                                              "': it has no reply subject");
    }
    OutgoingMessage reply(std::string(request.reply()), std::string(data));
    reply.headers = headers;
    const std::size_t size = wire_payload_size(reply);
    throw_if_too_large(size, reply.subject, "respond on");
    if (auto ec = core_->publish(detail::link_kind::request, reply)) throw_publish_error(ec, size, reply.subject, "respond on");
  }

  // Waits until the server has processed every publish made so far (a PING/PONG round trip),
  // on the internal blocking pool. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto flush(Token&& token = {}) {
    auto core = core_;
    return detail::initiate<void>(std::forward<Token>(token), "flush", [core](auto handler) {
      core->async_flush(detail::completion<std::error_code>(std::move(handler), core->executor()));
    });
  }

  template <typename Token = use_awaitable_t>
  auto request(OutgoingMessage msg, std::chrono::milliseconds timeout, Token&& token = {}) {
    return request_on(detail::link_kind::request, std::move(msg), timeout, std::forward<Token>(token));
  }

  // Sends a request on the chosen link: the JetStream layer sends acknowledged publishes on the
  // buffered publish link, where many in flight batch into few writes.
  template <typename Token = use_awaitable_t>
  auto request_on(detail::link_kind which, OutgoingMessage msg, std::chrono::milliseconds timeout, Token&& token = {}) {
    auto core = core_;
    // Only the default token turns a failure into an exception that names the request.
    std::string context;
    if constexpr (detail::is_default_token<Token>) context = "request on '" + msg.subject + "'";
    return detail::initiate<Message>(
        std::forward<Token>(token), std::move(context),
        [core, which, msg = std::move(msg), timeout](auto handler) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          detail::request_mux::reply_completion done(std::move(handler), core->executor());
          if (!is_valid_subject(msg.subject, SubjectUse::publish)) {
            done.complete(make_error_code(errc::invalid_subject), Message{});
            return;
          }
          if (auto too_large = check_payload_size(core->max_payload(), wire_payload_size(msg))) {
            done.complete(too_large, Message{});
            return;
          }
          core->async_request(which, msg, timeout, std::move(done), slot);
        });
  }

  // Sends a request and waits for the first reply, at most `timeout` (NatsConfig::request_timeout
  // by default). Fails with errc::no_responders when no subscriber listens on the subject, and
  // with errc::timeout when none replies in time; a reply that arrives later is dropped.
  // Thousands may be in flight from one thread. Signature: void(std::error_code, Message).
  template <typename Token = use_awaitable_t>
  auto request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout,
               Token&& token) {
    return request(OutgoingMessage(std::string(subject), std::string(data)), timeout, std::forward<Token>(token));
  }

  auto request(std::string_view subject, std::string_view data) {
    return request(subject, data, config().request_timeout, use_awaitable);
  }

  auto request(std::string_view subject, std::string_view data, std::chrono::milliseconds timeout) {
    return request(subject, data, timeout, use_awaitable);
  }

  // Subscribes to a subject (wildcards `*` and `>` allowed). Throws on an invalid subject or
  // queue group, or when not connected.
  Subscription subscribe(std::string_view subject, SubscribeOptions options = SubscribeOptions()) {
    validate_subject(subject, SubjectUse::subscribe);
    if (!options.queue_group.empty() && !is_valid_subject(options.queue_group, SubjectUse::publish)) {
      throw error(errc::invalid_name, "queue group '" + options.queue_group +
                                          "' is invalid: use dot-separated tokens without spaces or wildcards");
    }
    std::error_code ec;
    auto state = core_->subscribe(std::string(subject), options.queue_group, options.max_pending, ec);
    throw_if(ec, "subscribe to '" + std::string(subject) + "'");
    return Subscription(std::move(state));
  }

  // Subscribes and calls `handler(Message)` for every message on the connection's executor, one
  // message at a time, until the returned Subscription is unsubscribed or destroyed. The handler
  // may return void or asio::awaitable<void>; one that throws is logged and the next message runs.
  template <typename Handler>
    requires std::invocable<Handler&, Message>
  Subscription subscribe(std::string_view subject, Handler handler, SubscribeOptions options = SubscribeOptions()) {
    Subscription subscription = subscribe(subject, std::move(options));
    asio::co_spawn(get_executor(), detail::run_message_handler(subscription.state(), std::move(handler)),
                   asio::detached);
    return subscription;
  }

  Subscription queue_subscribe(std::string_view subject, std::string queue_group) {
    return subscribe(subject, SubscribeOptions{std::move(queue_group), 0});
  }

  // Calls `handler` on the connection's executor for every connection event; one handler at a
  // time, a later call replaces it.
  void on_event(std::function<void(const ConnectionEvent&)> handler) { core_->set_event_handler(std::move(handler)); }

  // A fresh, unique inbox subject (_INBOX.<nuid>).
  std::string new_inbox() const { return core_->new_inbox(); }

  // The server's max_payload in bytes, 0 before connect.
  std::int64_t max_payload() const noexcept { return core_->max_payload(); }

  // The underlying cnats connection (the buffered publish link) and a cnats JetStream context on
  // it, for users who need cnats's own API. Owned by the Connection; do not destroy them.
  natsConnection* native_handle() const noexcept { return core_->native(detail::link_kind::publish); }
  natsConnection* native_request_handle() const noexcept { return core_->native(detail::link_kind::request); }
  jsCtx* native_jetstream() const {
    std::error_code ec;
    jsCtx* js = core_->native_jetstream(ec);
    throw_if(ec, "create a cnats JetStream context");
    return js;
  }

  const std::shared_ptr<detail::connection_core>& core() const noexcept { return core_; }

  // Bytes a message counts against the server's max_payload: the data plus, when there are
  // headers, the encoded header block ("NATS/1.0\r\n", "Name: value\r\n" each, "\r\n").
  static std::size_t wire_payload_size(const OutgoingMessage& msg) noexcept {
    if (msg.headers.empty()) return msg.data.size();
    std::size_t size = msg.data.size() + 12;
    for (const auto& [name, value] : msg.headers) size += name.size() + value.size() + 4;
    return size;
  }

  // errc::payload_too_large when `size` exceeds `limit` (a server's max_payload, 0 if unknown).
  static std::error_code check_payload_size(std::int64_t limit, std::size_t size) noexcept {
    if (limit > 0 && size > static_cast<std::uint64_t>(limit)) return make_error_code(errc::payload_too_large);
    return {};
  }

 private:
  // Throws errc::payload_too_large naming "<action> '<subject>'" when `size` exceeds max_payload.
  // A size within the limit cached at connect and reconnect passes without max_payload(), which
  // takes cnats's connection lock on every call. A larger size is checked against the live
  // limit, so a limit that a reconnect raised does not reject it. A reconnect that lowered the
  // limit leaves the cache too high until the reconnect callback runs. In that window cnats
  // rejects the publish itself, and throw_publish_error() reports it as payload_too_large.
  void throw_if_too_large(std::size_t size, std::string_view subject, const char* action) const {
    const std::int64_t known = core_->known_max_payload();
    if (known > 0 && size <= static_cast<std::uint64_t>(known)) return;
    const std::int64_t limit = max_payload();
    if (check_payload_size(limit, size)) throw_too_large(size, limit, subject, action);
  }

  [[noreturn]] static void throw_too_large(std::size_t size, std::int64_t limit, std::string_view subject,
                                           const char* action) {
    const std::string context = std::string(action) + " '" + std::string(subject) + "'";
    throw error(errc::payload_too_large, context + ": " + std::to_string(size) +
                                             " bytes exceed the server's max_payload of " + std::to_string(limit) +
                                             " bytes; send less or raise max_payload in the server configuration");
  }

  // Throws the error of a failed publish or respond.
  [[noreturn]] void throw_publish_error(std::error_code ec, std::size_t size, std::string_view subject,
                                        const char* action) const {
    if (ec == errc::payload_too_large) throw_too_large(size, max_payload(), subject, action);
    throw error(ec, std::string(action) + " '" + std::string(subject) + "'");
  }

  std::string servers_text() const {
    std::string text;
    // Appended piecewise: `"," + std::string` trips a false -Wrestrict in GCC 12 at -O3.
    for (const auto& url : core_->config().servers) {
      if (!text.empty()) text += ',';
      text += detail::redact_url(url);
    }
    return text;
  }

  std::shared_ptr<detail::connection_core> core_;
};

}  // namespace noesis::ship

// The shared state behind a Connection: two cnats connections ("links") to the same servers
// and a request multiplexer on each.
//
// Why two links: cnats buffers publishes and its flusher thread writes them after about 1 ms,
// which gives high publish throughput but adds that millisecond to every request and reply.
// A connection in cnats's send-asap mode writes at once but cuts publish throughput to about a
// fifth. So bulk publishes, subscriptions and JetStream publishes use the buffered "publish"
// link, and requests, replies and JetStream API calls use the send-asap "request" link.
// NOTE: a publish on one link and a request on the other may reach the server in either order;
// await a JetStream publish's ack (or flush()) before a request that must see it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <noesis/ship/config.hpp>
#include <noesis/ship/connection_event.hpp>
#include <noesis/ship/detail/completion.hpp>
#include <noesis/ship/detail/handles.hpp>
#include <noesis/ship/message.hpp>

namespace noesis::ship::detail {

class subscription_state;
class subscription_tracker;
class connection_core;

enum class link_kind { publish, request };

// Matches replies on one wildcard inbox subscription to pending requests. A request enters the
// table (under a mutex) before it is written, so its reply always finds it; timers and
// completions run on the connection's strand, and cnats threads hand replies over in batches.
class request_mux : public std::enable_shared_from_this<request_mux> {
 public:
  using reply_completion = completion<std::error_code, Message>;

  request_mux(connection_core& core, asio::strand<asio::any_io_executor> strand);
  ~request_mux();

  std::error_code start(natsConnection* connection);
  void async_request(natsConnection* connection, const OutgoingMessage& msg, std::chrono::milliseconds timeout,
                     reply_completion done, asio::cancellation_slot slot);
  void fail_all(std::error_code reason);

 private:
  struct pending {
    explicit pending(const asio::any_io_executor& executor) : timer(executor) {}
    reply_completion done;
    asio::steady_timer timer;
  };

  static void on_reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  void drain_replies();
  void finish(std::uint64_t token, std::error_code ec, Message reply);

  asio::strand<asio::any_io_executor> strand_;
  std::string prefix_;  // "_INBOX.<nuid>." ; a request's reply subject is prefix_ + token
  subscription_handle inbox_;
  std::atomic<std::uint64_t> next_token_{1};
  std::mutex table_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<pending>> table_;

  std::mutex inbound_mutex_;
  std::vector<message_handle> inbound_;
  bool drain_scheduled_ = false;
};

// What cnats callbacks of one link reach. cnats may still report an event (an asynchronous error
// after a failed handshake, for example) after the Connection is gone, so the callbacks never
// hold the link itself: they reach it through this target, which the core detaches under its
// mutex when the link closes. Targets live until the program exits (a few bytes per connect).
struct callback_target {
  std::mutex mutex;
  struct link* target = nullptr;  // null once the link is closed
};

struct link {
  link_kind kind;
  callback_target* callbacks = nullptr;  // owned by a process-wide registry, see callback_target
  connection_core* core = nullptr;
  connection_handle connection;
  std::shared_ptr<request_mux> mux;
  std::mutex closed_mutex;
  std::condition_variable closed_cv;
  bool closed = false;
  std::vector<completion<std::error_code>> close_waiters;
};

class connection_core : public std::enable_shared_from_this<connection_core> {
 public:
  using event_handler = std::function<void(const ConnectionEvent&)>;

  connection_core(asio::any_io_executor executor, NatsConfig config);
  ~connection_core();

  const asio::any_io_executor& executor() const noexcept { return executor_; }
  const NatsConfig& config() const noexcept { return config_; }

  void async_connect(completion<std::error_code> done);
  // Returns why a credential file of the config is unusable, and logs it. The text names the
  // file and never quotes its content. Returns an empty string when every file named is usable.
  std::string credential_files_problem() const;
  void close();
  void async_drain(std::chrono::milliseconds timeout, completion<std::error_code> done);
  bool connected() const noexcept;

  std::error_code publish(link_kind which, const OutgoingMessage& msg);
  std::error_code publish(link_kind which, std::string_view subject, std::string_view data);
  void async_flush(completion<std::error_code> done);

  void async_request(link_kind which, const OutgoingMessage& msg, std::chrono::milliseconds timeout,
                     request_mux::reply_completion done, asio::cancellation_slot slot);

  std::shared_ptr<subscription_state> subscribe(const std::string& subject, const std::string& queue_group,
                                                std::size_t max_pending, std::error_code& ec);

  natsConnection* native(link_kind which) const noexcept;
  jsCtx* native_jetstream(std::error_code& ec);
  std::int64_t max_payload() const noexcept;
  // The publish link's max_payload in bytes as read at its last connect or reconnect, 0 before
  // connect. Reading it takes no lock, unlike max_payload(), which takes cnats's connection lock.
  std::int64_t known_max_payload() const noexcept { return known_max_payload_.load(std::memory_order_relaxed); }
  std::string new_inbox() const;

  void set_event_handler(event_handler handler);
  void emit(ConnectionEvent event);

 private:
  static void on_disconnected(natsConnection*, void* closure);
  static void on_reconnected(natsConnection*, void* closure);
  static void on_closed(natsConnection*, void* closure);
  static void on_lame_duck(natsConnection*, void* closure);
  static void on_error(natsConnection*, natsSubscription*, natsStatus status, void* closure);

  std::error_code connect_link(link& l);
  void close_links();

  asio::any_io_executor executor_;
  asio::strand<asio::any_io_executor> strand_;
  NatsConfig config_;
  link publish_link_;
  link request_link_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};  // close() or drain() started: a disconnect is expected
  std::atomic<std::int64_t> known_max_payload_{0};  // see known_max_payload()

  std::mutex jetstream_mutex_;
  jetstream_handle jetstream_;

  std::shared_ptr<subscription_tracker> subscriptions_ = std::make_shared<subscription_tracker>();

  std::mutex event_mutex_;
  event_handler event_handler_;
};

// Removes user information (user:password@ or token@) from a server URL before it is logged.
std::string redact_url(const std::string& url);

}  // namespace noesis::ship::detail

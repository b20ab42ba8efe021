// JetStream: streams, acknowledged publishes, stored-message reads and consumers.
//
// NOTE: GCC 12 destroys a braced default argument of an aggregate (`Options o = {}`) wrongly when
// the call is part of a co_await expression. So the asynchronous functions here offer overloads
// without the optional arguments, and other defaults are spelled `Options()`.
//
// The JetStream API is JSON request-reply on $JS.API.*, so every call here goes through the
// connection's request multiplexer and blocks no thread. Acknowledged publishes go out on the
// buffered publish link, where many in flight batch into few writes; API calls go out on the
// send-asap request link.
//
//   JetStream js(conn);
//   co_await js.ensure_stream(StreamConfig("ORDERS", {"orders.>"}));
//   PubAck ack = co_await js.publish("orders.new", R"({"id":1})");
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/connection.hpp>
#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

using detail::AckMetadata;
using detail::PubAck;
using detail::StoredMessage;
using detail::StreamInfo;
using detail::StreamState;

// True when `ec` is the JetStream API error `err_code`, for example 10059 (stream not found),
// 10014 (consumer not found), 10037 (no message found) or 10071 (wrong last sequence).
bool is_jetstream_error(const std::error_code& ec, int err_code) noexcept;

struct JetStreamOptions {
  std::string api_prefix = "$JS.API";
  // Timeout of each API call and publish; 0 uses NatsConfig::request_timeout.
  std::chrono::milliseconds timeout{0};
  // Time within which an API call (not a publish) that timed out or got err_code 10008 is sent
  // again, 250 ms after the failed attempt. A cluster leaves API requests unanswered while it
  // elects a leader after a node failure, which takes up to about 10 s with nats-server 2.9.
  // No attempt starts that could not end within the window, so a call takes at most
  // max(timeout, api_retry_window). With the default 10 s timeout a call has 2 attempts.
  // 0 turns retries off. Each retry is logged as a warning.
  std::chrono::milliseconds api_retry_window{20000};
};

struct PublishOptions {
  std::string msg_id;  // Nats-Msg-Id: the server drops a repeat within the duplicate window
  std::optional<std::uint64_t> expected_last_subject_sequence;  // compare-and-set on the subject
  std::optional<std::uint64_t> expected_last_sequence;          // compare-and-set on the stream
  std::string expected_stream;                                  // fail unless this stream stores it
  Headers headers;                                              // extra headers
  // Attempts while the server answers "no responders" (JetStream not ready yet, for example
  // right after a restart), 250 ms apart. A repeat cannot store a message twice: the first
  // attempt stored nothing.
  int attempts = 3;
};

struct PurgeOptions {
  std::string subject;                // only this subject (wildcards allowed); empty purges all
  std::optional<std::uint64_t> keep;  // keep this many newest messages
};

class JetStream;

// A message delivered by a JetStream consumer, with its stream position and ack methods.
class JsMessage {
 public:
  JsMessage() = default;
  JsMessage(Connection conn, Message msg, AckMetadata metadata)
      : conn_(std::make_shared<Connection>(std::move(conn))), msg_(std::move(msg)), metadata_(std::move(metadata)) {}

  const Message& message() const noexcept { return msg_; }
  std::string_view subject() const noexcept { return msg_.subject(); }
  std::string_view data() const noexcept { return msg_.data(); }
  std::optional<std::string_view> header(const char* name) const noexcept { return msg_.header(name); }
  const AckMetadata& metadata() const noexcept { return metadata_; }
  std::uint64_t stream_sequence() const noexcept { return metadata_.stream_sequence; }
  std::uint64_t num_delivered() const noexcept { return metadata_.num_delivered; }
  std::uint64_t num_pending() const noexcept { return metadata_.num_pending; }

  // Acknowledges the message; the server will not redeliver it.
  void ack() { send_ack("+ACK"); }
  // Asks for redelivery, after `delay` when given.
  void nak(std::optional<std::chrono::nanoseconds> delay = std::nullopt);
  // Tells the server never to redeliver the message (a poison message).
  // NOTE: nats-server 2.9.10 compares the whole ack body with "+TERM" and ignores a term that
  // carries a reason, so pass a reason only to servers of 2.10 or later.
  void term(const std::string& reason = {});
  // Resets the ack wait timer while a long handler still works on the message.
  void in_progress() { send_ack("+WPI"); }

 private:
  void send_ack(std::string_view body);

  std::shared_ptr<Connection> conn_;
  Message msg_;
  AckMetadata metadata_;
};

// A pull consumer that exists on the server (durable, or ephemeral while in use).
// One fetch at a time per PullConsumer object.
class PullConsumer {
 public:
  PullConsumer(JetStream js, std::string stream, std::string name);

  const std::string& stream() const noexcept;
  const std::string& name() const noexcept;

  // Fetches up to `batch` messages, waiting at most `expires` for the first of them. Returns as
  // soon as the batch is full or a message reports that nothing more is pending, so it returns
  // fewer (possibly none) when the stream holds no more for this consumer.
  // NOTE: the server keeps an unfilled pull request open until `expires`; messages stored in that
  // time are delivered to this consumer object and returned by the next fetch, and the request's
  // expiry can end a later fetch early with fewer messages. Callers loop, so none is lost.
  // Signature: void(std::error_code, std::vector<JsMessage>).
  template <typename Token = use_awaitable_t>
  auto fetch(std::size_t batch, std::chrono::milliseconds expires, Token&& token = {}) {
    return detail::run_awaitable<std::vector<JsMessage>>(executor(), std::forward<Token>(token),
                                                         do_fetch(state_, batch, expires));
  }

  struct state;

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<std::vector<JsMessage>> do_fetch(std::shared_ptr<state> s, std::size_t batch,
                                                          std::chrono::milliseconds expires);
  std::shared_ptr<state> state_;
};

struct OrderedConsumerConfig {
  std::string filter_subject;  // empty: every subject of the stream
  DeliverPolicy deliver_policy = DeliverPolicy::all;
  std::uint64_t opt_start_seq = 0;
  bool headers_only = false;
  // Idle heartbeat the server sends while there is nothing to deliver. Three missed heartbeats
  // make the consumer recreate itself from the last stream sequence it delivered.
  std::chrono::milliseconds heartbeat{2000};
};

// An ordered push consumer: ephemeral, no acks, flow control, and gap-free delivery in stream
// order. It recreates itself after a sequence gap, a heartbeat that counts deliveries which never
// arrived, messages dropped by a full subscription queue, missed heartbeats or a server restart,
// resuming after the last stream sequence delivered. Used by KV watches and object reads.
class OrderedConsumer {
 public:
  OrderedConsumer() = default;

  // Waits for the next message. Signature: void(std::error_code, JsMessage).
  template <typename Token = use_awaitable_t>
  auto next(Token&& token = {}) {
    return detail::run_awaitable<JsMessage>(executor(), std::forward<Token>(token), do_next(state_));
  }

  // Messages that matched the consumer when it was first created: 0 means the stream held
  // nothing for it then. KV watches use it to signal the end of the initial values.
  std::uint64_t initial_pending() const noexcept;

  // Deletes the consumer on the server (best effort) and ends the stream.
  void stop();

  struct state;
  explicit OrderedConsumer(std::shared_ptr<state> s) : state_(std::move(s)) {}

 private:
  asio::any_io_executor executor() const;
  static asio::awaitable<JsMessage> do_next(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

class JetStream {
 public:
  explicit JetStream(Connection conn, JetStreamOptions options = JetStreamOptions());

  Connection& connection() noexcept { return conn_; }
  const Connection& connection() const noexcept { return conn_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }
  const std::string& api_prefix() const noexcept { return options_.api_prefix; }

  // Sends a JetStream API request `<api_prefix>.<suffix>` and returns the reply JSON. A timeout
  // or err_code 10008 is retried within JetStreamOptions::api_retry_window, like every API call.
  // API errors are thrown as noesis::ship::error with jetstream_category() and the server's
  // err_code; a missing JetStream gives errc::jetstream_unavailable.
  template <typename Token = use_awaitable_t>
  auto api_request(std::string suffix, nlohmann::json body, Token&& token = {}) {
    return run<nlohmann::json>(std::forward<Token>(token), do_api_request(*this, std::move(suffix), std::move(body)));
  }

  // Publishes to a stream subject and waits for the server's acknowledgement.
  // Signature: void(std::error_code, PubAck). A duplicate (same msg_id) is reported in
  // PubAck::duplicate, not as an error. A failed expectation gives jetstream err_code 10071.
  asio::awaitable<PubAck> publish(std::string subject, std::string data) {
    return do_publish(*this, OutgoingMessage(std::move(subject), std::move(data)), PublishOptions());
  }

  template <typename Token = use_awaitable_t>
  auto publish(std::string subject, std::string data, PublishOptions options, Token&& token = {}) {
    return run<PubAck>(std::forward<Token>(token),
                       do_publish(*this, OutgoingMessage(std::move(subject), std::move(data)), std::move(options)));
  }

  asio::awaitable<PubAck> publish(OutgoingMessage msg) { return do_publish(*this, std::move(msg), PublishOptions()); }

  template <typename Token = use_awaitable_t>
  auto publish(OutgoingMessage msg, PublishOptions options, Token&& token = {}) {
    return run<PubAck>(std::forward<Token>(token), do_publish(*this, std::move(msg), std::move(options)));
  }

  // Creates the stream when missing and updates it when its configuration differs. Never deletes
  // a stream or its messages; a change the server refuses (for example the storage type) fails
  // with the server's error naming the stream.
  template <typename Token = use_awaitable_t>
  auto ensure_stream(StreamConfig config, Token&& token = {}) {
    return run<StreamInfo>(std::forward<Token>(token), do_ensure_stream(*this, std::move(config)));
  }

  template <typename Token = use_awaitable_t>
  auto create_stream(StreamConfig config, Token&& token = {}) {
    return run<StreamInfo>(std::forward<Token>(token), do_create_stream(*this, std::move(config), false));
  }

  template <typename Token = use_awaitable_t>
  auto update_stream(StreamConfig config, Token&& token = {}) {
    return run<StreamInfo>(std::forward<Token>(token), do_create_stream(*this, std::move(config), true));
  }

  // Returns the stream's configuration and state; with `subjects_filter`, state.subjects holds
  // the message count of each matching subject (all pages). A missing stream gives jetstream err_code 10059.
  asio::awaitable<StreamInfo> stream_info(std::string name) { return do_stream_info(*this, std::move(name), std::string()); }

  template <typename Token = use_awaitable_t>
  auto stream_info(std::string name, std::string subjects_filter, Token&& token = {}) {
    return run<StreamInfo>(std::forward<Token>(token), do_stream_info(*this, std::move(name), std::move(subjects_filter)));
  }

  // Deletes a stream and all its messages. Returns false when it did not exist; after a retried
  // timeout (JetStreamOptions::api_retry_window), false can also mean that the timed-out attempt
  // deleted it.
  template <typename Token = use_awaitable_t>
  auto delete_stream(std::string name, Token&& token = {}) {
    return run<bool>(std::forward<Token>(token), do_delete_stream(*this, std::move(name)));
  }

  // Purges messages; returns how many were removed. After a retried timeout the count is only
  // that of the last attempt.
  asio::awaitable<std::uint64_t> purge_stream(std::string name) { return do_purge_stream(*this, std::move(name), PurgeOptions()); }

  template <typename Token = use_awaitable_t>
  auto purge_stream(std::string name, PurgeOptions options, Token&& token = {}) {
    return run<std::uint64_t>(std::forward<Token>(token), do_purge_stream(*this, std::move(name), std::move(options)));
  }

  // Reads one stored message by sequence. A missing message gives jetstream err_code 10037.
  template <typename Token = use_awaitable_t>
  auto get_message(std::string stream, std::uint64_t sequence, Token&& token = {}) {
    return run<StoredMessage>(std::forward<Token>(token), do_get_message(*this, std::move(stream), sequence));
  }

  // Reads the newest message on `subject`. With `direct`, uses the direct get API (the stream
  // must allow it), which any replica serves. A missing message gives jetstream err_code 10037.
  template <typename Token = use_awaitable_t>
  auto get_last_message(std::string stream, std::string subject, bool direct = false, Token&& token = {}) {
    return run<StoredMessage>(std::forward<Token>(token),
                              do_get_last_message(*this, std::move(stream), std::move(subject), direct));
  }

  template <typename Token = use_awaitable_t>
  auto create_consumer(std::string stream, ConsumerConfig config, Token&& token = {}) {
    return run<ConsumerInfo>(std::forward<Token>(token), do_create_consumer(*this, std::move(stream), std::move(config)));
  }

  template <typename Token = use_awaitable_t>
  auto consumer_info(std::string stream, std::string name, Token&& token = {}) {
    return run<ConsumerInfo>(std::forward<Token>(token), do_consumer_info(*this, std::move(stream), std::move(name)));
  }

  // Deletes a consumer. Returns false when it did not exist, or, after a retried timeout, when
  // the timed-out attempt deleted it.
  template <typename Token = use_awaitable_t>
  auto delete_consumer(std::string stream, std::string name, Token&& token = {}) {
    return run<bool>(std::forward<Token>(token), do_delete_consumer(*this, std::move(stream), std::move(name)));
  }

  // Binds to an existing pull consumer (create it first with create_consumer).
  PullConsumer pull_consumer(std::string stream, std::string name) const {
    return PullConsumer(*this, std::move(stream), std::move(name));
  }

  // Creates an ordered consumer on `stream`. Signature: void(std::error_code, OrderedConsumer).
  asio::awaitable<OrderedConsumer> ordered_consumer(std::string stream) {
    return do_ordered_consumer(*this, std::move(stream), OrderedConsumerConfig());
  }

  template <typename Token = use_awaitable_t>
  auto ordered_consumer(std::string stream, OrderedConsumerConfig config, Token&& token = {}) {
    return run<OrderedConsumer>(std::forward<Token>(token),
                                do_ordered_consumer(*this, std::move(stream), std::move(config)));
  }

 private:
  template <typename T, typename Token>
  auto run(Token&& token, asio::awaitable<T> op) {
    return detail::run_awaitable<T>(conn_.get_executor(), std::forward<Token>(token), std::move(op));
  }

  static asio::awaitable<nlohmann::json> do_api_request(JetStream self, std::string suffix, nlohmann::json body);
  static asio::awaitable<PubAck> do_publish(JetStream self, OutgoingMessage msg, PublishOptions options);
  static asio::awaitable<StreamInfo> do_ensure_stream(JetStream self, StreamConfig config);
  static asio::awaitable<StreamInfo> do_create_stream(JetStream self, StreamConfig config, bool update);
  static asio::awaitable<StreamInfo> do_stream_info(JetStream self, std::string name, std::string filter);
  static asio::awaitable<bool> do_delete_stream(JetStream self, std::string name);
  static asio::awaitable<std::uint64_t> do_purge_stream(JetStream self, std::string name, PurgeOptions options);
  static asio::awaitable<StoredMessage> do_get_message(JetStream self, std::string stream, std::uint64_t sequence);
  static asio::awaitable<StoredMessage> do_get_last_message(JetStream self, std::string stream, std::string subject,
                                                            bool direct);
  static asio::awaitable<ConsumerInfo> do_create_consumer(JetStream self, std::string stream, ConsumerConfig config);
  static asio::awaitable<ConsumerInfo> do_consumer_info(JetStream self, std::string stream, std::string name);
  static asio::awaitable<bool> do_delete_consumer(JetStream self, std::string stream, std::string name);
  static asio::awaitable<OrderedConsumer> do_ordered_consumer(JetStream self, std::string stream,
                                                              OrderedConsumerConfig config);

  Connection conn_;
  JetStreamOptions options_;
  std::chrono::milliseconds timeout_;
};

}  // namespace noesis::ship

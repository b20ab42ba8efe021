// ChannelService: persistent conversations between agents on JetStream channels.
//
//   ChannelService channels(conn);
//   co_await channels.connect("agent-1");                  // ensures stream CHANNELS
//   ChannelMessage sent = co_await channels.send_message("dev", "tests green");
//   auto sub = co_await channels.subscribe("dev", true, [](ChannelMessage m) { ... });
//   auto last10 = co_await channels.get_channel_history("dev", 10);
//
// Wire format, shared with the Rust noesis-ship: a message on channel `dev` is the JSON of
// ChannelMessage (see channel_message.hpp) published on `ship.channel.dev` into the stream
// CHANNELS (subjects `ship.channel.>`, 30 days, 10,000 messages for all channels, file storage).
//
// Each subscriber is a durable PULL consumer named `<agent>_<channel>`, so an agent that
// subscribes again (also from another process) resumes where it stopped. The Rust library uses a
// push consumer of the same name; the two kinds cannot share a durable, so a Rust and a C++
// agent must not use the same agent name on the same channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <noesis/ship/channel_message.hpp>
#include <noesis/ship/connection.hpp>
#include <noesis/ship/consumer_subscription.hpp>
#include <noesis/ship/detail/async.hpp>
#include <noesis/ship/detail/consumer_runner.hpp>
#include <noesis/ship/jetstream.hpp>
#include <noesis/ship/names.hpp>
#include <noesis/ship/stream_config.hpp>

namespace noesis::ship {

// Subject prefix of the default channel stream: channel `dev` is `ship.channel.dev`.
inline constexpr const char* default_channel_subject_prefix = "ship.channel";

// Stream CHANNELS on `ship.channel.>`: 30 days, 10,000 messages in the whole stream, file storage.
StreamConfig default_channel_stream_config();

// A channel and the number of messages its stream currently holds.
struct ChannelSummary {
  std::string channel;
  std::uint64_t messages = 0;

  friend bool operator==(const ChannelSummary&, const ChannelSummary&) = default;
};

// The durable consumer name of `agent` on `channel`: `<agent>_<channel>`, hyphens kept.
std::string channel_consumer_name(std::string_view agent, std::string_view channel);

// Conversations of one agent over one Connection. A cheap value: copies share the connection;
// a copy made before connect() does not know the agent name.
class ChannelService {
 public:
  // Uses `stream` and subjects `<subject_prefix>.<channel>`. The stream's subjects must cover
  // them. Throws errc::invalid_subject for a prefix that is not a valid literal subject, and the
  // error of validate(StreamConfig) for an invalid stream configuration.
  explicit ChannelService(Connection conn, StreamConfig stream = default_channel_stream_config(),
                          std::string subject_prefix = default_channel_subject_prefix);

  // The Rust library's constructor with a custom stream (subjects stay `ship.channel.<channel>`).
  static ChannelService with_stream(Connection conn, StreamConfig stream) {
    return ChannelService(std::move(conn), std::move(stream));
  }

  // Returns a copy whose subscriptions use `options` unless subscribe() is given its own.
  ChannelService with_consumer_options(ConsumerOptions options) const {
    ChannelService copy = *this;
    copy.consumer_options_ = std::move(options);
    return copy;
  }

  // Remembers `agent` as the sender of this service's messages, connects the connection (a no-op
  // when connected) and creates or updates the stream. Fails with errc::invalid_name when the
  // agent name is not 1 to 127 characters of [A-Za-z0-9_-]. Signature: void(std::error_code).
  template <typename Token = use_awaitable_t>
  auto connect(std::string agent, Token&& token = {}) {
    if (is_valid_agent_name(agent)) agent_ = agent;
    return detail::run_awaitable<void>(conn_.get_executor(), std::forward<Token>(token),
                                       do_connect(*this, std::move(agent)));
  }

  // Publishes a message from this agent on `channel` and waits for the stream's ack. Returns the
  // message as sent, with `sequence` set to its stream sequence. Fails with errc::not_connected
  // before connect() and errc::invalid_name for a channel name outside [A-Za-z0-9_-].
  // Signature: void(std::error_code, ChannelMessage).
  template <typename Token = use_awaitable_t>
  auto send_message(std::string channel, std::string content, std::optional<nlohmann::json> metadata = std::nullopt,
                    Token&& token = {}) {
    return detail::run_awaitable<ChannelMessage>(
        conn_.get_executor(), std::forward<Token>(token),
        do_send(*this, std::move(channel), std::move(content), std::move(metadata)));
  }

  // Starts this agent's durable subscriber `<agent>_<channel>` on `channel`. A new consumer starts
  // at the oldest stored message when `replay_history` is true and at the next new message
  // otherwise; an existing one resumes after its last ack whatever `replay_history` says.
  // Messages this agent sent are acked and skipped. `handler` takes ChannelMessage (with its
  // stream sequence set), optionally followed by `const JsMessage&`, and returns
  // asio::awaitable<void> or void; it runs like an EventBus handler (see EventBus::subscribe).
  // Fails with errc::not_connected before connect() and errc::invalid_name for a channel name
  // outside [A-Za-z0-9_-]. Signature: void(std::error_code, ConsumerSubscription).
  template <class Handler, typename Token = use_awaitable_t>
  auto subscribe(std::string channel, bool replay_history, Handler handler,
                 std::optional<ConsumerOptions> options = std::nullopt, Token&& token = {}) {
    detail::message_handler wrapped = [handler = std::move(handler), agent = agent_](const JsMessage& msg) mutable
        -> asio::awaitable<void> {
      ChannelMessage message = detail::decode_consumed<ChannelMessage>(msg);
      message.sequence = msg.stream_sequence();
      if (message.sender == agent) co_return;  // own message: acked, not handed over
      co_await detail::invoke_user_handler(handler, std::move(message), msg);
    };
    return detail::run_awaitable<ConsumerSubscription>(
        conn_.get_executor(), std::forward<Token>(token),
        do_subscribe(*this, std::move(channel), replay_history, std::move(wrapped),
                     options ? std::move(*options) : consumer_options_));
  }

  // Returns the newest `limit` messages of `channel`, oldest first, own messages included, each
  // with its stream sequence. Undecodable messages are logged and left out, so fewer may come
  // back. An empty channel returns an empty list after one stream info request. Does not need
  // connect(agent). Fails with errc::invalid_argument for a limit of 0.
  // Signature: void(std::error_code, std::vector<ChannelMessage>).
  template <typename Token = use_awaitable_t>
  auto get_channel_history(std::string channel, std::size_t limit, Token&& token = {}) {
    return detail::run_awaitable<std::vector<ChannelMessage>>(conn_.get_executor(), std::forward<Token>(token),
                                                              do_history(*this, std::move(channel), limit));
  }

  // Lists the channels that have stored messages, by name, with their message counts.
  // Signature: void(std::error_code, std::vector<ChannelSummary>).
  template <typename Token = use_awaitable_t>
  auto list_channels(Token&& token = {}) {
    return detail::run_awaitable<std::vector<ChannelSummary>>(conn_.get_executor(), std::forward<Token>(token),
                                                              do_list(*this));
  }

  // `<prefix>.<channel>`; throws errc::invalid_name for an invalid channel name.
  std::string subject_for(std::string_view channel) const;

  const Connection& connection() const noexcept { return conn_; }
  const StreamConfig& stream_config() const noexcept { return stream_; }
  const std::string& subject_prefix() const noexcept { return prefix_; }
  // The agent name given to connect(); empty before.
  const std::string& agent() const noexcept { return agent_; }

 private:
  static asio::awaitable<void> do_connect(ChannelService self, std::string agent);
  static asio::awaitable<ChannelMessage> do_send(ChannelService self, std::string channel, std::string content,
                                                 std::optional<nlohmann::json> metadata);
  static asio::awaitable<ConsumerSubscription> do_subscribe(ChannelService self, std::string channel,
                                                            bool replay_history, detail::message_handler handler,
                                                            ConsumerOptions options);
  static asio::awaitable<std::vector<ChannelMessage>> do_history(ChannelService self, std::string channel,
                                                                 std::size_t limit);
  static asio::awaitable<std::vector<ChannelSummary>> do_list(ChannelService self);

  Connection conn_;
  JetStream js_;
  StreamConfig stream_;
  std::string prefix_;
  std::string agent_;
  ConsumerOptions consumer_options_;
};

}  // namespace noesis::ship

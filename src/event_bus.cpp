#include <noesis/ship/event_bus.hpp>

#include <algorithm>

#include <noesis/ship/logger.hpp>
#include <noesis/ship/names.hpp>

namespace noesis::ship {

StreamConfig default_event_stream_config() {
  return StreamConfig("SHIP_EVENTS", {std::string(default_event_subject_prefix) + ".>"})
      .with_max_age(std::chrono::hours(24))
      .with_max_msgs(100000);
}

EventBus::EventBus(Connection conn, StreamConfig stream, std::string subject_prefix)
    : conn_(conn), js_(std::move(conn)), stream_(std::move(stream)), prefix_(std::move(subject_prefix)) {
  validate_subject(prefix_, SubjectUse::publish);
  validate(stream_);
}

std::string EventBus::subject_for(std::string_view event_type) const {
  std::string subject = prefix_ + "." + std::string(event_type);
  if (!is_valid_subject(subject, SubjectUse::publish)) {
    throw error(errc::invalid_subject, "event type '" + std::string(event_type) +
                                           "' is invalid: use non-empty dot-separated tokens without spaces, "
                                           "'*' or '>' (for example 'item.created')");
  }
  return subject;
}

asio::awaitable<void> EventBus::do_connect(EventBus self) {
  const std::string covering = self.prefix_ + ".>";
  const bool covered = std::find(self.stream_.subjects.begin(), self.stream_.subjects.end(), covering) !=
                           self.stream_.subjects.end() ||
                       std::find(self.stream_.subjects.begin(), self.stream_.subjects.end(), ">") !=
                           self.stream_.subjects.end();
  if (!covered) {
    // NOTE: only the exact subject `<prefix>.>` (or `>`) is recognised; a stream covering the
    // prefix with a broader wildcard such as `ship.>` gets this warning although it works.
    logger()->warn("event bus: stream '{}' does not list '{}'; events of some types may not be stored",
                   self.stream_.name, covering);
  }
  co_await self.conn_.connect();
  co_await self.js_.ensure_stream(self.stream_);
}

asio::awaitable<PubAck> EventBus::do_publish(EventBus self, std::string subject, std::string data, std::string msg_id) {
  PublishOptions options;
  options.msg_id = std::move(msg_id);
  co_return co_await self.js_.publish(std::move(subject), std::move(data), std::move(options));
}

asio::awaitable<ConsumerSubscription> EventBus::do_subscribe(EventBus self, std::string pattern,
                                                             std::string consumer_name,
                                                             detail::message_handler handler,
                                                             ConsumerOptions options) {
  if (!consumer_name.empty()) validate_consumer_name(consumer_name);
  const std::string filter = self.prefix_ + "." + pattern;
  if (pattern.empty() || !is_valid_subject(filter, SubjectUse::subscribe)) {
    throw error(errc::invalid_subject, "event pattern '" + pattern +
                                           "' is invalid: use dot-separated tokens, '*' for one token and a final "
                                           "'>' for the rest (for example 'item.*' or '>')");
  }

  ConsumerConfig base;
  base.durable_name = consumer_name;
  base.filter_subject = filter;
  base.deliver_policy = DeliverPolicy::all;

  detail::consumer_target target{
      self.js_, self.stream_.name, detail::consumer_config_from(std::move(base), options),
      [self]() -> asio::awaitable<void> {
        EventBus bus = self;
        co_await bus.js_.ensure_stream(bus.stream_);
      },
      consumer_name.empty() ? "event subscriber on '" + filter + "'" : "event subscriber '" + consumer_name + "'"};
  co_return co_await detail::start_consumer(std::move(target), std::move(options), std::move(handler));
}

}  // namespace noesis::ship

#include <noesis/ship/detail/ordered_tracker.hpp>

#include <charconv>

namespace noesis::ship::detail {

namespace {

std::optional<std::uint64_t> parse_sequence(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

OrderedStep recreate(std::string reason) {
  OrderedStep step;
  step.action = OrderedStep::Action::recreate;
  step.reason = std::move(reason);
  return step;
}

}  // namespace

void OrderedTracker::on_created(DeliverPolicy policy, std::uint64_t delivered_stream_sequence) noexcept {
  expected_consumer_sequence_ = 1;
  dropped_ = false;
  if (created_) return;
  created_ = true;
  // Every policy but last_per_subject starts at one stream position, so a consumer recreated
  // before its first delivery can start there too. For new_messages this keeps the messages
  // stored after the first creation, which a second "new" consumer would skip.
  if (policy != DeliverPolicy::last_per_subject) resume_after_ = delivered_stream_sequence;
}

std::optional<std::uint64_t> OrderedTracker::resume_sequence() const noexcept {
  if (!resume_after_) return std::nullopt;
  return *resume_after_ + 1;
}

OrderedStep OrderedTracker::on_message(const OrderedInput& message) {
  if (message.status == 100) return on_control(message);
  if (message.status != 0) {
    // For example 409 "Consumer Deleted".
    return recreate("status " + std::to_string(message.status) + " '" + std::string(message.description) + "'");
  }

  std::optional<AckMetadata> metadata = parse_ack_subject(message.reply);
  if (!metadata) return OrderedStep();  // not a consumer delivery
  if (metadata->consumer_sequence != expected_consumer_sequence_) {
    return recreate("sequence gap: expected consumer sequence " + std::to_string(expected_consumer_sequence_) +
                    ", got " + std::to_string(metadata->consumer_sequence));
  }
  ++expected_consumer_sequence_;
  resume_after_ = metadata->stream_sequence;

  OrderedStep step;
  step.action = OrderedStep::Action::deliver;
  step.metadata = std::move(*metadata);
  return step;
}

OrderedStep OrderedTracker::on_control(const OrderedInput& message) const {
  OrderedStep step;
  if (!message.reply.empty()) {
    step.flow_control_reply = std::string(message.reply);  // a flow control request
    return step;
  }

  // An idle heartbeat. The server sends it after the deliveries it counts, on the same
  // subject, so every message it counts has been received or lost by the time it arrives.
  if (message.last_consumer_sequence) {
    const std::optional<std::uint64_t> last = parse_sequence(*message.last_consumer_sequence);
    if (last && *last != expected_consumer_sequence_ - 1) {
      return recreate("the server delivered " + std::to_string(*last) + " messages but " +
                      std::to_string(expected_consumer_sequence_ - 1) + " arrived");
    }
  }
  if (message.stalled_reply) step.flow_control_reply = std::string(*message.stalled_reply);
  return step;
}

}  // namespace noesis::ship::detail

// Sans-I/O core of an ordered push consumer: checks each message from the deliver subject
// against the consumer sequence it expects, and decides when the consumer must be recreated and
// from which stream sequence.
//
// An ordered consumer has no acks, so the server never redelivers: a message lost on the way
// (dropped by a full subscription queue, or in flight when a connection broke) is gone. The
// server numbers its deliveries (the consumer sequence in the ack subject) and states the last
// one in every idle heartbeat (header Nats-Last-Consumer). A loss therefore shows as a gap in the
// data messages, or at the end of the data as a heartbeat that counts more deliveries than
// arrived. Either makes the consumer recreate itself after the last stream sequence it delivered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <noesis/ship/consumer_config.hpp>
#include <noesis/ship/detail/jetstream_api.hpp>

namespace noesis::ship::detail {

// The parts of one message from the deliver subject that the tracker reads.
struct OrderedInput {
  int status = 0;                // 0 for data, 100 for a heartbeat or flow control request
  std::string_view description;  // status description, for example "Idle Heartbeat"
  std::string_view reply;        // ack subject of data; reply subject of a flow control request
  std::optional<std::string_view> last_consumer_sequence;  // Nats-Last-Consumer of a heartbeat
  std::optional<std::string_view> stalled_reply;           // Nats-Consumer-Stalled of a heartbeat
};

// The decision for one message: an action, and a flow control reply to send first.
struct OrderedStep {
  enum class Action {
    deliver,   // an in-order data message: hand it to the caller with `metadata`
    skip,      // nothing for the caller (heartbeat, flow control, foreign message)
    recreate,  // delete the consumer and create it again from resume_sequence()
  };
  Action action = Action::skip;
  // Non-empty: publish an empty message to this subject first. Once its flow control window is
  // full, the server delivers nothing more until the request (or the subject a stalled heartbeat
  // names) gets a reply.
  std::string flow_control_reply;
  AckMetadata metadata;  // for deliver
  std::string reason;    // for recreate: what was wrong, for the log
};

class OrderedTracker {
 public:
  // Records a newly created consumer: its deliveries start again at consumer sequence 1.
  // `policy` is the deliver policy it was created with, and `delivered_stream_sequence` the
  // delivered.stream_seq of the create reply, one below the first stream sequence it delivers.
  void on_created(DeliverPolicy policy, std::uint64_t delivered_stream_sequence) noexcept;

  // Decides what to do with one message from the deliver subject, and counts a delivery.
  OrderedStep on_message(const OrderedInput& message);

  // Records that the subscription queue dropped messages because it was full. The messages still
  // queued came before the loss, so they are delivered as usual. Once the queue is empty, the
  // consumer is recreated without waiting for the gap to show.
  void on_dropped() noexcept { dropped_ = true; }
  bool must_recreate_now(std::size_t queued) const noexcept { return dropped_ && queued == 0; }

  // The stream sequence a recreated consumer starts at, or nullopt to create it with the
  // original deliver policy (nothing delivered yet, and the original start is not a plain
  // stream position, as for last_per_subject).
  // NOTE: after deliveries have begun, a last_per_subject consumer resumes by stream sequence,
  // so it can deliver older values of subjects whose newest value it had not reached yet.
  std::optional<std::uint64_t> resume_sequence() const noexcept;

  std::uint64_t expected_consumer_sequence() const noexcept { return expected_consumer_sequence_; }

 private:
  OrderedStep on_control(const OrderedInput& message) const;

  std::uint64_t expected_consumer_sequence_ = 1;
  // Stream sequence after which a recreated consumer starts: the last one delivered, or before
  // any delivery the position the first consumer started from, when that is a plain position.
  std::optional<std::uint64_t> resume_after_;
  bool created_ = false;
  bool dropped_ = false;
};

}  // namespace noesis::ship::detail

// Decisions of an ordered consumer without a server: in-order delivery, gaps, heartbeats that
// count more deliveries than arrived, flow control replies, and where a recreated consumer starts.
#include <catch2/catch.hpp>

#include <noesis/ship/detail/ordered_tracker.hpp>

using namespace noesis::ship;
using namespace noesis::ship::detail;

namespace {

// The ack subject of the delivery with consumer sequence `consumer` of stream sequence `stream`.
std::string ack_subject(std::uint64_t stream, std::uint64_t consumer, std::uint64_t pending = 0) {
  return "$JS.ACK.S.C.1." + std::to_string(stream) + "." + std::to_string(consumer) + ".1700000000000000000." +
         std::to_string(pending);
}

OrderedInput data(const std::string& reply) {
  OrderedInput input;
  input.reply = reply;
  return input;
}

OrderedInput heartbeat(std::optional<std::string_view> last_consumer,
                       std::optional<std::string_view> stalled = std::nullopt) {
  OrderedInput input;
  input.status = 100;
  input.description = "Idle Heartbeat";
  input.last_consumer_sequence = last_consumer;
  input.stalled_reply = stalled;
  return input;
}

}  // namespace

TEST_CASE("ordered tracker delivers in order") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);
  const std::string first = ack_subject(5, 1, 1);
  const std::string second = ack_subject(9, 2, 0);

  const OrderedStep first_step = tracker.on_message(data(first));
  CHECK(first_step.action == OrderedStep::Action::deliver);
  CHECK(first_step.metadata.stream_sequence == 5);
  CHECK(first_step.flow_control_reply.empty());
  const OrderedStep second_step = tracker.on_message(data(second));
  CHECK(second_step.action == OrderedStep::Action::deliver);
  CHECK(second_step.metadata.num_pending == 0);
  CHECK(tracker.resume_sequence() == 10u);
  CHECK(tracker.expected_consumer_sequence() == 3);
}

TEST_CASE("ordered tracker recreates after a gap") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);
  const std::string first = ack_subject(1, 1);
  const std::string third = ack_subject(3, 3);
  REQUIRE(tracker.on_message(data(first)).action == OrderedStep::Action::deliver);

  const OrderedStep gap = tracker.on_message(data(third));
  CHECK(gap.action == OrderedStep::Action::recreate);
  CHECK(gap.reason.find("expected consumer sequence 2, got 3") != std::string::npos);
  CHECK(tracker.resume_sequence() == 2u);

  // The recreated consumer counts from 1 again.
  tracker.on_created(DeliverPolicy::all, 1);
  const std::string again = ack_subject(2, 1);
  CHECK(tracker.on_message(data(again)).action == OrderedStep::Action::deliver);
  CHECK(tracker.resume_sequence() == 3u);
}

TEST_CASE("ordered tracker checks heartbeats against deliveries") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);
  CHECK(tracker.on_message(heartbeat("0")).action == OrderedStep::Action::skip);

  const std::string first = ack_subject(1, 1);
  REQUIRE(tracker.on_message(data(first)).action == OrderedStep::Action::deliver);
  CHECK(tracker.on_message(heartbeat("1")).action == OrderedStep::Action::skip);
  CHECK(tracker.on_message(heartbeat(std::nullopt)).action == OrderedStep::Action::skip);
  CHECK(tracker.on_message(heartbeat("not a number")).action == OrderedStep::Action::skip);

  // The server delivered two more that never arrived: no later message will show the gap.
  const OrderedStep lost = tracker.on_message(heartbeat("3"));
  CHECK(lost.action == OrderedStep::Action::recreate);
  CHECK(lost.reason.find("delivered 3 messages but 1 arrived") != std::string::npos);
  CHECK(tracker.resume_sequence() == 2u);
}

TEST_CASE("ordered tracker answers flow control") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);

  OrderedInput request;
  request.status = 100;
  request.description = "FlowControl Request";
  request.reply = "$JS.FC.S.C.abcd";
  const OrderedStep answered = tracker.on_message(request);
  CHECK(answered.action == OrderedStep::Action::skip);
  CHECK(answered.flow_control_reply == "$JS.FC.S.C.abcd");

  const OrderedStep stalled = tracker.on_message(heartbeat("0", "$JS.FC.S.C.efgh"));
  CHECK(stalled.action == OrderedStep::Action::skip);
  CHECK(stalled.flow_control_reply == "$JS.FC.S.C.efgh");

  // A stalled heartbeat that also reports lost deliveries recreates instead.
  const OrderedStep lost = tracker.on_message(heartbeat("4", "$JS.FC.S.C.ijkl"));
  CHECK(lost.action == OrderedStep::Action::recreate);
}

TEST_CASE("ordered tracker recreates on other statuses") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);
  OrderedInput deleted;
  deleted.status = 409;
  deleted.description = "Consumer Deleted";
  const OrderedStep step = tracker.on_message(deleted);
  CHECK(step.action == OrderedStep::Action::recreate);
  CHECK(step.reason.find("409 'Consumer Deleted'") != std::string::npos);

  const OrderedStep foreign = tracker.on_message(data("not.an.ack.subject"));
  CHECK(foreign.action == OrderedStep::Action::skip);
}

TEST_CASE("ordered tracker resumes where the first consumer started") {
  SECTION("new messages: after the stream's last sequence at creation") {
    OrderedTracker tracker;
    tracker.on_created(DeliverPolicy::new_messages, 41);
    CHECK(tracker.resume_sequence() == 42u);
    // Recreating does not move the start before anything was delivered.
    tracker.on_created(DeliverPolicy::by_start_sequence, 57);
    CHECK(tracker.resume_sequence() == 42u);
  }
  SECTION("by start sequence") {
    OrderedTracker tracker;
    tracker.on_created(DeliverPolicy::by_start_sequence, 9);
    CHECK(tracker.resume_sequence() == 10u);
  }
  SECTION("last per subject keeps its policy until the first delivery") {
    OrderedTracker tracker;
    tracker.on_created(DeliverPolicy::last_per_subject, 3);
    CHECK_FALSE(tracker.resume_sequence());
    const std::string first = ack_subject(7, 1);
    REQUIRE(tracker.on_message(data(first)).action == OrderedStep::Action::deliver);
    CHECK(tracker.resume_sequence() == 8u);
  }
}

TEST_CASE("ordered tracker recreates once dropped messages are drained") {
  OrderedTracker tracker;
  tracker.on_created(DeliverPolicy::all, 0);
  CHECK_FALSE(tracker.must_recreate_now(0));

  tracker.on_dropped();
  CHECK_FALSE(tracker.must_recreate_now(3));  // the queued messages came before the loss
  CHECK(tracker.must_recreate_now(0));

  tracker.on_created(DeliverPolicy::all, 0);
  CHECK_FALSE(tracker.must_recreate_now(0));
}

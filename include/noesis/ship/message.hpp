// A NATS message received from a subscription or as a reply, and one to publish.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <noesis/ship/detail/handles.hpp>

namespace noesis::ship {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A received message. It owns the cnats message, so subject, reply, payload and header views
// stay valid as long as the Message lives. Move-only.
class Message {
 public:
  Message() = default;
  explicit Message(detail::message_handle handle) : handle_(std::move(handle)) {}

  bool empty() const noexcept { return !handle_; }
  std::string_view subject() const noexcept;
  std::string_view reply() const noexcept;  // empty when the sender expects no reply
  std::string_view data() const noexcept;   // the payload bytes
  std::string data_string() const { return std::string(data()); }

  // Returns the first value of a header, or nothing when the message has no such header.
  std::optional<std::string_view> header(const char* name) const noexcept;
  Headers headers() const;

  // Returns the status code of a NATS status message (503 no responders, 100 idle heartbeat or
  // flow control, 404/408/409 from JetStream pulls), or 0 for an ordinary message.
  int status() const noexcept;
  std::string_view status_description() const noexcept;
  bool is_no_responders() const noexcept;

  natsMsg* native_handle() const noexcept { return handle_.get(); }
  detail::message_handle release_native() noexcept { return std::move(handle_); }

 private:
  detail::message_handle handle_;
};

// A message to publish: subject, optional reply subject, headers and payload.
struct OutgoingMessage {
  std::string subject;
  std::string data;
  Headers headers;
  std::string reply;

  OutgoingMessage() = default;
  OutgoingMessage(std::string subject_, std::string data_) : subject(std::move(subject_)), data(std::move(data_)) {}
  OutgoingMessage& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace noesis::ship

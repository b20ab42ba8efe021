#include <noesis/ship/message.hpp>

#include <charconv>
#include <cstdlib>

namespace noesis::ship {
namespace {

std::string_view view_of(const char* text) noexcept {
  return text == nullptr ? std::string_view{} : std::string_view{text};
}

}  // namespace

std::string_view Message::subject() const noexcept {
  return handle_ ? view_of(natsMsg_GetSubject(handle_.get())) : std::string_view{};
}

std::string_view Message::reply() const noexcept {
  return handle_ ? view_of(natsMsg_GetReply(handle_.get())) : std::string_view{};
}

std::string_view Message::data() const noexcept {
  if (!handle_) return {};
  const char* bytes = natsMsg_GetData(handle_.get());
  const int length = natsMsg_GetDataLength(handle_.get());
  if (bytes == nullptr || length <= 0) return {};
  return {bytes, static_cast<std::size_t>(length)};
}

std::optional<std::string_view> Message::header(const char* name) const noexcept {
  if (!handle_) return std::nullopt;
  const char* value = nullptr;
  if (natsMsgHeader_Get(handle_.get(), name, &value) != NATS_OK || value == nullptr) return std::nullopt;
  return std::string_view{value};
}

Headers Message::headers() const {
  Headers result;
  if (!handle_) return result;
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(handle_.get(), &keys, &key_count) != NATS_OK || keys == nullptr) return result;
  for (int i = 0; i < key_count; ++i) {
    const char** values = nullptr;
    int value_count = 0;
    if (natsMsgHeader_Values(handle_.get(), keys[i], &values, &value_count) == NATS_OK && values != nullptr) {
      for (int j = 0; j < value_count; ++j) result.emplace_back(keys[i], values[j]);
      std::free(values);  // cnats allocates the array with malloc; the strings belong to the message
    }
  }
  std::free(keys);
  return result;
}

int Message::status() const noexcept {
  const auto value = header("Status");
  if (!value || value->empty()) return 0;
  int code = 0;
  std::from_chars(value->data(), value->data() + value->size(), code);
  return code;
}

std::string_view Message::status_description() const noexcept {
  return header("Description").value_or(std::string_view{});
}

bool Message::is_no_responders() const noexcept {
  return handle_ && natsMsg_IsNoResponders(handle_.get());
}

}  // namespace noesis::ship

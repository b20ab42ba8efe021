#include <noesis/ship/detail/jetstream_api.hpp>
#include <noesis/ship/detail/json_fields.hpp>

#include <algorithm>
#include <charconv>

#include <noesis/ship/detail/base64.hpp>
#include <noesis/ship/detail/headers.hpp>
#include <noesis/ship/error.hpp>
#include <noesis/ship/timestamp.hpp>

namespace noesis::ship::detail {
namespace {

using nlohmann::json;

// JetStream err_code of "no message found" (JSNoMessageFoundErr in nats-server).
constexpr int no_message_found_err_code = 10037;

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  const auto* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || stop != end || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_tokens(std::string_view subject) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  while (true) {
    const auto dot = subject.find('.', start);
    if (dot == std::string_view::npos) {
      tokens.push_back(subject.substr(start));
      return tokens;
    }
    tokens.push_back(subject.substr(start, dot - start));
    start = dot + 1;
  }
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view blanks = " \t";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    return lower(x) == lower(y);
  });
}

// Reads a PubAck of the plain shape nats-server writes, {"stream":"S","seq":N} with optional
// "domain" and "duplicate" fields, without building a JSON document. Building and reading the
// document cost about 8,600 instructions per acknowledged publish, more than raw cnats spends on
// the whole publish (about 6,400; callgrind counts of bench/noesis_cost_probe). Returns
// nullopt for every other body (an error reply, escapes, bytes outside printable ASCII in a
// string, other fields, a number that is not a plain unsigned integer), which the full parser
// then handles. So a body read here gives the same PubAck as the full parser would.
class plain_pub_ack_scanner {
 public:
  explicit plain_pub_ack_scanner(std::string_view body) : body_(body) {}

  std::optional<PubAck> scan() {
    PubAck ack;
    bool has_stream = false;
    bool has_sequence = false;
    skip_blanks();
    if (!consume('{')) return std::nullopt;
    for (;;) {
      skip_blanks();
      const auto key = read_string();
      skip_blanks();
      if (!key || !consume(':')) return std::nullopt;
      skip_blanks();
      // A repeated field keeps its last value, as nlohmann::json does.
      if (*key == "stream") {
        const auto value = read_string();
        if (!value) return std::nullopt;
        ack.stream = *value;
        has_stream = true;
      } else if (*key == "seq") {
        const auto value = read_unsigned();
        if (!value) return std::nullopt;
        ack.sequence = *value;
        has_sequence = true;
      } else if (*key == "domain") {
        const auto value = read_string();
        if (!value) return std::nullopt;
        ack.domain = *value;
      } else if (*key == "duplicate") {
        const auto value = read_bool();
        if (!value) return std::nullopt;
        ack.duplicate = *value;
      } else {
        return std::nullopt;
      }
      skip_blanks();
      if (consume('}')) break;
      if (!consume(',')) return std::nullopt;
    }
    skip_blanks();
    if (position_ != body_.size() || !has_stream || !has_sequence) return std::nullopt;
    return ack;
  }

 private:
  void skip_blanks() {
    while (position_ < body_.size()) {
      const char c = body_[position_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++position_;
    }
  }

  bool consume(char expected) {
    if (position_ >= body_.size() || body_[position_] != expected) return false;
    ++position_;
    return true;
  }

  // A string without escapes whose bytes are all printable ASCII, which needs no UTF-8 check.
  std::optional<std::string_view> read_string() {
    if (!consume('"')) return std::nullopt;
    const std::size_t start = position_;
    while (position_ < body_.size()) {
      const auto c = static_cast<unsigned char>(body_[position_]);
      if (c == '"') {
        ++position_;
        return body_.substr(start, position_ - 1 - start);
      }
      if (c == '\\' || c < 0x20 || c >= 0x7f) return std::nullopt;
      ++position_;
    }
    return std::nullopt;
  }

  // Digits without a sign, fraction, exponent or leading zero, at most 2^64 - 1.
  std::optional<std::uint64_t> read_unsigned() {
    const std::size_t start = position_;
    while (position_ < body_.size() && body_[position_] >= '0' && body_[position_] <= '9') ++position_;
    const auto digits = body_.substr(start, position_ - start);
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    if (position_ < body_.size()) {
      const char next = body_[position_];
      if (next == '.' || next == 'e' || next == 'E') return std::nullopt;
    }
    return parse_integer<std::uint64_t>(digits);
  }

  std::optional<bool> read_bool() {
    if (body_.substr(position_, 4) == "true") {
      position_ += 4;
      return true;
    }
    if (body_.substr(position_, 5) == "false") {
      position_ += 5;
      return false;
    }
    return std::nullopt;
  }

  std::string_view body_;
  std::size_t position_ = 0;
};

[[noreturn]] void throw_malformed(std::string_view context, std::string_view what) {
  throw error(errc::serialization, std::string(context) + ": " + std::string(what));
}

std::string decode_base64_field(const json& message, const char* key, std::string_view context) {
  const auto it = message.find(key);
  if (it == message.end() || it->is_null()) return {};
  auto decoded = base64_decode(it->get_ref<const std::string&>());  // throws type_error unless a string
  if (!decoded) throw_malformed(context, std::string("field '") + key + "' is not valid base64");
  return std::move(*decoded);
}

// Splits the first line of a header block into its status code and description.
void parse_status_line(std::string_view line, HeaderBlock& block) {
  constexpr std::string_view version = "NATS/1.0";
  if (line.substr(0, version.size()) != version) {
    throw error(errc::serialization, "header block: first line '" + std::string(line) +
                                         "' does not start with NATS/1.0");
  }
  const auto rest = trim(line.substr(version.size()));
  if (rest.empty()) return;

  const auto space = rest.find(' ');
  const auto code_text = rest.substr(0, space);
  const auto code = parse_integer<int>(code_text);
  if (!code || code_text.size() != 3) {
    throw error(errc::serialization,
                "header block: status '" + std::string(code_text) + "' is not a 3-digit code");
  }
  block.status = *code;
  if (space != std::string_view::npos)
    block.description = std::string(trim(rest.substr(space + 1)));
}

bool is_direct_get_header(std::string_view name) {
  return name == header::stream || name == header::subject || name == header::sequence ||
         name == header::time_stamp || name == header::last_sequence;
}

}  // namespace

// ---- API errors ----

std::optional<ApiError> api_error(const json& reply) {
  if (!reply.is_object()) return std::nullopt;
  const auto it = reply.find("error");
  if (it == reply.end() || !it->is_object()) return std::nullopt;

  ApiError api;
  api.code = integer_field<int>(*it, "code", 0);
  api.err_code = integer_field<int>(*it, "err_code", 0);
  api.description = it->value("description", std::string{});
  return api;
}

void throw_if_api_error(const json& reply, std::string_view context) {
  std::optional<ApiError> api;
  try {
    api = api_error(reply);
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("malformed error object: ") + e.what());
  } catch (const error& e) {
    throw_malformed(context, std::string("malformed error object: ") + e.what());
  }
  if (!api) return;

  int value = api->err_code;
  if (value == 0) value = api->code != 0 ? api->code : 500;
  std::string message(context);
  if (!api->description.empty()) message += ": " + api->description;
  throw error(make_jetstream_error_code(value), message);
}

json parse_api_reply(std::string_view reply_body, std::string_view context) {
  try {
    return json::parse(reply_body);
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("reply is not JSON: ") + e.what());
  }
}

bool should_retry_api_call(const std::error_code& outcome, std::chrono::milliseconds elapsed,
                           std::chrono::milliseconds timeout, std::chrono::milliseconds retry_window) noexcept {
  const bool unavailable =
      outcome.category() == jetstream_category() && outcome.value() == cluster_unavailable_err_code;
  if (outcome != condition::timeout && !unavailable) return false;
  return elapsed + api_retry_pause + timeout <= retry_window;
}

std::chrono::system_clock::time_point parse_api_time(std::string_view text,
                                                     std::string_view context) {
  const auto time = parse_rfc3339(text);
  if (!time) throw_malformed(context, "time '" + std::string(text) + "' is not RFC 3339");
  return *time;
}

// ---- Publish acks ----

PubAck parse_pub_ack(std::string_view reply_body, std::string_view subject) {
  if (auto ack = plain_pub_ack_scanner(reply_body).scan()) return std::move(*ack);

  const std::string context = "publish to '" + std::string(subject) + "'";
  const auto reply = parse_api_reply(reply_body, context);
  throw_if_api_error(reply, context);

  try {
    if (!reply.is_object() || !reply.contains("stream") || !reply.contains("seq")) {
      throw_malformed(context, "reply is not a PubAck: " + std::string(reply_body));
    }
    PubAck ack;
    ack.stream = reply.at("stream").get<std::string>();
    ack.sequence = detail::integer_value<uint64_t>(reply.at("seq"), "seq", context);
    ack.duplicate = reply.value("duplicate", false);
    ack.domain = reply.value("domain", std::string{});
    return ack;
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("malformed PubAck: ") + e.what());
  }
}

// ---- Ack subjects ----

std::optional<AckMetadata> parse_ack_subject(std::string_view reply) {
  const auto tokens = split_tokens(reply);
  if (tokens.size() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK") return std::nullopt;

  // v1 has 9 tokens; v2 inserts domain and account hash after "ACK" and may append more.
  std::size_t first = 2;
  AckMetadata metadata;
  if (tokens.size() >= 11) {
    if (tokens[2] != "_") metadata.domain = std::string(tokens[2]);
    first = 4;
  } else if (tokens.size() != 9) {
    return std::nullopt;
  }

  metadata.stream = std::string(tokens[first]);
  metadata.consumer = std::string(tokens[first + 1]);
  const auto delivered = parse_integer<uint64_t>(tokens[first + 2]);
  const auto stream_sequence = parse_integer<uint64_t>(tokens[first + 3]);
  const auto consumer_sequence = parse_integer<uint64_t>(tokens[first + 4]);
  const auto timestamp = parse_integer<int64_t>(tokens[first + 5]);
  const auto pending = parse_integer<uint64_t>(tokens[first + 6]);
  if (metadata.stream.empty() || metadata.consumer.empty() || !delivered || !stream_sequence ||
      !consumer_sequence || !timestamp || !pending) {
    return std::nullopt;
  }

  metadata.num_delivered = *delivered;
  metadata.stream_sequence = *stream_sequence;
  metadata.consumer_sequence = *consumer_sequence;
  metadata.timestamp_ns = *timestamp;
  metadata.num_pending = *pending;
  return metadata;
}

// ---- Headers and stored messages ----

HeaderBlock parse_header_block(std::string_view block) {
  constexpr std::string_view line_end = "\r\n";
  HeaderBlock parsed;

  auto line_stop = block.find(line_end);
  parse_status_line(block.substr(0, line_stop), parsed);

  while (line_stop != std::string_view::npos) {
    block.remove_prefix(line_stop + line_end.size());
    line_stop = block.find(line_end);
    const auto line = block.substr(0, line_stop);
    if (line.empty()) break;  // the blank line that ends the block, or the end of the text

    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw error(errc::serialization,
                  "header block: line '" + std::string(line) + "' is not 'Name: value'");
    }
    parsed.headers.emplace_back(std::string(line.substr(0, colon)),
                                std::string(trim(line.substr(colon + 1))));
  }
  return parsed;
}

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name)) return value;
  }
  return std::nullopt;
}

StoredMessage parse_stored_message(const json& reply, std::string_view context) {
  throw_if_api_error(reply, context);
  try {
    if (!reply.is_object() || !reply.contains("message")) {
      throw_malformed(context, "reply has no 'message' object");
    }
    const auto& message = reply.at("message");

    StoredMessage stored;
    stored.subject = message.at("subject").get<std::string>();
    stored.sequence = detail::integer_value<uint64_t>(message.at("seq"), "seq", context);
    stored.time = parse_api_time(message.at("time").get<std::string>(), context);
    stored.data = decode_base64_field(message, "data", context);

    const auto header_text = decode_base64_field(message, "hdrs", context);
    if (!header_text.empty()) stored.headers = parse_header_block(header_text).headers;
    return stored;
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("malformed message get reply: ") + e.what());
  }
}

StoredMessage parse_direct_get_reply(const HeaderBlock& headers, std::string data,
                                     std::string_view context) {
  if (headers.status == 404) {
    const auto description =
        headers.description.empty() ? std::string("no message found") : headers.description;
    throw error(make_jetstream_error_code(no_message_found_err_code),
                std::string(context) + ": " + description);
  }
  if (headers.status != 0) {
    throw error(errc::invalid_argument, std::string(context) + ": direct get failed with status " +
                                            std::to_string(headers.status) + " " +
                                            headers.description);
  }

  const auto required = [&](std::string_view name) {
    auto value = find_header(headers.headers, name);
    if (!value) throw_malformed(context, "direct get reply lacks header " + std::string(name));
    return std::move(*value);
  };

  StoredMessage stored;
  stored.subject = required(header::subject);
  const auto sequence_text = required(header::sequence);
  const auto sequence = parse_integer<uint64_t>(sequence_text);
  if (!sequence) throw_malformed(context, "Nats-Sequence '" + sequence_text + "' is not a number");
  stored.sequence = *sequence;
  stored.time = parse_api_time(required(header::time_stamp), context);
  stored.data = std::move(data);

  for (const auto& [key, value] : headers.headers) {
    if (!is_direct_get_header(key)) stored.headers.emplace_back(key, value);
  }
  return stored;
}

StoredMessage parse_direct_get_reply(std::string_view header_block, std::string data,
                                     std::string_view context) {
  return parse_direct_get_reply(parse_header_block(header_block), std::move(data), context);
}

// ---- Message get and purge requests ----

json msg_get_request_last_by_subject(std::string_view subject) {
  return json{{"last_by_subj", subject}};
}

json msg_get_request_sequence(uint64_t sequence) {
  return json{{"seq", sequence}};
}

std::string direct_get_subject(std::string_view api_prefix, std::string_view stream) {
  return api_subject(api_prefix, "DIRECT.GET." + std::string(stream));
}

std::string direct_get_last_subject(std::string_view api_prefix, std::string_view stream,
                                    std::string_view subject) {
  return direct_get_subject(api_prefix, stream) + "." + std::string(subject);
}

json purge_request(std::string_view subject) {
  return json{{"filter", subject}};
}

json purge_request_keep(std::string_view subject, uint64_t keep) {
  return json{{"filter", subject}, {"keep", keep}};
}

uint64_t parse_purge_reply(const json& reply, std::string_view context) {
  throw_if_api_error(reply, context);
  try {
    return detail::integer_field<uint64_t>(reply, "purged", 0, context);
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("malformed purge reply: ") + e.what());
  }
}

// ---- Stream info ----

json stream_info_request(std::string_view subjects_filter, uint64_t offset) {
  json body = json::object();
  if (!subjects_filter.empty()) body["subjects_filter"] = subjects_filter;
  if (offset > 0) body["offset"] = offset;
  return body;
}

StreamInfo parse_stream_info(const json& reply, std::string_view context) {
  throw_if_api_error(reply, context);
  try {
    if (!reply.is_object() || !reply.contains("config")) {
      throw_malformed(context, "reply has no 'config' object");
    }
    StreamInfo info;
    info.config = stream_config_from_api_json(reply.at("config"));
    if (const auto it = reply.find("created"); it != reply.end() && it->is_string()) {
      info.created = parse_api_time(it->get<std::string>(), context);
    }
    info.total = detail::integer_field<uint64_t>(reply, "total", 0, context);
    info.offset = detail::integer_field<uint64_t>(reply, "offset", 0, context);
    info.limit = detail::integer_field<uint64_t>(reply, "limit", 0, context);

    if (const auto it = reply.find("state"); it != reply.end() && it->is_object()) {
      const auto& state = *it;
      info.state.messages = detail::integer_field<uint64_t>(state, "messages", 0, context);
      info.state.bytes = detail::integer_field<uint64_t>(state, "bytes", 0, context);
      info.state.first_seq = detail::integer_field<uint64_t>(state, "first_seq", 0, context);
      info.state.last_seq = detail::integer_field<uint64_t>(state, "last_seq", 0, context);
      info.state.consumer_count = detail::integer_field<uint64_t>(state, "consumer_count", 0, context);
      info.state.num_subjects = detail::integer_field<uint64_t>(state, "num_subjects", 0, context);
      if (const auto subjects = state.find("subjects");
          subjects != state.end() && subjects->is_object()) {
        for (const auto& [subject, count] : subjects->items()) {
          info.state.subjects[subject] = detail::integer_value<uint64_t>(count, "state.subjects", context);
        }
      }
    }
    return info;
  } catch (const json::exception& e) {
    throw_malformed(context, std::string("malformed stream info: ") + e.what());
  }
}

// ---- Subjects ----

std::string api_subject(std::string_view api_prefix, std::string_view suffix) {
  std::string subject(api_prefix);
  if (!subject.empty() && subject.back() != '.') subject += '.';
  subject += suffix;
  return subject;
}

}  // namespace noesis::ship::detail

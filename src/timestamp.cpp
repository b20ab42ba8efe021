#include <noesis/ship/timestamp.hpp>

#include <array>
#include <cstdio>
#include <cstdint>

namespace noesis::ship {

namespace {

using nanosecond_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

// Reads fixed-width fields of an RFC 3339 string from left to right; every read checks bounds.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool at_end() const { return position_ == text_.size(); }

  std::optional<char> peek() const {
    if (at_end()) return std::nullopt;
    return text_[position_];
  }

  bool consume(char expected) {
    if (peek() != expected) return false;
    ++position_;
    return true;
  }

  // Reads exactly `width` decimal digits.
  std::optional<int> digits(int width) {
    int value = 0;
    for (int i = 0; i < width; ++i) {
      const auto c = peek();
      if (!c || *c < '0' || *c > '9') return std::nullopt;
      value = value * 10 + (*c - '0');
      ++position_;
    }
    return value;
  }

  // Reads one or more digits of a fraction of a second, keeping the first nine as nanoseconds.
  std::optional<std::int64_t> fraction_nanos() {
    std::int64_t nanos = 0;
    int count = 0;
    for (auto c = peek(); c && *c >= '0' && *c <= '9'; c = peek()) {
      if (count < 9) nanos = nanos * 10 + (*c - '0');
      ++count;
      ++position_;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 9; ++i) nanos *= 10;
    return nanos;
  }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
};

// Returns the offset east of UTC, or nullopt when the text has no valid offset.
std::optional<std::chrono::minutes> read_offset(Cursor& cursor) {
  if (cursor.consume('Z') || cursor.consume('z')) return std::chrono::minutes{0};

  int sign = 0;
  if (cursor.consume('+')) {
    sign = 1;
  } else if (cursor.consume('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }

  const auto hours = cursor.digits(2);
  if (!hours || !cursor.consume(':')) return std::nullopt;
  const auto minutes = cursor.digits(2);
  if (!minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  return std::chrono::minutes{sign * (*hours * 60 + *minutes)};
}

// Appends the fraction of a second the way chrono's SecondsFormat::AutoSi does: the shortest
// of 0, 3, 6 or 9 digits that drops no non-zero digit.
void append_fraction(std::string& text, std::int64_t nanos) {
  if (nanos == 0) return;

  int digits = 9;
  if (nanos % 1'000'000 == 0) {
    digits = 3;
    nanos /= 1'000'000;
  } else if (nanos % 1'000 == 0) {
    digits = 6;
    nanos /= 1'000;
  }

  std::array<char, 16> buffer{};
  const int length =
      std::snprintf(buffer.data(), buffer.size(), ".%0*lld", digits, static_cast<long long>(nanos));
  text.append(buffer.data(), static_cast<std::size_t>(length));
}

}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;

  const auto nanos = time_point_cast<nanoseconds>(time);
  const auto day = floor<days>(nanos);
  const year_month_day date{day};
  const hh_mm_ss clock{nanos - day};

  std::array<char, 32> buffer{};
  const int length = std::snprintf(
      buffer.data(), buffer.size(), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
      static_cast<int>(clock.seconds().count()));

  std::string text(buffer.data(), static_cast<std::size_t>(length));
  append_fraction(text, clock.subseconds().count());
  text += "+00:00";
  return text;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;

  Cursor cursor(text);
  const auto year_value = cursor.digits(4);
  if (!year_value || !cursor.consume('-')) return std::nullopt;
  const auto month_value = cursor.digits(2);
  if (!month_value || !cursor.consume('-')) return std::nullopt;
  const auto day_value = cursor.digits(2);
  if (!day_value) return std::nullopt;

  const year_month_day date{year{*year_value}, month{static_cast<unsigned>(*month_value)},
                            day{static_cast<unsigned>(*day_value)}};
  if (!date.ok()) return std::nullopt;

  if (!cursor.consume('T') && !cursor.consume('t') && !cursor.consume(' ')) return std::nullopt;

  const auto hour_value = cursor.digits(2);
  if (!hour_value || !cursor.consume(':')) return std::nullopt;
  const auto minute_value = cursor.digits(2);
  if (!minute_value || !cursor.consume(':')) return std::nullopt;
  const auto second_value = cursor.digits(2);
  if (!second_value) return std::nullopt;
  if (*hour_value > 23 || *minute_value > 59 || *second_value > 60) return std::nullopt;

  std::int64_t fraction = 0;
  if (cursor.consume('.')) {
    const auto nanos = cursor.fraction_nanos();
    if (!nanos) return std::nullopt;
    fraction = *nanos;
  }

  const auto offset = read_offset(cursor);
  if (!offset || !cursor.at_end()) return std::nullopt;

  // Whole seconds since the epoch fit easily in 64 bits for years 0000 to 9999; the range of
  // the nanosecond clock is checked before converting.
  const seconds local_seconds = sys_days{date}.time_since_epoch() + hours{*hour_value} +
                                minutes{*minute_value} + seconds{*second_value};
  const seconds utc_seconds = local_seconds - *offset;

  constexpr auto max_seconds = duration_cast<seconds>(nanoseconds::max()).count() - 1;
  constexpr auto min_seconds = duration_cast<seconds>(nanoseconds::min()).count() + 1;
  if (utc_seconds.count() > max_seconds || utc_seconds.count() < min_seconds) return std::nullopt;

  const nanosecond_time result{duration_cast<nanoseconds>(utc_seconds) + nanoseconds{fraction}};
  return time_point_cast<system_clock::duration>(result);
}

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }

std::int64_t unix_millis(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  return floor<milliseconds>(time.time_since_epoch()).count();
}

std::int64_t unix_nanos(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(time.time_since_epoch()).count();
}

double unix_seconds_f64(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<nanoseconds>(time.time_since_epoch());
  const auto whole = floor<seconds>(since_epoch);
  const auto fraction = since_epoch - whole;
  return static_cast<double>(whole.count()) + static_cast<double>(fraction.count()) / 1e9;
}

}  // namespace noesis::ship

#include <noesis/ship/ship_event.hpp>

#include <array>
#include <cstdint>
#include <random>

namespace noesis::ship {

std::string generate_correlation_id() {
  // One generator per thread, each seeded from the operating system's entropy, so no lock is
  // needed and threads do not draw from one shared sequence.
  thread_local std::mt19937 generator = [] {
    std::random_device entropy;
    std::seed_seq seed{entropy(), entropy(), entropy(), entropy(),
                       entropy(), entropy(), entropy(), entropy()};
    return std::mt19937(seed);
  }();

  constexpr std::array<char, 16> hex_digits{'0', '1', '2', '3', '4', '5', '6', '7',
                                            '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::uint32_t bits = static_cast<std::uint32_t>(generator());

  std::string id(8, '0');
  for (auto it = id.rbegin(); it != id.rend(); ++it) {
    *it = hex_digits[bits & 0xfu];
    bits >>= 4;
  }
  return id;
}

}  // namespace noesis::ship

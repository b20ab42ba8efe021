// The asio configuration that every file of a program must share. This file includes asio
// before any standard header on purpose: without the library's compile definitions, asio would
// configure itself differently here than in files that include a standard header first.
#include <asio/detail/config.hpp>

#include <catch2/catch.hpp>

namespace {

#if defined(ASIO_HAS_STD_ALIGNED_ALLOC)
constexpr bool aligned_alloc_chosen = true;
#else
constexpr bool aligned_alloc_chosen = false;
#endif

}  // namespace

// asio's recycled memory comes from aligned_alloc in files that include a standard header
// first. A file that chose operator new/delete instead would free that memory with operator
// delete, an allocation mismatch.
TEST_CASE("asio uses aligned_alloc in every file") { CHECK(aligned_alloc_chosen); }

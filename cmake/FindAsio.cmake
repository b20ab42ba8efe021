# Finds standalone asio (Debian package libasio-dev), a header-only library without a CMake
# package of its own, and defines the imported target Asio::Asio.
find_path(Asio_INCLUDE_DIR NAMES asio.hpp)
if(Asio_INCLUDE_DIR AND EXISTS "${Asio_INCLUDE_DIR}/asio/version.hpp")
  file(STRINGS "${Asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line REGEX "#define ASIO_VERSION ")
  string(REGEX MATCH "[0-9]+" _asio_version_number "${_asio_version_line}")
  math(EXPR _asio_major "${_asio_version_number} / 100000")
  math(EXPR _asio_minor "${_asio_version_number} / 100 % 1000")
  math(EXPR _asio_patch "${_asio_version_number} % 100")
  set(Asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Asio
  REQUIRED_VARS Asio_INCLUDE_DIR
  VERSION_VAR Asio_VERSION
  REASON_FAILURE_MESSAGE "install the Debian package libasio-dev (apt-get install libasio-dev)")
if(Asio_FOUND AND NOT TARGET Asio::Asio)
  add_library(Asio::Asio INTERFACE IMPORTED)
  set_target_properties(Asio::Asio PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${Asio_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE;ASIO_NO_DEPRECATED")
  # asio 1.22 enables its coroutine support only for compilers it recognises; Clang 14 with
  # libstdc++ supports C++20 coroutines but is not among them, so switch the support on.
  set_property(TARGET Asio::Asio APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
    "$<$<CXX_COMPILER_ID:Clang>:ASIO_HAS_CO_AWAIT=1;ASIO_HAS_STD_COROUTINE=1>")
  # asio chooses between aligned_alloc/free and operator new/delete for the memory it recycles
  # (coroutine frames, handlers) by a libstdc++ macro that is defined only after a standard
  # header was included. A file that includes asio first picks new/delete, and the linker keeps
  # one copy of each inline function, so memory from aligned_alloc can reach operator delete
  # (AddressSanitizer reports alloc-dealloc-mismatch). One choice for every file avoids that.
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set_property(TARGET Asio::Asio APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS "ASIO_HAS_STD_ALIGNED_ALLOC=1")
  endif()
endif()
mark_as_advanced(Asio_INCLUDE_DIR)

# Finds every dependency of noesis::ship. Used by the build and, installed beside the package
# configuration, by find_package(noesis_ship), so both resolve the same targets.
# Each failure names the Debian package that provides the missing piece.
include(CMakeFindDependencyMacro OPTIONAL)

macro(noesis_ship_require name package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "noesis_ship needs ${name}: install the Debian package ${package} "
                        "(apt-get install ${package}), or run ./dev deps")
  endif()
endmacro()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
noesis_ship_require(NatsC libnats-dev 3.4)
noesis_ship_require(Asio libasio-dev)
noesis_ship_require(nlohmann_json nlohmann-json3-dev CONFIG)
noesis_ship_require(spdlog libspdlog-dev CONFIG)
noesis_ship_require(OpenSSL libssl-dev)
noesis_ship_require(CLI11 libcli11-dev CONFIG)

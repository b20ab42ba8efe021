# Finds the NATS C client (cnats, Debian package libnats-dev) and defines cnats::nats.
# Debian's own cnats CMake package cannot be used: it also declares cnats::nats_static, whose
# archive the package does not ship, so find_package(cnats CONFIG) fails.
find_path(NatsC_INCLUDE_DIR NAMES nats/nats.h)
find_library(NatsC_LIBRARY NAMES nats)
if(NatsC_INCLUDE_DIR AND EXISTS "${NatsC_INCLUDE_DIR}/nats/version.h")
  file(STRINGS "${NatsC_INCLUDE_DIR}/nats/version.h" _natsc_version_line REGEX "#define NATS_VERSION_STRING")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" NatsC_VERSION "${_natsc_version_line}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NatsC
  REQUIRED_VARS NatsC_LIBRARY NatsC_INCLUDE_DIR
  VERSION_VAR NatsC_VERSION
  REASON_FAILURE_MESSAGE "install the Debian package libnats-dev (apt-get install libnats-dev)")
if(NatsC_FOUND AND NOT TARGET cnats::nats)
  add_library(cnats::nats UNKNOWN IMPORTED)
  set_target_properties(cnats::nats PROPERTIES
    IMPORTED_LOCATION "${NatsC_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NatsC_INCLUDE_DIR}")
endif()
mark_as_advanced(NatsC_INCLUDE_DIR NatsC_LIBRARY)

# Install rules: headers, the library, an exported target noesis::ship and a package
# configuration so that consumers write find_package(noesis_ship).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS noesis_ship EXPORT noesis_ship_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  # The root CMakeLists.txt sets the target's $<INSTALL_INTERFACE:...> include directory before
  # GNUInstallDirs defines CMAKE_INSTALL_INCLUDEDIR, so that entry is empty. This line exports
  # the installed include directory instead.
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/noesis DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(NOESIS_SHIP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/noesis_ship)
install(EXPORT noesis_ship_targets NAMESPACE noesis:: FILE noesis_ship_targets.cmake
  DESTINATION ${NOESIS_SHIP_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/noesis_ship-config.cmake.in
  ${PROJECT_BINARY_DIR}/noesis_ship-config.cmake INSTALL_DESTINATION ${NOESIS_SHIP_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/noesis_ship-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/noesis_ship-config.cmake
  ${PROJECT_BINARY_DIR}/noesis_ship-config-version.cmake
  ${PROJECT_SOURCE_DIR}/cmake/NoesisShipDependencies.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindAsio.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindNatsC.cmake
  DESTINATION ${NOESIS_SHIP_CMAKE_DIR})

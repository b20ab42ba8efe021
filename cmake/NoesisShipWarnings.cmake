# Warnings are errors on the project's own targets only; dependants that link noesis::ship
# never inherit them.
function(noesis_ship_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  # GCC 12 at -O3 reports -Wrestrict inside libstdc++'s std::string operations on correct code
  # (GCC bug 105329), which stopped Release builds of several tests. It stays a warning there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-error=restrict)
  endif()
endfunction()

# Warnings are errors on the project's own targets only; dependants that link noesis::ship
# never inherit them.
function(noesis_ship_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()

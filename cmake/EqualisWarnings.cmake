# Warnings are errors for all project code.
add_library(equalis_warnings INTERFACE)
target_compile_options(equalis_warnings INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wpedantic -Wformat=2 -Wimplicit-fallthrough -Wdouble-promotion)

# equalis_add_library(name SOURCES ... DEPS ...): one library per directory under src/.
function(equalis_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(equalis_${name} STATIC ${ARG_SOURCES})
  add_library(equalis::${name} ALIAS equalis_${name})
  target_include_directories(equalis_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(equalis_${name} PUBLIC ${ARG_DEPS} PRIVATE equalis_warnings)
  if(EQUALIS_TESTS_THREADS_ONLY)  # built when a test links it
    set_target_properties(equalis_${name} PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endfunction()

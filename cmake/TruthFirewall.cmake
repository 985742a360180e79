# The truth firewall (docs/simulator.md, "Truth firewall"): code that analyses, controls, alarms
# or serves the plant never sees the simulator's truth. It reads the plant through the module
# bus, the I/O layer and the state store like on a real site; only the plant side (src/bus,
# src/io, src/runtime, which build and drive the in-process plant), the benchmarks' scorers and
# the tests hold a simulator.
#
# Two checks, both failing the build:
#   - no guarded library links equalis_sim, directly or through another library (configure time);
#   - no source file under a guarded directory includes a header of src/sim (every build, before
#     the guarded libraries compile; cmake -P cmake/check_truth_firewall.cmake).

set(EQUALIS_TRUTH_GUARDED
    analysis control alarms events state history command persist ops audit auth adapters
    CACHE INTERNAL "src/ directories that may not see the simulator")

# The equalis_* libraries `target` links, transitively, as "a -> b -> c" paths from it.
function(_equalis_link_paths target path out)
  get_target_property(libs ${target} LINK_LIBRARIES)
  set(found "")
  if(libs)
    foreach(lib IN LISTS libs)
      if(NOT TARGET ${lib})
        continue()
      endif()
      get_target_property(real ${lib} ALIASED_TARGET)
      if(NOT real)
        set(real ${lib})
      endif()
      if(NOT real MATCHES "^equalis_")
        continue()
      endif()
      list(APPEND found "${path} -> ${real}")
      _equalis_link_paths(${real} "${path} -> ${real}" deeper)
      list(APPEND found ${deeper})
    endforeach()
  endif()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

# Call once every library is defined (end of src/CMakeLists.txt).
function(equalis_truth_firewall)
  set(guarded_targets "")
  foreach(dir IN LISTS EQUALIS_TRUTH_GUARDED)
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/src/${dir}/CMakeLists.txt)
      continue()
    endif()
    set(dirs "${PROJECT_SOURCE_DIR}/src/${dir}")
    if(dir STREQUAL "adapters")
      get_property(sub DIRECTORY ${PROJECT_SOURCE_DIR}/src/adapters PROPERTY SUBDIRECTORIES)
      list(APPEND dirs ${sub})
    endif()
    foreach(d IN LISTS dirs)
      get_property(targets DIRECTORY ${d} PROPERTY BUILDSYSTEM_TARGETS)
      foreach(t IN LISTS targets)
        if(t MATCHES "^equalis_")
          list(APPEND guarded_targets ${t})
        endif()
      endforeach()
    endforeach()
  endforeach()
  foreach(t IN LISTS guarded_targets)
    _equalis_link_paths(${t} ${t} paths)
    foreach(p IN LISTS paths)
      if(p MATCHES "-> equalis_sim$")
        message(FATAL_ERROR
          "truth firewall: ${p}: this library analyses, controls, alarms or serves the plant and "
          "may not link the simulator (docs/simulator.md, \"Truth firewall\")")
      endif()
    endforeach()
  endforeach()
  add_custom_target(equalis_truth_firewall ALL
    COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR}/src
            "-DDIRS=${EQUALIS_TRUTH_GUARDED}" -P ${PROJECT_SOURCE_DIR}/cmake/check_truth_firewall.cmake
    COMMENT "Truth firewall: no simulator header in ${EQUALIS_TRUTH_GUARDED}"
    VERBATIM)
  foreach(t IN LISTS guarded_targets)
    add_dependencies(${t} equalis_truth_firewall)
  endforeach()
endfunction()

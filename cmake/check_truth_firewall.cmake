# cmake -DROOT=<src dir> -DDIRS="analysis;control;…" -P check_truth_firewall.cmake
# Fails (and names file and line) when a source under ROOT/<dir> includes a header of src/sim.
# See cmake/TruthFirewall.cmake.
if(NOT ROOT OR NOT DIRS)
  message(FATAL_ERROR "check_truth_firewall.cmake: set ROOT and DIRS")
endif()
set(found "")
foreach(dir IN LISTS DIRS)
  file(GLOB_RECURSE files "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.hpp" "${ROOT}/${dir}/*.h")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](\\.\\./)*sim/")
    foreach(line IN LISTS lines)
      file(RELATIVE_PATH rel "${ROOT}" "${f}")
      string(STRIP "${line}" line)
      list(APPEND found "  ${rel}: ${line}")
    endforeach()
  endforeach()
endforeach()
if(found)
  list(JOIN found "\n" text)
  message(FATAL_ERROR
    "truth firewall: analysis, control, alarm and serving code may not include the simulator "
    "(docs/simulator.md, \"Truth firewall\"):\n${text}")
endif()

# The runner: workloads, nemesis schedule, report (see run.c).
pkg_check_modules(JHIREDIS REQUIRED IMPORTED_TARGET hiredis)
add_executable(keel-jepsen-run run.c client.c schedule.c member.c clock.c report.c)
target_include_directories(keel-jepsen-run PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(keel-jepsen-run PRIVATE keel_jepsen_check keel_jepsen_net PkgConfig::JHIREDIS
                      Threads::Threads)

# CI smoke run (needs root for network namespaces): Keel must pass a short
# run under several nemeses, and the checker must catch the unsafe read mode.
add_test(NAME jepsen_smoke COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/smoke.sh
         $<TARGET_FILE:keel-jepsen-run> $<TARGET_FILE:keeld> ${CMAKE_CURRENT_BINARY_DIR}/smoke)
set_tests_properties(jepsen_smoke PROPERTIES LABELS jepsen TIMEOUT 900)

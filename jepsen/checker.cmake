# jepsen/checker.cmake: the history format and the checkers (keel_jepsen_check),
# the keel-jepsen-check CLI, and their unit test. Included from
# jepsen/CMakeLists.txt, which has found jansson (PkgConfig::JANSSON).
add_library(keel_jepsen_check STATIC
  ${CMAKE_CURRENT_LIST_DIR}/history.c
  ${CMAKE_CURRENT_LIST_DIR}/history_value.c
  ${CMAKE_CURRENT_LIST_DIR}/history_jsonl.c
  ${CMAKE_CURRENT_LIST_DIR}/history_edn.c
  ${CMAKE_CURRENT_LIST_DIR}/history_pairs.c
  ${CMAKE_CURRENT_LIST_DIR}/lin.c
  ${CMAKE_CURRENT_LIST_DIR}/lin_model.c
  ${CMAKE_CURRENT_LIST_DIR}/lin_search.c
  ${CMAKE_CURRENT_LIST_DIR}/lin_report.c
  ${CMAKE_CURRENT_LIST_DIR}/check_keys.c
  ${CMAKE_CURRENT_LIST_DIR}/check_set.c
  ${CMAKE_CURRENT_LIST_DIR}/check_counter.c
  ${CMAKE_CURRENT_LIST_DIR}/check_session.c
  ${CMAKE_CURRENT_LIST_DIR}/check_result.c)
# Headers are included as "jepsen/history.h", "keel/error.h".
target_include_directories(keel_jepsen_check PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(keel_jepsen_check PUBLIC PkgConfig::JANSSON)

add_executable(keel-jepsen-check ${CMAKE_CURRENT_LIST_DIR}/check_main.c)
target_link_libraries(keel-jepsen-check PRIVATE keel_jepsen_check)

# keel_test() (tests/CMakeLists.txt) resolves SOURCES against
# CMAKE_CURRENT_SOURCE_DIR, which is jepsen/ here since this file is include()d.
keel_test(test_jepsen_checker SOURCES tests/test_checker.c LIBS keel_jepsen_check LABELS unit)

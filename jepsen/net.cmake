# Hosts (network namespaces on a bridge, or loopback) and network nemeses
# (nft partitions and loss, a delaying relay for latency). See net.h, nemesis.h.
add_library(keel_jepsen_net STATIC net.c net_cleanup.c net_spawn.c nemesis.c relay.c relay_loop.c)
target_include_directories(keel_jepsen_net PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(keel_jepsen_net PUBLIC Threads::Threads)

# Needs root for the namespaces; skips (with the reason) otherwise.
keel_test(test_jepsen_net SOURCES tests/test_net.c LIBS keel_jepsen_net LABELS jepsen TIMEOUT 300)
set_tests_properties(test_jepsen_net PROPERTIES SKIP_RETURN_CODE 77)

# The relay as a process, for simulated zones (examples/local-cluster.sh --zones).
add_executable(keel-relay relay_main.c)
target_link_libraries(keel-relay PRIVATE keel_jepsen_net)

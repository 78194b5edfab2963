# Job launch (privilege drop, spool, stdio), process tracking (cgroups or
# sessions), confinement (memory and cpuset cgroups), binding (hwloc) and the
# job's environment.
add_library(pacernoded_launch STATIC launch.c track.c proc.c cgroup.c confine.c bind.c jobenv.c jobend.c)
target_include_directories(pacernoded_launch PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(pacernoded_launch PUBLIC pacer_fileio pacer_log pacer_strfmt pacer_topo pacer_proto
                      PkgConfig::HWLOC)
pacer_unit_test(launch_test launch_test.c LIBS pacernoded_launch)

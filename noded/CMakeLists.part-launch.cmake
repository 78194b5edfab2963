# Job launch (privilege drop, spool, stdio) and process tracking (cgroups or sessions).
add_library(pacernoded_launch STATIC launch.c track.c proc.c)
target_include_directories(pacernoded_launch PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(pacernoded_launch PUBLIC pacer_log pacer_strfmt)
pacer_unit_test(launch_test launch_test.c LIBS pacernoded_launch)

/* ctld_setup.h - the controller's globals, set up as pacerctld's main does,
 * for the targets that drive ctld code in-process (frame, journal).
 *
 * The cluster (pacer.conf written to the target's folder) is small and
 * fixed: node1-node3 and gpu1 (2 GPUs from pacer.conf), partitions batch
 * (the default, every node) and gpu (gpu1, at most a day, root only);
 * every node is UP with a known "pack:2 numa:2 core:2 pu:2" topology, so
 * submits are checked against real layouts and replayed allocations are
 * charged on them.
 */
#ifndef PACER_FUZZ_CTLD_SETUP_H
#define PACER_FUZZ_CTLD_SETUP_H

/* Load the configuration into ctld (once; later calls do nothing). */
void fuzz_ctld_init(void);

/* The state directory of that configuration (it may not exist). */
const char *fuzz_ctld_state_dir(void);

/* The node table, with every node UP on its topology (node_table_init and
 * node_bring_up); and its end (node_table_destroy). */
void fuzz_ctld_nodes_up(void);
void fuzz_ctld_nodes_down(void);

#endif

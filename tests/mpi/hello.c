/* hello - every rank prints one line: its rank, the world size, its host
 * and the CPUs it may run on:
 *   hello rank=3 size=8 host=node1 cpus=0-3
 */
#include <mpi.h>
#include <sched.h>
#include <stdio.h>

static void cpu_list(char *buf, size_t len)
{
	cpu_set_t set;
	size_t used = 0;
	int first = -1;

	buf[0] = '\0';
	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	for (int c = 0; c <= CPU_SETSIZE; c++) {
		int in = c < CPU_SETSIZE && CPU_ISSET(c, &set);

		if (in && first < 0) {
			first = c;
		} else if (!in && first >= 0) {
			int n = c - 1 == first ? snprintf(buf + used, len - used, "%s%d",
							  used ? "," : "", first)
					       : snprintf(buf + used, len - used, "%s%d-%d",
							  used ? "," : "", first, c - 1);
			if (n < 0 || (size_t)n >= len - used) {
				return;
			}
			used += (size_t)n;
			first = -1;
		}
	}
}

int main(int argc, char **argv)
{
	char host[MPI_MAX_PROCESSOR_NAME], cpus[1024];
	int rank, size, len;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(host, &len);
	cpu_list(cpus, sizeof(cpus));
	printf("hello rank=%d size=%d host=%s cpus=%s\n", rank, size, host, cpus);
	fflush(stdout);
	MPI_Finalize();
	return 0;
}

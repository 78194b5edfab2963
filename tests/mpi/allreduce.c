/* allreduce - every rank contributes rank + 1 to an MPI_SUM allreduce and
 * prints what it got (size * (size + 1) / 2 when all is well):
 *   allreduce rank=3 size=8 sum=36
 */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	long mine, sum = 0;
	int rank, size;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	mine = rank + 1;
	MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	printf("allreduce rank=%d size=%d sum=%ld\n", rank, size, sum);
	fflush(stdout);
	MPI_Finalize();
	return 0;
}

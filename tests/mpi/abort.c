/* abort - every rank prints "abort rank=R size=S", then, once all have,
 * rank 1 calls MPI_Abort(MPI_COMM_WORLD, 3); the other ranks wait in a
 * barrier rank 1 never reaches, until the launcher kills them.
 */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int rank, size;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	printf("abort rank=%d size=%d\n", rank, size);
	fflush(stdout);
	/* every rank has printed before rank 1 aborts */
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == 1) {
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}

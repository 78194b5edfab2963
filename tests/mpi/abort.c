/* abort - rank 1 calls MPI_Abort(MPI_COMM_WORLD, 3) after MPI_Init; the
 * other ranks wait in a barrier rank 1 never reaches, until the launcher
 * kills them.  Each rank prints "abort rank=R size=S" first.
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
	if (rank == 1) {
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}

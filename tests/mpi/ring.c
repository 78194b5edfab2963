/* ring - a token goes from rank 0 around every rank and back; each rank
 * adds its rank to it.  Every rank prints what it received, rank 0 the
 * token that came back (the sum of all ranks):
 *   ring rank=2 size=8 got=1
 *   ring rank=0 size=8 back=28
 */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	long token = 0;
	int rank, size;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size == 1) {
		printf("ring rank=0 size=1 back=0\n");
	} else if (rank == 0) {
		MPI_Send(&token, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD);
		MPI_Recv(&token, 1, MPI_LONG, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		printf("ring rank=0 size=%d back=%ld\n", size, token);
	} else {
		MPI_Recv(&token, 1, MPI_LONG, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		printf("ring rank=%d size=%d got=%ld\n", rank, size, token);
		token += rank;
		MPI_Send(&token, 1, MPI_LONG, (rank + 1) % size, 0, MPI_COMM_WORLD);
	}
	fflush(stdout);
	MPI_Finalize();
	return 0;
}

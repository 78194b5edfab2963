/* pmixsrv_probe - a plain PMIx client for pmixsrv_test: puts a value, fences
 * without collecting data, then gets the value of the next rank, which a
 * PMIx server has to fetch from that rank's node (direct modex) when the
 * next rank runs elsewhere.  Prints:
 *   probe rank=2 size=8 peer=3 got=from-3
 */
#include <pmix.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, pmix_status_t st)
{
	fprintf(stderr, "pmixsrv_probe: %s: %s\n", what, PMIx_Error_string(st));
	return 1;
}

int main(void)
{
	pmix_proc_t me, wild, peer;
	pmix_value_t v, *got = NULL;
	pmix_info_t info;
	pmix_status_t st;
	uint32_t size;
	bool no = false;
	char mine[32];

	st = PMIx_Init(&me, NULL, 0);
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Init", st);
	}
	PMIX_PROC_LOAD(&wild, me.nspace, PMIX_RANK_WILDCARD);
	st = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &got);
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Get job size", st);
	}
	size = got->data.uint32;
	PMIX_VALUE_RELEASE(got);

	snprintf(mine, sizeof(mine), "from-%u", me.rank);
	PMIX_VALUE_LOAD(&v, mine, PMIX_STRING);
	st = PMIx_Put(PMIX_GLOBAL, "pacer.probe", &v);
	PMIX_VALUE_DESTRUCT(&v);
	if (st == PMIX_SUCCESS) {
		st = PMIx_Commit();
	}
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Put/Commit", st);
	}
	/* everyone committed, but no data travels with the fence */
	PMIX_INFO_LOAD(&info, PMIX_COLLECT_DATA, &no, PMIX_BOOL);
	st = PMIx_Fence(&wild, 1, &info, 1);
	PMIX_INFO_DESTRUCT(&info);
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Fence", st);
	}
	PMIX_PROC_LOAD(&peer, me.nspace, (me.rank + 1) % size);
	st = PMIx_Get(&peer, "pacer.probe", NULL, 0, &got);
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Get of the peer's value", st);
	}
	printf("probe rank=%u size=%u peer=%u got=%s\n", me.rank, size, peer.rank,
	       got->type == PMIX_STRING ? got->data.string : "?");
	fflush(stdout);
	PMIX_VALUE_RELEASE(got);
	/* nobody leaves while a peer may still ask for its value */
	st = PMIx_Fence(&wild, 1, NULL, 0);
	if (st != PMIX_SUCCESS) {
		return fail("PMIx_Fence at the end", st);
	}
	st = PMIx_Finalize(NULL, 0);
	return st == PMIX_SUCCESS ? 0 : fail("PMIx_Finalize", st);
}

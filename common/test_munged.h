/* test_munged.h - a private munged for unit tests: its own key, socket and
 * folder, so tests never depend on (or disturb) a system munged. */
#ifndef PACER_TEST_MUNGED_H
#define PACER_TEST_MUNGED_H

#include <stdbool.h>

struct test_munged {
	char dir[256];  /* a fresh folder the test may use too */
	char sock[300]; /* the socket to give auth_create() */
	bool up;        /* false when munged is not installed: tests skip */
};

/* Make a folder "pacer-NAME-XXXXXX" under $TMPDIR (or /tmp) and start munged
 * in it.  0 (check M->up), or -1 when the folder cannot be made. */
int test_munged_start(struct test_munged *m, const char *name);

/* Stop munged, wait until it is gone, remove the folder.  0 or -1. */
int test_munged_stop(struct test_munged *m);

#endif

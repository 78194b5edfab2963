/* replay_main.c - run saved inputs through a fuzz target, without libFuzzer.
 *
 *   fuzz_NAME [--known-failing LIST] FILE|DIR...
 *
 * Every FILE, and every regular file in each DIR (sorted, so runs are
 * alike), goes through LLVMFuzzerTestOneInput once; a crash or a broken
 * invariant aborts, which fails the test.  LIST names inputs (one file
 * name a line, '#' starts a comment) that still break Pacer: they are
 * skipped, each with a line saying so, until their fix is merged and the
 * line removed.  This is how ctest replays the seed corpora and the
 * reproducers in gcc builds.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

struct names {
	char **v;
	size_t n;
};

static void names_add(struct names *l, const char *s, size_t len)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v || !(v[l->n] = strndup(s, len))) {
		perror("fuzz replay");
		exit(2);
	}
	l->v = v;
	l->n++;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* The known-failing list: the first word of each line. */
static void load_skips(const char *path, struct names *skip)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	if (!f) {
		fprintf(stderr, "fuzz replay: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		size_t len = strcspn(p, " \t\r\n#");
		if (len)
			names_add(skip, p, len);
	}
	fclose(f);
}

static const char *skipped(const struct names *skip, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < skip->n; i++)
		if (strcmp(skip->v[i], base) == 0)
			return skip->v[i];
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	if (!f) {
		fprintf(stderr, "fuzz replay: cannot read %s: %s\n", path, strerror(errno));
		exit(2);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				perror("fuzz replay");
				exit(2);
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "fuzz replay: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	fprintf(stderr, "running %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so ASan sees reads past the end of the input. */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		perror("fuzz replay");
		exit(2);
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
}

/* The inputs named by ARG: itself, or the regular files of a folder. */
static void collect(const char *arg, struct names *out)
{
	struct stat st;
	if (stat(arg, &st) < 0) {
		fprintf(stderr, "fuzz replay: %s: %s\n", arg, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		names_add(out, arg, strlen(arg));
		return;
	}
	DIR *d = opendir(arg);
	struct dirent *e;
	size_t first = out->n;
	if (!d) {
		fprintf(stderr, "fuzz replay: %s: %s\n", arg, strerror(errno));
		exit(2);
	}
	while ((e = readdir(d))) {
		char path[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", arg, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			names_add(out, path, strlen(path));
	}
	closedir(d);
	qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
}

int main(int argc, char **argv)
{
	struct names skip = { 0 }, inputs = { 0 };
	size_t nskipped = 0;
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "--known-failing") == 0) {
		load_skips(argv[i + 1], &skip);
		i += 2;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [--known-failing LIST] FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++)
		collect(argv[i], &inputs);
	for (size_t k = 0; k < inputs.n; k++) {
		if (skipped(&skip, inputs.v[k])) {
			printf(
			    "SKIP %s: known to fail until its fix is merged (tests/fuzz/known-failing)\n",
			    inputs.v[k]);
			nskipped++;
			continue;
		}
		run_file(inputs.v[k]);
	}
	printf("%zu inputs replayed clean, %zu known-failing skipped\n", inputs.n - nskipped,
	       nskipped);
	names_free(&skip);
	names_free(&inputs);
	return 0;
}

/* journal.c - snapshots plus an append-only journal, group-committed by a
 * writer thread (see journal.h for the file layout and the rules). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SNAP_MAGIC    "PACERS1\n"
#define JOURNAL_MAGIC "PACERJ1\n"
#define MAGIC_LEN     8
#define FRAME_LEN     8 /* u32 length | u32 CRC-32C */
#define GEN_DIGITS    16
#define NAME_LEN      64
/* A pending buffer this large is freed after its batch instead of kept
 * for reuse, so one burst does not pin memory for the daemon's life. */
#define BUF_KEEP_MAX (64u << 20)

enum kind { KIND_SNAPSHOT, KIND_JOURNAL, KIND_TMP };

struct jbuf {
	uint8_t *data;
	size_t len, cap;
};

/* A queued journal_rotate: the records appended before it, then the new
 * generation's snapshot. */
struct rotation {
	struct jbuf recs;
	uint64_t last; /* ticket of the last record in recs */
	uint64_t gen;
	void *snap;
	size_t snap_len;
	struct rotation *next;
};

struct gens {
	uint64_t *v;
	size_t n, cap;
};

/* The generation files found in the state directory, each list ascending. */
struct listing {
	struct gens snap, journal, tmp;
};

struct journal {
	char *dir;
	int dirfd;
	int notify_fd;
	uint64_t gen; /* loop's view: where new records go */
	bool started;
	uint64_t dropped;   /* bytes of records recovery could not use */
	uint64_t set_aside; /* records the caller set aside at recovery */
	pthread_t thread;

	/* Owned by the writer thread once started. */
	int jfd;
	uint64_t wgen;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* Protected by mu. */
	struct jbuf pending; /* records since the last rotation, CRCs unset */
	struct rotation *rot_head, **rot_link;
	uint64_t appended;
	uint64_t durable;
	int error; /* errno of the first write/sync failure */
	bool idle; /* writer waits on cond */
	bool stop;
};

/* ---- CRC-32C, slicing by 8 ---------------------------------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ get_le32(p);
		uint32_t hi = get_le32(p + 4);

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- names and directory listing ---------------------------------------- */

static void gen_name(char *buf, size_t size, enum kind kind, uint64_t gen)
{
	snprintf(buf, size, "%s.%0*" PRIu64 "%s", kind == KIND_JOURNAL ? "journal" : "snapshot",
		 GEN_DIGITS, gen, kind == KIND_TMP ? ".tmp" : "");
}

/* Only names exactly as gen_name writes them count, so "journal.7" or a
 * ".damaged" copy can never be mistaken for a generation. */
static int parse_name(const char *name, enum kind *kind, uint64_t *gen)
{
	static const struct {
		const char *prefix;
		enum kind kind;
	} forms[] = { { "snapshot.", KIND_SNAPSHOT }, { "journal.", KIND_JOURNAL } };
	char canon[NAME_LEN];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		size_t plen = strlen(forms[i].prefix);
		char *end;

		if (strncmp(name, forms[i].prefix, plen) != 0)
			continue;
		const char *p = name + plen;
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno)
			return -1;
		enum kind k = forms[i].kind;
		if (k == KIND_SNAPSHOT && strcmp(end, ".tmp") == 0)
			k = KIND_TMP;
		gen_name(canon, sizeof(canon), k, v);
		if (strcmp(canon, name) != 0)
			return -1;
		*kind = k;
		*gen = v;
		return 0;
	}
	return -1;
}

static int gens_add(struct gens *g, uint64_t gen)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		uint64_t *v = realloc(g->v, cap * sizeof(*v));
		if (!v)
			return -1;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = gen;
	return 0;
}

static int gen_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void gens_sort(struct gens *g)
{
	if (g->n > 1)
		qsort(g->v, g->n, sizeof(*g->v), gen_cmp);
}

static void listing_free(struct listing *ls)
{
	free(ls->snap.v);
	free(ls->journal.v);
	free(ls->tmp.v);
	memset(ls, 0, sizeof(*ls));
}

static uint64_t listing_max(const struct listing *ls)
{
	const struct gens *all[] = { &ls->snap, &ls->journal, &ls->tmp };
	uint64_t max = 0;

	for (size_t i = 0; i < 3; i++)
		if (all[i]->n && all[i]->v[all[i]->n - 1] > max)
			max = all[i]->v[all[i]->n - 1];
	return max;
}

static int scan_dir(int dirfd, struct listing *ls)
{
	DIR *d = NULL;
	struct dirent *de;
	int fd, saved;

	memset(ls, 0, sizeof(*ls));
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct gens *list[] = { &ls->snap, &ls->journal, &ls->tmp };
		enum kind kind;
		uint64_t gen;

		if (parse_name(de->d_name, &kind, &gen) < 0)
			continue;
		if (gens_add(list[kind], gen) < 0)
			goto failed;
	}
	if (errno)
		goto failed;
	closedir(d);
	gens_sort(&ls->snap);
	gens_sort(&ls->journal);
	gens_sort(&ls->tmp);
	return 0;
failed:
	saved = errno;
	closedir(d);
	listing_free(ls);
	errno = saved;
	return -1;
}

/* ---- file helpers -------------------------------------------------------- */

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new directory is durable only once its parent's entry for it is. */
static int sync_parent(const char *dir)
{
	char *copy = strdup(dir);
	int fd = -1, saved;

	if (!copy)
		return -1;
	char *slash = strrchr(copy, '/');
	if (!slash)
		strcpy(copy, ".");
	else if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		goto failed;
	close(fd);
	free(copy);
	return 0;
failed:
	saved = errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	errno = saved;
	return -1;
}

static int open_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0) {
		if (sync_parent(dir) < 0)
			return -1;
	} else if (errno != EEXIST) {
		return -1;
	}
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Map NAME read-only; an empty file gives *MAP == NULL. */
static int map_file(int dirfd, const char *name, const uint8_t **map, size_t *size)
{
	struct stat st;
	int fd, saved;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto failed;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto failed;
	}
	*map = NULL;
	*size = (size_t)st.st_size;
	if (*size > 0) {
		void *m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			goto failed;
		*map = m;
	}
	close(fd);
	return 0;
failed:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void unmap_file(const uint8_t *map, size_t size)
{
	if (map)
		munmap((void *)map, size);
}

/* Keep a copy of a file recovery could not fully read: journal_start
 * removes the original with its generation. */
static int save_damaged(struct journal *j, const char *name, const uint8_t *map, size_t size)
{
	char dst[NAME_LEN + 16];
	int fd, saved;

	snprintf(dst, sizeof(dst), "%s.damaged", name);
	fd = openat(j->dirfd, dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto failed;
	if (write_full(fd, map, size) < 0 || fsync(fd) < 0)
		goto failed;
	close(fd);
	fd = -1;
	if (fsync(j->dirfd) < 0)
		goto failed;
	return 0;
failed:
	saved = errno;
	log_err("journal: %s/%s: cannot keep a copy of a damaged file: %s", j->dir, dst,
		strerror(saved));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

/* ---- recovery ------------------------------------------------------------ */

enum stop { STOP_END, STOP_TORN, STOP_CORRUPT, STOP_ABORT };

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* Walk the records of a journal body from *OFF, handing each to FN (at
 * POS, whose offset is set here); *ASIDE counts those FN set aside. */
static enum stop walk_records(const uint8_t *m, size_t size, size_t *off, journal_load_fn fn,
			      void *arg, struct journal_pos *pos, uint64_t *count, uint64_t *aside,
			      const char **why)
{
	while (*off < size) {
		size_t left = size - *off;
		const uint8_t *p = m + *off;

		if (left < FRAME_LEN) {
			*why = "record header cut short";
			return STOP_TORN;
		}
		uint32_t len = get_le32(p);
		if (len == 0 || len > JOURNAL_RECORD_MAX) {
			/* A tail the file system extended but never wrote
			 * reads as zeros: an unsynced write, not damage. */
			*why = "bad record length";
			return all_zero(p, left) ? STOP_TORN : STOP_CORRUPT;
		}
		if (len > left - FRAME_LEN) {
			*why = "record cut short";
			return STOP_TORN;
		}
		if (crc32c(0, p + FRAME_LEN, len) != get_le32(p + 4)) {
			*why = "CRC mismatch";
			return STOP_CORRUPT;
		}
		pos->offset = *off;
		int rc = fn ? fn(p + FRAME_LEN, len, pos, arg) : 0;
		if (rc < 0)
			return STOP_ABORT;
		if (rc == JOURNAL_SET_ASIDE)
			(*aside)++;
		else
			(*count)++;
		*off += FRAME_LEN + len;
	}
	return STOP_END;
}

static int replay_journal(struct journal *j, uint64_t gen, journal_load_fn fn, void *arg,
			  uint64_t *count)
{
	char name[NAME_LEN], *path = NULL;
	const uint8_t *m;
	size_t size, off = 0;
	const char *why = NULL;
	uint64_t aside = 0;
	enum stop st;
	int saved;

	gen_name(name, sizeof(name), KIND_JOURNAL, gen);
	if (asprintf(&path, "%s/%s", j->dir, name) < 0)
		return -1;
	struct journal_pos pos = { .file = path };
	if (map_file(j->dirfd, name, &m, &size) < 0) {
		saved = errno;
		log_err("journal: %s: %s", path, strerror(saved));
		free(path);
		errno = saved;
		return -1;
	}
	if (size == 0) {
		st = STOP_END;
	} else if (size < MAGIC_LEN) {
		/* Created but the magic never synced: nothing was ever acknowledged. */
		st = memcmp(m, JOURNAL_MAGIC, size) == 0 ? STOP_END : STOP_CORRUPT;
		why = "bad magic";
	} else if (memcmp(m, JOURNAL_MAGIC, MAGIC_LEN) != 0) {
		st = STOP_CORRUPT;
		why = "bad magic";
	} else {
		off = MAGIC_LEN;
		st = walk_records(m, size, &off, fn, arg, &pos, count, &aside, &why);
	}
	if (st == STOP_ABORT) {
		saved = errno ? errno : ECANCELED;
		goto failed;
	}
	j->set_aside += aside;
	if (st != STOP_END) {
		j->dropped += size - off;
		log_warn("journal: %s: %s at offset %zu: dropping %zu bytes%s", path, why, off,
			 size - off, st == STOP_CORRUPT ? " (file kept as .damaged)" : "");
	}
	if (aside)
		log_warn("journal: %s: %" PRIu64 " record%s set aside (file kept as .damaged)",
			 path, aside, aside == 1 ? "" : "s");
	if ((st == STOP_CORRUPT || aside) && save_damaged(j, name, m, size) < 0) {
		saved = errno;
		goto failed;
	}
	unmap_file(m, size);
	free(path);
	return 0;
failed:
	unmap_file(m, size);
	free(path);
	errno = saved;
	return -1;
}

/* 1 if snapshot GEN checked and was handed to FN, 0 if it is bad (logged
 * and kept as .damaged), -1 on error. */
static int load_snapshot(struct journal *j, uint64_t gen, journal_load_fn fn, void *arg)
{
	char name[NAME_LEN];
	const uint8_t *m;
	size_t size;
	const char *why = NULL;
	int rc = 1, saved;

	gen_name(name, sizeof(name), KIND_SNAPSHOT, gen);
	if (map_file(j->dirfd, name, &m, &size) < 0) {
		saved = errno;
		log_err("journal: %s/%s: %s", j->dir, name, strerror(saved));
		errno = saved;
		return -1;
	}
	uint32_t len = size >= MAGIC_LEN + FRAME_LEN ? get_le32(m + MAGIC_LEN) : 0;
	if (size < MAGIC_LEN + FRAME_LEN || memcmp(m, SNAP_MAGIC, MAGIC_LEN) != 0)
		why = "bad header";
	else if (len > JOURNAL_RECORD_MAX || size != (size_t)MAGIC_LEN + FRAME_LEN + len)
		why = "length does not match the file size";
	else if (crc32c(0, m + MAGIC_LEN + FRAME_LEN, len) != get_le32(m + MAGIC_LEN + 4))
		why = "CRC mismatch";
	if (why) {
		log_warn("journal: %s/%s: %s, snapshot ignored (file kept as .damaged)", j->dir,
			 name, why);
		rc = save_damaged(j, name, m, size) < 0 ? -1 : 0;
	} else if (fn) {
		char *path = NULL;
		if (asprintf(&path, "%s/%s", j->dir, name) < 0) {
			rc = -1;
		} else {
			struct journal_pos pos = { .file = path, .offset = MAGIC_LEN };
			errno = 0;
			/* Only a record may be set aside: anything else aborts. */
			if (fn(m + MAGIC_LEN + FRAME_LEN, len, &pos, arg) != 0) {
				if (!errno)
					errno = ECANCELED;
				rc = -1;
			}
			free(path);
		}
	}
	saved = errno;
	unmap_file(m, size);
	errno = saved;
	return rc;
}

/* Index into LS->snap of the newest snapshot that checks (handed to FN), -1
 * with errno EBADMSG if snapshots exist but none checks, or -1 on error; *I
 * is LS->snap.n when there is no snapshot at all. */
static int pick_snapshot(struct journal *j, const struct listing *ls, journal_load_fn fn, void *arg,
			 size_t *i)
{
	for (*i = ls->snap.n; (*i)-- > 0;) {
		int rc = load_snapshot(j, ls->snap.v[*i], fn, arg);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return 0;
	}
	*i = ls->snap.n;
	if (ls->snap.n == 0)
		return 0;
	/* The journals alone would rebuild a state with everything the
	 * snapshot held silently missing: an admin must decide. */
	log_err("journal: %s: no snapshot is readable; move the snapshot.* files away to "
		"rebuild the state from the journals alone",
		j->dir);
	errno = EBADMSG;
	return -1;
}

static int recover(struct journal *j, const struct listing *ls, journal_load_fn on_snapshot,
		   journal_load_fn on_record, void *arg)
{
	uint64_t base = 0, records = 0;
	size_t snap, journals = 0;

	if (pick_snapshot(j, ls, on_snapshot, arg, &snap) < 0)
		return -1;
	if (snap < ls->snap.n)
		base = ls->snap.v[snap];
	if (snap + 1 < ls->snap.n)
		log_warn("journal: %s: fell back to snapshot generation %" PRIu64, j->dir, base);
	for (size_t i = 0; i < ls->journal.n; i++) {
		if (ls->journal.v[i] < base)
			continue;
		if (replay_journal(j, ls->journal.v[i], on_record, arg, &records) < 0)
			return -1;
		journals++;
	}
	if (snap < ls->snap.n)
		log_info("journal: %s: loaded snapshot %" PRIu64 " and %" PRIu64
			 " records from %zu journal files",
			 j->dir, base, records, journals);
	else if (journals > 0)
		log_warn("journal: %s: no snapshot, state rebuilt from %" PRIu64
			 " records in %zu journal files",
			 j->dir, records, journals);
	return 0;
}

static void rotations_free(struct rotation *r)
{
	while (r) {
		struct rotation *next = r->next;
		free(r->recs.data);
		free(r->snap);
		free(r);
		r = next;
	}
}

static void journal_free(struct journal *j)
{
	if (j->jfd >= 0)
		close(j->jfd);
	if (j->notify_fd >= 0)
		close(j->notify_fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	rotations_free(j->rot_head);
	free(j->pending.data);
	free(j->dir);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static struct journal *journal_new(const char *dir)
{
	struct journal *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return NULL;
	rc = pthread_mutex_init(&j->mu, NULL);
	if (rc == 0 && (rc = pthread_cond_init(&j->cond, NULL)) != 0)
		pthread_mutex_destroy(&j->mu);
	if (rc != 0) {
		free(j);
		errno = rc;
		return NULL;
	}
	j->dirfd = j->notify_fd = j->jfd = -1;
	j->rot_link = &j->rot_head;
	j->dir = strdup(dir);
	if (!j->dir)
		goto failed;
	j->dirfd = open_dir(dir);
	if (j->dirfd < 0)
		goto failed;
	/* One owner per state directory: a second controller started by
	 * mistake would otherwise start a generation of its own and remove
	 * the journal the first one is still appending to.  The lock goes
	 * with the descriptor, so a killed owner never leaves it behind. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			log_err("journal: %s is in use by another process (is another "
				"pacerctld running on this state_dir?)",
				dir);
			errno = EBUSY;
		}
		goto failed;
	}
	j->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->notify_fd < 0)
		goto failed;
	return j;
failed:
	rc = errno;
	journal_free(j);
	errno = rc;
	return NULL;
}

int journal_open(const char *dir, journal_load_fn on_snapshot, journal_load_fn on_record, void *arg,
		 struct journal **jp)
{
	struct listing ls = { 0 };
	struct journal *j;
	int saved;

	j = journal_new(dir);
	if (!j) {
		saved = errno;
		log_err("journal: %s: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	if (scan_dir(j->dirfd, &ls) < 0) {
		log_err("journal: %s: cannot list: %s", dir, strerror(errno));
		goto failed;
	}
	if (recover(j, &ls, on_snapshot, on_record, arg) < 0)
		goto failed;
	j->gen = listing_max(&ls);
	listing_free(&ls);
	*jp = j;
	return 0;
failed:
	saved = errno;
	listing_free(&ls);
	journal_free(j);
	errno = saved;
	return -1;
}

/* ---- writing generations ------------------------------------------------- */

static int write_snapshot(struct journal *j, uint64_t gen, const void *snap, size_t len)
{
	uint8_t hdr[MAGIC_LEN + FRAME_LEN];
	char tmp[NAME_LEN], name[NAME_LEN];
	int fd, saved;

	gen_name(tmp, sizeof(tmp), KIND_TMP, gen);
	gen_name(name, sizeof(name), KIND_SNAPSHOT, gen);
	memcpy(hdr, SNAP_MAGIC, MAGIC_LEN);
	put_le32(hdr + MAGIC_LEN, (uint32_t)len);
	put_le32(hdr + MAGIC_LEN + 4, crc32c(0, snap, len));
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto failed;
	if (write_full(fd, hdr, sizeof(hdr)) < 0 || write_full(fd, snap, len) < 0 || fsync(fd) < 0)
		goto failed;
	if (close(fd) < 0) {
		fd = -1;
		goto failed;
	}
	fd = -1;
	if (renameat(j->dirfd, tmp, j->dirfd, name) < 0 || fsync(j->dirfd) < 0)
		goto failed;
	return 0;
failed:
	saved = errno;
	log_err("journal: %s/%s: cannot write snapshot: %s", j->dir, tmp, strerror(saved));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

/* Create journal GEN with its magic synced, so a record synced into it
 * later is never behind a header that could vanish. */
static int create_journal(struct journal *j, uint64_t gen)
{
	char name[NAME_LEN];
	int fd, saved;

	gen_name(name, sizeof(name), KIND_JOURNAL, gen);
	fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		goto failed;
	if (write_full(fd, JOURNAL_MAGIC, MAGIC_LEN) < 0 || fdatasync(fd) < 0 ||
	    fsync(j->dirfd) < 0)
		goto failed;
	return fd;
failed:
	saved = errno;
	log_err("journal: %s/%s: cannot create: %s", j->dir, name, strerror(saved));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

static void unlink_gens(struct journal *j, const struct gens *g, enum kind kind, uint64_t keep)
{
	char name[NAME_LEN];

	for (size_t i = 0; i < g->n && g->v[i] < keep; i++) {
		gen_name(name, sizeof(name), kind, g->v[i]);
		if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
			log_warn("journal: %s/%s: cannot remove: %s", j->dir, name,
				 strerror(errno));
	}
}

/* Remove every generation older than KEEP.  Snapshots go first, so a crash
 * halfway never leaves an old snapshot without the journal that follows it.
 * Failures only waste space, so they are logged and otherwise ignored. */
static void remove_older(struct journal *j, uint64_t keep)
{
	struct listing ls;

	if (scan_dir(j->dirfd, &ls) < 0) {
		log_warn("journal: %s: cannot list to remove old files: %s", j->dir,
			 strerror(errno));
		return;
	}
	unlink_gens(j, &ls.tmp, KIND_TMP, keep);
	unlink_gens(j, &ls.snap, KIND_SNAPSHOT, keep);
	unlink_gens(j, &ls.journal, KIND_JOURNAL, keep);
	listing_free(&ls);
	if (fsync(j->dirfd) < 0)
		log_warn("journal: %s: fsync: %s", j->dir, strerror(errno));
}

/* ---- the writer thread --------------------------------------------------- */

static void poke(struct journal *j)
{
	uint64_t one = 1;
	ssize_t n = write(j->notify_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is already non-zero */
}

static void fail(struct journal *j, int err)
{
	pthread_mutex_lock(&j->mu);
	if (!j->error)
		j->error = err ? err : EIO;
	pthread_mutex_unlock(&j->mu);
	poke(j);
}

/* Fill in the CRCs here rather than in journal_append, to keep that work
 * off the event loop. */
static void seal(struct jbuf *b)
{
	for (size_t off = 0; off < b->len;) {
		uint8_t *p = b->data + off;
		uint32_t len = get_le32(p);

		put_le32(p + 4, crc32c(0, p + FRAME_LEN, len));
		off += FRAME_LEN + len;
	}
}

/* Write and sync B, then report every ticket up to LAST durable. */
static int commit(struct journal *j, struct jbuf *b, uint64_t last)
{
	bool advanced = false;

	if (b->len == 0)
		return 0;
	seal(b);
	if (write_full(j->jfd, b->data, b->len) < 0 || fdatasync(j->jfd) < 0) {
		int saved = errno;
		char name[NAME_LEN];

		gen_name(name, sizeof(name), KIND_JOURNAL, j->wgen);
		log_err("journal: %s/%s: cannot write: %s; nothing after ticket %" PRIu64
			" is durable",
			j->dir, name, strerror(saved), j->durable);
		fail(j, saved);
		return -1;
	}
	pthread_mutex_lock(&j->mu);
	if (last > j->durable) {
		j->durable = last;
		advanced = true;
	}
	pthread_mutex_unlock(&j->mu);
	if (advanced)
		poke(j);
	return 0;
}

static int rotate_now(struct journal *j, struct rotation *r)
{
	int fd;

	if (write_snapshot(j, r->gen, r->snap, r->snap_len) < 0)
		goto failed;
	fd = create_journal(j, r->gen);
	if (fd < 0)
		goto failed;
	close(j->jfd);
	j->jfd = fd;
	j->wgen = r->gen;
	remove_older(j, r->gen);
	return 0;
failed:
	fail(j, errno);
	return -1;
}

static void flush(struct journal *j, struct rotation *rots, struct jbuf *batch, uint64_t last)
{
	for (struct rotation *r = rots; r; r = r->next)
		if (commit(j, &r->recs, r->last) < 0 || rotate_now(j, r) < 0)
			return;
	commit(j, batch, last);
}

static bool has_work(const struct journal *j)
{
	return j->rot_head || j->pending.len > 0;
}

static void *writer_main(void *arg)
{
	struct journal *j = arg;
	struct jbuf batch = { 0 };

	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->stop && !has_work(j)) {
			j->idle = true;
			pthread_cond_wait(&j->cond, &j->mu);
		}
		j->idle = false;
		if (!has_work(j))
			break;
		/* Take everything queued; appends go on into the old buffer. */
		struct rotation *rots = j->rot_head;
		struct jbuf t = j->pending;
		uint64_t last = j->appended;
		bool failed = j->error != 0;

		j->rot_head = NULL;
		j->rot_link = &j->rot_head;
		j->pending = batch;
		batch = t;
		pthread_mutex_unlock(&j->mu);

		if (!failed)
			flush(j, rots, &batch, last);
		rotations_free(rots);
		batch.len = 0;
		if (batch.cap > BUF_KEEP_MAX) {
			free(batch.data);
			batch = (struct jbuf){ 0 };
		}
		pthread_mutex_lock(&j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	free(batch.data);
	return NULL;
}

/* ---- the loop's side ----------------------------------------------------- */

static int start_writer(struct journal *j)
{
	sigset_t all, old;
	int rc;

	/* The writer must never run the daemon's signal handlers or eat a
	 * signal meant for its signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, writer_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

int journal_start(struct journal *j, const void *snap, size_t len)
{
	uint64_t gen = j->gen + 1;
	int fd, saved;

	if (j->started) {
		errno = EINVAL;
		return -1;
	}
	if (len > JOURNAL_RECORD_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (write_snapshot(j, gen, snap, len) < 0)
		return -1;
	fd = create_journal(j, gen);
	if (fd < 0)
		return -1;
	remove_older(j, gen);
	j->jfd = fd;
	j->wgen = gen;
	j->gen = gen;
	if (start_writer(j) < 0) {
		saved = errno;
		log_err("journal: %s: cannot start the writer thread: %s", j->dir, strerror(saved));
		close(j->jfd);
		j->jfd = -1;
		errno = saved;
		return -1;
	}
	j->started = true;
	return 0;
}

static int jbuf_reserve(struct jbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;

	if (b->cap - b->len >= more)
		return 0;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static void wake_writer(struct journal *j)
{
	if (j->idle) {
		j->idle = false;
		pthread_cond_signal(&j->cond);
	}
}

uint64_t journal_append(struct journal *j, const void *rec, size_t len)
{
	uint64_t ticket = 0;

	if (!j->started || len == 0) {
		errno = EINVAL;
		return 0;
	}
	if (len > JOURNAL_RECORD_MAX) {
		errno = E2BIG;
		return 0;
	}
	pthread_mutex_lock(&j->mu);
	if (j->error) {
		errno = EIO;
	} else if (jbuf_reserve(&j->pending, FRAME_LEN + len) == 0) {
		uint8_t *p = j->pending.data + j->pending.len;

		put_le32(p, (uint32_t)len);
		put_le32(p + 4, 0);
		memcpy(p + FRAME_LEN, rec, len);
		j->pending.len += FRAME_LEN + len;
		ticket = ++j->appended;
		wake_writer(j);
	}
	pthread_mutex_unlock(&j->mu);
	return ticket;
}

int journal_rotate(struct journal *j, const void *snap, size_t len)
{
	struct rotation *r;

	if (!j->started) {
		errno = EINVAL;
		return -1;
	}
	if (len > JOURNAL_RECORD_MAX) {
		errno = E2BIG;
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->snap = malloc(len ? len : 1);
	if (!r->snap) {
		free(r);
		return -1;
	}
	if (len)
		memcpy(r->snap, snap, len);
	r->snap_len = len;

	pthread_mutex_lock(&j->mu);
	if (j->error) {
		pthread_mutex_unlock(&j->mu);
		rotations_free(r);
		errno = EIO;
		return -1;
	}
	r->recs = j->pending;
	j->pending = (struct jbuf){ 0 };
	r->last = j->appended;
	r->gen = ++j->gen;
	*j->rot_link = r;
	j->rot_link = &r->next;
	wake_writer(j);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

int journal_fd(const struct journal *j)
{
	return j->notify_fd;
}

uint64_t journal_durable(struct journal *j)
{
	uint64_t n;
	int err;

	/* Drain before reading, so an advance racing with us leaves the fd
	 * readable instead of being lost. */
	ssize_t r = read(j->notify_fd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&j->mu);
	err = j->error;
	n = j->durable;
	pthread_mutex_unlock(&j->mu);
	if (err) {
		errno = err;
		return UINT64_MAX;
	}
	return n;
}

uint64_t journal_appended(const struct journal *j)
{
	return j->appended;
}

uint64_t journal_generation(const struct journal *j)
{
	return j->gen;
}

int journal_close(struct journal *j)
{
	int err = 0;

	if (!j)
		return 0;
	if (j->started) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_signal(&j->cond);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->thread, NULL);
		err = j->error;
	}
	journal_free(j);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

uint64_t journal_dropped(const struct journal *j)
{
	return j->dropped;
}

uint64_t journal_set_aside(const struct journal *j)
{
	return j->set_aside;
}

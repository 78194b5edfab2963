/* journal.h - the controller's durable record: snapshots plus an append-only
 * journal, with group commit on a writer thread.
 *
 * A state directory holds generations:
 *     snapshot.<gen>   the whole state as of the start of journal.<gen>
 *     journal.<gen>    every record appended after that snapshot
 * Files start with an 8-byte magic ("PACERS1\n" / "PACERJ1\n"); each
 * snapshot body and each record is framed as
 *     u32 length (little-endian) | u32 CRC-32C of the payload | payload
 * Recovery loads the newest snapshot whose CRC checks, then replays every
 * journal of that generation and later, in order.  A record cut short or
 * failing its CRC ends the replay of its file: it was never acknowledged
 * (acknowledgements wait for durability), so it is dropped with a log line.
 * A file where that happened is kept as <name>.damaged for inspection, as is
 * one holding a record the caller set aside (JOURNAL_SET_ASIDE).
 *
 * The journal never interprets payloads: the controller stores packed
 * pacer.JournalRecord / pacer.Snapshot messages (proto/pacer.proto).
 *
 * Threads: journal_append, journal_rotate, journal_durable and
 * journal_close are called from one thread (the controller's event loop).
 * A private writer thread does every write(), fsync() and unlink(), so the
 * loop never waits for the disk; records appended while a sync is running
 * share the next one (group commit).
 */
#ifndef PACER_JOURNAL_H
#define PACER_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* Largest snapshot or record accepted, on write and on replay. */
#define JOURNAL_RECORD_MAX (1u << 30)

struct journal;

/* Where a buffer handed to a journal_load_fn lies, for the caller's
 * messages: FILE is "DIR/NAME", OFFSET the byte offset of its frame (the
 * length header) in that file. */
struct journal_pos {
	const char *file;
	uint64_t offset;
};

/* Called during journal_open: once with the snapshot found (if any), then
 * once per valid record, in order.  Return 0 to go on, -1 to abort the
 * open (journal_open then fails with the errno the callback set), or, for
 * a record only, JOURNAL_SET_ASIDE. */
typedef int (*journal_load_fn)(const uint8_t *buf, size_t len, const struct journal_pos *pos,
			       void *arg);

/* What an on_record callback returns for a record it cannot use and chose
 * to go past (it logs why): replay goes on with the next record, the file
 * is kept as <name>.damaged and the record counted (journal_set_aside). */
#define JOURNAL_SET_ASIDE 1

/* Recover the state in DIR (created 0700 if missing), locked for this
 * journal's life (flock).  0 with *JP set, or -1 with errno (EBUSY when
 * another process holds DIR, EBADMSG if snapshots exist but none checks).  ON_SNAPSHOT may be
 * called zero or one time, ON_RECORD zero or more times.  The journal is not
 * writable until journal_start. */
int journal_open(const char *dir, journal_load_fn on_snapshot, journal_load_fn on_record, void *arg,
		 struct journal **jp);

/* Begin a new generation with SNAP (the caller's whole state, copied) as
 * its snapshot, written and synced before this returns; then start the
 * writer thread.  Older generations are removed.  0 or -1 with errno. */
int journal_start(struct journal *j, const void *snap, size_t len);

/* Queue one record (copied).  Returns its ticket: 1, 2, 3... in append order,
 * or 0 with errno (EIO once the journal has failed, E2BIG past the limit,
 * EINVAL for an empty record, which replay could not tell from a zeroed tail,
 * or before journal_start).
 * The record is durable once journal_durable() reaches its ticket. */
uint64_t journal_append(struct journal *j, const void *rec, size_t len);

/* Queue a new generation: records appended before this call stay in the
 * current journal; SNAP (copied) must be the state after exactly those
 * records.  The writer writes it as the next snapshot, and only once that is
 * durable removes the older generation.  0 or -1 with errno. */
int journal_rotate(struct journal *j, const void *snap, size_t len);

/* A file descriptor that turns readable whenever durability advances (or
 * the journal fails); watch it with the event loop. */
int journal_fd(const struct journal *j);

/* Drain the notification and return the highest durable ticket.  Returns
 * (uint64_t)-1 with errno set if a write or sync failed: the state on disk
 * can no longer be trusted to match memory, the caller must stop. */
uint64_t journal_durable(struct journal *j);

/* The smallest a framed record can be on disk: its 8-byte header and at
 * least one byte (empty records are refused). */
#define JOURNAL_RECORD_MIN 9

/* Bytes journal_open had to drop (torn tails, damaged records and whatever
 * followed them).  Every record takes JOURNAL_RECORD_MIN bytes or more, so
 * at most dropped / JOURNAL_RECORD_MIN records were lost: enough for a
 * caller to skip any identifier they may have handed out. */
uint64_t journal_dropped(const struct journal *j);

/* Records the on_record callback set aside during journal_open. */
uint64_t journal_set_aside(const struct journal *j);

/* Records appended so far (the last ticket given). */
uint64_t journal_appended(const struct journal *j);

/* The current generation number. */
uint64_t journal_generation(const struct journal *j);

/* Write and sync everything queued, stop the writer, free J.  0, or -1 with
 * errno if the final writes failed. */
int journal_close(struct journal *j);

/* CRC-32C (Castagnoli) of BUF, continuing from CRC (start with 0). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif

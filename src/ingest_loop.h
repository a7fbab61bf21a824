/*
 * ingest_loop.h — the ingest thread of the console (and of a daemon): every
 * poll interval it reads the configured sources — spool directories and
 * tailed files — through the same ingest code as `sitrep ingest`, then
 * wakes the UI by writing one byte to a pipe.
 *
 * Only one process per database ingests: the loop holds the "ingest" lease
 * (renewed every pass, valid LEASE_MS), and another process takes over when
 * the holder stops renewing. The thread owns its own connection; nothing is
 * shared with the UI but the pipe and two atomic counters.
 */
#ifndef SITREP_INGEST_LOOP_H
#define SITREP_INGEST_LOOP_H

#include "conf.h"
#include "mask.h"

#define LEASE_MS 8000

struct ingest_loop;

struct ingest_loop_opts {
	const char *db_path;
	const struct conf *conf;          /* sources, batch, incident settings */
	const struct mask_rules *rules;
	int wake_fd;                      /* -1: none */
	const char *holder;               /* lease holder name; NULL: host:pid */
};

enum status ingest_loop_start(struct ingest_loop **out, const struct ingest_loop_opts *o,
			      char **err);
/* Ask the loop to run a pass now instead of at its next poll. */
void ingest_loop_kick(struct ingest_loop *l);
void ingest_loop_stop(struct ingest_loop **l);

/* For the status line: records ingested so far, whether this process holds
 * the lease, and the loop's last error (static buffer copy into out). */
uint64_t ingest_loop_records(const struct ingest_loop *l);
bool ingest_loop_leader(const struct ingest_loop *l);
/* Whether the loop has nothing left to do right now (for tests). */
bool ingest_loop_idle(const struct ingest_loop *l);

/* The lease, for anyone: try to take or renew `name` for `holder`. */
bool lease_acquire(struct store *st, const char *name, const char *holder, int64_t now,
		   int64_t ttl_ms);
void lease_release(struct store *st, const char *name, const char *holder);

#endif

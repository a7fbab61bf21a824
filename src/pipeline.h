/*
 * pipeline.h — what happens to one alert between its format adapter and the
 * store: mask its message, mine its template, and insert or update its row
 * and its cluster's.
 *
 * The work is cut in two halves so ingest can run them on two threads:
 *
 *   prepare (the reader)  masks, fingerprints and runs the template miner.
 *                         It never writes; the miner's loader reads stored
 *                         templates through its own connection.
 *   add (the writer)      owns the write connection: it persists the
 *                         miner's template events, maps the miner's ids to
 *                         cluster rows, and writes the alert. It runs inside
 *                         the caller's transaction and must be flushed
 *                         before each commit.
 *
 * Cluster ids are the store's. The miner hands out ids of its own for
 * clusters it creates (from MINER_FRESH_IDS up, so they can never collide
 * with a stored id, even when another process creates clusters meanwhile);
 * the writer maps them to rows when it inserts them. Restored templates carry
 * their row id.
 */
#ifndef SITREP_PIPELINE_H
#define SITREP_PIPELINE_H

#include "alert.h"
#include "mask.h"
#include "miner.h"
#include "store.h"

#define MINER_FRESH_IDS (UINT64_C(1) << 40)

/* A template event, copied out of the miner for the writer. */
struct pipeline_event {
	enum miner_event_kind kind;
	uint64_t id, merged_from, bucket;
	char *name, *service, *text, *kinds;
	size_t ntokens;
};

struct pipeline_prep {
	uint64_t cluster;     /* the miner's id */
	char *masked;
	size_t masked_len;
	char fp[17];
	char *labels;         /* the labels as compact JSON */
	struct pipeline_event *events; /* to persist before the alert */
	size_t nevents;
};

/* ---- the reader half ---- */

struct pipeline_reader;
/* The loader reads stored templates through `ro` (NULL: none are loaded).
 * barrier, when set, is called before a load that must see the writer's
 * work: it returns once everything prepared so far is committed. */
struct pipeline_reader *pipeline_reader_new(const struct mask_rules *rules, struct store *ro,
					    void (*barrier)(void *), void *barrier_ctx);
void pipeline_reader_free(struct pipeline_reader **r);
void pipeline_prepare(struct pipeline_reader *r, const struct alert *a, struct pipeline_prep *out);
void pipeline_prep_clear(struct pipeline_prep *prep);

/* ---- the writer half ---- */

struct pipeline;

struct pipeline *pipeline_new(struct store *st, const struct mask_rules *rules);
void pipeline_free(struct pipeline **p);

enum pipeline_result {
	PIPE_INSERTED,  /* a new alert */
	PIPE_UPDATED,   /* an existing alert with the same dedup key */
	PIPE_UNMATCHED, /* status-only event for an unknown dedup key */
	PIPE_ERROR,     /* store error: the caller rolls back */
};

/* Store a prepared alert, derived from record record_id, received at
 * received_at. *cluster_id (when given) is set to its cluster row. */
enum pipeline_result pipeline_add_prepared(struct pipeline *p, const struct alert *a,
					   const struct pipeline_prep *prep, int64_t record_id,
					   int64_t received_at, int64_t *cluster_id);

/* Both halves on one thread, with the writer's connection for loading. */
enum pipeline_result pipeline_add(struct pipeline *p, const struct alert *a, int64_t record_id,
				  int64_t received_at);

/* Write the cluster counters gathered since the last flush. Call inside
 * the transaction, before its commit. */
enum status pipeline_flush(struct pipeline *p);
/* After a rollback: forget what the batch taught (id maps, counters). The
 * reader half must then be recreated too, since its miner may know clusters
 * that were never stored. */
void pipeline_discard(struct pipeline *p);

/* Highest cluster id referenced (for tests and `stats`). */
int64_t pipeline_cluster_row(struct pipeline *p, uint64_t miner_id);

#endif

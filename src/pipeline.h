/*
 * pipeline.h — what happens to one alert between its format adapter and the
 * store: mask the message, fingerprint it, find or create its cluster, and
 * insert or update the alert row. The caller owns the transaction: the
 * pipeline only runs statements inside it.
 */
#ifndef SITREP_PIPELINE_H
#define SITREP_PIPELINE_H

#include "alert.h"
#include "mask.h"
#include "store.h"

struct pipeline;

struct pipeline *pipeline_new(struct store *st, const struct mask_rules *rules);
void pipeline_free(struct pipeline **p);

enum pipeline_result {
	PIPE_INSERTED,  /* a new alert */
	PIPE_UPDATED,   /* an existing alert with the same dedup key */
	PIPE_UNMATCHED, /* status-only event for an unknown dedup key */
	PIPE_ERROR,     /* store error: the caller rolls back */
};

/* Write the cluster counters gathered since the last flush. Call inside
 * the transaction, before its commit. */
enum status pipeline_flush(struct pipeline *p);
/* Forget cached cluster ids after a rollback. */
void pipeline_discard(struct pipeline *p);

/* Store alert a, derived from record record_id, received at received_at. */
enum pipeline_result pipeline_add(struct pipeline *p, const struct alert *a, int64_t record_id,
				  int64_t received_at);

/*
 * The same in two halves, so the CPU work (masking, fingerprint) can run on
 * another thread than the one that owns the connection: pipeline_prepare
 * touches only its masker; pipeline_add_prepared only the store.
 */
struct pipeline_prep {
	char *masked;
	size_t masked_len;
	char fp[17];
	char *labels; /* the labels as compact JSON */
};
void pipeline_prepare(struct masker *m, const struct alert *a, struct pipeline_prep *out);
void pipeline_prep_clear(struct pipeline_prep *prep);
enum pipeline_result pipeline_add_prepared(struct pipeline *p, const struct alert *a,
					   const struct pipeline_prep *prep, int64_t record_id,
					   int64_t received_at);

#endif

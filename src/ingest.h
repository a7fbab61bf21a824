/*
 * ingest.h — read input files, stdin or a spool directory, split them into
 * records, check each record's limits, hand it to its format adapter and the
 * pipeline, and commit in batches. Bad records go to `rejects`, with the
 * file and line they came from; the rest of the input is still stored.
 */
#ifndef SITREP_INGEST_H
#define SITREP_INGEST_H

#include <stdio.h>

#include "formats.h"
#include "incident.h"
#include "mask.h"
#include "store.h"

#define INGEST_MAX_RECORD (1024 * 1024) /* bytes in one record */
#define INGEST_MAX_DEPTH 64             /* JSON nesting */

struct ingest_opts {
	enum format_id format; /* FMT_AUTO: detect */
	const char *service;   /* for log lines; NULL: none */
	size_t batch;          /* records per transaction; 0: default */
	FILE *messages;        /* where per-record complaints go; NULL: stderr */
	const struct incident_settings *incidents; /* correlation; NULL: defaults */
	unsigned max_messages; /* complaints printed before summarising; 0: 20 */
};

struct ingest_counts {
	uint64_t records;  /* input records read */
	uint64_t accepted; /* new alerts */
	uint64_t updated;  /* alerts updated by a repeat of their dedup key */
	uint64_t rejected; /* records (or status events) refused */
};

struct ingest;

struct ingest *ingest_new(struct store *st, const struct mask_rules *rules,
			  const struct ingest_opts *opts);
void ingest_free(struct ingest **ing);

/* Ingest a file, or standard input for "-". STATUS_OK when everything was
 * stored, STATUS_BAD_INPUT when some records were rejected (the rest are
 * stored), STATUS_IO when the file cannot be read, STATUS_STORE when the
 * database failed (the current batch is rolled back). */
enum status ingest_path(struct ingest *ing, const char *path);
/* Ingest an open stream; origin names it in messages and records. */
enum status ingest_stream(struct ingest *ing, FILE *f, const char *origin);
/* Ingest every regular file in dir, one transaction per file; move each to
 * dir/done after its commit, or to dir/failed (with NAME.why) when nothing
 * in it could be used. */
enum status ingest_spool(struct ingest *ing, const char *dir);

const struct ingest_counts *ingest_totals(const struct ingest *ing);

#endif

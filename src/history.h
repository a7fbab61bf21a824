/*
 * history.h — `sitrep import`: past incidents, from NDJSON, as resolved
 * history that `sitrep similar` can find.
 *
 * One incident a line:
 *
 *     {"id": "pm-17", "title": "...", "summary": "...", "details": "...",
 *      "services": ["api", "ledger-db"], "root_cause": "...",
 *      "mitigation": "...", "time": "2024-05-01T10:00:00Z"}
 *
 * id (a string or an integer) and title are required; the other fields
 * may be missing or null; severity (critical, high, warning, info; default
 * info) is optional; other keys are ignored but kept with the verbatim
 * line. time is RFC 3339, YYYY-MM-DD or MM/DD/YYYY (UTC) and becomes the
 * resolution time; mitigation becomes the action taken.
 *
 * Importing an id again updates that incident (external ids are unique).
 * A line that is over 1 MiB, not UTF-8, contains a NUL byte, is nested
 * deeper than 64 levels, is not a JSON object or has a field of the wrong
 * type goes to `rejects` with the reason; the other lines are stored. One
 * transaction per batch; an audit row per input; the similarity index is
 * refreshed at the end.
 */
#ifndef SITREP_HISTORY_H
#define SITREP_HISTORY_H

#include <stdio.h>

#include "store.h"

#define HISTORY_MAX_LINE (1024 * 1024)
#define HISTORY_MAX_DEPTH 64
#define HISTORY_MAX_ID 256 /* bytes of an external id */

struct history_opts {
	size_t batch;          /* lines per transaction; 0: 5000 */
	FILE *messages;        /* per-line complaints; NULL: stderr */
	unsigned max_messages; /* complaints printed before summarising; 0: 20 */
	bool no_refresh;       /* leave the similarity index to a later refresh */
};

struct history_counts {
	uint64_t lines;    /* non-blank lines read */
	uint64_t imported; /* new incidents */
	uint64_t updated;  /* ids already present (rewritten when they changed) */
	uint64_t rejected;
};

/* Import a file, or standard input for "-". Counts are added to *counts.
 * STATUS_OK, STATUS_BAD_INPUT when some lines were rejected (the rest are
 * stored), STATUS_IO when the file cannot be read, STATUS_STORE when the
 * database failed (the current batch is rolled back). */
enum status history_import_path(struct store *st, const char *path,
				const struct history_opts *o, struct history_counts *counts);
enum status history_import_stream(struct store *st, FILE *f, const char *origin,
				  const struct history_opts *o, struct history_counts *counts);

/* "2024-05-01T10:00:00Z", "2024-05-01", "5/1/2024" → ms since the epoch. */
bool history_parse_time(const char *s, int64_t *out_ms);

#endif

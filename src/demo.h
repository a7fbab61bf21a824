/*
 * demo.h — the demo feeder: replays data/demo/scenario into a spool
 * directory, so that the demo goes through the real ingest path (a spool
 * source) and nothing in the pipeline knows it is a demo.
 *
 * The scenario format is described at the top of demo.c and in the
 * scenario file itself. Loading checks every payload (JSON that parses and
 * has the shape its line declares, placeholders that exist) and names the
 * file and line of the first problem.
 *
 * demo_start() expands the whole scenario at once (times relative to that
 * moment, pseudo-random ids from a fixed seed, so a replay is reproducible)
 * and starts one thread that writes each file into the spool at its time:
 * first as a dotfile (which ingest skips), then renamed to a name that sorts
 * in delivery order ("000012-0003.json"). The thread touches nothing but
 * the spool directory; others watch it through demo_progress().
 */
#ifndef SITREP_DEMO_H
#define SITREP_DEMO_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define DEMO_MAX_SPEED 100000.0

/* The data directory: $SITREP_DATADIR, else the source tree's data/ when it
 * exists (running from a build tree), else the installed one. Malloc'd. */
char *demo_data_dir(void);
/* <data dir>/demo/<name>, malloc'd. */
char *demo_data_file(const char *name);

/* One file of the replay. Immutable once demo_start() returned. */
struct demo_item {
	double at;          /* seconds after the start, at speed 1 */
	char *name;         /* file name in the spool */
	const char *format; /* as declared: "alertmanager", "log", "raw", … */
	size_t records;     /* alerts (JSON) or lines (log, NDJSON) in it */
	int line;           /* the scenario line that declared it */
	char *text;         /* the payload, times and ids filled in */
};

struct demo_progress {
	size_t written; /* files in the spool so far (items 0 .. written-1) */
	size_t total;
	bool done;      /* finished, stopped or failed */
	char *error;    /* malloc'd, NULL unless writing failed */
};

struct demo;

/* Load and check a scenario without starting anything: the number of files
 * and records it makes and its length in seconds (at speed 1). */
enum status demo_check(const char *scenario_path, size_t *files, size_t *records,
		       double *duration, char **err);

/* Expand scenario_path and start replaying it into spool_dir (created when
 * missing) at speed (1: real time; 100: a hundred times faster, and times
 * in payloads are compressed alike). Returns NULL with *err (malloc'd) set
 * when the scenario is bad, the spool cannot be used, or a file of the
 * replay's names is already waiting there. */
struct demo *demo_start(const char *scenario_path, const char *spool_dir, double speed,
			char **err);
/* Stop early (or after the end), join the thread and free. NULL-safe. */
void demo_stop(struct demo **d);

/* A snapshot; clear it with demo_progress_clear(). */
void demo_progress(struct demo *d, struct demo_progress *out);
void demo_progress_clear(struct demo_progress *p);
/* Wait until more than `seen` files were written, or the replay is done,
 * or timeout_ms passed (negative: no limit); then take a snapshot. */
void demo_wait(struct demo *d, size_t seen, int timeout_ms, struct demo_progress *out);

/* The i-th file of the replay (i < total); NULL past the end. */
const struct demo_item *demo_item(const struct demo *d, size_t i);
/* Its wall-clock start, ms since the epoch (what ${T} stands for). */
int64_t demo_start_ms(const struct demo *d);

#endif

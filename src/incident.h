/*
 * incident.h — incidents: correlation of clusters into incidents, and their
 * lifecycle.
 *
 * Correlation runs in the ingest writer, inside its transaction, once per
 * firing alert. A cluster that belongs to no active incident joins one when
 * it is related — the same service, services linked in the dependency
 * graph, or the same identifying label (firm, user, product…) — within the
 * correlation window; otherwise it opens a new incident. Every join records
 * its reason. Pairs a human split apart are never joined again.
 *
 * States: open → acknowledged → resolved; snoozed until a time (back to open
 * then, or earlier when it gets worse); merged into another. A resolved
 * incident whose clusters fire again within the reopen window is reopened
 * and counted as a recurrence; later than that, a new incident opens and
 * notes which one it recurs.
 *
 * Every human action writes an audit row and a timeline event.
 */
#ifndef SITREP_INCIDENT_H
#define SITREP_INCIDENT_H

#include "alert.h"
#include "services.h"
#include "store.h"

struct incident_settings {
	int64_t window_ms;        /* correlate.window (default 10m) */
	int64_t reopen_ms;        /* correlate.reopen-window (default 24h) */
	char **label_keys;        /* correlate.labels */
	size_t nlabel_keys;
	double wake_rate;         /* snooze.wake-rate: factor (default 3) */
	int64_t known_quiet_ms;   /* registry.quiet (default 1h) */
	int64_t known_expire_ms;  /* registry.expire (default 3d) */
	const struct service_graph *graph; /* may be NULL */
};

/* Defaults, with the built-in identifying label keys. */
void incident_settings_default(struct incident_settings *s);
void incident_settings_free(struct incident_settings *s);
/* Replace label_keys from "firm, user,product". */
void incident_settings_set_labels(struct incident_settings *s, const char *list);

/* ---- correlation (ingest writer) ---- */

struct correlator;
struct correlator *correlator_new(struct store *st, const struct incident_settings *s);
void correlator_free(struct correlator **c);
/* One alert of cluster cluster_id, at time at (ms). */
enum status correlate_alert(struct correlator *c, int64_t cluster_id, const struct alert *a,
			    int64_t at);
/* Write the batch's incident counters; call before commit. */
enum status correlator_flush(struct correlator *c);
/* After a rollback. */
void correlator_discard(struct correlator *c);

/* The time an alert counts from: when it started, if the source said and it
 * is not in the future, else when it was received. */
int64_t alert_event_time(const struct alert *a, int64_t received_at);

/* ---- lifecycle (CLI and console) ----
 * Each runs in its own transaction and writes an audit row. On failure *err
 * says why in words for the user (malloc'd). */

enum status incident_ack(struct store *st, int64_t id, char **err);
enum status incident_snooze(struct store *st, int64_t id, int64_t until_ms, char **err);
/* worked: 1 yes, 0 no, -1 not said */
enum status incident_resolve(struct store *st, int64_t id, const char *cause, const char *action,
			     int worked, char **err);
enum status incident_reopen(struct store *st, int64_t id, char **err);
enum status incident_note(struct store *st, int64_t id, const char *text, char **err);
/* Merge others[0..n) into target. */
enum status incident_merge(struct store *st, int64_t target, const int64_t *others, size_t n,
			   char **err);
/* Move cluster out of incident into a new incident; *new_id is set. */
enum status incident_split(struct store *st, int64_t incident, int64_t cluster, int64_t *new_id,
			   char **err);
enum status incident_ticket(struct store *st, int64_t id, const char *ref, char **err);

/* Time passes: snoozes that ended go back to open, known issues not seen
 * for the expiry period are dropped. Cheap when there is nothing to do. */
enum status incidents_tick(struct store *st, const struct incident_settings *s, int64_t now);

#endif

/*
 * model.h — what the console shows, as plain C data read from the store.
 *
 * The console (ui/) never runs SQL of its own: it asks this module for the
 * queue, the report of an incident, the detail of an alert or cluster and
 * the links in an alert, and calls incident.h to act. Text here is raw
 * alert text; the UI escapes it when it draws.
 */
#ifndef SITREP_MODEL_H
#define SITREP_MODEL_H

#include "store.h"
#include "util.h"

#define SPARK_BUCKETS 12 /* the last hour in five-minute buckets */

struct queue_row {
	int64_t id;
	char *title;
	char *services; /* "api, ledger-db" */
	char severity[12];
	char state[16];
	int64_t opened_at, last_alert_at, alerts;
	int64_t recurrences;
	int64_t spark[SPARK_BUCKETS]; /* alerts per bucket, oldest first */
	bool spark_loaded;            /* model_spark() filled spark */
};

struct queue_filter {
	const char *state;    /* active (default), open, acknowledged, snoozed,
			       * resolved, merged, all */
	const char *severity; /* minimum severity, or NULL */
	const char *service;  /* only incidents touching it, or NULL */
	size_t limit;         /* 0: 500 */
};

struct queue {
	struct queue_row *v;
	size_t n;
};

/* The queue, without sparklines: those cost a lookup each, so the console
 * reads them only for the rows on screen (model_spark). */
enum status model_queue(struct store *st, const struct queue_filter *f, int64_t now,
			struct queue *out);
void model_spark(struct store *st, struct queue_row *r, int64_t now);
void model_queue_clear(struct queue *q);

/* A report line: text, what it is, and what Enter opens from it. */
enum report_kind {
	REPORT_HEADING,
	REPORT_TEXT,
	REPORT_CLUSTER, /* ref: cluster id */
	REPORT_ALERT,   /* ref: alert id */
	REPORT_EVENT,
	REPORT_NOTE,
};

struct report_line {
	enum report_kind kind;
	int64_t ref;
	int severity; /* -1, or enum severity for colouring */
	char *text;
};

struct report {
	struct report_line *v;
	size_t n;
};

/* Everything the store knows of one incident, as lines: facts, probable
 * origin, impacted firms/users, clusters with templates and why each joined,
 * recent alerts, the timeline. */
enum status model_report(struct store *st, int64_t incident, struct report *out);
void model_report_clear(struct report *r);

/* Full text of an alert (fields and its raw record) or a cluster (template,
 * counts, its alerts). */
enum status model_alert_detail(struct store *st, int64_t alert, struct buf *out);
enum status model_cluster_detail(struct store *st, int64_t cluster, struct buf *out);

/* Links worth opening for an alert: runbook, generator, dashboard, panel,
 * silence URLs found in its raw record and labels. */
struct link {
	char *label, *url;
};
struct links {
	struct link *v;
	size_t n;
};
enum status model_alert_links(struct store *st, int64_t alert, struct links *out);
/* The links of an incident's most recent alert. */
enum status model_incident_links(struct store *st, int64_t incident, struct links *out);
void model_links_clear(struct links *l);

/* Changes by anyone (this or another process) since the last call make
 * this number change. */
int64_t model_data_version(struct store *st);

/* Source health for the status line: "spool ok 3s ago", "file: error …". */
struct source_health {
	char *name;
	char *state; /* "ok", "error", "waiting" */
	int64_t last_ok;
	char *error;
};
struct sources_health {
	struct source_health *v;
	size_t n;
};
enum status model_sources(struct store *st, struct sources_health *out);
void model_sources_clear(struct sources_health *s);

#endif

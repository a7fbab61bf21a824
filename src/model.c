/* model.c — see model.h. Every query here is indexed and bounded: the
 * console runs them on its own thread between key presses. */
#include "config.h"
#include "model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

/* ---- queue ------------------------------------------------------------- */

enum status model_queue(struct store *st, const struct queue_filter *f, int64_t now,
			struct queue *out)
{
	memset(out, 0, sizeof *out);
	const char *state = f && f->state ? f->state : "active";
	enum severity min = SEV_INFO;
	if (f && f->severity)
		severity_from_word(f->severity, &min);
	sqlite3_stmt *q = store_stmt(
		st,
		"SELECT i.id, i.title, i.severity, i.state, i.opened_at, i.last_alert_at, "
		"i.alerts, i.recurrences, (SELECT group_concat(value, ', ') FROM "
		"json_each(i.services)) FROM incidents i WHERE i.imported = 0 AND "
		"(?1 = 'all' OR i.state = ?1 OR (?1 = 'active' AND i.state IN ('open', "
		"'acknowledged', 'snoozed'))) AND (CASE i.severity WHEN 'critical' THEN 3 "
		"WHEN 'high' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) >= ?2 AND (?3 IS NULL OR "
		"EXISTS (SELECT 1 FROM json_each(i.services) WHERE value = ?3)) "
		"ORDER BY CASE i.state WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 "
		"WHEN 'snoozed' THEN 2 ELSE 3 END, i.last_alert_at DESC, i.id DESC LIMIT ?4");
	sqlite3_bind_text(q, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)min);
	if (f && f->service)
		sqlite3_bind_text(q, 3, f->service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, f && f->limit ? (int64_t)f->limit : 500);
	size_t cap = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 32;
			out->v = xrealloc(out->v, cap * sizeof *out->v);
		}
		struct queue_row *r = &out->v[out->n++];
		memset(r, 0, sizeof *r);
		r->id = sqlite3_column_int64(q, 0);
		r->title = xstrdup(col(q, 1));
		snprintf(r->severity, sizeof r->severity, "%s", col(q, 2));
		snprintf(r->state, sizeof r->state, "%s", col(q, 3));
		r->opened_at = sqlite3_column_int64(q, 4);
		r->last_alert_at = sqlite3_column_int64(q, 5);
		r->alerts = sqlite3_column_int64(q, 6);
		r->recurrences = sqlite3_column_int64(q, 7);
		r->services = xstrdup(col(q, 8));
	}
	sqlite3_reset(q);
	(void)now;

	return STATUS_OK;
}

void model_spark(struct store *st, struct queue_row *r, int64_t now)
{
	int64_t now_min = now / 60000;
	sqlite3_stmt *s = store_stmt(st, "SELECT minute, n FROM incident_rate WHERE "
					 "incident_id = ? AND minute > ? AND minute <= ?");
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, now_min - 5 * SPARK_BUCKETS);
	sqlite3_bind_int64(s, 3, now_min);
	memset(r->spark, 0, sizeof r->spark);
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t age = now_min - sqlite3_column_int64(s, 0); /* 0..59 */
		int b = SPARK_BUCKETS - 1 - (int)(age / 5);
		if (b >= 0 && b < SPARK_BUCKETS)
			r->spark[b] += sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	r->spark_loaded = true;
}

void model_queue_clear(struct queue *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].title);
		free(q->v[i].services);
	}
	free(q->v);
	memset(q, 0, sizeof *q);
}

/* ---- report ------------------------------------------------------------ */

static void add_line(struct report *r, enum report_kind kind, int64_t ref, int severity,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_line(struct report *r, enum report_kind kind, int64_t ref, int severity,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	r->v = xrealloc(r->v, (r->n + 1) * sizeof *r->v);
	r->v[r->n++] = (struct report_line){ kind, ref, severity, text };
}

static int sev_of(const char *s)
{
	enum severity v;
	return severity_from_word(s, &v) ? (int)v : -1;
}

static void fmt_time(int64_t ms, char out[32])
{
	if (!ms) {
		snprintf(out, 32, "-");
		return;
	}
	char t[32];
	format_time_rfc3339(ms, t);
	/* "2026-11-23T02:04:05.123Z" → "11-23 02:04:05" */
	snprintf(out, 32, "%.5s %.8s", t + 5, t + 11);
}

enum status model_report(struct store *st, int64_t id, struct report *r)
{
	memset(r, 0, sizeof *r);
	sqlite3_stmt *q = store_stmt(
		st, "SELECT title, state, severity, opened_at, last_alert_at, alerts, acked_by, "
		    "acked_at, resolved_by, root_cause, action_taken, snoozed_until, recurrences, "
		    "origin_cluster, merged_into, (SELECT group_concat(value, ', ') FROM "
		    "json_each(services)) FROM incidents WHERE id = ?");
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return STATUS_NOT_FOUND;
	}
	char t1[32], t2[32];
	fmt_time(sqlite3_column_int64(q, 3), t1);
	fmt_time(sqlite3_column_int64(q, 4), t2);
	add_line(r, REPORT_HEADING, 0, sev_of(col(q, 2)), "#%lld %s", (long long)id, col(q, 0));
	add_line(r, REPORT_TEXT, 0, -1, "%s, %s; %lld alerts; opened %s, last alert %s",
		 col(q, 1), col(q, 2), (long long)sqlite3_column_int64(q, 5), t1, t2);
	if (*col(q, 15))
		add_line(r, REPORT_TEXT, 0, -1, "services: %s", col(q, 15));
	if (sqlite3_column_type(q, 6) != SQLITE_NULL) {
		fmt_time(sqlite3_column_int64(q, 7), t1);
		add_line(r, REPORT_TEXT, 0, -1, "acknowledged by %s at %s", col(q, 6), t1);
	}
	if (sqlite3_column_type(q, 11) != SQLITE_NULL && strcmp(col(q, 1), "snoozed") == 0) {
		fmt_time(sqlite3_column_int64(q, 11), t1);
		add_line(r, REPORT_TEXT, 0, -1, "snoozed until %s (wakes if it gets worse)", t1);
	}
	if (sqlite3_column_type(q, 8) != SQLITE_NULL)
		add_line(r, REPORT_TEXT, 0, -1, "resolved by %s: cause: %s; action: %s", col(q, 8),
			 col(q, 9), col(q, 10));
	if (sqlite3_column_int64(q, 12))
		add_line(r, REPORT_TEXT, 0, -1, "recurred %lld time(s)",
			 (long long)sqlite3_column_int64(q, 12));
	if (sqlite3_column_type(q, 14) != SQLITE_NULL)
		add_line(r, REPORT_TEXT, 0, -1, "merged into #%lld",
			 (long long)sqlite3_column_int64(q, 14));
	int64_t origin = sqlite3_column_int64(q, 13);
	sqlite3_reset(q);

	if (origin) {
		q = store_stmt(st, "SELECT name, service, template FROM clusters WHERE id = ?");
		sqlite3_bind_int64(q, 1, origin);
		if (sqlite3_step(q) == SQLITE_ROW)
			add_line(r, REPORT_CLUSTER, origin, -1, "probable origin: %s%s%s: %s",
				 col(q, 0), *col(q, 1) ? " on " : "", col(q, 1), col(q, 2));
		sqlite3_reset(q);
	}

	q = store_stmt(st, "SELECT key, group_concat(value, ', ') FROM (SELECT key, value FROM "
			   "incident_labels WHERE incident_id = ? ORDER BY key, last_seen) "
			   "GROUP BY key ORDER BY key");
	sqlite3_bind_int64(q, 1, id);
	bool any = false;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (!any)
			add_line(r, REPORT_HEADING, 0, -1, "Impact");
		any = true;
		add_line(r, REPORT_TEXT, 0, -1, "  %s: %s", col(q, 0), col(q, 1));
	}
	sqlite3_reset(q);

	add_line(r, REPORT_HEADING, 0, -1, "Clusters");
	q = store_stmt(st, "SELECT c.id, c.name, c.service, c.template, c.severity, "
			   "c.occurrences, ic.reason, ki.ticket FROM incident_clusters ic "
			   "JOIN clusters c ON c.id = ic.cluster_id LEFT JOIN known_issues ki ON "
			   "ki.cluster_id = c.id WHERE ic.incident_id = ? ORDER BY c.first_seen");
	sqlite3_bind_int64(q, 1, id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t cid = sqlite3_column_int64(q, 0);
		add_line(r, REPORT_CLUSTER, cid, sev_of(col(q, 4)), "%s x%lld %s%s%s: %s",
			 cid == origin ? "*" : " ", (long long)sqlite3_column_int64(q, 5), col(q, 1),
			 *col(q, 2) ? " on " : "", col(q, 2), col(q, 3));
		add_line(r, REPORT_CLUSTER, cid, -1, "      joined: %s%s%s", col(q, 6),
			 sqlite3_column_type(q, 7) != SQLITE_NULL ? "; known issue " : "",
			 col(q, 7));
	}
	sqlite3_reset(q);

	add_line(r, REPORT_HEADING, 0, -1, "Latest alerts");
	q = store_stmt(st, "SELECT a.id, a.updated_at, a.severity, a.status, a.name, a.message "
			   "FROM alerts a WHERE a.cluster_id IN (SELECT cluster_id "
			   "FROM incident_clusters WHERE incident_id = ?) "
			   "ORDER BY a.updated_at DESC, a.id DESC LIMIT 8");
	sqlite3_bind_int64(q, 1, id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		fmt_time(sqlite3_column_int64(q, 1), t1);
		add_line(r, REPORT_ALERT, sqlite3_column_int64(q, 0), sev_of(col(q, 2)),
			 "  %s %-8s %s%s: %s", t1, col(q, 2),
			 strcmp(col(q, 3), "resolved") == 0 ? "(resolved) " : "", col(q, 4),
			 col(q, 5));
	}
	sqlite3_reset(q);

	add_line(r, REPORT_HEADING, 0, -1, "Timeline");
	q = store_stmt(st, "SELECT at, kind, actor, detail FROM events WHERE incident_id = ? "
			   "ORDER BY at, id");
	sqlite3_bind_int64(q, 1, id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		fmt_time(sqlite3_column_int64(q, 0), t1);
		bool note = strcmp(col(q, 1), "note") == 0;
		add_line(r, note ? REPORT_NOTE : REPORT_EVENT, 0, -1, "  %s %-8s %s", t1, col(q, 2),
			 col(q, 3));
	}
	sqlite3_reset(q);
	return STATUS_OK;
}

void model_report_clear(struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].text);
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* ---- details ----------------------------------------------------------- */

enum status model_alert_detail(struct store *st, int64_t alert, struct buf *out)
{
	sqlite3_stmt *q = store_stmt(
		st, "SELECT a.id, a.source, a.dedup_key, a.status, a.severity, a.name, a.service, "
		    "a.message, a.masked, a.labels, a.starts_at, a.ends_at, a.received_at, "
		    "a.updated_at, a.occurrences, a.cluster_id, r.text, r.format, r.line, "
		    "i.origin, a.silenced, a.inhibited FROM alerts a JOIN records r ON "
		    "r.id = a.record_id JOIN inputs i ON i.id = r.input_id WHERE a.id = ?");
	sqlite3_bind_int64(q, 1, alert);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return STATUS_NOT_FOUND;
	}
	char t[4][32];
	for (int k = 0; k < 4; k++) {
		int c = 10 + k;
		if (sqlite3_column_type(q, c) == SQLITE_NULL)
			snprintf(t[k], 32, "-");
		else
			format_time_rfc3339(sqlite3_column_int64(q, c), t[k]);
	}
	buf_printf(out, "Alert %lld (cluster %lld)\n\n", (long long)sqlite3_column_int64(q, 0),
		   (long long)sqlite3_column_int64(q, 15));
	buf_printf(out, "name:        %s\nservice:     %s\nseverity:    %s\nstatus:      %s%s%s\n",
		   col(q, 5), col(q, 6), col(q, 4), col(q, 3),
		   sqlite3_column_int(q, 20) ? " (silenced)" : "",
		   sqlite3_column_int(q, 21) ? " (inhibited)" : "");
	buf_printf(out, "message:     %s\nmasked:      %s\n", col(q, 7), col(q, 8));
	buf_printf(out, "source:      %s   dedup key: %s\n", col(q, 1), col(q, 2));
	buf_printf(out, "starts:      %s\nends:        %s\nreceived:    %s\nupdated:     %s\n",
		   t[0], t[1], t[2], t[3]);
	buf_printf(out, "occurrences: %lld\n", (long long)sqlite3_column_int64(q, 14));
	json_t *labels = json_loads(col(q, 9), 0, NULL);
	char *pretty = labels ? json_dumps(labels, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	buf_printf(out, "labels:\n%s\n", pretty ? pretty : col(q, 9));
	free(pretty);
	json_decref(labels);
	buf_printf(out, "\nRaw record (%s, %s line %lld):\n", col(q, 17), col(q, 19),
		   (long long)sqlite3_column_int64(q, 18));
	/* pretty-print JSON records; anything else exactly as it came */
	json_t *raw = json_loads(col(q, 16), 0, NULL);
	char *rp = raw ? json_dumps(raw, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	buf_adds(out, rp ? rp : col(q, 16));
	buf_addc(out, '\n');
	free(rp);
	json_decref(raw);
	sqlite3_reset(q);
	return STATUS_OK;
}

enum status model_cluster_detail(struct store *st, int64_t cluster, struct buf *out)
{
	sqlite3_stmt *q = store_stmt(st, "SELECT id, name, service, template, severity, alerts, "
					 "occurrences, first_seen, last_seen, merged_into "
					 "FROM clusters WHERE id = ?");
	sqlite3_bind_int64(q, 1, cluster);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return STATUS_NOT_FOUND;
	}
	char t1[32], t2[32];
	format_time_rfc3339(sqlite3_column_int64(q, 7), t1);
	format_time_rfc3339(sqlite3_column_int64(q, 8), t2);
	buf_printf(out, "Cluster %lld\n\nname:        %s\nservice:     %s\nseverity:    %s\n",
		   (long long)cluster, col(q, 1), col(q, 2), col(q, 4));
	buf_printf(out, "template:    %s\nalerts:      %lld (%lld occurrences)\n", col(q, 3),
		   (long long)sqlite3_column_int64(q, 5), (long long)sqlite3_column_int64(q, 6));
	buf_printf(out, "first seen:  %s\nlast seen:   %s\n", t1, t2);
	if (sqlite3_column_type(q, 9) != SQLITE_NULL)
		buf_printf(out, "merged into: %lld\n", (long long)sqlite3_column_int64(q, 9));
	sqlite3_reset(q);
	buf_adds(out, "\nAlerts (newest first):\n");
	q = store_stmt(st, "SELECT id, updated_at, status, severity, occurrences, message "
			   "FROM alerts WHERE cluster_id = ? ORDER BY updated_at DESC LIMIT 200");
	sqlite3_bind_int64(q, 1, cluster);
	while (sqlite3_step(q) == SQLITE_ROW) {
		format_time_rfc3339(sqlite3_column_int64(q, 1), t1);
		buf_printf(out, "  %6lld %s %-8s %-8s x%-4lld %s\n",
			   (long long)sqlite3_column_int64(q, 0), t1, col(q, 2), col(q, 3),
			   (long long)sqlite3_column_int64(q, 4), col(q, 5));
	}
	sqlite3_reset(q);
	return STATUS_OK;
}

/* ---- links ------------------------------------------------------------- */

static bool is_url(const char *s)
{
	return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
}

static void add_link(struct links *l, const char *label, const char *url)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].url, url) == 0)
			return;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].label = xstrdup(label);
	l->v[l->n].url = xstrdup(url);
	l->n++;
}

/* Walk a JSON value for URL strings under telling keys, and PagerDuty's
 * links[] {href, text}. */
static void collect_links(json_t *v, const char *key, struct links *l, int depth)
{
	if (depth > 16)
		return;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (key && is_url(s))
			add_link(l, key, s);
		return;
	}
	if (json_is_object(v)) {
		const char *href = json_string_value(json_object_get(v, "href"));
		if (is_url(href)) {
			const char *text = json_string_value(json_object_get(v, "text"));
			add_link(l, text ? text : "link", href);
		}
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) collect_links(x, k, l, depth + 1);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) collect_links(x, key, l, depth + 1);
	}
}

enum status model_alert_links(struct store *st, int64_t alert, struct links *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *q = store_stmt(st, "SELECT r.text, a.labels FROM alerts a JOIN records r "
					 "ON r.id = a.record_id WHERE a.id = ?");
	sqlite3_bind_int64(q, 1, alert);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		return STATUS_NOT_FOUND;
	}
	for (int c = 0; c < 2; c++) {
		json_t *v = json_loads(col(q, c), 0, NULL);
		collect_links(v, NULL, out, 0);
		json_decref(v);
	}
	sqlite3_reset(q);
	return STATUS_OK;
}

enum status model_incident_links(struct store *st, int64_t incident, struct links *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *q = store_stmt(st, "SELECT a.id FROM alerts a WHERE a.cluster_id IN "
					 "(SELECT cluster_id FROM incident_clusters WHERE "
					 "incident_id = ?) ORDER BY a.updated_at DESC LIMIT 20");
	sqlite3_bind_int64(q, 1, incident);
	int64_t ids[20];
	size_t n = 0;
	while (n < 20 && sqlite3_step(q) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	for (size_t i = 0; i < n; i++) {
		struct links one;
		if (model_alert_links(st, ids[i], &one) != STATUS_OK)
			continue;
		for (size_t k = 0; k < one.n; k++)
			add_link(out, one.v[k].label, one.v[k].url);
		model_links_clear(&one);
	}
	return STATUS_OK;
}

void model_links_clear(struct links *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].label);
		free(l->v[i].url);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

int64_t model_data_version(struct store *st)
{
	return store_int(st, "PRAGMA data_version", 0);
}

/* ---- sources ----------------------------------------------------------- */

enum status model_sources(struct store *st, struct sources_health *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *q = store_stmt(st, "SELECT name, last_ok, last_error, last_error_at "
					 "FROM sources ORDER BY name");
	while (sqlite3_step(q) == SQLITE_ROW) {
		out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		struct source_health *h = &out->v[out->n++];
		h->name = xstrdup(col(q, 0));
		h->last_ok = sqlite3_column_int64(q, 1);
		int64_t err_at = sqlite3_column_int64(q, 3);
		bool failing = sqlite3_column_type(q, 2) != SQLITE_NULL && err_at >= h->last_ok;
		h->state = xstrdup(failing ? "error" : h->last_ok ? "ok" : "waiting");
		h->error = failing ? xstrdup(col(q, 2)) : NULL;
	}
	sqlite3_reset(q);
	return STATUS_OK;
}

void model_sources_clear(struct sources_health *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].state);
		free(s->v[i].error);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

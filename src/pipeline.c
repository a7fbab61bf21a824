/*
 * pipeline.c — mask → fingerprint → cluster → alert row.
 *
 * Cluster identity is the fingerprint: a hash of name, service and masked
 * message. The cluster row counts distinct alerts and every occurrence; an
 * alert that changes cluster on update (its message changed) moves its
 * count with it, so `alerts` always equals the rows that point at it.
 */
#include "config.h"
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>

struct pipeline {
	struct store *st;
	struct masker *masker;
};

struct pipeline *pipeline_new(struct store *st, const struct mask_rules *rules)
{
	struct pipeline *p = xcalloc(1, sizeof *p);
	p->st = st;
	p->masker = masker_new(rules);
	return p;
}

void pipeline_free(struct pipeline **pp)
{
	if (!*pp)
		return;
	masker_free(&(*pp)->masker);
	xfree(pp);
}

static const char SQL_CLUSTER_UPSERT[] =
	"INSERT INTO clusters (fingerprint, name, service, template, severity, alerts, "
	"occurrences, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7) "
	"ON CONFLICT (fingerprint) DO UPDATE SET alerts = alerts + excluded.alerts, "
	"occurrences = occurrences + 1, last_seen = max(last_seen, excluded.last_seen), "
	"severity = excluded.severity "
	"RETURNING id";
static const char SQL_CLUSTER_UNCOUNT[] = "UPDATE clusters SET alerts = alerts - 1 WHERE id = ?";
static const char SQL_ALERT_BY_KEY[] = "SELECT id, cluster_id FROM alerts WHERE dedup_key = ?";
static const char SQL_ALERT_INSERT[] =
	"INSERT INTO alerts (record_id, source, dedup_key, status, silenced, inhibited, severity, "
	"name, service, message, masked, labels, starts_at, ends_at, received_at, updated_at, "
	"cluster_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, "
	"?16)";
static const char SQL_ALERT_UPDATE[] =
	"UPDATE alerts SET record_id = ?1, status = ?2, silenced = ?3, inhibited = ?4, "
	"severity = ?5, message = ?6, masked = ?7, labels = ?8, starts_at = coalesce(?9, starts_at), "
	"ends_at = ?10, updated_at = ?11, occurrences = occurrences + 1, cluster_id = ?12 "
	"WHERE id = ?13";
static const char SQL_ALERT_STATUS[] =
	"UPDATE alerts SET record_id = ?1, status = ?2, ends_at = CASE WHEN ?2 = 'resolved' THEN "
	"?3 ELSE ends_at END, updated_at = ?3, occurrences = occurrences + 1 WHERE id = ?4";

static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

/* Upsert the cluster for fingerprint fp, counting `new_alert` new members. */
static int64_t cluster_upsert(struct pipeline *p, const char *fp, const struct alert *a,
			      const char *masked, size_t masked_len, bool new_alert,
			      int64_t received_at)
{
	sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_UPSERT);
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->service ? a->service : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, masked, (int)masked_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, severity_name(a->severity), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, new_alert ? 1 : 0);
	sqlite3_bind_int64(st, 7, received_at);
	int64_t id = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

static bool lookup_alert(struct pipeline *p, const char *key, int64_t *id, int64_t *cluster)
{
	sqlite3_stmt *st = store_stmt(p->st, SQL_ALERT_BY_KEY);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	bool found = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*cluster = sqlite3_column_int64(st, 1);
		found = true;
	}
	sqlite3_reset(st);
	return found;
}

enum pipeline_result pipeline_add(struct pipeline *p, const struct alert *a, int64_t record_id,
				  int64_t received_at)
{
	int64_t alert_id = 0, old_cluster = 0;
	bool exists = a->dedup_key && lookup_alert(p, a->dedup_key, &alert_id, &old_cluster);
	const char *status = a->resolved ? "resolved" : "firing";

	if (a->status_only) {
		if (!exists)
			return PIPE_UNMATCHED;
		sqlite3_stmt *st = store_stmt(p->st, SQL_ALERT_STATUS);
		sqlite3_bind_int64(st, 1, record_id);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, received_at);
		sqlite3_bind_int64(st, 4, alert_id);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? PIPE_UPDATED : PIPE_ERROR;
	}

	size_t mlen;
	const char *masked = mask_apply(p->masker, a->message, strlen(a->message), &mlen);
	char fp[17];
	fingerprint_hex(a->name, a->service, masked, mlen, fp);

	int64_t cluster = cluster_upsert(p, fp, a, masked, mlen, true, received_at);
	if (cluster < 0)
		return PIPE_ERROR;
	if (exists) {
		/* the alert is counted once: take it off wherever it was */
		sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_UNCOUNT);
		sqlite3_bind_int64(st, 1, old_cluster);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return PIPE_ERROR;
	}

	char *labels = a->labels ? json_dumps(a->labels, JSON_COMPACT) : NULL;
	if (!labels)
		labels = xstrdup("{}");
	sqlite3_stmt *st;
	if (exists) {
		st = store_stmt(p->st, SQL_ALERT_UPDATE);
		sqlite3_bind_int64(st, 1, record_id);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, a->silenced);
		sqlite3_bind_int(st, 4, a->inhibited);
		sqlite3_bind_text(st, 5, severity_name(a->severity), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, a->message, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, masked, (int)mlen, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, labels, -1, free);
		bind_time(st, 9, a->starts_at);
		bind_time(st, 10, a->ends_at ? a->ends_at : (a->resolved ? received_at : 0));
		sqlite3_bind_int64(st, 11, received_at);
		sqlite3_bind_int64(st, 12, cluster);
		sqlite3_bind_int64(st, 13, alert_id);
	} else {
		st = store_stmt(p->st, SQL_ALERT_INSERT);
		sqlite3_bind_int64(st, 1, record_id);
		sqlite3_bind_text(st, 2, a->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, a->dedup_key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, a->silenced);
		sqlite3_bind_int(st, 6, a->inhibited);
		sqlite3_bind_text(st, 7, severity_name(a->severity), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, a->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, a->service ? a->service : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, a->message, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, masked, (int)mlen, SQLITE_STATIC);
		sqlite3_bind_text(st, 12, labels, -1, free);
		bind_time(st, 13, a->starts_at);
		bind_time(st, 14, a->ends_at ? a->ends_at : (a->resolved ? received_at : 0));
		sqlite3_bind_int64(st, 15, received_at);
		sqlite3_bind_int64(st, 16, cluster);
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return PIPE_ERROR;
	return exists ? PIPE_UPDATED : PIPE_INSERTED;
}

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
#include <stdint.h>

/*
 * Cluster counters are kept here during a batch and written once per
 * cluster at pipeline_flush(), instead of one UPDATE per alert: a batch of
 * 5000 alerts of one kind costs one cluster write, not 5000. Ids learnt for
 * a fingerprint are kept across batches (cluster rows are never deleted).
 */
struct cluster_slot {
	uint64_t fp;       /* 0: empty */
	int64_t id;
	int64_t d_alerts;  /* pending deltas since the last flush */
	int64_t d_occurrences;
	int64_t last_seen;
	int severity;      /* -1: unchanged */
	bool dirty;
};

#define SLOTS_MAX (1u << 16)

struct pipeline {
	struct store *st;
	struct masker *masker;
	struct cluster_slot *slots;
	size_t nslots, used;
};

struct pipeline *pipeline_new(struct store *st, const struct mask_rules *rules)
{
	struct pipeline *p = xcalloc(1, sizeof *p);
	p->st = st;
	p->masker = masker_new(rules);
	p->nslots = 1024;
	p->slots = xcalloc(p->nslots, sizeof *p->slots);
	return p;
}

void pipeline_free(struct pipeline **pp)
{
	if (!*pp)
		return;
	masker_free(&(*pp)->masker);
	free((*pp)->slots);
	xfree(pp);
}

static const char SQL_CLUSTER_CREATE[] =
	"INSERT INTO clusters (fingerprint, name, service, template, severity, alerts, "
	"occurrences, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?6) "
	"ON CONFLICT (fingerprint) DO NOTHING";
static const char SQL_CLUSTER_ID[] = "SELECT id FROM clusters WHERE fingerprint = ?";
static const char SQL_CLUSTER_FLUSH[] =
	"UPDATE clusters SET alerts = alerts + ?1, occurrences = occurrences + ?2, "
	"last_seen = max(last_seen, ?3), severity = coalesce(?4, severity) WHERE id = ?5";
static const char SQL_ALERT_BY_KEY[] = "SELECT id, cluster_id FROM alerts WHERE dedup_key = ?";
static const char SQL_ALERT_INSERT[] =
	"INSERT INTO alerts (record_id, source, dedup_key, status, silenced, inhibited, severity, "
	"name, service, message, masked, labels, starts_at, ends_at, received_at, updated_at, "
	"cluster_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, "
	"?16) ON CONFLICT (dedup_key) DO NOTHING";
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

static struct cluster_slot *slot_find(struct pipeline *p, uint64_t fp)
{
	size_t mask = p->nslots - 1;
	size_t i = (size_t)(fp ^ (fp >> 29)) & mask;
	while (p->slots[i].fp && p->slots[i].fp != fp)
		i = (i + 1) & mask;
	return &p->slots[i];
}

static void slots_grow(struct pipeline *p)
{
	struct cluster_slot *old = p->slots;
	size_t n = p->nslots;
	p->nslots *= 2;
	p->slots = xcalloc(p->nslots, sizeof *p->slots);
	for (size_t i = 0; i < n; i++)
		if (old[i].fp)
			*slot_find(p, old[i].fp) = old[i];
	free(old);
}

static int64_t cluster_lookup_or_create(struct pipeline *p, const char *fp, const struct alert *a,
					const char *masked, size_t masked_len, int64_t seen)
{
	sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_CREATE);
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->service ? a->service : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, masked, (int)masked_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, severity_name(a->severity), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, seen);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(store_db(p->st)) == 1)
		return sqlite3_last_insert_rowid(store_db(p->st));
	st = store_stmt(p->st, SQL_CLUSTER_ID);
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	int64_t id = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

/* The slot of fingerprint fp, its cluster row created when new. */
static struct cluster_slot *cluster_slot(struct pipeline *p, const char *fp_hex,
					 const struct alert *a, const char *masked,
					 size_t masked_len, int64_t seen)
{
	uint64_t fp = strtoull(fp_hex, NULL, 16);
	if (fp == 0)
		fp = 1; /* 0 marks an empty slot; a collision here costs nothing but a lookup */
	struct cluster_slot *s = slot_find(p, fp);
	if (s->fp)
		return s;
	int64_t id = cluster_lookup_or_create(p, fp_hex, a, masked, masked_len, seen);
	if (id < 0)
		return NULL;
	if ((p->used + 1) * 2 > p->nslots) {
		if (p->nslots < SLOTS_MAX) {
			slots_grow(p);
		} else if (pipeline_flush(p) == STATUS_OK) {
			/* full: forget every id learnt; they are cheap to find again */
			memset(p->slots, 0, p->nslots * sizeof *p->slots);
			p->used = 0;
		} else {
			return NULL;
		}
		s = slot_find(p, fp);
	}
	*s = (struct cluster_slot){ .fp = fp, .id = id, .severity = -1 };
	p->used++;
	return s;
}

/* Find the slot holding cluster id (for an alert moving off it). */
static struct cluster_slot *slot_by_id(struct pipeline *p, int64_t id)
{
	for (size_t i = 0; i < p->nslots; i++)
		if (p->slots[i].fp && p->slots[i].id == id)
			return &p->slots[i];
	return NULL;
}

enum status pipeline_flush(struct pipeline *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		struct cluster_slot *s = &p->slots[i];
		if (!s->fp || !s->dirty)
			continue;
		sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_FLUSH);
		sqlite3_bind_int64(st, 1, s->d_alerts);
		sqlite3_bind_int64(st, 2, s->d_occurrences);
		sqlite3_bind_int64(st, 3, s->last_seen);
		if (s->severity >= 0)
			sqlite3_bind_text(st, 4, severity_name((enum severity)s->severity), -1,
					  SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, s->id);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return STATUS_STORE;
		s->d_alerts = s->d_occurrences = 0;
		s->severity = -1;
		s->dirty = false;
	}
	return STATUS_OK;
}

void pipeline_discard(struct pipeline *p)
{
	/* after a rollback, ids learnt in the batch may not exist: forget all */
	memset(p->slots, 0, p->nslots * sizeof *p->slots);
	p->used = 0;
}

static void slot_count(struct cluster_slot *s, int64_t d_alerts, int64_t d_occ, int64_t seen,
		       int severity)
{
	s->d_alerts += d_alerts;
	s->d_occurrences += d_occ;
	if (seen > s->last_seen)
		s->last_seen = seen;
	if (severity >= 0)
		s->severity = severity;
	s->dirty = true;
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

void pipeline_prepare(struct masker *m, const struct alert *a, struct pipeline_prep *out)
{
	memset(out, 0, sizeof *out);
	if (a->status_only)
		return;
	size_t mlen;
	const char *masked = mask_apply(m, a->message, strlen(a->message), &mlen);
	out->masked = xstrndup(masked, mlen);
	out->masked_len = mlen;
	fingerprint_hex(a->name, a->service, out->masked, mlen, out->fp);
	out->labels = a->labels ? json_dumps(a->labels, JSON_COMPACT) : NULL;
	if (!out->labels)
		out->labels = xstrdup("{}");
}

void pipeline_prep_clear(struct pipeline_prep *prep)
{
	xfree(&prep->masked);
	xfree(&prep->labels);
}

enum pipeline_result pipeline_add(struct pipeline *p, const struct alert *a, int64_t record_id,
				  int64_t received_at)
{
	struct pipeline_prep prep;
	pipeline_prepare(p->masker, a, &prep);
	enum pipeline_result r = pipeline_add_prepared(p, a, &prep, record_id, received_at);
	pipeline_prep_clear(&prep);
	return r;
}

enum pipeline_result pipeline_add_prepared(struct pipeline *p, const struct alert *a,
					   const struct pipeline_prep *prep, int64_t record_id,
					   int64_t received_at)
{
	int64_t alert_id = 0, old_cluster = 0;
	bool exists = false;
	const char *status = a->resolved ? "resolved" : "firing";

	if (a->status_only) {
		exists = a->dedup_key && lookup_alert(p, a->dedup_key, &alert_id, &old_cluster);
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

	const char *masked = prep->masked;
	size_t mlen = prep->masked_len;
	const char *fp = prep->fp;
	struct cluster_slot *slot = cluster_slot(p, fp, a, masked, mlen, received_at);
	if (!slot)
		return PIPE_ERROR;
	int64_t cluster = slot->id;

	const char *labels = prep->labels;
	int64_t ends_at = a->ends_at ? a->ends_at : (a->resolved ? received_at : 0);
	sqlite3_stmt *st;
	if (!exists) {
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
		sqlite3_bind_text(st, 12, labels, -1, SQLITE_STATIC);
		bind_time(st, 13, a->starts_at);
		bind_time(st, 14, ends_at);
		sqlite3_bind_int64(st, 15, received_at);
		sqlite3_bind_int64(st, 16, cluster);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return PIPE_ERROR;
		if (sqlite3_changes(store_db(p->st)) == 1) {
			slot_count(slot, 1, 1, received_at, (int)a->severity);
			return PIPE_INSERTED;
		}
		/* the key exists after all: update it below */
		if (!lookup_alert(p, a->dedup_key, &alert_id, &old_cluster))
			return PIPE_ERROR;
	}
	st = store_stmt(p->st, SQL_ALERT_UPDATE);
	sqlite3_bind_int64(st, 1, record_id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, a->silenced);
	sqlite3_bind_int(st, 4, a->inhibited);
	sqlite3_bind_text(st, 5, severity_name(a->severity), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, masked, (int)mlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, labels, -1, SQLITE_STATIC);
	bind_time(st, 9, a->starts_at);
	bind_time(st, 10, ends_at);
	sqlite3_bind_int64(st, 11, received_at);
	sqlite3_bind_int64(st, 12, cluster);
	sqlite3_bind_int64(st, 13, alert_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return PIPE_ERROR;
	if (old_cluster == cluster) {
		slot_count(slot, 0, 1, received_at, (int)a->severity);
	} else {
		/* the alert moved: it is counted once, where it is now */
		struct cluster_slot *from = slot_by_id(p, old_cluster);
		if (!from) {
			sqlite3_stmt *u = store_stmt(p->st, SQL_CLUSTER_FLUSH);
			sqlite3_bind_int64(u, 1, -1);
			sqlite3_bind_int64(u, 2, 0);
			sqlite3_bind_int64(u, 3, 0);
			sqlite3_bind_int64(u, 5, old_cluster);
			rc = sqlite3_step(u);
			sqlite3_reset(u);
			if (rc != SQLITE_DONE)
				return PIPE_ERROR;
		} else {
			slot_count(from, -1, 0, 0, -1);
		}
		slot_count(slot, 1, 1, received_at, (int)a->severity);
	}
	return PIPE_UPDATED;
}

/*
 * pipeline.c — mask → template → cluster → alert row. See pipeline.h for
 * the two halves and the id scheme.
 *
 * Counters: a cluster's alert and occurrence counts are kept here during a
 * batch and written once per cluster at pipeline_flush(), instead of one
 * UPDATE per alert: a batch of 5000 alerts of one kind costs one cluster
 * write, not 5000. `alerts` always equals the rows that point at a cluster:
 * an alert that moves (its message changed, or its cluster was merged) moves
 * its count with it.
 */
#include "config.h"
#include "pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small map: uint64 key → int64 value (key 0 is "empty") --------- */

struct idmap {
	struct idmap_slot {
		uint64_t key;
		int64_t val;
	} *v;
	size_t cap, used;
};

static size_t idmap_home(const struct idmap *m, uint64_t key)
{
	uint64_t h = key * UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(h >> 32) & (m->cap - 1);
}

static struct idmap_slot *idmap_find(const struct idmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = idmap_home(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].key == key)
			return &m->v[i];
		if (m->v[i].key == 0)
			return NULL;
	}
}

static void idmap_put(struct idmap *m, uint64_t key, int64_t val)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct idmap old = *m;
		m->cap = m->cap ? m->cap * 2 : 256;
		m->v = xcalloc(m->cap, sizeof *m->v);
		m->used = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.v[i].key)
				idmap_put(m, old.v[i].key, old.v[i].val);
		free(old.v);
	}
	size_t i = idmap_home(m, key);
	while (m->v[i].key && m->v[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->v[i].key)
		m->used++;
	m->v[i].key = key;
	m->v[i].val = val;
}

/* Deletion with backward shift keeps probe chains intact. */
static void idmap_del(struct idmap *m, uint64_t key)
{
	struct idmap_slot *s = idmap_find(m, key);
	if (!s)
		return;
	size_t i = (size_t)(s - m->v);
	for (;;) {
		m->v[i].key = 0;
		size_t j = i;
		for (;;) {
			j = (j + 1) & (m->cap - 1);
			if (!m->v[j].key) {
				m->used--;
				return;
			}
			size_t h = idmap_home(m, m->v[j].key);
			/* can the entry at j move into the hole at i? */
			if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j)))
				break;
		}
		m->v[i] = m->v[j];
		i = j;
	}
}

static void idmap_clear(struct idmap *m)
{
	if (m->v)
		memset(m->v, 0, m->cap * sizeof *m->v);
	m->used = 0;
}

/* ---- the reader half --------------------------------------------------- */

struct pipeline_reader {
	const struct mask_rules *rules;
	struct miner *miner;
	struct store *ro;
	void (*barrier)(void *);
	void *barrier_ctx;
	bool evicted_since_barrier;
	struct pipeline_event *events; /* gathered during one miner_add */
	size_t nevents, capevents;
	struct buf masked;
};

static const char SQL_BUCKET[] =
	"SELECT id, bucket, name, service, template, kinds, ntokens, occurrences "
	"FROM clusters WHERE bucket = ? AND merged_into IS NULL";

static void reader_on_event(void *ctx, const struct miner_event *ev)
{
	struct pipeline_reader *r = ctx;
	if (r->nevents == r->capevents) {
		r->capevents = r->capevents ? r->capevents * 2 : 4;
		r->events = xrealloc(r->events, r->capevents * sizeof *r->events);
	}
	const struct miner_template *t = ev->tmpl;
	r->events[r->nevents++] = (struct pipeline_event){
		.kind = ev->kind,
		.id = t->id,
		.merged_from = ev->merged_from,
		.bucket = t->bucket,
		.name = xstrdup(t->name ? t->name : ""),
		.service = xstrdup(t->service ? t->service : ""),
		.text = xstrdup(t->text),
		.kinds = xstrdup(t->kinds),
		.ntokens = t->ntokens,
	};
	if (ev->kind == MINER_EV_EVICTED)
		r->evicted_since_barrier = true;
}

static void reader_loader(void *ctx, struct miner *m, uint64_t bucket)
{
	struct pipeline_reader *r = ctx;
	if (!r->ro)
		return;
	/* an evicted template may still be on its way to the store */
	if (r->evicted_since_barrier && r->barrier) {
		r->barrier(r->barrier_ctx);
		r->evicted_since_barrier = false;
	}
	sqlite3_stmt *st = store_stmt(r->ro, SQL_BUCKET);
	sqlite3_bind_int64(st, 1, (int64_t)bucket);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct miner_template t = {
			.id = (uint64_t)sqlite3_column_int64(st, 0),
			.bucket = (uint64_t)sqlite3_column_int64(st, 1),
			.name = (const char *)sqlite3_column_text(st, 2),
			.service = (const char *)sqlite3_column_text(st, 3),
			.text = (const char *)sqlite3_column_text(st, 4),
			.kinds = (const char *)sqlite3_column_text(st, 5),
			.ntokens = (size_t)sqlite3_column_int64(st, 6),
			.count = (uint64_t)sqlite3_column_int64(st, 7),
		};
		/* a row the miner cannot take is skipped: it starts afresh */
		(void)miner_restore(m, &t);
	}
	sqlite3_reset(st);
}

struct pipeline_reader *pipeline_reader_new(const struct mask_rules *rules, struct store *ro,
					    void (*barrier)(void *), void *barrier_ctx)
{
	struct pipeline_reader *r = xcalloc(1, sizeof *r);
	r->rules = rules;
	r->ro = ro;
	r->barrier = barrier;
	r->barrier_ctx = barrier_ctx;
	struct miner_config cfg = { .first_id = MINER_FRESH_IDS };
	r->miner = miner_new(rules, &cfg);
	miner_set_hooks(r->miner, reader_on_event, reader_loader, r);
	return r;
}

static void event_clear(struct pipeline_event *e)
{
	free(e->name);
	free(e->service);
	free(e->text);
	free(e->kinds);
}

void pipeline_reader_free(struct pipeline_reader **rp)
{
	struct pipeline_reader *r = *rp;
	if (!r)
		return;
	miner_free(&r->miner);
	for (size_t i = 0; i < r->nevents; i++)
		event_clear(&r->events[i]);
	free(r->events);
	buf_free(&r->masked);
	xfree(rp);
}

/* The masked message of the last miner_add, rebuilt from the spans. */
static void masked_text(struct pipeline_reader *r, const char *text, size_t len)
{
	const struct mask_span *sp;
	size_t n = mask_last_spans(miner_masker(r->miner), &sp);
	buf_reset(&r->masked);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		buf_add(&r->masked, text + at, sp[i].start - at);
		buf_adds(&r->masked, mask_rule_placeholder(r->rules, sp[i].rule));
		at = sp[i].end;
	}
	buf_add(&r->masked, text + at, len - at);
}

void pipeline_prepare(struct pipeline_reader *r, const struct alert *a, struct pipeline_prep *out)
{
	memset(out, 0, sizeof *out);
	if (a->status_only)
		return;
	size_t len = strlen(a->message);
	struct miner_result res;
	r->nevents = 0;
	miner_add(r->miner, a->name, a->service, a->message, len, &res);
	out->cluster = res.id;
	masked_text(r, a->message, len);
	out->masked = xstrndup(r->masked.data, r->masked.len);
	out->masked_len = r->masked.len;
	fingerprint_hex(a->name, a->service, out->masked, out->masked_len, out->fp);
	out->labels = a->labels ? json_dumps(a->labels, JSON_COMPACT) : NULL;
	if (!out->labels)
		out->labels = xstrdup("{}");
	if (r->nevents) {
		/* hand the events over; the reader's vector starts empty again */
		out->events = xmalloc(r->nevents * sizeof *out->events);
		memcpy(out->events, r->events, r->nevents * sizeof *out->events);
		out->nevents = r->nevents;
		r->nevents = 0;
	}
}

void pipeline_prep_clear(struct pipeline_prep *prep)
{
	xfree(&prep->masked);
	xfree(&prep->labels);
	for (size_t i = 0; i < prep->nevents; i++)
		event_clear(&prep->events[i]);
	xfree(&prep->events);
	prep->nevents = 0;
}

/* ---- the writer half --------------------------------------------------- */

struct counter {
	int64_t d_alerts, d_occurrences, last_seen;
	int severity; /* highest seen in the batch, -1: none */
};

struct pipeline {
	struct store *st;
	const struct mask_rules *rules;
	struct pipeline_reader *own; /* for pipeline_add */
	struct idmap rows;           /* fresh miner id → cluster row */
	struct idmap counter_of;     /* cluster row → index into counters */
	struct counter *counters;
	size_t ncounters, capcounters;
};

struct pipeline *pipeline_new(struct store *st, const struct mask_rules *rules)
{
	struct pipeline *p = xcalloc(1, sizeof *p);
	p->st = st;
	p->rules = rules;
	return p;
}

void pipeline_free(struct pipeline **pp)
{
	struct pipeline *p = *pp;
	if (!p)
		return;
	pipeline_reader_free(&p->own);
	free(p->rows.v);
	free(p->counter_of.v);
	free(p->counters);
	xfree(pp);
}

static const char SQL_CLUSTER_NEW[] =
	"INSERT INTO clusters (bucket, name, service, template, kinds, ntokens, severity, "
	"first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'info', ?7, ?7)";
static const char SQL_CLUSTER_TEMPLATE[] =
	"UPDATE clusters SET template = ?1, kinds = ?2 WHERE id = ?3";
static const char SQL_CLUSTER_FLUSH[] =
	"UPDATE clusters SET alerts = alerts + ?1, occurrences = occurrences + ?2, "
	"last_seen = max(last_seen, ?3), "
	"severity = CASE WHEN ?4 IS NULL THEN severity ELSE ?4 END WHERE id = ?5";
static const char SQL_CLUSTER_MERGE[] =
	"UPDATE clusters SET alerts = alerts + (SELECT alerts FROM clusters WHERE id = ?2), "
	"occurrences = occurrences + (SELECT occurrences FROM clusters WHERE id = ?2), "
	"first_seen = min(first_seen, (SELECT first_seen FROM clusters WHERE id = ?2)), "
	"last_seen = max(last_seen, (SELECT last_seen FROM clusters WHERE id = ?2)) "
	"WHERE id = ?1";
static const char SQL_CLUSTER_RETIRE[] =
	"UPDATE clusters SET merged_into = ?1, merged_at = ?3, alerts = 0 WHERE id = ?2";
static const char SQL_ALERTS_MOVE[] = "UPDATE alerts SET cluster_id = ?1 WHERE cluster_id = ?2";
static const char SQL_ALERT_BY_KEY[] = "SELECT id, cluster_id FROM alerts WHERE dedup_key = ?";
static const char SQL_ALERT_INSERT[] =
	"INSERT INTO alerts (record_id, source, dedup_key, status, silenced, inhibited, severity, "
	"name, service, message, masked, fingerprint, labels, starts_at, ends_at, received_at, "
	"updated_at, cluster_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	"?14, ?15, ?16, ?16, ?17) ON CONFLICT (dedup_key) DO NOTHING";
static const char SQL_ALERT_UPDATE[] =
	"UPDATE alerts SET record_id = ?1, status = ?2, silenced = ?3, inhibited = ?4, "
	"severity = ?5, message = ?6, masked = ?7, fingerprint = ?8, labels = ?9, "
	"starts_at = coalesce(?10, starts_at), ends_at = ?11, updated_at = ?12, "
	"occurrences = occurrences + 1, cluster_id = ?13 WHERE id = ?14";
static const char SQL_ALERT_STATUS[] =
	"UPDATE alerts SET record_id = ?1, status = ?2, ends_at = CASE WHEN ?2 = 'resolved' THEN "
	"?3 ELSE ends_at END, updated_at = ?3, occurrences = occurrences + 1 WHERE id = ?4";

static int64_t row_of(struct pipeline *p, uint64_t miner_id)
{
	if (miner_id < MINER_FRESH_IDS)
		return (int64_t)miner_id;
	struct idmap_slot *s = idmap_find(&p->rows, miner_id);
	return s ? s->val : -1;
}

int64_t pipeline_cluster_row(struct pipeline *p, uint64_t miner_id)
{
	return row_of(p, miner_id);
}

static struct counter *counter_for(struct pipeline *p, int64_t row)
{
	struct idmap_slot *s = idmap_find(&p->counter_of, (uint64_t)row);
	if (s)
		return &p->counters[s->val];
	if (p->ncounters == p->capcounters) {
		p->capcounters = p->capcounters ? p->capcounters * 2 : 64;
		p->counters = xrealloc(p->counters, p->capcounters * sizeof *p->counters);
	}
	idmap_put(&p->counter_of, (uint64_t)row, (int64_t)p->ncounters);
	struct counter *c = &p->counters[p->ncounters++];
	*c = (struct counter){ .severity = -1 };
	return c;
}

static void count(struct pipeline *p, int64_t row, int64_t d_alerts, int64_t d_occ,
		  int64_t seen, int severity)
{
	struct counter *c = counter_for(p, row);
	c->d_alerts += d_alerts;
	c->d_occurrences += d_occ;
	if (seen > c->last_seen)
		c->last_seen = seen;
	if (severity > c->severity)
		c->severity = severity;
}

enum status pipeline_flush(struct pipeline *p)
{
	for (size_t i = 0; i < p->counter_of.cap; i++) {
		struct idmap_slot *s = &p->counter_of.v[i];
		if (!s->key)
			continue;
		struct counter *c = &p->counters[s->val];
		sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_FLUSH);
		sqlite3_bind_int64(st, 1, c->d_alerts);
		sqlite3_bind_int64(st, 2, c->d_occurrences);
		sqlite3_bind_int64(st, 3, c->last_seen);
		if (c->severity >= 0)
			sqlite3_bind_text(st, 4, severity_name((enum severity)c->severity), -1,
					  SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)s->key);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return STATUS_STORE;
	}
	idmap_clear(&p->counter_of);
	p->ncounters = 0;
	return STATUS_OK;
}

void pipeline_discard(struct pipeline *p)
{
	idmap_clear(&p->rows);
	idmap_clear(&p->counter_of);
	p->ncounters = 0;
	pipeline_reader_free(&p->own);
}

static bool step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

static bool set_template(struct pipeline *p, int64_t row, const struct pipeline_event *e)
{
	sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_TEMPLATE);
	sqlite3_bind_text(st, 1, e->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->kinds, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, row);
	return step_done(st);
}

/* Persist one template event of the miner. */
static bool apply_event(struct pipeline *p, const struct pipeline_event *e, int64_t now)
{
	switch (e->kind) {
	case MINER_EV_NEW: {
		sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_NEW);
		sqlite3_bind_int64(st, 1, (int64_t)e->bucket);
		sqlite3_bind_text(st, 2, e->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->service, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->kinds, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (int64_t)e->ntokens);
		sqlite3_bind_int64(st, 7, now);
		if (!step_done(st))
			return false;
		idmap_put(&p->rows, e->id, sqlite3_last_insert_rowid(store_db(p->st)));
		return true;
	}
	case MINER_EV_CHANGED:
	case MINER_EV_EVICTED: {
		int64_t row = row_of(p, e->id);
		if (row < 0)
			return false;
		if (!set_template(p, row, e))
			return false;
		/* an evicted fresh id is never used again: the store has it */
		if (e->kind == MINER_EV_EVICTED && e->id >= MINER_FRESH_IDS)
			idmap_del(&p->rows, e->id);
		return true;
	}
	case MINER_EV_MERGED: {
		int64_t win = row_of(p, e->id), lose = row_of(p, e->merged_from);
		if (win < 0 || lose < 0)
			return false;
		if (win == lose)
			return true;
		/* counters first, so the totals moved below are complete */
		if (pipeline_flush(p) != STATUS_OK)
			return false;
		sqlite3_stmt *st = store_stmt(p->st, SQL_CLUSTER_MERGE);
		sqlite3_bind_int64(st, 1, win);
		sqlite3_bind_int64(st, 2, lose);
		if (!step_done(st))
			return false;
		st = store_stmt(p->st, SQL_CLUSTER_RETIRE);
		sqlite3_bind_int64(st, 1, win);
		sqlite3_bind_int64(st, 2, lose);
		sqlite3_bind_int64(st, 3, now);
		if (!step_done(st))
			return false;
		st = store_stmt(p->st, SQL_ALERTS_MOVE);
		sqlite3_bind_int64(st, 1, win);
		sqlite3_bind_int64(st, 2, lose);
		if (!step_done(st))
			return false;
		/* the survivor takes the loser's incident when it has none */
		st = store_stmt(p->st, "INSERT OR IGNORE INTO incident_clusters (cluster_id, "
				       "incident_id, joined_at, reason) SELECT ?1, incident_id, "
				       "joined_at, 'template merged with cluster ' || ?2 "
				       "FROM incident_clusters WHERE cluster_id = ?2");
		sqlite3_bind_int64(st, 1, win);
		sqlite3_bind_int64(st, 2, lose);
		if (!step_done(st))
			return false;
		st = store_stmt(p->st, "DELETE FROM incident_clusters WHERE cluster_id = ?");
		sqlite3_bind_int64(st, 1, lose);
		if (!step_done(st))
			return false;
		if (e->merged_from >= MINER_FRESH_IDS)
			idmap_del(&p->rows, e->merged_from);
		return set_template(p, win, e);
	}
	}
	return false;
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

static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
	if (ms)
		sqlite3_bind_int64(st, i, ms);
	else
		sqlite3_bind_null(st, i);
}

enum pipeline_result pipeline_add_prepared(struct pipeline *p, const struct alert *a,
					   const struct pipeline_prep *prep, int64_t record_id,
					   int64_t received_at, int64_t *cluster_id)
{
	int64_t alert_id = 0, old_cluster = 0;
	const char *status = a->resolved ? "resolved" : "firing";

	if (a->status_only) {
		if (!a->dedup_key || !lookup_alert(p, a->dedup_key, &alert_id, &old_cluster))
			return PIPE_UNMATCHED;
		sqlite3_stmt *st = store_stmt(p->st, SQL_ALERT_STATUS);
		sqlite3_bind_int64(st, 1, record_id);
		sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, received_at);
		sqlite3_bind_int64(st, 4, alert_id);
		if (cluster_id)
			*cluster_id = old_cluster;
		return step_done(st) ? PIPE_UPDATED : PIPE_ERROR;
	}

	for (size_t i = 0; i < prep->nevents; i++)
		if (!apply_event(p, &prep->events[i], received_at))
			return PIPE_ERROR;
	int64_t cluster = row_of(p, prep->cluster);
	if (cluster < 0)
		return PIPE_ERROR;
	if (cluster_id)
		*cluster_id = cluster;

	int64_t ends_at = a->ends_at ? a->ends_at : (a->resolved ? received_at : 0);
	sqlite3_stmt *st = store_stmt(p->st, SQL_ALERT_INSERT);
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
	sqlite3_bind_text(st, 11, prep->masked, (int)prep->masked_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, prep->fp, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, prep->labels, -1, SQLITE_STATIC);
	bind_time(st, 14, a->starts_at);
	bind_time(st, 15, ends_at);
	sqlite3_bind_int64(st, 16, received_at);
	sqlite3_bind_int64(st, 17, cluster);
	if (!step_done(st))
		return PIPE_ERROR;
	if (sqlite3_changes(store_db(p->st)) == 1) {
		count(p, cluster, 1, 1, received_at, (int)a->severity);
		return PIPE_INSERTED;
	}
	/* the dedup key exists: this occurrence updates that alert */
	if (!lookup_alert(p, a->dedup_key, &alert_id, &old_cluster))
		return PIPE_ERROR;
	st = store_stmt(p->st, SQL_ALERT_UPDATE);
	sqlite3_bind_int64(st, 1, record_id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, a->silenced);
	sqlite3_bind_int(st, 4, a->inhibited);
	sqlite3_bind_text(st, 5, severity_name(a->severity), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, prep->masked, (int)prep->masked_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, prep->fp, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, prep->labels, -1, SQLITE_STATIC);
	bind_time(st, 10, a->starts_at);
	bind_time(st, 11, ends_at);
	sqlite3_bind_int64(st, 12, received_at);
	sqlite3_bind_int64(st, 13, cluster);
	sqlite3_bind_int64(st, 14, alert_id);
	if (!step_done(st))
		return PIPE_ERROR;
	if (old_cluster != cluster) {
		/* the alert moved: it is counted once, where it is now */
		count(p, old_cluster, -1, 0, 0, -1);
		count(p, cluster, 1, 1, received_at, (int)a->severity);
	} else {
		count(p, cluster, 0, 1, received_at, (int)a->severity);
	}
	return PIPE_UPDATED;
}

enum pipeline_result pipeline_add(struct pipeline *p, const struct alert *a, int64_t record_id,
				  int64_t received_at)
{
	/* one thread: the loader reads through the writer's own connection,
	 * which sees the batch's uncommitted rows, so no barrier is needed */
	if (!p->own)
		p->own = pipeline_reader_new(p->rules, p->st, NULL, NULL);
	struct pipeline_prep prep;
	pipeline_prepare(p->own, a, &prep);
	enum pipeline_result r = pipeline_add_prepared(p, a, &prep, record_id, received_at, NULL);
	pipeline_prep_clear(&prep);
	return r;
}

/*
 * incident.c — see incident.h.
 *
 * The correlator keeps, per batch, what it learnt about each cluster's
 * incident and each touched incident's counters, and writes the counters
 * once at correlator_flush(). Nothing is cached across batches: between two
 * transactions another process (an engineer's console) may have acked,
 * resolved or merged anything.
 */
#include "config.h"
#include "incident.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVE "('open', 'acknowledged', 'snoozed')"
#define AUTOMATION "sitrep"

/* ---- settings ----------------------------------------------------------- */

void incident_settings_default(struct incident_settings *s)
{
	memset(s, 0, sizeof *s);
	s->window_ms = 10 * 60 * 1000;
	s->reopen_ms = 24 * 3600 * 1000LL;
	s->wake_rate = 3.0;
	s->known_quiet_ms = 3600 * 1000LL;
	s->known_expire_ms = 3 * 86400 * 1000LL;
	incident_settings_set_labels(s, "firm, user, product, customer, tenant, account");
}

void incident_settings_free(struct incident_settings *s)
{
	for (size_t i = 0; i < s->nlabel_keys; i++)
		free(s->label_keys[i]);
	xfree(&s->label_keys);
	s->nlabel_keys = 0;
}

void incident_settings_set_labels(struct incident_settings *s, const char *list)
{
	for (size_t i = 0; i < s->nlabel_keys; i++)
		free(s->label_keys[i]);
	free(s->label_keys);
	s->label_keys = NULL;
	s->nlabel_keys = 0;
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		size_t n = strcspn(p, ", \t");
		if (n) {
			s->label_keys = xrealloc(s->label_keys,
						 (s->nlabel_keys + 1) * sizeof *s->label_keys);
			s->label_keys[s->nlabel_keys++] = xstrndup(p, n);
		}
		p += n;
	}
}

int64_t alert_event_time(const struct alert *a, int64_t received_at)
{
	if (a->starts_at > 0 && a->starts_at <= received_at + 5 * 60 * 1000)
		return a->starts_at;
	return received_at;
}

/* ---- small helpers ------------------------------------------------------ */

static bool done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

static int sev_rank(const char *s)
{
	enum severity v = SEV_INFO;
	severity_from_word(s, &v);
	return (int)v;
}

static bool add_event(struct store *st, int64_t incident, int64_t at, const char *kind,
		      const char *actor, const char *detail)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO events (incident_id, at, kind, actor, detail) "
					 "VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_int64(s, 1, incident);
	sqlite3_bind_int64(s, 2, at);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, detail ? detail : "", -1, SQLITE_STATIC);
	return done(s);
}

static bool add_eventf(struct store *st, int64_t incident, int64_t at, const char *kind,
		       const char *actor, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static bool add_eventf(struct store *st, int64_t incident, int64_t at, const char *kind,
		       const char *actor, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *detail = xvasprintf(fmt, ap);
	va_end(ap);
	bool ok = add_event(st, incident, at, kind, actor, detail);
	free(detail);
	return ok;
}

static void fmt_duration(int64_t ms, char out[32])
{
	int64_t s = ms / 1000;
	if (s % 86400 == 0 && s)
		snprintf(out, 32, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0 && s)
		snprintf(out, 32, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0 && s)
		snprintf(out, 32, "%lldm", (long long)(s / 60));
	else
		snprintf(out, 32, "%llds", (long long)s);
}

/* ---- the correlator ----------------------------------------------------- */

/* What the batch knows of one incident. */
struct inc_state {
	int64_t id;
	char state[16];
	int severity;         /* rank */
	int snooze_severity;  /* rank, -1 none */
	double snooze_rate;
	int64_t resolved_at;
	int64_t db_last_alert_at; /* as stored */
	/* pending counters */
	int64_t d_alerts, last_alert_at;
	struct {
		int64_t minute, n;
	} mins[8];
	size_t nmins;
	int new_severity;     /* highest seen, -1 none */
	bool touched;
};

struct correlator {
	struct store *st;
	const struct incident_settings *s;
	/* cluster id → incident id (0: none), this batch */
	struct cmap {
		int64_t cluster, incident;
	} *cm;
	size_t ncm, capcm;
	struct inc_state *inc;
	size_t ninc, capinc;
	/* identifying label values seen this batch, written at flush: one
	 * upsert per (incident, key, value) per batch, not per alert */
	struct label_seen {
		uint64_t hash; /* 0: empty slot */
		int64_t incident;
		size_t key;    /* index into settings label_keys */
		char *value;
		int64_t last_seen;
	} *labels;
	size_t nlabels_cap, nlabels;
	int known_any; /* known_issues has rows: -1 not checked this batch */
};

struct correlator *correlator_new(struct store *st, const struct incident_settings *s)
{
	struct correlator *c = xcalloc(1, sizeof *c);
	c->st = st;
	c->s = s;
	c->known_any = -1;
	return c;
}

static void labels_reset(struct correlator *c)
{
	for (size_t i = 0; i < c->nlabels_cap; i++) {
		free(c->labels[i].value);
		c->labels[i].value = NULL;
		c->labels[i].hash = 0;
	}
	c->nlabels = 0;
}

void correlator_free(struct correlator **cp)
{
	if (!*cp)
		return;
	labels_reset(*cp);
	free((*cp)->labels);
	free((*cp)->cm);
	free((*cp)->inc);
	xfree(cp);
}

void correlator_discard(struct correlator *c)
{
	c->ncm = 0;
	c->ninc = 0;
	labels_reset(c);
	c->known_any = -1;
}

/* Batches touch few clusters and incidents: linear lists are enough. */
static struct cmap *cmap_find(struct correlator *c, int64_t cluster)
{
	for (size_t i = 0; i < c->ncm; i++)
		if (c->cm[i].cluster == cluster)
			return &c->cm[i];
	return NULL;
}

static void cmap_set(struct correlator *c, int64_t cluster, int64_t incident)
{
	struct cmap *m = cmap_find(c, cluster);
	if (m) {
		m->incident = incident;
		return;
	}
	if (c->ncm == c->capcm) {
		c->capcm = c->capcm ? c->capcm * 2 : 64;
		c->cm = xrealloc(c->cm, c->capcm * sizeof *c->cm);
	}
	c->cm[c->ncm++] = (struct cmap){ cluster, incident };
}

static struct inc_state *inc_load(struct correlator *c, int64_t id)
{
	for (size_t i = 0; i < c->ninc; i++)
		if (c->inc[i].id == id)
			return &c->inc[i];
	sqlite3_stmt *st = store_stmt(c->st, "SELECT state, severity, snooze_severity, "
					     "snooze_rate, resolved_at, merged_into, last_alert_at "
					     "FROM incidents WHERE id = ?");
	/* follow merges: alerts of a merged incident belong to the survivor */
	for (int hops = 0; hops < 64; hops++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			return NULL;
		}
		if (sqlite3_column_type(st, 5) == SQLITE_NULL)
			break;
		id = sqlite3_column_int64(st, 5);
	}
	if (c->ninc == c->capinc) {
		c->capinc = c->capinc ? c->capinc * 2 : 32;
		c->inc = xrealloc(c->inc, c->capinc * sizeof *c->inc);
	}
	struct inc_state *s = &c->inc[c->ninc++];
	memset(s, 0, sizeof *s);
	s->id = id;
	snprintf(s->state, sizeof s->state, "%s", (const char *)sqlite3_column_text(st, 0));
	s->severity = sev_rank((const char *)sqlite3_column_text(st, 1));
	s->snooze_severity = sqlite3_column_type(st, 2) == SQLITE_NULL
				     ? -1
				     : sev_rank((const char *)sqlite3_column_text(st, 2));
	s->snooze_rate = sqlite3_column_double(st, 3);
	s->resolved_at = sqlite3_column_int64(st, 4);
	s->db_last_alert_at = sqlite3_column_int64(st, 6);
	s->new_severity = -1;
	sqlite3_reset(st);
	return s;
}

/* The incident a cluster belongs to now (0: none). */
static int64_t membership(struct correlator *c, int64_t cluster)
{
	struct cmap *m = cmap_find(c, cluster);
	if (m)
		return m->incident;
	sqlite3_stmt *st = store_stmt(c->st, "SELECT incident_id FROM incident_clusters "
					     "WHERE cluster_id = ?");
	sqlite3_bind_int64(st, 1, cluster);
	int64_t inc = 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		inc = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	cmap_set(c, cluster, inc);
	return inc;
}

static bool set_state(struct store *st, int64_t id, const char *state)
{
	sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET state = ? WHERE id = ?");
	sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	return done(s);
}

/* Add the cluster to an incident. Automatic joins are remembered in the
 * cluster's history (what recurrence and "top recurring" count); a human
 * split is not a recurrence. */
static bool join(struct store *st, int64_t cluster, int64_t incident, int64_t at,
		 const char *reason, bool history)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO incident_clusters (cluster_id, incident_id, "
					 "joined_at, reason) VALUES (?1, ?2, ?3, ?4) "
					 "ON CONFLICT (cluster_id) DO UPDATE SET incident_id = ?2, "
					 "joined_at = ?3, reason = ?4");
	sqlite3_bind_int64(s, 1, cluster);
	sqlite3_bind_int64(s, 2, incident);
	sqlite3_bind_int64(s, 3, at);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	if (!done(s))
		return false;
	if (!history)
		return true;
	s = store_stmt(st, "INSERT OR IGNORE INTO cluster_history (cluster_id, incident_id) "
			   "VALUES (?, ?)");
	sqlite3_bind_int64(s, 1, cluster);
	sqlite3_bind_int64(s, 2, incident);
	return done(s);
}

struct cluster_info {
	char *name, *service, *tmpl;
};

static bool cluster_info(struct store *st, int64_t id, struct cluster_info *ci)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT name, service, template FROM clusters WHERE id = ?");
	sqlite3_bind_int64(s, 1, id);
	bool ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok) {
		ci->name = xstrdup((const char *)sqlite3_column_text(s, 0));
		ci->service = xstrdup((const char *)sqlite3_column_text(s, 1));
		ci->tmpl = xstrdup((const char *)sqlite3_column_text(s, 2));
	}
	sqlite3_reset(s);
	return ok;
}

static void cluster_info_clear(struct cluster_info *ci)
{
	xfree(&ci->name);
	xfree(&ci->service);
	xfree(&ci->tmpl);
}

static char *title_for(const struct cluster_info *ci)
{
	if (*ci->service)
		return xasprintf("%s on %s", ci->name, ci->service);
	return xstrdup(ci->name);
}

static bool flush_labels(struct correlator *c);

/* Was this cluster split away from any cluster of the incident? */
static bool split_apart(struct store *st, int64_t cluster, int64_t incident)
{
	sqlite3_stmt *s = store_stmt(
		st, "SELECT 1 FROM incident_clusters ic JOIN split_pairs sp ON "
		    "(sp.cluster_a = ?1 AND sp.cluster_b = ic.cluster_id) OR "
		    "(sp.cluster_b = ?1 AND sp.cluster_a = ic.cluster_id) "
		    "WHERE ic.incident_id = ?2 LIMIT 1");
	sqlite3_bind_int64(s, 1, cluster);
	sqlite3_bind_int64(s, 2, incident);
	bool r = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return r;
}

/*
 * Find an active incident the new cluster belongs with, and why. Rules in
 * order: same service, linked services, shared identifying label.
 */
static int64_t find_related(struct correlator *c, int64_t cluster, const struct cluster_info *ci,
			    const struct alert *a, int64_t at, char **reason, bool *via_graph)
{
	struct store *st = c->st;
	int64_t since = at - c->s->window_ms;
	char win[32];
	fmt_duration(c->s->window_ms, win);
	*via_graph = false;

	if (*ci->service) {
		sqlite3_stmt *s = store_stmt(
			st, "SELECT DISTINCT i.id FROM incidents i "
			    "JOIN incident_clusters ic ON ic.incident_id = i.id "
			    "JOIN clusters c ON c.id = ic.cluster_id "
			    "WHERE c.service = ?1 AND i.state IN " ACTIVE " AND i.last_alert_at >= ?2 "
			    "ORDER BY i.last_alert_at DESC, i.id DESC");
		sqlite3_bind_text(s, 1, ci->service, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, since);
		while (sqlite3_step(s) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(s, 0);
			if (split_apart(st, cluster, id))
				continue;
			sqlite3_reset(s);
			*reason = xasprintf("same service %s within %s", ci->service, win);
			return id;
		}
		sqlite3_reset(s);
	}

	if (*ci->service && services_count(c->s->graph)) {
		sqlite3_stmt *s = store_stmt(
			st, "SELECT DISTINCT i.id, c.service FROM incidents i "
			    "JOIN incident_clusters ic ON ic.incident_id = i.id "
			    "JOIN clusters c ON c.id = ic.cluster_id "
			    "WHERE c.service <> '' AND i.state IN " ACTIVE " AND i.last_alert_at >= ?1 "
			    "ORDER BY i.last_alert_at DESC, i.id DESC");
		sqlite3_bind_int64(s, 1, since);
		while (sqlite3_step(s) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(s, 0);
			const char *other = (const char *)sqlite3_column_text(s, 1);
			if (!services_linked(c->s->graph, ci->service, other) ||
			    split_apart(st, cluster, id))
				continue;
			if (services_upstream(c->s->graph, ci->service, other))
				*reason = xasprintf("%s depends on %s, within %s", other,
						    ci->service, win);
			else
				*reason = xasprintf("%s depends on %s, within %s", ci->service,
						    other, win);
			sqlite3_reset(s);
			*via_graph = true;
			return id;
		}
		sqlite3_reset(s);
	}

	/* label values noted earlier in this batch must be visible here */
	if (c->nlabels && !flush_labels(c))
		return 0;
	for (size_t k = 0; a->labels && k < c->s->nlabel_keys; k++) {
		const char *key = c->s->label_keys[k];
		const char *val = json_string_value(json_object_get(a->labels, key));
		if (!val || !*val)
			continue;
		sqlite3_stmt *s = store_stmt(
			st, "SELECT il.incident_id FROM incident_labels il "
			    "JOIN incidents i ON i.id = il.incident_id "
			    "WHERE il.key = ?1 AND il.value = ?2 AND il.last_seen >= ?3 "
			    "AND i.state IN " ACTIVE " ORDER BY il.last_seen DESC");
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, since);
		while (sqlite3_step(s) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(s, 0);
			if (split_apart(st, cluster, id))
				continue;
			sqlite3_reset(s);
			*reason = xasprintf("same %s %s within %s", key, val, win);
			return id;
		}
		sqlite3_reset(s);
	}
	return 0;
}

/* After a graph join: the most upstream service's earliest cluster is the
 * probable origin. */
static bool update_origin(struct correlator *c, int64_t incident, int64_t cluster,
			  const struct cluster_info *ci, int64_t at)
{
	sqlite3_stmt *s = store_stmt(c->st, "SELECT c.id, c.service, c.name FROM incidents i "
					    "JOIN clusters c ON c.id = i.origin_cluster "
					    "WHERE i.id = ?");
	sqlite3_bind_int64(s, 1, incident);
	bool upstream = false;
	char *old = NULL;
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *svc = (const char *)sqlite3_column_text(s, 1);
		upstream = services_upstream(c->s->graph, ci->service, svc);
		old = xstrdup(svc);
	}
	sqlite3_reset(s);
	if (!upstream) {
		free(old);
		return true;
	}
	char *title = title_for(ci);
	s = store_stmt(c->st, "UPDATE incidents SET origin_cluster = ?, title = ? WHERE id = ?");
	sqlite3_bind_int64(s, 1, cluster);
	sqlite3_bind_text(s, 2, title, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, incident);
	bool ok = done(s) && add_eventf(c->st, incident, at, "origin", AUTOMATION,
					"probable origin is now %s (%s is upstream of %s)", title,
					ci->service, old);
	free(title);
	free(old);
	return ok;
}

static int64_t open_incident(struct correlator *c, int64_t cluster, const struct cluster_info *ci,
			     const struct alert *a, int64_t at)
{
	char *title = title_for(ci);
	json_t *svcs = json_array();
	if (*ci->service)
		json_array_append_new(svcs, json_string(ci->service));
	char *services = json_dumps(svcs, JSON_COMPACT);
	json_decref(svcs);
	sqlite3_stmt *s = store_stmt(c->st, "INSERT INTO incidents (title, services, severity, "
					    "state, origin_cluster, opened_at, last_alert_at) "
					    "VALUES (?, ?, ?, 'open', ?, ?, ?)");
	sqlite3_bind_text(s, 1, title, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, services, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, severity_name(a->severity), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, cluster);
	sqlite3_bind_int64(s, 5, at);
	sqlite3_bind_int64(s, 6, at);
	bool ok = done(s);
	free(services);
	int64_t id = ok ? sqlite3_last_insert_rowid(store_db(c->st)) : -1;
	if (ok)
		ok = join(c->st, cluster, id, at, "opened", true) &&
		     add_eventf(c->st, id, at, "opened", AUTOMATION, "opened by %s", title);
	free(title);
	return ok ? id : -1;
}

/* Keep the incident's list of services current. */
static bool add_service(struct store *st, int64_t incident, const char *service)
{
	if (!*service)
		return true;
	sqlite3_stmt *s = store_stmt(
		st, "UPDATE incidents SET services = json_insert(services, '$[#]', ?1) "
		    "WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM json_each(services) "
		    "WHERE value = ?1)");
	sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, incident);
	return done(s);
}

static bool write_label(struct correlator *c, const struct label_seen *l)
{
	sqlite3_stmt *s = store_stmt(
		c->st, "INSERT INTO incident_labels (incident_id, key, value, last_seen) "
		       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key, value, incident_id) "
		       "DO UPDATE SET last_seen = max(last_seen, ?4)");
	sqlite3_bind_int64(s, 1, l->incident);
	sqlite3_bind_text(s, 2, c->s->label_keys[l->key], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, l->value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, l->last_seen);
	return done(s);
}

static bool flush_labels(struct correlator *c)
{
	for (size_t i = 0; i < c->nlabels_cap; i++)
		if (c->labels[i].hash && !write_label(c, &c->labels[i]))
			return false;
	labels_reset(c);
	return true;
}

static uint64_t label_hash(int64_t incident, size_t key, const char *value)
{
	uint64_t h = UINT64_C(1469598103934665603) ^ (uint64_t)incident * 31 ^ key;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	return h ? h : 1;
}

/* Remember a label value for the batch; full tables are written early. */
static bool note_label(struct correlator *c, int64_t incident, size_t key, const char *value,
		       int64_t at)
{
	if ((c->nlabels + 1) * 2 > c->nlabels_cap) {
		if (c->nlabels_cap >= 8192) {
			if (!flush_labels(c))
				return false;
		} else {
			size_t cap = c->nlabels_cap ? c->nlabels_cap * 2 : 256;
			struct label_seen *old = c->labels;
			size_t oldcap = c->nlabels_cap;
			c->labels = xcalloc(cap, sizeof *c->labels);
			c->nlabels_cap = cap;
			for (size_t i = 0; i < oldcap; i++) {
				if (!old[i].hash)
					continue;
				size_t j = old[i].hash & (cap - 1);
				while (c->labels[j].hash)
					j = (j + 1) & (cap - 1);
				c->labels[j] = old[i];
			}
			free(old);
		}
	}
	uint64_t h = label_hash(incident, key, value);
	size_t j = h & (c->nlabels_cap - 1);
	while (c->labels[j].hash) {
		struct label_seen *l = &c->labels[j];
		if (l->hash == h && l->incident == incident && l->key == key &&
		    strcmp(l->value, value) == 0) {
			if (at > l->last_seen)
				l->last_seen = at;
			return true;
		}
		j = (j + 1) & (c->nlabels_cap - 1);
	}
	c->labels[j] = (struct label_seen){ h, incident, key, xstrdup(value), at };
	c->nlabels++;
	return true;
}

static bool record_labels(struct correlator *c, int64_t incident, const struct alert *a,
			  int64_t at)
{
	for (size_t k = 0; a->labels && k < c->s->nlabel_keys; k++) {
		const char *val = json_string_value(json_object_get(a->labels, c->s->label_keys[k]));
		if (val && *val && !note_label(c, incident, k, val, at))
			return false;
	}
	return true;
}

/* A ticketed cluster firing again after a quiet period says so. */
static bool check_known_issue(struct correlator *c, int64_t cluster, int64_t incident, int64_t at)
{
	/* most databases have no known issues: ask once a batch */
	if (c->known_any < 0)
		c->known_any = store_int(c->st, "SELECT EXISTS (SELECT 1 FROM known_issues)", 0) != 0;
	if (!c->known_any)
		return true;
	sqlite3_stmt *s = store_stmt(c->st, "SELECT ticket, last_seen, incident_id FROM "
					    "known_issues WHERE cluster_id = ?");
	sqlite3_bind_int64(s, 1, cluster);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return true;
	}
	char *ticket = xstrdup((const char *)sqlite3_column_text(s, 0));
	int64_t last = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	bool ok = true;
	if (at - last >= c->s->known_quiet_ms) {
		/* the earlier incidents this cluster was part of */
		struct buf earlier = { 0 };
		s = store_stmt(c->st, "SELECT incident_id FROM cluster_history WHERE cluster_id = ? "
				      "AND incident_id <> ? ORDER BY incident_id");
		sqlite3_bind_int64(s, 1, cluster);
		sqlite3_bind_int64(s, 2, incident);
		while (sqlite3_step(s) == SQLITE_ROW)
			buf_printf(&earlier, "%s#%lld", earlier.len ? ", " : "",
				   (long long)sqlite3_column_int64(s, 0));
		sqlite3_reset(s);
		char quiet[32];
		fmt_duration(at - last, quiet);
		ok = add_eventf(c->st, incident, at, "known-issue", AUTOMATION,
				"known issue %s reappeared after %s quiet%s%s", ticket, quiet,
				earlier.len ? "; earlier: " : "", earlier.len ? earlier.data : "");
		buf_free(&earlier);
	}
	free(ticket);
	s = store_stmt(c->st, "UPDATE known_issues SET last_seen = max(last_seen, ?) "
			      "WHERE cluster_id = ?");
	sqlite3_bind_int64(s, 1, at);
	sqlite3_bind_int64(s, 2, cluster);
	return ok && done(s);
}

/* Alerts per minute of an incident over the `minutes` up to `at`. */
static double alert_rate(struct store *st, int64_t incident, int64_t at, int minutes)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT total(n) FROM incident_rate WHERE "
					 "incident_id = ?1 AND minute > ?2 AND minute <= ?3");
	sqlite3_bind_int64(s, 1, incident);
	sqlite3_bind_int64(s, 2, at / 60000 - minutes);
	sqlite3_bind_int64(s, 3, at / 60000);
	double n = 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_double(s, 0);
	sqlite3_reset(s);
	return n / minutes;
}

static bool write_minute(struct store *st, int64_t incident, int64_t minute, int64_t n)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO incident_rate (incident_id, minute, n) "
					 "VALUES (?1, ?2, ?3) ON CONFLICT (incident_id, minute) "
					 "DO UPDATE SET n = n + ?3");
	sqlite3_bind_int64(s, 1, incident);
	sqlite3_bind_int64(s, 2, minute);
	sqlite3_bind_int64(s, 3, n);
	return done(s);
}

/* Count one alert in its minute; a batch spanning many minutes writes the
 * oldest early. */
static bool count_minute(struct store *st, struct inc_state *inc, int64_t at)
{
	int64_t minute = at / 60000;
	for (size_t i = 0; i < inc->nmins; i++) {
		if (inc->mins[i].minute == minute) {
			inc->mins[i].n++;
			return true;
		}
	}
	if (inc->nmins == sizeof inc->mins / sizeof inc->mins[0]) {
		if (!write_minute(st, inc->id, inc->mins[0].minute, inc->mins[0].n))
			return false;
		memmove(&inc->mins[0], &inc->mins[1], (inc->nmins - 1) * sizeof inc->mins[0]);
		inc->nmins--;
	}
	inc->mins[inc->nmins].minute = minute;
	inc->mins[inc->nmins].n = 1;
	inc->nmins++;
	return true;
}

enum status correlate_alert(struct correlator *c, int64_t cluster, const struct alert *a,
			    int64_t at)
{
	/* a resolve notification is not news; a silenced alert is someone's
	 * decision not to be paged: neither opens or revives incidents */
	if (a->resolved || a->status_only)
		return STATUS_OK;
	struct store *st = c->st;
	int64_t inc_id = membership(c, cluster);
	int64_t recurs_of = 0;
	struct inc_state *inc = inc_id ? inc_load(c, inc_id) : NULL;

	if (inc && strcmp(inc->state, "resolved") == 0) {
		if (a->silenced || a->inhibited)
			return STATUS_OK;
		if (at - inc->resolved_at <= c->s->reopen_ms) {
			char win[32];
			fmt_duration(c->s->reopen_ms, win);
			sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET state = 'open', "
							 "recurrences = recurrences + 1, "
							 "resolved_at = NULL WHERE id = ?");
			sqlite3_bind_int64(s, 1, inc->id);
			if (!done(s) ||
			    !add_eventf(st, inc->id, at, "reopened", AUTOMATION,
					"recurrence: cluster %lld fired again within %s of the "
					"resolution",
					(long long)cluster, win))
				return STATUS_STORE;
			snprintf(inc->state, sizeof inc->state, "open");
		} else {
			/* too long ago: a new incident, which remembers this one */
			recurs_of = inc->id;
			sqlite3_stmt *s = store_stmt(st, "DELETE FROM incident_clusters WHERE "
							 "cluster_id = ?");
			sqlite3_bind_int64(s, 1, cluster);
			if (!done(s))
				return STATUS_STORE;
			cmap_set(c, cluster, 0);
			inc = NULL;
		}
	}

	if (!inc) {
		if (a->silenced || a->inhibited)
			return STATUS_OK;
		struct cluster_info ci = { 0 };
		if (!cluster_info(st, cluster, &ci))
			return STATUS_STORE;
		char *reason = NULL;
		bool via_graph;
		int64_t id = find_related(c, cluster, &ci, a, at, &reason, &via_graph);
		bool ok;
		if (id) {
			char *title = title_for(&ci);
			ok = join(st, cluster, id, at, reason, true) &&
			     add_eventf(st, id, at, "joined", AUTOMATION, "%s joined: %s", title,
					reason) &&
			     add_service(st, id, ci.service) &&
			     (!via_graph || update_origin(c, id, cluster, &ci, at));
			free(title);
		} else {
			id = open_incident(c, cluster, &ci, a, at);
			ok = id > 0;
		}
		if (ok && recurs_of)
			ok = add_eventf(st, id, at, "recurrence", AUTOMATION,
					"recurrence of incident #%lld (cluster %lld)",
					(long long)recurs_of, (long long)cluster);
		free(reason);
		cluster_info_clear(&ci);
		if (!ok)
			return STATUS_STORE;
		cmap_set(c, cluster, id);
		inc = inc_load(c, id);
		if (!inc)
			return STATUS_STORE;
	}

	/* snoozed and getting worse: wake it */
	if (strcmp(inc->state, "snoozed") == 0 && inc->snooze_severity >= 0 &&
	    (int)a->severity > inc->snooze_severity) {
		if (!set_state(st, inc->id, "open") ||
		    !add_eventf(st, inc->id, at, "woke", AUTOMATION,
				"woke: severity rose to %s", severity_name(a->severity)))
			return STATUS_STORE;
		snprintf(inc->state, sizeof inc->state, "open");
	}
	inc->d_alerts++;
	if (!count_minute(st, inc, at))
		return STATUS_STORE;
	if (at > inc->last_alert_at)
		inc->last_alert_at = at;
	/* correlation windows read last_alert_at from the store: keep it
	 * current within a batch too, at a granularity of ten seconds */
	if (at > inc->db_last_alert_at + 10000) {
		sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET last_alert_at = "
						 "max(last_alert_at, ?) WHERE id = ?");
		sqlite3_bind_int64(s, 1, at);
		sqlite3_bind_int64(s, 2, inc->id);
		if (!done(s))
			return STATUS_STORE;
		inc->db_last_alert_at = at;
	}
	if ((int)a->severity > inc->new_severity)
		inc->new_severity = (int)a->severity;
	inc->touched = true;
	if (!record_labels(c, inc->id, a, at) || !check_known_issue(c, cluster, inc->id, at))
		return STATUS_STORE;
	return STATUS_OK;
}

enum status correlator_flush(struct correlator *c)
{
	struct store *st = c->st;
	if (!flush_labels(c))
		return STATUS_STORE;
	for (size_t i = 0; i < c->ninc; i++) {
		struct inc_state *s = &c->inc[i];
		if (!s->touched)
			continue;
		sqlite3_stmt *u = store_stmt(
			st, "UPDATE incidents SET alerts = alerts + ?1, "
			    "last_alert_at = max(last_alert_at, ?2), "
			    "severity = CASE WHEN ?3 > (CASE severity WHEN 'critical' THEN 3 "
			    "WHEN 'high' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) THEN ?4 "
			    "ELSE severity END WHERE id = ?5");
		sqlite3_bind_int64(u, 1, s->d_alerts);
		sqlite3_bind_int64(u, 2, s->last_alert_at);
		sqlite3_bind_int(u, 3, s->new_severity);
		sqlite3_bind_text(u, 4, severity_name((enum severity)(s->new_severity < 0 ? 0 : s->new_severity)),
				  -1, SQLITE_STATIC);
		sqlite3_bind_int64(u, 5, s->id);
		if (!done(u))
			return STATUS_STORE;
		for (size_t m = 0; m < s->nmins; m++)
			if (!write_minute(st, s->id, s->mins[m].minute, s->mins[m].n))
				return STATUS_STORE;
		/* a snoozed incident whose alert rate jumped wakes up */
		if (strcmp(s->state, "snoozed") == 0) {
			double now_rate = alert_rate(st, s->id, s->last_alert_at, 5);
			double base = s->snooze_rate > 0.2 ? s->snooze_rate : 0.2;
			if (now_rate >= c->s->wake_rate * base) {
				if (!set_state(st, s->id, "open") ||
				    !add_eventf(st, s->id, s->last_alert_at, "woke", AUTOMATION,
						"woke: alert rate jumped from %.1f/min to %.1f/min",
						s->snooze_rate, now_rate))
					return STATUS_STORE;
			}
		}
	}
	c->ncm = 0;
	c->ninc = 0;
	c->known_any = -1;
	return STATUS_OK;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct inc_row {
	char state[16];
	int64_t merged_into;
};

static bool inc_row(struct store *st, int64_t id, struct inc_row *r)
{
	sqlite3_stmt *s = store_stmt(st, "SELECT state, coalesce(merged_into, 0) FROM incidents "
					 "WHERE id = ? AND imported = 0");
	sqlite3_bind_int64(s, 1, id);
	bool found = sqlite3_step(s) == SQLITE_ROW;
	if (found) {
		snprintf(r->state, sizeof r->state, "%s", (const char *)sqlite3_column_text(s, 0));
		r->merged_into = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return found;
}

/* Begin, find the incident, check its state is one of `allowed`. */
static enum status begin_on(struct store *st, int64_t id, const char *const *allowed,
			    struct inc_row *r, char **err)
{
	if (store_read_only(st)) {
		*err = xasprintf("%s is open read-only", store_path(st));
		return STATUS_USAGE;
	}
	if (store_begin(st) != STATUS_OK) {
		*err = xasprintf("%s: %s", store_path(st), store_errmsg(st));
		return STATUS_STORE;
	}
	if (!inc_row(st, id, r)) {
		store_rollback(st);
		*err = xasprintf("no incident %lld", (long long)id);
		return STATUS_NOT_FOUND;
	}
	for (size_t i = 0; allowed[i]; i++)
		if (strcmp(r->state, allowed[i]) == 0)
			return STATUS_OK;
	store_rollback(st);
	if (r->merged_into)
		*err = xasprintf("incident %lld was merged into %lld", (long long)id,
				 (long long)r->merged_into);
	else
		*err = xasprintf("incident %lld is %s", (long long)id, r->state);
	return STATUS_USAGE;
}

static enum status finish(struct store *st, bool ok, const char *action, int64_t id,
			  json_t *detail, char **err)
{
	char target[32];
	snprintf(target, sizeof target, "incident:%lld", (long long)id);
	if (!detail)
		detail = json_object();
	char *d = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	ok = ok && store_audit(st, action, target, d) == STATUS_OK;
	free(d);
	if (ok && store_commit(st) == STATUS_OK)
		return STATUS_OK;
	*err = xasprintf("%s: %s", store_path(st), store_errmsg(st));
	store_rollback(st);
	return STATUS_STORE;
}

static const char *const ST_ACTIVE[] = { "open", "acknowledged", "snoozed", NULL };

enum status incident_ack(struct store *st, int64_t id, char **err)
{
	static const char *const allowed[] = { "open", "snoozed", NULL };
	struct inc_row r;
	enum status rc = begin_on(st, id, allowed, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET state = 'acknowledged', "
					 "acked_at = coalesce(acked_at, ?1), "
					 "acked_by = coalesce(acked_by, ?2), snoozed_until = NULL "
					 "WHERE id = ?3");
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, user_login(), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, id);
	bool ok = done(s) && add_event(st, id, now, "ack", user_login(), "acknowledged");
	return finish(st, ok, "ack", id, NULL, err);
}

enum status incident_snooze(struct store *st, int64_t id, int64_t until, char **err)
{
	struct inc_row r;
	enum status rc = begin_on(st, id, ST_ACTIVE, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	if (until <= now) {
		store_rollback(st);
		*err = xasprintf("a snooze must end in the future");
		return STATUS_USAGE;
	}
	double rate = alert_rate(st, id, now, 15);
	sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET state = 'snoozed', "
					 "snoozed_until = ?1, snooze_severity = severity, "
					 "snooze_rate = ?2 WHERE id = ?3");
	sqlite3_bind_int64(s, 1, until);
	sqlite3_bind_double(s, 2, rate);
	sqlite3_bind_int64(s, 3, id);
	char t[32];
	format_time_rfc3339(until, t);
	bool ok = done(s) && add_eventf(st, id, now, "snooze", user_login(),
					"snoozed until %s (wakes earlier if it gets worse)", t);
	return finish(st, ok, "snooze", id, json_pack("{s:s}", "until", t), err);
}

enum status incident_resolve(struct store *st, int64_t id, const char *cause, const char *action,
			     int worked, char **err)
{
	struct inc_row r;
	enum status rc = begin_on(st, id, ST_ACTIVE, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	sqlite3_stmt *s = store_stmt(st, "UPDATE incidents SET state = 'resolved', "
					 "resolved_at = ?1, resolved_by = ?2, root_cause = ?3, "
					 "action_taken = ?4, worked = ?5, snoozed_until = NULL "
					 "WHERE id = ?6");
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, user_login(), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, cause, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
	if (worked < 0)
		sqlite3_bind_null(s, 5);
	else
		sqlite3_bind_int(s, 5, worked);
	sqlite3_bind_int64(s, 6, id);
	bool ok = done(s) && add_eventf(st, id, now, "resolve", user_login(),
					"resolved: cause: %s; action: %s%s", cause, action,
					worked == 1 ? " (worked)" : worked == 0 ? " (did not work)" : "");
	json_t *d = json_pack("{s:s, s:s}", "cause", cause, "action", action);
	if (worked >= 0)
		json_object_set_new(d, "worked", json_boolean(worked));
	return finish(st, ok, "resolve", id, d, err);
}

enum status incident_reopen(struct store *st, int64_t id, char **err)
{
	static const char *const allowed[] = { "resolved", NULL };
	struct inc_row r;
	enum status rc = begin_on(st, id, allowed, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	bool ok = set_state(st, id, "open") &&
		  add_event(st, id, now, "reopen", user_login(), "reopened");
	return finish(st, ok, "reopen", id, NULL, err);
}

enum status incident_note(struct store *st, int64_t id, const char *text, char **err)
{
	static const char *const allowed[] = { "open", "acknowledged", "snoozed", "resolved", NULL };
	struct inc_row r;
	enum status rc = begin_on(st, id, allowed, &r, err);
	if (rc != STATUS_OK)
		return rc;
	bool ok = add_event(st, id, now_ms(), "note", user_login(), text);
	return finish(st, ok, "note", id, json_pack("{s:s}", "text", text), err);
}

enum status incident_merge(struct store *st, int64_t target, const int64_t *others, size_t n,
			   char **err)
{
	struct inc_row r;
	enum status rc = begin_on(st, target, ST_ACTIVE, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	json_t *merged = json_array();
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		struct inc_row o;
		if (others[i] == target || !inc_row(st, others[i], &o) ||
		    strcmp(o.state, "merged") == 0) {
			json_decref(merged);
			store_rollback(st);
			*err = others[i] == target
				       ? xasprintf("cannot merge incident %lld into itself",
						   (long long)target)
				       : xasprintf("no incident %lld to merge", (long long)others[i]);
			return STATUS_USAGE;
		}
		sqlite3_stmt *s = store_stmt(st, "UPDATE incident_clusters SET incident_id = ?1, "
						 "reason = 'merged from #' || ?2 WHERE incident_id = ?2");
		sqlite3_bind_int64(s, 1, target);
		sqlite3_bind_int64(s, 2, others[i]);
		ok = done(s);
		s = store_stmt(st, "INSERT OR REPLACE INTO incident_labels (incident_id, key, value, "
				   "last_seen) SELECT ?1, key, value, last_seen FROM incident_labels "
				   "WHERE incident_id = ?2");
		sqlite3_bind_int64(s, 1, target);
		sqlite3_bind_int64(s, 2, others[i]);
		ok = ok && done(s);
		s = store_stmt(st, "INSERT INTO incident_rate (incident_id, minute, n) SELECT ?1, "
				   "minute, n FROM incident_rate WHERE incident_id = ?2 "
				   "ON CONFLICT (incident_id, minute) DO UPDATE SET n = n + excluded.n");
		sqlite3_bind_int64(s, 1, target);
		sqlite3_bind_int64(s, 2, others[i]);
		ok = ok && done(s);
		s = store_stmt(
			st, "UPDATE incidents SET alerts = alerts + (SELECT alerts FROM incidents "
			    "WHERE id = ?2), last_alert_at = max(last_alert_at, (SELECT last_alert_at "
			    "FROM incidents WHERE id = ?2)), opened_at = min(opened_at, (SELECT "
			    "opened_at FROM incidents WHERE id = ?2)), recurrences = recurrences + "
			    "(SELECT recurrences FROM incidents WHERE id = ?2), "
			    "severity = (SELECT CASE max(CASE severity WHEN 'critical' THEN 3 WHEN "
			    "'high' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) WHEN 3 THEN 'critical' "
			    "WHEN 2 THEN 'high' WHEN 1 THEN 'warning' ELSE 'info' END FROM incidents "
			    "WHERE id IN (?1, ?2)) WHERE id = ?1");
		sqlite3_bind_int64(s, 1, target);
		sqlite3_bind_int64(s, 2, others[i]);
		ok = ok && done(s);
		s = store_stmt(st, "UPDATE incidents SET state = 'merged', merged_into = ?1 "
				   "WHERE id = ?2");
		sqlite3_bind_int64(s, 1, target);
		sqlite3_bind_int64(s, 2, others[i]);
		ok = ok && done(s);
		s = store_stmt(st, "SELECT services FROM incidents WHERE id = ?");
		sqlite3_bind_int64(s, 1, others[i]);
		json_t *svcs = NULL;
		if (sqlite3_step(s) == SQLITE_ROW)
			svcs = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
		sqlite3_reset(s);
		size_t k;
		json_t *v;
		json_array_foreach(svcs, k, v) ok = ok && add_service(st, target, json_string_value(v));
		json_decref(svcs);
		ok = ok &&
		     add_eventf(st, target, now, "merge", user_login(), "incident #%lld merged in",
				(long long)others[i]) &&
		     add_eventf(st, others[i], now, "merged", user_login(), "merged into #%lld",
				(long long)target);
		json_array_append_new(merged, json_integer(others[i]));
	}
	return finish(st, ok, "merge", target, json_pack("{s:o}", "merged", merged), err);
}

enum status incident_split(struct store *st, int64_t incident, int64_t cluster, int64_t *new_id,
			   char **err)
{
	struct inc_row r;
	enum status rc = begin_on(st, incident, ST_ACTIVE, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t members = 0;
	bool in = false;
	sqlite3_stmt *s = store_stmt(st, "SELECT cluster_id FROM incident_clusters "
					 "WHERE incident_id = ?");
	sqlite3_bind_int64(s, 1, incident);
	while (sqlite3_step(s) == SQLITE_ROW) {
		members++;
		in = in || sqlite3_column_int64(s, 0) == cluster;
	}
	sqlite3_reset(s);
	if (!in || members < 2) {
		store_rollback(st);
		*err = !in ? xasprintf("cluster %lld is not part of incident %lld", (long long)cluster,
				       (long long)incident)
			   : xasprintf("incident %lld has only that cluster", (long long)incident);
		return STATUS_USAGE;
	}
	int64_t now = now_ms();
	/* never join this cluster with any of the others again */
	s = store_stmt(st, "INSERT OR IGNORE INTO split_pairs (cluster_a, cluster_b, at) "
			   "SELECT ?1, cluster_id, ?3 FROM incident_clusters "
			   "WHERE incident_id = ?2 AND cluster_id <> ?1");
	sqlite3_bind_int64(s, 1, cluster);
	sqlite3_bind_int64(s, 2, incident);
	sqlite3_bind_int64(s, 3, now);
	bool ok = done(s);
	struct cluster_info ci = { 0 };
	ok = ok && cluster_info(st, cluster, &ci);
	char *title = ok ? title_for(&ci) : NULL;
	s = store_stmt(st, "INSERT INTO incidents (title, services, severity, state, "
			   "origin_cluster, opened_at, last_alert_at, alerts) "
			   "SELECT ?1, json_array(c.service), c.severity, 'open', c.id, ?2, "
			   "c.last_seen, c.occurrences FROM clusters c WHERE c.id = ?3");
	sqlite3_bind_text(s, 1, title, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, cluster);
	ok = ok && done(s);
	int64_t id = sqlite3_last_insert_rowid(store_db(st));
	char reason[64];
	snprintf(reason, sizeof reason, "split from #%lld", (long long)incident);
	ok = ok && join(st, cluster, id, now, reason, false) &&
	     add_eventf(st, id, now, "split", user_login(), "split from incident #%lld",
			(long long)incident) &&
	     add_eventf(st, incident, now, "split", user_login(), "cluster %lld split out to #%lld",
			(long long)cluster, (long long)id);
	/* the old incident's origin may have left with the cluster */
	s = store_stmt(st, "UPDATE incidents SET origin_cluster = (SELECT cluster_id FROM "
			   "incident_clusters WHERE incident_id = ?1 ORDER BY joined_at LIMIT 1) "
			   "WHERE id = ?1 AND origin_cluster = ?2");
	sqlite3_bind_int64(s, 1, incident);
	sqlite3_bind_int64(s, 2, cluster);
	ok = ok && done(s);
	free(title);
	cluster_info_clear(&ci);
	*new_id = id;
	return finish(st, ok, "split", incident,
		      json_pack("{s:I, s:I}", "cluster", (json_int_t)cluster, "new_incident",
				(json_int_t)id),
		      err);
}

enum status incident_ticket(struct store *st, int64_t id, const char *ref, char **err)
{
	static const char *const allowed[] = { "open", "acknowledged", "snoozed", "resolved", NULL };
	struct inc_row r;
	enum status rc = begin_on(st, id, allowed, &r, err);
	if (rc != STATUS_OK)
		return rc;
	int64_t now = now_ms();
	sqlite3_stmt *s = store_stmt(
		st, "INSERT INTO known_issues (cluster_id, ticket, incident_id, created_at, "
		    "created_by, last_seen) SELECT cluster_id, ?1, ?2, ?3, ?4, ?3 "
		    "FROM incident_clusters WHERE incident_id = ?2 "
		    "ON CONFLICT (cluster_id) DO UPDATE SET ticket = ?1, incident_id = ?2, "
		    "created_at = ?3, created_by = ?4, last_seen = ?3");
	sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, user_login(), -1, SQLITE_STATIC);
	bool ok = done(s) && add_eventf(st, id, now, "ticket", user_login(),
					"known issue %s attached to %d cluster(s)", ref,
					sqlite3_changes(store_db(st)));
	return finish(st, ok, "ticket", id, json_pack("{s:s}", "ticket", ref), err);
}

enum status incidents_tick(struct store *st, const struct incident_settings *set, int64_t now)
{
	if (store_read_only(st))
		return STATUS_OK;
	/* cheap check first: most ticks have nothing to do */
	sqlite3_stmt *q = store_stmt(
		st, "SELECT (SELECT count(*) FROM incidents WHERE state = 'snoozed' AND "
		    "snoozed_until <= ?1) + (SELECT count(*) FROM known_issues WHERE last_seen < ?2)");
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int64(q, 2, now - set->known_expire_ms);
	int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	if (n == 0)
		return STATUS_OK;
	if (store_begin(st) != STATUS_OK)
		return STATUS_STORE;
	bool ok = true;
	sqlite3_stmt *s = store_stmt(st, "SELECT id, snoozed_until FROM incidents WHERE "
					 "state = 'snoozed' AND snoozed_until <= ?");
	sqlite3_bind_int64(s, 1, now);
	int64_t *ids = NULL, *ats = NULL;
	size_t nids = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		ids = xrealloc(ids, (nids + 1) * sizeof *ids);
		ats = xrealloc(ats, (nids + 1) * sizeof *ats);
		ids[nids] = sqlite3_column_int64(s, 0);
		ats[nids++] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	for (size_t i = 0; i < nids && ok; i++)
		ok = set_state(st, ids[i], "open") &&
		     add_event(st, ids[i], ats[i], "wake", AUTOMATION, "snooze ended");
	free(ids);
	free(ats);
	char win[32];
	fmt_duration(set->known_expire_ms, win);
	s = store_stmt(st, "SELECT cluster_id, ticket, incident_id FROM known_issues "
			   "WHERE last_seen < ?");
	sqlite3_bind_int64(s, 1, now - set->known_expire_ms);
	while (ok && sqlite3_step(s) == SQLITE_ROW) {
		char detail[256];
		snprintf(detail, sizeof detail, "known issue %s expired for cluster %lld (not seen for %s)",
			 (const char *)sqlite3_column_text(s, 1), (long long)sqlite3_column_int64(s, 0),
			 win);
		ok = add_event(st, sqlite3_column_int64(s, 2), now, "known-issue-expired",
			       AUTOMATION, detail);
	}
	sqlite3_reset(s);
	s = store_stmt(st, "DELETE FROM known_issues WHERE last_seen < ?");
	sqlite3_bind_int64(s, 1, now - set->known_expire_ms);
	ok = ok && done(s);
	if (ok && store_audit(st, "tick", NULL, "{}") == STATUS_OK && store_commit(st) == STATUS_OK)
		return STATUS_OK;
	store_rollback(st);
	return STATUS_STORE;
}

/* test_similar.c — sitrep import (idempotency, rejects) and similar past
 * incidents (recurrence first, text, services, exclusions, the index). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history.h"
#include "similar.h"
#include "store.h"

#define HISTORY FIXTURES "/history/history.ndjson"
#define HISTORY_LINES 8

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	FILE *quiet; /* complaints go here, not to the test log */
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/sitrep-test-similar-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/s.db", f->dir);
	char *err = NULL;
	if (store_open(&f->st, f->path, 0, &err) != STATUS_OK)
		return -1;
	f->quiet = fopen("/dev/null", "w");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	fclose(f->quiet);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(cmd);
	free(f->path);
	free(f);
	return rc;
}

static int64_t q(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), sql, -1, &st, NULL), SQLITE_OK);
	int64_t v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void exec(struct fx *f, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(store_db(f->st), sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static enum status import_file(struct fx *f, const char *path, struct history_counts *n)
{
	struct history_opts o = { .messages = f->quiet };
	memset(n, 0, sizeof *n);
	return history_import_path(f->st, path, &o, n);
}

static char *write_file(struct fx *f, const char *name, const char *bytes, size_t len)
{
	char *p = xasprintf("%s/%s", f->dir, name);
	FILE *w = fopen(p, "wb");
	assert_non_null(w);
	assert_int_equal(fwrite(bytes, 1, len, w), len);
	fclose(w);
	return p;
}

static int64_t incident_id(struct fx *f, const char *external)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(f->st), "SELECT id FROM incidents WHERE external_id = ?", -1,
			   &st, NULL);
	sqlite3_bind_text(st, 1, external, -1, SQLITE_STATIC);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

static struct similar_list text_query(struct fx *f, const char *text, size_t limit)
{
	struct similar_opts o = { .limit = limit };
	struct similar_list l;
	char *err = NULL;
	assert_int_equal(similar_to_text(f->st, text, &o, &l, &err), STATUS_OK);
	return l;
}

static const char *hit_id(const struct similar_hit *h, char buf[32])
{
	if (h->external_id)
		return h->external_id;
	snprintf(buf, 32, "%lld", (long long)h->id);
	return buf;
}

static bool has_id(const struct similar_list *l, int64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].id == id)
			return true;
	return false;
}

/* ---- import ------------------------------------------------------------ */

static void test_import_idempotent(void **state)
{
	struct fx *f = *state;
	struct history_counts n;
	assert_int_equal(import_file(f, HISTORY, &n), STATUS_OK);
	assert_int_equal(n.imported, HISTORY_LINES);
	assert_int_equal(n.updated, 0);
	assert_int_equal(n.rejected, 0);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), HISTORY_LINES);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents WHERE state = 'resolved' AND "
			      "imported = 1 AND external_id IS NOT NULL"),
			 HISTORY_LINES);
	/* the fields land where they belong */
	assert_int_equal(q(f, "SELECT resolved_at FROM incidents WHERE external_id = 'h-1'"),
			 1709287200000LL);
	assert_int_equal(q(f, "SELECT resolved_at FROM incidents WHERE external_id = 'h-3'"),
			 1712793600000LL); /* 2024-04-11 */
	assert_int_equal(q(f, "SELECT resolved_at FROM incidents WHERE external_id = 'h-6'"),
			 1678838400000LL); /* 03/15/2023 */
	assert_int_equal(q(f, "SELECT resolved_at IS NULL FROM incidents WHERE external_id = '42'"),
			 1);
	assert_int_equal(q(f, "SELECT action_taken = 'Rolled back the release.' AND root_cause "
			      "LIKE 'A bad configuration flag%' AND services = '[\"api\",\"gateway\"]' "
			      "FROM incidents WHERE external_id = 'h-2'"),
			 1);
	assert_int_equal(q(f, "SELECT severity = 'high' FROM incidents WHERE external_id = 'h-8'"), 1);
	assert_int_equal(q(f, "SELECT text LIKE '%\"extra\"%' FROM imported_records r JOIN "
			      "incidents i ON i.id = r.incident_id WHERE i.external_id = 'h-8'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_docs"), HISTORY_LINES);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_dirty"), 0);

	/* again: the same ids update, never duplicate */
	assert_int_equal(import_file(f, HISTORY, &n), STATUS_OK);
	assert_int_equal(n.imported, 0);
	assert_int_equal(n.updated, HISTORY_LINES);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), HISTORY_LINES);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_dirty"), 0); /* nothing changed */
	assert_int_equal(q(f, "SELECT count(*) FROM audit WHERE action = 'import'"), 2);
}

static void test_import_update(void **state)
{
	struct fx *f = *state;
	struct history_counts n;
	static const char v1[] = "{\"id\":\"x-1\",\"title\":\"Cache stampede\",\"root_cause\":"
				 "\"cold cache after a flush\",\"time\":\"2024-01-01T00:00:00Z\"}\n";
	static const char v2[] = "{\"id\":\"x-1\",\"title\":\"Thundering herd on the session "
				 "store\",\"root_cause\":\"cold cache after a flush\",\"mitigation\":"
				 "\"warmed the cache\",\"time\":\"2024-01-01T00:00:00Z\"}\n";
	char *p1 = write_file(f, "v1.ndjson", v1, sizeof v1 - 1);
	char *p2 = write_file(f, "v2.ndjson", v2, sizeof v2 - 1);
	assert_int_equal(import_file(f, p1, &n), STATUS_OK);
	assert_int_equal(n.imported, 1);
	assert_int_equal(import_file(f, p2, &n), STATUS_OK);
	assert_int_equal(n.updated, 1);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(q(f, "SELECT action_taken = 'warmed the cache' FROM incidents"), 1);
	/* both indexes follow the new text */
	assert_int_equal(q(f, "SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH "
			      "'thundering'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH "
			      "'stampede'"),
			 0);
	struct similar_list l = text_query(f, "thundering herd", 5);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].external_id, "x-1");
	assert_string_equal(l.v[0].mitigation, "warmed the cache");
	similar_list_clear(&l);
	l = text_query(f, "stampede", 5);
	assert_int_equal(l.n, 0);
	similar_list_clear(&l);
	free(p1);
	free(p2);
}

static void test_import_rejects(void **state)
{
	struct fx *f = *state;
	struct buf b = { 0 };
	buf_adds(&b, "{\"id\":\"ok-1\",\"title\":\"fine\"}\n");             /* 1 */
	buf_adds(&b, "{\"id\":\"bad\",\"title\":\n");                         /* 2 */
	buf_adds(&b, "{\"id\":\"utf\",\"title\":\"\xff\xfe\"}\n");            /* 3 */
	buf_adds(&b, "{\"title\":\"no id\"}\n");                              /* 4 */
	buf_adds(&b, "{\"id\":\"s\",\"title\":\"t\",\"services\":\"api\"}\n"); /* 5 */
	buf_adds(&b, "{\"id\":\"t\",\"title\":\"t\",\"time\":\"yesterday\"}\n"); /* 6 */
	buf_adds(&b, "[1, 2]\n");                                             /* 7 */
	buf_adds(&b, "\n   \n");                                              /* 8, 9: blank */
	buf_adds(&b, "{\"id\":\"ok-2\",\"title\":\"also fine\",\"services\":null}\n"); /* 10 */
	for (int i = 0; i < 70; i++)
		buf_addc(&b, '[');
	buf_addc(&b, '\n'); /* 11: too deep */
	buf_adds(&b, "{\"id\":\"big\",\"title\":\"");
	for (int i = 0; i < HISTORY_MAX_LINE; i++)
		buf_addc(&b, 'x');
	buf_adds(&b, "\"}\n"); /* 12: over 1 MiB */
	buf_adds(&b, "{\"id\":\"sev\",\"title\":\"t\",\"severity\":\"urgent\"}\n"); /* 13 */
	buf_adds(&b, "{\"id\":\"ok-3\",\"title\":\"last, no newline\"}");    /* 14 */
	char *p = write_file(f, "bad.ndjson", b.data, b.len);
	buf_free(&b);

	struct history_counts n;
	assert_int_equal(import_file(f, p, &n), STATUS_BAD_INPUT);
	assert_int_equal(n.imported, 3);
	assert_int_equal(n.rejected, 9);
	assert_int_equal(n.lines, 12);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), 3);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects"), 9);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 2' AND "
			      "reason LIKE 'malformed JSON%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 3' AND "
			      "reason LIKE 'invalid UTF-8%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 4' AND "
			      "reason LIKE '%\"id\"%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 5' AND "
			      "reason LIKE '%services%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 6' AND "
			      "reason LIKE '%time%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 7' AND "
			      "reason LIKE 'not a JSON object%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 11' AND "
			      "reason LIKE '%nested%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 12' AND "
			      "reason LIKE '%1 MiB%' AND size > 1048576 AND length(text) = 65536"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM rejects WHERE location = 'line 13' AND "
			      "reason LIKE '%severity%'"),
			 1);
	assert_int_equal(q(f, "SELECT count(*) FROM audit WHERE action = 'import' AND "
			      "json_extract(detail, '$.rejected') = 9"),
			 1);
	free(p);
}

/* ---- similar: text ----------------------------------------------------- */

static void test_text_queries(void **state)
{
	struct fx *f = *state;
	struct history_counts n;
	assert_int_equal(import_file(f, HISTORY, &n), STATUS_OK);
	char id[32];

	struct similar_list l = text_query(f, "ledger database out of disk space", 5);
	assert_true(l.n >= 2);
	assert_string_equal(hit_id(&l.v[0], id), "h-1");
	assert_true(l.v[0].reasons & SIMILAR_TEXT);
	assert_true(l.v[0].score > l.v[1].score);
	assert_true(l.v[0].has_resolved_at);
	assert_non_null(strstr(l.v[0].root_cause, "WAL archive"));
	similar_list_clear(&l);

	/* words of the resolution count: nothing in the title says "certificate" */
	l = text_query(f, "certificate expired", 5);
	assert_true(l.n >= 1);
	assert_string_equal(hit_id(&l.v[0], id), "h-3");
	similar_list_clear(&l);

	/* an identifier, found verbatim */
	l = text_query(f, "customer report: firm f-1042 cannot upload statements", 5);
	assert_true(l.n >= 1);
	assert_string_equal(hit_id(&l.v[0], id), "h-5");
	assert_true(l.v[0].reasons & SIMILAR_IDENT);
	similar_list_clear(&l);

	/* limit */
	l = text_query(f, "ledger", 1);
	assert_int_equal(l.n, 1);
	similar_list_clear(&l);
	l = text_query(f, "the", 5); /* only a stop word */
	assert_int_equal(l.n, 0);
	similar_list_clear(&l);

	/* hostile text: never query syntax, never an error */
	static const char *const hostile[] = {
		"\"ledger\" AND NEAR(disk full) OR * ^ : title:x",
		"\" OR 1=1 --",
		"'); DROP TABLE incidents; --",
		"{title}: disk*",
		"f-1042\" OR \"x",
		"\x1b[2J\x07 ledger",
		"",
	};
	for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
		l = text_query(f, hostile[i], 5);
		similar_list_clear(&l);
	}
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), HISTORY_LINES);
	l = text_query(f, "\"ledger\" AND NEAR(disk full) OR *", 5);
	assert_true(l.n >= 1);
	assert_string_equal(hit_id(&l.v[0], id), "h-1");
	similar_list_clear(&l);

	/* --exclude */
	int64_t h1 = incident_id(f, "h-1");
	struct similar_opts o = { .limit = 5, .exclude = &h1, .nexclude = 1 };
	char *err = NULL;
	assert_int_equal(similar_to_text(f->st, "ledger database disk full", &o, &l, &err),
			 STATUS_OK);
	for (size_t i = 0; i < l.n; i++)
		assert_int_not_equal(l.v[i].id, h1);
	similar_list_clear(&l);
}

/* ---- similar: an incident's clusters, templates, services, exclusions ---- */

/* Native history:
 *   R1 resolved, once had cluster 1 (now in the open incident Q): a recurrence
 *   R2 resolved, words like Q's, nothing else in common
 *   R3 resolved, cluster 2 with the same template as Q's cluster 3
 *   O  open, shares cluster 1 too: never a candidate
 *   M  merged into Q, had cluster 1: never a candidate */
static void native_fixture(struct fx *f)
{
	exec(f, "INSERT INTO clusters (id, bucket, name, service, template, kinds, ntokens, "
		"severity, first_seen, last_seen) VALUES "
		"(1, 1, 'GatewayTimeout', 'api', 'upstream card gateway timed out after <*> ms', "
		" 'wwwwwwvw', 8, 'high', 0, 0),"
		"(2, 2, 'WorkerStuck', 'billing', 'worker <*> waiting on lock <*>', 'wvwwwv', 6, "
		" 'warning', 0, 0),"
		"(3, 3, 'WorkerStuck', 'payouts', 'worker <*> waiting on lock <*>', 'wvwwwv', 6, "
		" 'warning', 0, 0),"
		"(4, 4, 'Other', 'web', 'page rendered slowly', 'www', 3, 'info', 0, 0);"
		"INSERT INTO incidents (id, title, services, severity, state, opened_at, last_alert_at, "
		"resolved_at, root_cause, action_taken, merged_into) VALUES "
		"(10, 'Checkout latency', '[\"api\"]', 'high', 'resolved', 1, 1, 5, "
		" 'Card gateway connection pool exhausted', 'Raised the pool size', NULL),"
		"(11, 'Upstream card gateway timed out', '[\"web\"]', 'high', 'resolved', 1, 1, 6, "
		" 'Gateway vendor outage', 'Waited for the vendor', NULL),"
		"(12, 'Billing workers stuck', '[\"billing\"]', 'warning', 'resolved', 1, 1, 7, "
		" 'Lock ordering bug in the worker', 'Deployed the fix', NULL),"
		"(13, 'Open one', '[\"api\"]', 'high', 'open', 1, 1, NULL, NULL, NULL, NULL),"
		"(20, 'Gateway timeouts and stuck workers', '[\"api\"]', 'high', 'open', 2, 2, NULL, "
		" NULL, NULL, NULL),"
		"(14, 'Merged one', '[\"api\"]', 'high', 'merged', 1, 1, NULL, NULL, NULL, 20);"
		"INSERT INTO incident_clusters (cluster_id, incident_id, joined_at, reason) VALUES "
		"(1, 20, 2, 'opened'), (3, 20, 2, 'same service'), (2, 12, 1, 'opened'), "
		"(4, 13, 1, 'opened');"
		"INSERT INTO cluster_history (cluster_id, incident_id) VALUES "
		"(1, 10), (1, 13), (1, 14), (1, 20), (3, 20), (2, 12), (4, 13);");
	char *err = NULL;
	assert_int_equal(similar_refresh(f->st, false, &err), STATUS_OK);
}

static struct similar_list incident_query(struct fx *f, int64_t id, size_t limit,
					  const int64_t *exclude, size_t nexclude)
{
	struct similar_opts o = { .limit = limit, .exclude = exclude, .nexclude = nexclude };
	struct similar_list l;
	char *err = NULL;
	assert_int_equal(similar_to_incident(f->st, id, &o, &l, &err), STATUS_OK);
	return l;
}

static void test_recurrence_first(void **state)
{
	struct fx *f = *state;
	native_fixture(f);
	struct similar_list l = incident_query(f, 20, 10, NULL, 0);
	assert_int_equal(l.n, 3);
	/* shared cluster, though it shares fewer words than R2 */
	assert_int_equal(l.v[0].id, 10);
	assert_true(l.v[0].reasons & SIMILAR_CLUSTER);
	assert_true(l.v[0].score >= 10);
	/* shared template (another service's cluster), then words */
	assert_int_equal(l.v[1].id, 12);
	assert_true(l.v[1].reasons & SIMILAR_TEMPLATE);
	assert_true(l.v[1].score >= 5 && l.v[1].score < 10);
	assert_int_equal(l.v[2].id, 11);
	assert_true(l.v[2].reasons & SIMILAR_TEXT);
	assert_true(l.v[2].score < 5);
	assert_string_equal(l.v[0].root_cause, "Card gateway connection pool exhausted");
	assert_string_equal(l.v[0].mitigation, "Raised the pool size");
	assert_null(l.v[0].external_id);
	similar_list_clear(&l);

	/* the same by text only: R2 first, as words are all there is */
	l = text_query(f, "upstream card gateway timed out", 3);
	assert_true(l.n >= 1);
	assert_int_equal(l.v[0].id, 11);
	similar_list_clear(&l);

	/* services in common count for an incident */
	l = incident_query(f, 20, 10, NULL, 0);
	assert_true(l.v[0].reasons & SIMILAR_SERVICE); /* R1: api */
	similar_list_clear(&l);

	/* limit */
	l = incident_query(f, 20, 1, NULL, 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].id, 10);
	similar_list_clear(&l);
}

static void test_exclusions(void **state)
{
	struct fx *f = *state;
	native_fixture(f);
	/* never the open one (13), the merged one (14), or itself (20) */
	struct similar_list l = incident_query(f, 20, 10, NULL, 0);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_not_equal(l.v[i].id, 13);
		assert_int_not_equal(l.v[i].id, 14);
		assert_int_not_equal(l.v[i].id, 20);
	}
	similar_list_clear(&l);

	/* a resolved incident asked about is not its own match */
	l = incident_query(f, 10, 10, NULL, 0);
	for (size_t i = 0; i < l.n; i++)
		assert_int_not_equal(l.v[i].id, 10);
	similar_list_clear(&l);

	/* nor what it was merged into */
	exec(f, "UPDATE incidents SET state = 'resolved', resolved_at = 9 WHERE id = 20");
	l = incident_query(f, 14, 10, NULL, 0);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_not_equal(l.v[i].id, 14);
		assert_int_not_equal(l.v[i].id, 20);
	}
	similar_list_clear(&l);
	exec(f, "UPDATE incidents SET state = 'open', resolved_at = NULL WHERE id = 20");

	/* explicit exclusions */
	int64_t ex[] = { 10, 12 };
	l = incident_query(f, 20, 10, ex, 2);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].id, 11);
	similar_list_clear(&l);

	struct similar_list none;
	char *err = NULL;
	assert_int_equal(similar_to_incident(f->st, 999, NULL, &none, &err), STATUS_NOT_FOUND);
	free(err);
	similar_list_clear(&none);
}

/* ---- the index follows the incidents ------------------------------------ */

static void test_index_follows(void **state)
{
	struct fx *f = *state;
	struct history_counts n;
	assert_int_equal(import_file(f, HISTORY, &n), STATUS_OK);
	char *err = NULL;

	/* a native incident resolved: found at once (scored directly), and
	 * after a refresh (from the index) */
	exec(f, "INSERT INTO incidents (id, title, severity, state, opened_at, last_alert_at) "
		"VALUES (100, 'Kafka brokers flapping', 'high', 'open', 1, 1)");
	struct similar_list l = text_query(f, "kafka brokers flapping", 5);
	assert_int_equal(l.n, 0); /* open: not history */
	similar_list_clear(&l);
	exec(f, "UPDATE incidents SET state = 'resolved', resolved_at = 50, root_cause = "
		"'zookeeper session expiry', action_taken = 'raised the session timeout' WHERE id = 100");
	assert_int_equal(similar_pending(f->st), 1);
	l = text_query(f, "zookeeper session expiry", 5);
	assert_true(l.n >= 1);
	assert_int_equal(l.v[0].id, 100);
	double direct = l.v[0].score;
	similar_list_clear(&l);
	assert_int_equal(similar_refresh(f->st, false, &err), STATUS_OK);
	assert_int_equal(similar_pending(f->st), 0);
	assert_int_equal(q(f, "SELECT rebuilt FROM similar_docs WHERE incident_id = 100"), 0);
	l = text_query(f, "zookeeper session expiry", 5);
	assert_true(l.n >= 1);
	assert_int_equal(l.v[0].id, 100);
	assert_true(l.v[0].score > 0.99 * direct && l.v[0].score < 1.01 * direct);
	similar_list_clear(&l);

	/* reopened: gone, before and after a refresh */
	exec(f, "UPDATE incidents SET state = 'open' WHERE id = 100");
	l = text_query(f, "zookeeper session expiry", 5);
	assert_false(has_id(&l, 100));
	similar_list_clear(&l);
	assert_int_equal(similar_refresh(f->st, false, &err), STATUS_OK);
	l = text_query(f, "zookeeper session expiry", 5);
	assert_false(has_id(&l, 100));
	similar_list_clear(&l);

	/* an imported one edited, then a full rebuild: same answers */
	exec(f, "UPDATE incidents SET root_cause = 'A consumer deadlock in the kafka client' "
		"WHERE external_id = '42'");
	assert_int_equal(similar_refresh(f->st, false, &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_gone"), 1);
	l = text_query(f, "kafka client deadlock", 5);
	assert_true(l.n >= 1);
	assert_string_equal(l.v[0].external_id, "42");
	similar_list_clear(&l);
	assert_int_equal(similar_refresh(f->st, true, &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_gone"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM similar_docs"), HISTORY_LINES);
	l = text_query(f, "kafka client deadlock", 5);
	assert_true(l.n >= 1);
	assert_string_equal(l.v[0].external_id, "42");
	similar_list_clear(&l);

	/* the FTS5 index follows title edits and deletes */
	assert_int_equal(q(f, "SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH "
			      "'flapping'"),
			 1);
	exec(f, "UPDATE incidents SET title = 'Brokers restarting' WHERE id = 100");
	assert_int_equal(q(f, "SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH "
			      "'flapping'"),
			 0);
	exec(f, "DELETE FROM incidents WHERE id = 100");
	assert_int_equal(q(f, "SELECT count(*) FROM incidents_fts WHERE incidents_fts MATCH "
			      "'brokers'"),
			 0);
	exec(f, "INSERT INTO incidents_fts (incidents_fts) VALUES ('integrity-check')");
}

static char *slurp(const char *path)
{
	FILE *r = fopen(path, "rb");
	assert_non_null(r);
	struct buf b = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, r)) > 0)
		buf_add(&b, chunk, n);
	fclose(r);
	return buf_steal(&b);
}

/* A database of schema version 2 with incidents in it: the migration
 * indexes them. */
static void test_migration_indexes_existing(void **state)
{
	struct fx *f = *state;
	char *path = xasprintf("%s/old.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *v1 = slurp(SITREP_SRCDATADIR "/schema/001-base.sql");
	char *v2 = slurp(SITREP_SRCDATADIR "/schema/002-incidents.sql");
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v2, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 2;"
				      "INSERT INTO incidents (title, severity, state, opened_at, "
				      "last_alert_at, resolved_at, root_cause) VALUES "
				      "('Old outage', 'high', 'resolved', 1, 1, 2, "
				      "'expired wildcard certificate'),"
				      "('Still open', 'high', 'open', 1, 1, NULL, NULL)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	free(v1);
	free(v2);

	struct store *st;
	char *err = NULL;
	assert_int_equal(store_open(&st, path, 0, &err), STATUS_OK);
	assert_int_equal(similar_pending(st), 1);
	struct similar_list l;
	assert_int_equal(similar_to_text(st, "wildcard certificate", NULL, &l, &err), STATUS_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].id, 1);
	similar_list_clear(&l);
	assert_int_equal(similar_refresh(st, false, &err), STATUS_OK);
	assert_int_equal(similar_to_text(st, "wildcard certificate", NULL, &l, &err), STATUS_OK);
	assert_int_equal(l.n, 1);
	similar_list_clear(&l);
	/* the FTS5 index holds the old rows: an update deletes them cleanly */
	assert_int_equal(sqlite3_exec(store_db(st),
				      "UPDATE incidents SET title = 'Older outage' WHERE id = 2;"
				      "INSERT INTO incidents_fts (incidents_fts) VALUES "
				      "('integrity-check')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	store_close(&st);
	free(path);
}

static void test_parse_time(void **state)
{
	(void)state;
	int64_t t;
	assert_true(history_parse_time("2024-05-01T10:00:00Z", &t));
	assert_int_equal(t, 1714557600000LL);
	assert_true(history_parse_time("2024-05-01", &t));
	assert_int_equal(t, 1714521600000LL);
	assert_true(history_parse_time("5/1/2024", &t));
	assert_int_equal(t, 1714521600000LL);
	assert_true(history_parse_time("05/01/2024", &t));
	assert_false(history_parse_time("13/01/2024", &t));
	assert_false(history_parse_time("2024-5-1", &t));
	assert_false(history_parse_time("yesterday", &t));
	assert_false(history_parse_time("5/1/24", &t));
	assert_false(history_parse_time("", &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recurrence_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_follows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_indexes_existing, setup, teardown),
		cmocka_unit_test(test_parse_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

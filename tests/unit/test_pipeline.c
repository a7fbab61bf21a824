/* test_pipeline.c — alerts into rows: dedup, resolve, clusters, identity. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline.h"

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	struct mask_rules *rules;
	struct pipeline *p;
	int64_t record;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/sitrep-test-pipe-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/p.db", f->dir);
	char *err = NULL;
	if (store_open(&f->st, f->path, 0, &err) != STATUS_OK)
		return -1;
	if (mask_rules_load(&f->rules, NULL, false, &err) != STATUS_OK)
		return -1;
	f->p = pipeline_new(f->st, f->rules);
	sqlite3_exec(store_db(f->st),
		     "INSERT INTO inputs (origin, started_at) VALUES ('t', 0);"
		     "INSERT INTO records (input_id, line, format, text) VALUES (1, 1, 'json', '{}')",
		     NULL, NULL, NULL);
	f->record = sqlite3_last_insert_rowid(store_db(f->st));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pipeline_free(&f->p);
	mask_rules_free(&f->rules);
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(cmd);
	free(f->path);
	free(f);
	return rc;
}

static void make_alert(struct alert *a, const char *key, const char *name, const char *service,
		       const char *msg, bool resolved)
{
	memset(a, 0, sizeof *a);
	a->source = xstrdup("json");
	a->dedup_key = key ? xstrdup(key) : NULL;
	a->name = xstrdup(name);
	a->service = xstrdup(service);
	a->message = xstrdup(msg);
	a->labels = json_pack("{s:s}", "firm", "f-1042");
	a->severity = SEV_HIGH;
	a->resolved = resolved;
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

static enum pipeline_result add(struct fx *f, const char *key, const char *name,
				const char *service, const char *msg, bool resolved)
{
	struct alert a;
	make_alert(&a, key, name, service, msg, resolved);
	enum pipeline_result r = pipeline_add(f->p, &a, f->record, now_ms());
	alert_clear(&a);
	assert_int_equal(pipeline_flush(f->p), STATUS_OK);
	return r;
}

static void test_masked_variants_share_cluster(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add(f, "k1", "Conn", "api", "pool exhausted after 30s on 10.0.0.1:5432",
			     false),
			 PIPE_INSERTED);
	assert_int_equal(add(f, "k2", "Conn", "api", "pool exhausted after 45s on 10.0.0.2:5432",
			     false),
			 PIPE_INSERTED);
	assert_int_equal(q(f, "SELECT count(*) FROM clusters"), 1);
	assert_int_equal(q(f, "SELECT alerts FROM clusters"), 2);
	assert_int_equal(q(f, "SELECT count(DISTINCT cluster_id) FROM alerts"), 1);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(f->st), "SELECT template FROM clusters", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
			    "pool exhausted after <dur> on <ip>");
	sqlite3_finalize(st);
}

static void test_identity_separates(void **state)
{
	struct fx *f = *state;
	add(f, "a", "Conn", "api", "same text 1", false);
	add(f, "b", "Conn", "ledger", "same text 2", false); /* other service */
	add(f, "c", "Other", "api", "same text 3", false);   /* other name */
	assert_int_equal(q(f, "SELECT count(*) FROM clusters"), 3);
}

static void test_dedup_updates_and_resolves(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add(f, "k", "Conn", "api", "errors at 5%", false), PIPE_INSERTED);
	assert_int_equal(add(f, "k", "Conn", "api", "errors at 7%", false), PIPE_UPDATED);
	assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
	assert_int_equal(q(f, "SELECT occurrences FROM alerts"), 2);
	assert_int_equal(q(f, "SELECT alerts FROM clusters"), 1);
	assert_int_equal(q(f, "SELECT occurrences FROM clusters"), 2);
	assert_int_equal(add(f, "k", "Conn", "api", "errors at 0%", true), PIPE_UPDATED);
	assert_int_equal(q(f, "SELECT status = 'resolved' FROM alerts"), 1);
	assert_true(q(f, "SELECT ends_at FROM alerts") > 0);
	/* alerts without a key are each their own */
	add(f, NULL, "log", "", "x 1", false);
	add(f, NULL, "log", "", "x 2", false);
	assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE dedup_key IS NULL"), 2);
}

static void test_update_moves_cluster_count(void **state)
{
	struct fx *f = *state;
	add(f, "k", "Conn", "api", "pool exhausted", false);
	add(f, "k", "Conn", "api", "pool recovered", false); /* new template */
	assert_int_equal(q(f, "SELECT count(*) FROM clusters"), 2);
	assert_int_equal(q(f, "SELECT sum(alerts) FROM clusters"), 1);
	assert_int_equal(q(f, "SELECT alerts FROM clusters WHERE template = 'pool recovered'"), 1);
	assert_int_equal(q(f, "SELECT alerts FROM clusters WHERE template = 'pool exhausted'"), 0);
}

static void test_status_only(void **state)
{
	struct fx *f = *state;
	struct alert a = { 0 };
	a.source = xstrdup("pagerduty");
	a.dedup_key = xstrdup("pd-1");
	a.status_only = true;
	a.resolved = true;
	assert_int_equal(pipeline_add(f->p, &a, f->record, now_ms()), PIPE_UNMATCHED);
	assert_int_equal(add(f, "pd-1", "Disk", "db", "disk full", false), PIPE_INSERTED);
	assert_int_equal(pipeline_add(f->p, &a, f->record, now_ms()), PIPE_UPDATED);
	alert_clear(&a);
	assert_int_equal(q(f, "SELECT status = 'resolved' FROM alerts WHERE dedup_key = 'pd-1'"), 1);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(f->st), "SELECT message FROM alerts", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "disk full");
	sqlite3_finalize(st);
}

static void test_hostile_text_bound(void **state)
{
	struct fx *f = *state;
	const char *evil = "x'); DROP TABLE alerts; --";
	assert_int_equal(add(f, evil, evil, evil, evil, false), PIPE_INSERTED);
	assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE name = "
			      "'x''); DROP TABLE alerts; --'"),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_masked_variants_share_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_separates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_updates_and_resolves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_moves_cluster_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_text_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

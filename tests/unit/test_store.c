/* test_store.c — opening, migrations, refusal of newer files, permissions. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_data.h"
#include "store.h"

static char dir[] = "/tmp/sitrep-test-store-XXXXXX";

static char *path_in_dir(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void remove_db(const char *p)
{
	char *w = xasprintf("%s-wal", p), *s = xasprintf("%s-shm", p);
	unlink(p);
	unlink(w);
	unlink(s);
	free(w);
	free(s);
}

static void test_create_fresh(void **state)
{
	char *p = path_in_dir("sub/dir/fresh.db");
	struct store *st = NULL;
	char *err = NULL;
	assert_int_equal(store_open(&st, p, 0, &err), STATUS_OK);
	assert_int_equal(store_version(st), store_latest_version());
	assert_true(store_latest_version() >= 1);
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	sqlite3_stmt *jm = store_stmt(st, "PRAGMA journal_mode");
	assert_int_equal(sqlite3_step(jm), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(jm, 0), "wal");
	sqlite3_reset(jm);
	assert_int_equal(store_int(st, "PRAGMA foreign_keys", 0), 1);
	/* every table the foundation promises */
	const char *tables[] = { "records", "alerts", "clusters", "rejects", "audit" };
	for (size_t i = 0; i < 5; i++) {
		sqlite3_stmt *t = store_stmt(st, "SELECT count(*) FROM sqlite_schema WHERE "
						 "type = 'table' AND name = ?");
		sqlite3_bind_text(t, 1, tables[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(t), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(t, 0), 1);
		sqlite3_reset(t);
	}
	store_close(&st);
	assert_null(st);
	/* reopening is a no-op migration */
	assert_int_equal(store_open(&st, p, 0, &err), STATUS_OK);
	assert_int_equal(store_version(st), store_latest_version());
	store_close(&st);
	remove_db(p);
	free(p);
}

/* Build a file at each earlier version by hand, then let store_open finish. */
static void test_migrate_from_each_version(void **state)
{
	for (int v = 0; v < builtin_migration_count; v++) {
		char *p = path_in_dir("old.db");
		remove_db(p);
		sqlite3 *db;
		assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
		for (int k = 0; k < v; k++)
			assert_int_equal(sqlite3_exec(db, builtin_migrations[k], NULL, NULL, NULL),
					 SQLITE_OK);
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
		assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);

		struct store *st = NULL;
		char *err = NULL;
		assert_int_equal(store_open(&st, p, 0, &err), STATUS_OK);
		assert_int_equal(store_version(st), store_latest_version());
		assert_int_equal(store_int(st, "SELECT count(*) FROM alerts", -1), 0);
		store_close(&st);
		remove_db(p);
		free(p);
	}
}

static void test_newer_refused_untouched(void **state)
{
	char *p = path_in_dir("newer.db");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", store_latest_version() + 1);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE future (x); ", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct stat before, after;
	assert_int_equal(stat(p, &before), 0);
	FILE *f = fopen(p, "rb");
	unsigned char head_before[100], head_after[100];
	assert_int_equal(fread(head_before, 1, 100, f), 100);
	fclose(f);

	struct store *st = NULL;
	char *err = NULL;
	assert_int_equal(store_open(&st, p, 0, &err), STATUS_STORE);
	assert_null(st);
	assert_non_null(strstr(err, "newer sitrep"));
	free(err);

	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	f = fopen(p, "rb");
	assert_int_equal(fread(head_after, 1, 100, f), 100);
	fclose(f);
	/* no WAL switch, no migration: the header is byte-for-byte the same */
	assert_memory_equal(head_before, head_after, 100);
	char *wal = xasprintf("%s-wal", p);
	assert_int_not_equal(access(wal, F_OK), 0);
	free(wal);
	remove_db(p);
	free(p);
}

static void test_unwritable_and_garbage(void **state)
{
	struct store *st = NULL;
	char *err = NULL;
	char *p = path_in_dir("ro");
	assert_int_equal(mkdir(p, 0500), 0);
	char *db = xasprintf("%s/x.db", p);
	if (geteuid() != 0) { /* root ignores directory permissions */
		assert_int_equal(store_open(&st, db, 0, &err), STATUS_STORE);
		assert_non_null(strstr(err, db));
		free(err);
		err = NULL;
	}
	/* a regular file where a directory should be fails for root too */
	char *blocker = path_in_dir("blocker");
	FILE *f = fopen(blocker, "w");
	fclose(f);
	char *under = xasprintf("%s/x.db", blocker);
	assert_int_equal(store_open(&st, under, 0, &err), STATUS_STORE);
	assert_non_null(strstr(err, under));
	free(err);
	err = NULL;
	/* a file that is not a database */
	char *junk = path_in_dir("junk.db");
	f = fopen(junk, "w");
	fputs("this is not sqlite, it is a text file that is long enough to look like one..", f);
	for (int i = 0; i < 100; i++)
		fputs("padding padding padding padding\n", f);
	fclose(f);
	assert_int_equal(store_open(&st, junk, 0, &err), STATUS_STORE);
	assert_non_null(strstr(err, "junk.db"));
	free(err);
	rmdir(p);
	unlink(blocker);
	unlink(junk);
	free(junk);
	free(under);
	free(blocker);
	free(db);
	free(p);
}

static void test_audit_append_only(void **state)
{
	char *p = path_in_dir("audit.db");
	struct store *st = NULL;
	char *err = NULL;
	assert_int_equal(store_open(&st, p, 0, &err), STATUS_OK);
	setenv("SITREP_USER", "alice", 1);
	setenv("SSH_CLIENT", "192.0.2.7 50000 22", 1);
	assert_int_equal(store_audit(st, "test", "t1", "{}"), STATUS_OK);
	sqlite3_stmt *q = store_stmt(st, "SELECT actor, origin, action FROM audit");
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "alice");
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "ssh:192.0.2.7");
	assert_string_equal((const char *)sqlite3_column_text(q, 2), "test");
	sqlite3_reset(q);
	assert_int_not_equal(sqlite3_exec(store_db(st), "UPDATE audit SET actor = 'mallory'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(store_db(st), "DELETE FROM audit", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_equal(store_int(st, "SELECT count(*) FROM audit", 0), 1);
	store_close(&st);
	remove_db(p);
	free(p);
}

static void test_default_path(void **state)
{
	char *p;
	unsetenv("SITREP_DB");
	setenv("XDG_STATE_HOME", "/x/state", 1);
	p = store_default_path(NULL);
	assert_string_equal(p, "/x/state/sitrep/sitrep.db");
	free(p);
	setenv("SITREP_DB", "/y/env.db", 1);
	p = store_default_path(NULL);
	assert_string_equal(p, "/y/env.db");
	free(p);
	p = store_default_path("/z/cli.db");
	assert_string_equal(p, "/z/cli.db");
	free(p);
	unsetenv("SITREP_DB");
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	p = store_default_path(NULL);
	assert_string_equal(p, "/home/u/.local/state/sitrep/sitrep.db");
	free(p);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_fresh),
		cmocka_unit_test(test_migrate_from_each_version),
		cmocka_unit_test(test_newer_refused_untouched),
		cmocka_unit_test(test_unwritable_and_garbage),
		cmocka_unit_test(test_audit_append_only),
		cmocka_unit_test(test_default_path),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

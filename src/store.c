/* store.c — see store.h. */
#include "config.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_data.h"

#define STMT_CACHE 64

struct store {
	sqlite3 *db;
	char *path;
	int flags;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	size_t ncache;
};

int store_latest_version(void)
{
	return builtin_migration_count;
}

sqlite3 *store_db(struct store *s)
{
	return s->db;
}

const char *store_path(const struct store *s)
{
	return s->path;
}

bool store_read_only(const struct store *s)
{
	return s->flags & STORE_READ_ONLY;
}

const char *store_errmsg(struct store *s)
{
	return sqlite3_errmsg(s->db);
}

char *store_default_path(const char *cli_path)
{
	if (cli_path && *cli_path)
		return xstrdup(cli_path);
	const char *env = getenv("SITREP_DB");
	if (env && *env)
		return xstrdup(env);
	const char *state = getenv("XDG_STATE_HOME");
	if (state && *state)
		return xasprintf("%s/sitrep/sitrep.db", state);
	const char *home = getenv("HOME");
	return xasprintf("%s/.local/state/sitrep/sitrep.db", home && *home ? home : ".");
}

/* mkdir -p for the directory part of path, mode 0700 for what it creates. */
static int make_parent_dirs(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			free(dir);
			return e;
		}
		*p = '/';
	}
	int rc = mkdir(dir, 0700) != 0 && errno != EEXIST ? errno : 0;
	free(dir);
	return rc;
}

static int exec(struct store *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static int read_user_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static enum status migrate(struct store *s, int from, char **err)
{
	for (int v = from; v < builtin_migration_count; v++) {
		if (exec(s, "BEGIN IMMEDIATE") != SQLITE_OK)
			goto fail;
		/* someone else may have migrated while we waited for the lock */
		int now;
		if (read_user_version(s, &now) != SQLITE_OK)
			goto fail_rb;
		if (now > v) {
			exec(s, "COMMIT");
			v = now - 1;
			continue;
		}
		if (exec(s, builtin_migrations[v]) != SQLITE_OK)
			goto fail_rb;
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
		if (exec(s, pragma) != SQLITE_OK || exec(s, "COMMIT") != SQLITE_OK)
			goto fail_rb;
		continue;
fail_rb:
		*err = xasprintf("%s: migration to schema version %d failed: %s", s->path, v + 1,
				 sqlite3_errmsg(s->db));
		exec(s, "ROLLBACK");
		return STATUS_STORE;
	}
	return STATUS_OK;
fail:
	*err = xasprintf("%s: %s", s->path, sqlite3_errmsg(s->db));
	return STATUS_STORE;
}

/* file:PATH?immutable=1 with PATH percent-encoded where URIs need it. */
static char *immutable_uri(const char *path)
{
	struct buf b = { 0 };
	buf_adds(&b, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '?' || *p == '#' || *p == '%')
			buf_printf(&b, "%%%02X", (unsigned char)*p);
		else
			buf_addc(&b, *p);
	}
	buf_adds(&b, "?immutable=1");
	return buf_steal(&b);
}

/* Process-wide SQLite settings, before the first connection. Memory
 * statistics cost a mutex round trip per allocation; nothing here reads
 * them. */
static void store_global_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

enum status store_open(struct store **out, const char *path, int flags, char **err)
{
	store_global_init();
	struct store *s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	s->flags = flags;
	int oflags;

	if (flags & STORE_READ_ONLY) {
		oflags = SQLITE_OPEN_READONLY;
	} else {
		int e = make_parent_dirs(path);
		if (e) {
			*err = xasprintf("%s: cannot create directory: %s", path, strerror(e));
			goto fail;
		}
		/* create with 0600 ourselves: SQLite would honour the umask */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			*err = xasprintf("%s: cannot open database: %s", path, strerror(errno));
			goto fail;
		}
		close(fd);
		oflags = SQLITE_OPEN_READWRITE;
	}
	oflags |= SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		*err = xasprintf("%s: cannot open database: %s", path,
				 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);

	int version = 0;
	int rc = read_user_version(s, &version);
	if (rc != SQLITE_OK && (flags & STORE_READ_ONLY)) {
		/* a copy in a directory we cannot write: WAL needs its -shm file
		 * beside the database; as nobody writes a copy under review,
		 * open it immutable instead */
		sqlite3_close(s->db);
		s->db = NULL;
		char *uri = immutable_uri(path);
		int orc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
							 SQLITE_OPEN_NOMUTEX,
					  NULL);
		free(uri);
		if (orc != SQLITE_OK) {
			*err = xasprintf("%s: cannot open database: %s", path,
					 s->db ? sqlite3_errmsg(s->db) : "out of memory");
			goto fail;
		}
		rc = read_user_version(s, &version);
	}
	if (rc != SQLITE_OK) {
		*err = xasprintf("%s: not a sitrep database: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (version > builtin_migration_count) {
		*err = xasprintf("%s: written by a newer sitrep (schema version %d; this one "
				 "knows up to %d); refusing to touch it",
				 path, version, builtin_migration_count);
		goto fail;
	}
	if (flags & STORE_READ_ONLY) {
		if (version < builtin_migration_count) {
			*err = xasprintf("%s: schema version %d is older than %d and the file is "
					 "opened read-only; run `sitrep db migrate` on a copy",
					 path, version, builtin_migration_count);
			goto fail;
		}
		exec(s, "PRAGMA query_only = ON");
	} else {
		/* WAL with synchronous=NORMAL: a commit survives a crash of the
		 * process (SIGKILL); a power cut may lose the last commits but
		 * never corrupts the file */
		if (exec(s, "PRAGMA journal_mode = WAL") != SQLITE_OK ||
		    exec(s, "PRAGMA synchronous = NORMAL") != SQLITE_OK) {
			*err = xasprintf("%s: cannot set up the database: %s", path,
					 sqlite3_errmsg(s->db));
			goto fail;
		}
		if (version < builtin_migration_count && migrate(s, version, err) != STATUS_OK)
			goto fail;
	}
	exec(s, "PRAGMA foreign_keys = ON");
	exec(s, "PRAGMA temp_store = MEMORY");
	/* 16 MiB of page cache: indexes of a large file stay in memory
	 * during ingest instead of being read back page by page */
	exec(s, flags & STORE_SMALL_CACHE ? "PRAGMA cache_size = -2048"
					  : "PRAGMA cache_size = -16384");
	*out = s;
	return STATUS_OK;
fail:
	store_close(&s);
	return STATUS_STORE;
}

void store_close(struct store **sp)
{
	struct store *s = *sp;
	if (!s)
		return;
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].stmt);
	if (s->db)
		sqlite3_close(s->db);
	free(s->path);
	xfree(sp);
}

int store_version(struct store *s)
{
	int v = -1;
	read_user_version(s, &v);
	return v;
}

sqlite3_stmt *store_stmt(struct store *s, const char *sql)
{
	for (size_t i = 0; i < s->ncache; i++) {
		if (s->cache[i].sql == sql) {
			sqlite3_stmt *st = s->cache[i].stmt;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		/* a statement that does not prepare is a programming error */
		die(3, "%s: cannot prepare statement: %s\n  %s", s->path, sqlite3_errmsg(s->db),
		    sql);
	}
	if (s->ncache < STMT_CACHE) {
		s->cache[s->ncache].sql = sql;
		s->cache[s->ncache].stmt = st;
		s->ncache++;
	} else {
		die(3, "statement cache full; raise STMT_CACHE");
	}
	return st;
}

enum status store_begin(struct store *s)
{
	return exec(s, "BEGIN IMMEDIATE") == SQLITE_OK ? STATUS_OK : STATUS_STORE;
}

enum status store_commit(struct store *s)
{
	return exec(s, "COMMIT") == SQLITE_OK ? STATUS_OK : STATUS_STORE;
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
}

enum status store_audit(struct store *s, const char *action, const char *target,
			const char *detail_json)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO audit (at, actor, origin, action, target, "
					 "detail) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_text(st, 2, user_login(), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, user_origin(), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail_json, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? STATUS_OK : STATUS_STORE;
}

int64_t store_int(struct store *s, const char *sql, int64_t def)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	int64_t v = def;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

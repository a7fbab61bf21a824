/*
 * store.h — the one SQLite file.
 *
 * A store is one connection. Each thread opens its own (DESIGN.md: the
 * database is the message bus). Opening applies migrations in order; a file
 * whose schema is newer than this binary knows is refused untouched.
 * Statements are prepared once per connection and cached by their SQL text
 * pointer, so callers pass string literals.
 */
#ifndef SITREP_STORE_H
#define SITREP_STORE_H

#include <sqlite3.h>

#include "util.h"

enum store_flags {
	STORE_READ_ONLY = 1 << 0,
	STORE_SMALL_CACHE = 1 << 1, /* 2 MiB of page cache instead of 16 */
};

struct store;

/* The database path from --db, $SITREP_DB, or the XDG state directory.
 * Returns a malloc'd string. */
char *store_default_path(const char *cli_path);

enum status store_open(struct store **out, const char *path, int flags, char **err);
void store_close(struct store **s);

sqlite3 *store_db(struct store *s);
const char *store_path(const struct store *s);
bool store_read_only(const struct store *s);
/* The newest schema version this binary knows. */
int store_latest_version(void);
int store_version(struct store *s);

/* A prepared statement for sql (cached; reset and unbound on return). */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);

enum status store_begin(struct store *s);
enum status store_commit(struct store *s);
void store_rollback(struct store *s);

/* Last error of the connection, for messages. */
const char *store_errmsg(struct store *s);

/* Append an audit row: actor and origin are the current user. */
enum status store_audit(struct store *s, const char *action, const char *target,
			const char *detail_json);

/* Run a query returning one integer (or def when there is no row). */
int64_t store_int(struct store *s, const char *sql, int64_t def);

#endif

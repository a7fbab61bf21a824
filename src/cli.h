/*
 * cli.h — the scriptable subcommands. One table (COMMAND_LIST) gives each
 * command its name, synopsis and summary; `sitrep --help`, `sitrep CMD
 * --help` and the man page's list come from it.
 */
#ifndef SITREP_CLI_H
#define SITREP_CLI_H

#include <stdio.h>

#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "store.h"
#include "util.h"

struct cli_globals {
	const char *db_path;     /* --db */
	const char *config_path; /* --config */
	bool json;               /* --json */
	bool read_only;          /* --read-only */
	bool demo;               /* --demo */
};

/* No command: the console (with --demo, on a fresh demo database). */
int cli_console(const struct cli_globals *g);

/* What every command gets: the global options, the configuration, and the
 * store once a command asks for it (cli_open_store). */
struct cli_ctx {
	const struct cli_globals *g;
	struct conf conf;
	bool conf_loaded;
	struct store *st;
};

/* The commands (one file may hold several); the table is in cli.c. */
#define COMMAND_DECLS(_)                                                                  \
	_(ingest) _(cluster) _(list) _(show) _(ack) _(snooze) _(resolve) _(reopen) _(note)  \
	_(merge) _(split) _(ticket) _(stats) _(rejects) _(keys) _(db) _(import) _(similar) \
	_(demo)
#define DECLARE_CMD(name) int cmd_##name(struct cli_ctx *c, int argc, char **argv);
COMMAND_DECLS(DECLARE_CMD)
#undef DECLARE_CMD

/* Clusters, for `list --clusters` and `show --cluster`. */
int cli_list_clusters(struct cli_ctx *c, long limit);
int cli_show_cluster(struct cli_ctx *c, long long id);

/* Helpers for commands. */
enum status cli_open_store(struct cli_ctx *c);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_parse_limit(const char *s, long *out);
/* Print doc (ASCII-only, indented) and drop the reference. */
void cli_print_json(json_t *doc);
/* Print alert text escaped for the terminal. */
void cli_print_escaped(const char *s);
json_t *cli_json_time(sqlite3_stmt *st, int col);
json_t *cli_json_text(sqlite3_stmt *st, int col);
void cli_format_age(int64_t then_ms, char out[32]);

/* How the template miner reads message against its cluster's template:
 * [{"text", "masked": rule name or null, "wildcard": bool}] per token.
 * *matches is false when the message no longer fits the template. */
struct mask_rules;
json_t *cli_explain(const struct mask_rules *rules, int64_t cluster_id, const char *name,
		    const char *service, const char *tmpl, const char *kinds, int64_t ntokens,
		    int64_t bucket, const char *message, bool *matches);

/* Run argv[0] as a command; returns the process exit code. */
int cli_run(const struct cli_globals *g, int argc, char **argv);
void cli_usage(FILE *out);
/* Print the command table as roff (for checking man/sitrep.1). */
void cli_print_commands(FILE *out);

#endif

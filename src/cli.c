/*
 * cli.c — subcommands for scripts and for humans at a shell.
 *
 * Every command prints text for people and, with --json, one JSON document
 * with plainly named keys for scripts. Exit codes: 0 ok, 1 some input was
 * bad (the rest was stored), 2 usage, 3 database.
 *
 * Alert text is hostile: text output goes through escape_text(), JSON
 * output is ASCII-only, so neither can drive the terminal.
 */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "console.h"
#include "demo.h"
#include "history.h"
#include "services.h"
#include "escape.h"
#include "formats.h"
#include "incident.h"
#include "ingest.h"
#include "mask.h"
#include "store.h"

typedef int (*command_fn)(struct cli_ctx *c, int argc, char **argv);

#define COMMAND_LIST(_)                                                                    \
	_(ingest, "ingest [--format F] [--service NAME] [FILE...|-]\n"                      \
		  "       ingest [--format F] [--service NAME] --spool DIR",                \
	  "read alerts and log lines from files, stdin or a spool directory")             \
	_(cluster, "cluster [--ids] [--max-templates N] [FILE...|-]",                       \
	  "group log lines by template, without a database: ID<TAB>TEMPLATE per line")    \
	_(list, "list [--state S] [--limit N] [--clusters]",                                \
	  "incidents (or clusters), most recent first")                                   \
	_(show, "show ID | show --cluster ID",                                              \
	  "one incident: clusters, why each joined, timeline, impact")                     \
	_(ack, "ack ID", "acknowledge an incident")                                        \
	_(snooze, "snooze ID DURATION", "snooze an incident (it wakes if it gets worse)")  \
	_(resolve, "resolve ID --cause TEXT --action TEXT [--worked yes|no]",              \
	  "resolve an incident, recording its cause and what was done")                    \
	_(reopen, "reopen ID", "reopen a resolved incident")                               \
	_(note, "note ID TEXT", "add a note to an incident's timeline")                    \
	_(merge, "merge ID ID...", "merge incidents into the first one")                   \
	_(split, "split ID CLUSTER", "move a cluster out into an incident of its own")     \
	_(ticket, "ticket ID REF", "register the incident's clusters as known issue REF")  \
	_(stats, "stats [--since DURATION]",                                               \
	  "noise funnel, MTTA/MTTR, recurrence, incidents per service")                    \
	_(import, "import [FILE|-]", "load past incidents (NDJSON) as resolved history")   \
	_(similar, "similar [--limit N] [--exclude ID]... (ID | --text TEXT)",             \
	  "past incidents most likely to share a cause")                                  \
	_(rejects, "rejects [--limit N]", "input that was refused, where from and why")   \
	_(keys, "keys", "the console's actions and the keys bound to them")                \
	_(db, "db check", "check the database file's integrity")                         \
	_(demo, "demo [--speed N] [--history] [--scenario FILE] SPOOL_DIR",                  \
	  "replay the demo scenario into a spool directory")


static const struct command {
	const char *name;
	command_fn fn;
	const char *synopsis;
	const char *summary;
} commands[] = {
#define CMD_ROW(name, synopsis, summary) { #name, cmd_##name, synopsis, summary },
	COMMAND_LIST(CMD_ROW)
#undef CMD_ROW
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void cli_usage(FILE *out)
{
	fprintf(out, "usage: sitrep [--db PATH] [--config FILE] [--json] COMMAND [ARGS]\n"
		     "       sitrep --version | --help | COMMAND --help\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nThe database is --db PATH, else $SITREP_DB, else "
		     "$XDG_STATE_HOME/sitrep/sitrep.db.\nSee sitrep(1).\n");
}

void cli_print_commands(FILE *out)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "%s\t%s\n", commands[i].name, commands[i].summary);
}

static void command_usage(const struct command *cmd, FILE *out)
{
	fprintf(out, "usage: sitrep %s\n\n%s\n", cmd->synopsis, cmd->summary);
}

/* ---- shared helpers --------------------------------------------------- */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "sitrep %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (try 'sitrep %s --help')\n", cmd);
	va_end(ap);
	return 2;
}

static enum status load_conf(struct cli_ctx *c)
{
	if (c->conf_loaded)
		return STATUS_OK;
	char *err = NULL;
	enum status st = conf_load(&c->conf, c->g->config_path, &err);
	if (st != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		return st;
	}
	c->conf_loaded = true;
	return STATUS_OK;
}

enum status cli_open_store(struct cli_ctx *c)
{
	if (c->st)
		return STATUS_OK;
	char *path = store_default_path(c->g->db_path);
	char *err = NULL;
	enum status st = store_open(&c->st, path, c->g->read_only ? STORE_READ_ONLY : 0, &err);
	if (st != STATUS_OK) {
		warnx_("%s", err);
		free(err);
	}
	free(path);
	return st;
}

bool cli_parse_limit(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 100000000)
		return false;
	*out = v;
	return true;
}

void cli_print_json(json_t *doc)
{
	/* ASCII-only: a script that echoes our JSON to a terminal stays safe */
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

void cli_print_escaped(const char *s)
{
	struct buf b = { 0 };
	escape_text(&b, s ? s : "", s ? strlen(s) : 0, false);
	fputs(b.data, stdout);
	buf_free(&b);
}

json_t *cli_json_time(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	char t[32];
	format_time_rfc3339(sqlite3_column_int64(st, col), t);
	return json_string(t);
}

json_t *cli_json_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return s ? json_string(s) : json_null();
}

void cli_format_age(int64_t then_ms, char out[32])
{
	char a[16];
	format_age(then_ms, a);
	snprintf(out, 32, "%s ago", a);
}

/* getopt_long with a leading '+' and the command name in messages */
static int next_opt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* ---- ingest ----------------------------------------------------------- */

int cmd_ingest(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "service", required_argument, NULL, 's' },
		{ "spool", required_argument, NULL, 'S' },
		{ 0 },
	};
	struct ingest_opts io = { 0 };
	const char *spool = NULL;
	int o;
	while ((o = next_opt(argc, argv, "+f:s:", opts)) != -1) {
		switch (o) {
		case 'f':
			if (!format_from_name(optarg, &io.format))
				return cli_usage_error("ingest", "unknown format '%s'", optarg);
			break;
		case 's':
			io.service = optarg;
			break;
		case 'S':
			spool = optarg;
			break;
		default:
			return cli_usage_error("ingest", "%s", "bad option");
		}
	}
	if (spool && optind < argc)
		return cli_usage_error("ingest", "%s", "--spool takes no FILE arguments");
	enum status st = load_conf(c);
	if (st != STATUS_OK)
		return status_exit_code(st);
	if (!io.service)
		io.service = c->conf.log_service;
	io.batch = c->conf.batch;
	io.incidents = &c->conf.incidents;

	char *err = NULL;
	struct mask_rules *rules = NULL;
	st = mask_rules_load(&rules, c->conf.mask_rules, c->conf.mask_rules_set, &err);
	if (st != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		return status_exit_code(st);
	}
	st = cli_open_store(c);
	if (st != STATUS_OK) {
		mask_rules_free(&rules);
		return status_exit_code(st);
	}
	struct ingest *ing = ingest_new(c->st, rules, &io);
	enum status worst = STATUS_OK;
	if (spool) {
		worst = ingest_spool(ing, spool);
	} else if (optind == argc) {
		worst = ingest_path(ing, "-");
	} else {
		for (int i = optind; i < argc; i++) {
			enum status s = ingest_path(ing, argv[i]);
			if (s == STATUS_STORE) {
				worst = s;
				break;
			}
			if (s != STATUS_OK)
				worst = s;
		}
	}
	const struct ingest_counts *t = ingest_totals(ing);
	if (c->g->json) {
		cli_print_json(json_pack("{s:I, s:I, s:I, s:I}", "records", (json_int_t)t->records,
				     "accepted", (json_int_t)t->accepted, "updated",
				     (json_int_t)t->updated, "rejected", (json_int_t)t->rejected));
	} else {
		printf("%llu accepted, %llu updated, %llu rejected (%llu records)\n",
		       (unsigned long long)t->accepted, (unsigned long long)t->updated,
		       (unsigned long long)t->rejected, (unsigned long long)t->records);
	}
	ingest_free(&ing);
	mask_rules_free(&rules);
	return status_exit_code(worst);
}

/* ---- list / show ------------------------------------------------------ */

static json_t *cluster_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "name", cli_json_text(st, 2));
	json_object_set_new(o, "service", cli_json_text(st, 3));
	json_object_set_new(o, "template", cli_json_text(st, 4));
	json_object_set_new(o, "severity", cli_json_text(st, 5));
	json_object_set_new(o, "alerts", json_integer(sqlite3_column_int64(st, 6)));
	json_object_set_new(o, "occurrences", json_integer(sqlite3_column_int64(st, 7)));
	json_object_set_new(o, "first_seen", cli_json_time(st, 8));
	json_object_set_new(o, "last_seen", cli_json_time(st, 9));
	if (sqlite3_column_type(st, 10) != SQLITE_NULL)
		json_object_set_new(o, "merged_into", json_integer(sqlite3_column_int64(st, 10)));
	return o;
}

int cli_list_clusters(struct cli_ctx *c, long limit)
{
	enum status s = cli_open_store(c);
	if (s != STATUS_OK)
		return status_exit_code(s);
	static const char sql[] = "SELECT id, NULL, name, service, template, severity, "
				  "alerts, occurrences, first_seen, last_seen, merged_into "
				  "FROM clusters WHERE merged_into IS NULL "
				  "ORDER BY last_seen DESC, id DESC LIMIT ?";
	sqlite3_stmt *st = store_stmt(c->st, sql);
	sqlite3_bind_int64(st, 1, limit);
	json_t *arr = c->g->json ? json_array() : NULL;
	if (!arr)
		printf("%6s %-8s %7s %7s %-9s %s\n", "ID", "SEVERITY", "ALERTS", "SEEN", "LAST",
		       "NAME  SERVICE  TEMPLATE");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (arr) {
			json_array_append_new(arr, cluster_json(st));
			continue;
		}
		char age[32];
		cli_format_age(sqlite3_column_int64(st, 9), age);
		printf("%6lld %-8s %7lld %7lld %-9s ", (long long)sqlite3_column_int64(st, 0),
		       sqlite3_column_text(st, 5), (long long)sqlite3_column_int64(st, 6),
		       (long long)sqlite3_column_int64(st, 7), age);
		cli_print_escaped((const char *)sqlite3_column_text(st, 2));
		const char *svc = (const char *)sqlite3_column_text(st, 3);
		if (svc && *svc) {
			fputs("  ", stdout);
			cli_print_escaped(svc);
		}
		fputs("  ", stdout);
		cli_print_escaped((const char *)sqlite3_column_text(st, 4));
		fputc('\n', stdout);
	}
	sqlite3_reset(st);
	if (arr)
		cli_print_json(json_pack("{s:o}", "clusters", arr));
	return 0;
}

/* The message again, each masked token as {rule=text} and each token the
 * template wildcards as {*=text}: what the miner made of it. */
static void print_explanation(json_t *a)
{
	const char *msg = json_string_value(json_object_get(a, "message"));
	json_t *tokens = json_object_get(a, "tokens");
	struct buf b = { 0 };
	size_t at = 0, i;
	json_t *t;
	json_array_foreach(tokens, i, t)
	{
		const char *text = json_string_value(json_object_get(t, "text"));
		const char *rule = json_string_value(json_object_get(t, "masked"));
		bool wild = json_is_true(json_object_get(t, "wildcard"));
		const char *found = strstr(msg + at, text);
		if (!found)
			continue;
		buf_add(&b, msg + at, (size_t)(found - (msg + at)));
		if (rule || wild)
			buf_printf(&b, "{%s=%s}", rule ? rule : "*", text);
		else
			buf_adds(&b, text);
		at = (size_t)(found - msg) + strlen(text);
	}
	buf_adds(&b, msg + at);
	printf("    explain: ");
	cli_print_escaped(b.data);
	printf("%s\n", json_is_true(json_object_get(a, "fits_template"))
				 ? ""
				 : "  (no longer fits the template)");
	buf_free(&b);
}

static json_t *labels_json(const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	return v ? v : json_object();
}

int cli_show_cluster(struct cli_ctx *c, long long id)
{
	enum status s = cli_open_store(c);
	if (s != STATUS_OK)
		return status_exit_code(s);

	static const char sql[] = "SELECT id, NULL, name, service, template, severity, "
				  "alerts, occurrences, first_seen, last_seen, merged_into, "
				  "kinds, ntokens, bucket FROM clusters WHERE id = ?";
	sqlite3_stmt *st = store_stmt(c->st, sql);
	long long asked = id;
	json_t *merged_from = json_array();
	/* follow merges, so an old id still leads somewhere */
	for (int hops = 0; hops < 100; hops++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			json_decref(merged_from);
			fprintf(stderr, "sitrep show: no cluster %lld\n", asked);
			return 1;
		}
		if (sqlite3_column_type(st, 10) == SQLITE_NULL)
			break;
		json_array_append_new(merged_from, json_integer(id));
		if (!c->g->json)
			printf("cluster %lld was merged into %lld\n", id,
			       (long long)sqlite3_column_int64(st, 10));
		id = sqlite3_column_int64(st, 10);
	}
	json_t *cluster = cluster_json(st);
	char *kinds = xstrdup((const char *)sqlite3_column_text(st, 11));
	int64_t ntokens = sqlite3_column_int64(st, 12), bucket = sqlite3_column_int64(st, 13);
	sqlite3_reset(st);
	struct mask_rules *rules = NULL;
	char *err = NULL;
	if (mask_rules_load(&rules, c->conf.mask_rules, c->conf.mask_rules_set, &err) != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		free(kinds);
		json_decref(cluster);
		json_decref(merged_from);
		return 2;
	}

	static const char asql[] =
		"SELECT id, source, dedup_key, status, silenced, inhibited, severity, name, "
		"service, message, masked, labels, starts_at, ends_at, received_at, updated_at, "
		"occurrences, record_id FROM alerts WHERE cluster_id = ? "
		"ORDER BY updated_at DESC, id DESC LIMIT 200";
	sqlite3_stmt *as = store_stmt(c->st, asql);
	sqlite3_bind_int64(as, 1, id);
	json_t *alerts = json_array();
	while (sqlite3_step(as) == SQLITE_ROW) {
		json_t *a = json_object();
		json_object_set_new(a, "id", json_integer(sqlite3_column_int64(as, 0)));
		json_object_set_new(a, "source", cli_json_text(as, 1));
		json_object_set_new(a, "dedup_key", cli_json_text(as, 2));
		json_object_set_new(a, "status", cli_json_text(as, 3));
		json_object_set_new(a, "silenced", json_boolean(sqlite3_column_int(as, 4)));
		json_object_set_new(a, "inhibited", json_boolean(sqlite3_column_int(as, 5)));
		json_object_set_new(a, "severity", cli_json_text(as, 6));
		json_object_set_new(a, "name", cli_json_text(as, 7));
		json_object_set_new(a, "service", cli_json_text(as, 8));
		json_object_set_new(a, "message", cli_json_text(as, 9));
		json_object_set_new(a, "masked", cli_json_text(as, 10));
		json_object_set_new(a, "labels",
				    labels_json((const char *)sqlite3_column_text(as, 11)));
		json_object_set_new(a, "starts_at", cli_json_time(as, 12));
		json_object_set_new(a, "ends_at", cli_json_time(as, 13));
		json_object_set_new(a, "received_at", cli_json_time(as, 14));
		json_object_set_new(a, "updated_at", cli_json_time(as, 15));
		json_object_set_new(a, "occurrences", json_integer(sqlite3_column_int64(as, 16)));
		json_object_set_new(a, "record_id", json_integer(sqlite3_column_int64(as, 17)));
		bool fits;
		json_t *tokens = cli_explain(
			rules, id, json_string_value(json_object_get(cluster, "name")),
			json_string_value(json_object_get(cluster, "service")),
			json_string_value(json_object_get(cluster, "template")), kinds, ntokens, bucket,
			json_string_value(json_object_get(a, "message")), &fits);
		json_object_set_new(a, "tokens", tokens);
		json_object_set_new(a, "fits_template", json_boolean(fits));
		json_array_append_new(alerts, a);
	}
	sqlite3_reset(as);
	mask_rules_free(&rules);
	free(kinds);

	if (c->g->json) {
		json_object_set_new(cluster, "merged_from", merged_from);
		cli_print_json(json_pack("{s:o, s:o}", "cluster", cluster, "alerts", alerts));
		return 0;
	}
	json_decref(merged_from);
	printf("cluster %lld\n", id);
	printf("name:       ");
	cli_print_escaped(json_string_value(json_object_get(cluster, "name")));
	printf("\nservice:    ");
	cli_print_escaped(json_string_value(json_object_get(cluster, "service")));
	printf("\nseverity:   %s\n", json_string_value(json_object_get(cluster, "severity")));
	printf("template:   ");
	cli_print_escaped(json_string_value(json_object_get(cluster, "template")));
	printf("\nalerts:     %lld (%lld occurrences)\n",
	       (long long)json_integer_value(json_object_get(cluster, "alerts")),
	       (long long)json_integer_value(json_object_get(cluster, "occurrences")));
	printf("first seen: %s\nlast seen:  %s\n",
	       json_string_value(json_object_get(cluster, "first_seen")),
	       json_string_value(json_object_get(cluster, "last_seen")));
	size_t i;
	json_t *a;
	json_array_foreach(alerts, i, a)
	{
		printf("\n  alert %lld  %s %s  %s%s%s x%lld\n",
		       (long long)json_integer_value(json_object_get(a, "id")),
		       json_string_value(json_object_get(a, "status")),
		       json_string_value(json_object_get(a, "severity")),
		       json_string_value(json_object_get(a, "received_at")),
		       json_is_true(json_object_get(a, "silenced")) ? " silenced" : "",
		       json_is_true(json_object_get(a, "inhibited")) ? " inhibited" : "",
		       (long long)json_integer_value(json_object_get(a, "occurrences")));
		printf("    source:  %s", json_string_value(json_object_get(a, "source")));
		const char *key = json_string_value(json_object_get(a, "dedup_key"));
		if (key) {
			printf("  key ");
			cli_print_escaped(key);
		}
		printf("\n    message: ");
		cli_print_escaped(json_string_value(json_object_get(a, "message")));
		char *labels = json_dumps(json_object_get(a, "labels"), JSON_COMPACT);
		printf("\n    labels:  ");
		cli_print_escaped(labels);
		free(labels);
		fputc('\n', stdout);
		print_explanation(a);
	}
	json_decref(cluster);
	json_decref(alerts);
	return 0;
}

/* ---- stats / rejects / db --------------------------------------------- */

/* Median and p90 (nearest rank) of durations in seconds from a query
 * returning one column, sorted ascending. */
static json_t *percentiles(struct store *st, const char *sql, int64_t since)
{
	sqlite3_stmt *q = store_stmt(st, sql);
	sqlite3_bind_int64(q, 1, since);
	double *v = NULL;
	size_t n = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = sqlite3_column_double(q, 0) / 1000.0;
	}
	sqlite3_reset(q);
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)n));
	if (n) {
		size_t med = (n + 1) / 2, p90 = (size_t)((9 * n + 9) / 10);
		json_object_set_new(o, "median_s", json_real(v[med - 1]));
		json_object_set_new(o, "p90_s", json_real(v[(p90 > n ? n : p90) - 1]));
	} else {
		json_object_set_new(o, "median_s", json_null());
		json_object_set_new(o, "p90_s", json_null());
	}
	free(v);
	return o;
}

static void print_duration_s(json_t *v)
{
	if (!json_is_number(v)) {
		printf("%8s", "-");
		return;
	}
	double s = json_number_value(v);
	if (s < 120)
		printf("%7.0fs", s);
	else if (s < 7200)
		printf("%7.1fm", s / 60);
	else if (s < 172800)
		printf("%7.1fh", s / 3600);
	else
		printf("%7.1fd", s / 86400);
}

static double ratio(int64_t a, int64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

int cmd_stats(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = { { "since", required_argument, NULL, 's' }, { 0 } };
	int64_t since_s = 30 * 86400;
	int o;
	while ((o = next_opt(argc, argv, "+", opts)) != -1) {
		if (o != 's' || !parse_duration(optarg, &since_s) || since_s <= 0)
			return cli_usage_error("stats", "%s", "--since needs a duration (7d, 24h)");
	}
	if (optind < argc)
		return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
	enum status s = cli_open_store(c);
	if (s != STATUS_OK)
		return status_exit_code(s);
	incidents_tick(c->st, &c->conf.incidents, now_ms());
	int64_t since = now_ms() - since_s * 1000;
	int64_t records = store_int(c->st, "SELECT count(*) FROM records", 0);
	int64_t alerts = store_int(c->st, "SELECT count(*) FROM alerts", 0);
	int64_t occurrences = store_int(c->st, "SELECT total(occurrences) FROM alerts", 0);
	int64_t clusters =
		store_int(c->st, "SELECT count(*) FROM clusters WHERE merged_into IS NULL", 0);
	int64_t incidents = store_int(c->st, "SELECT count(*) FROM incidents WHERE imported = 0 "
					     "AND state <> 'merged'", 0);
	int64_t rejects = store_int(c->st, "SELECT count(*) FROM rejects", 0);

	sqlite3_stmt *q = store_stmt(c->st, "SELECT count(*), sum(recurrences > 0 OR EXISTS "
					    "(SELECT 1 FROM events e WHERE e.incident_id = i.id AND "
					    "e.kind = 'recurrence')) FROM incidents i WHERE imported = 0 "
					    "AND state <> 'merged' AND opened_at >= ?");
	sqlite3_bind_int64(q, 1, since);
	int64_t period = 0, recurring = 0;
	if (sqlite3_step(q) == SQLITE_ROW) {
		period = sqlite3_column_int64(q, 0);
		recurring = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);

	json_t *mtta = percentiles(c->st, "SELECT acked_at - opened_at FROM incidents WHERE "
					  "imported = 0 AND acked_at IS NOT NULL AND opened_at >= ? "
					  "ORDER BY 1", since);
	json_t *mttr = percentiles(c->st, "SELECT resolved_at - opened_at FROM incidents WHERE "
					  "imported = 0 AND resolved_at IS NOT NULL AND "
					  "state = 'resolved' AND opened_at >= ? ORDER BY 1", since);

	json_t *per_service = json_array();
	q = store_stmt(c->st, "SELECT j.value, count(*) FROM incidents i, json_each(i.services) j "
			      "WHERE i.imported = 0 AND i.state <> 'merged' AND i.opened_at >= ? "
			      "GROUP BY j.value ORDER BY 2 DESC, 1 LIMIT 20");
	sqlite3_bind_int64(q, 1, since);
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(per_service,
				      json_pack("{s:o, s:I}", "service", cli_json_text(q, 0),
						"incidents", (json_int_t)sqlite3_column_int64(q, 1)));
	sqlite3_reset(q);

	json_t *top = json_array();
	q = store_stmt(c->st, "SELECT c.id, c.name, c.service, c.template, count(h.incident_id), "
			      "c.occurrences FROM clusters c JOIN cluster_history h ON "
			      "h.cluster_id = c.id GROUP BY c.id HAVING count(h.incident_id) > 1 "
			      "ORDER BY 5 DESC, 6 DESC, c.id LIMIT 5");
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(top, json_pack("{s:I, s:o, s:o, s:o, s:I, s:I}", "id",
						     (json_int_t)sqlite3_column_int64(q, 0), "name",
						     cli_json_text(q, 1), "service",
						     cli_json_text(q, 2), "template",
						     cli_json_text(q, 3), "incidents",
						     (json_int_t)sqlite3_column_int64(q, 4),
						     "occurrences",
						     (json_int_t)sqlite3_column_int64(q, 5)));
	sqlite3_reset(q);

	json_t *funnel = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "records", (json_int_t)records,
		"alert_occurrences", (json_int_t)occurrences, "alerts", (json_int_t)alerts,
		"clusters", (json_int_t)clusters, "incidents", (json_int_t)incidents,
		"occurrences_per_alert", ratio(occurrences, alerts), "alerts_per_cluster",
		ratio(alerts, clusters), "clusters_per_incident", ratio(clusters, incidents));
	if (c->g->json) {
		cli_print_json(json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:{s:I, s:I, s:I, s:f, s:o, s:o, "
			"s:o, s:o}}",
			"records", (json_int_t)records, "alerts", (json_int_t)alerts, "occurrences",
			(json_int_t)occurrences, "clusters", (json_int_t)clusters, "incidents",
			(json_int_t)incidents, "rejects", (json_int_t)rejects, "reduction",
			ratio(alerts, clusters), "funnel", funnel, "period", "seconds",
			(json_int_t)since_s, "incidents", (json_int_t)period, "recurring",
			(json_int_t)recurring, "recurrence_rate", ratio(recurring, period), "mtta",
			mtta, "mttr", mttr, "per_service", per_service, "top_recurring_clusters",
			top));
		return 0;
	}
	printf("noise funnel (all time)\n");
	printf("  records      %10lld\n", (long long)records);
	printf("  occurrences  %10lld\n", (long long)occurrences);
	printf("  alerts       %10lld   %6.1fx fewer (repeats of one dedup key)\n",
	       (long long)alerts, ratio(occurrences, alerts));
	printf("  clusters     %10lld   %6.1fx fewer (same template)\n", (long long)clusters,
	       ratio(alerts, clusters));
	printf("  incidents    %10lld   %6.1fx fewer (correlated)\n", (long long)incidents,
	       ratio(clusters, incidents));
	printf("  rejects      %10lld\n", (long long)rejects);
	printf("\nlast %lldd: %lld incidents, %lld recurring (%.0f%%)\n",
	       (long long)(since_s / 86400), (long long)period, (long long)recurring,
	       100.0 * ratio(recurring, period));
	printf("  MTTA  median");
	print_duration_s(json_object_get(mtta, "median_s"));
	printf("  p90");
	print_duration_s(json_object_get(mtta, "p90_s"));
	printf("  (%lld acked)\n", (long long)json_integer_value(json_object_get(mtta, "count")));
	printf("  MTTR  median");
	print_duration_s(json_object_get(mttr, "median_s"));
	printf("  p90");
	print_duration_s(json_object_get(mttr, "p90_s"));
	printf("  (%lld resolved)\n", (long long)json_integer_value(json_object_get(mttr, "count")));
	size_t i;
	json_t *v;
	if (json_array_size(per_service))
		printf("\nincidents per service\n");
	json_array_foreach(per_service, i, v)
	{
		printf("  %6lld  ", (long long)json_integer_value(json_object_get(v, "incidents")));
		cli_print_escaped(json_string_value(json_object_get(v, "service")));
		fputc('\n', stdout);
	}
	if (json_array_size(top))
		printf("\ntop recurring clusters\n");
	json_array_foreach(top, i, v)
	{
		printf("  %6lld  in %lld incidents  ",
		       (long long)json_integer_value(json_object_get(v, "id")),
		       (long long)json_integer_value(json_object_get(v, "incidents")));
		cli_print_escaped(json_string_value(json_object_get(v, "name")));
		fputs(": ", stdout);
		cli_print_escaped(json_string_value(json_object_get(v, "template")));
		fputc('\n', stdout);
	}
	json_decref(funnel);
	json_decref(mtta);
	json_decref(mttr);
	json_decref(per_service);
	json_decref(top);
	return 0;
}

int cmd_rejects(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = { { "limit", required_argument, NULL, 'n' }, { 0 } };
	long limit = 100;
	int o;
	while ((o = next_opt(argc, argv, "+n:", opts)) != -1) {
		if (o != 'n' || !cli_parse_limit(optarg, &limit))
			return cli_usage_error("rejects", "%s", "--limit needs a positive number");
	}
	if (optind < argc)
		return cli_usage_error("rejects", "unexpected argument '%s'", argv[optind]);
	enum status s = cli_open_store(c);
	if (s != STATUS_OK)
		return status_exit_code(s);
	static const char sql[] = "SELECT id, received_at, origin, location, reason, size, text "
				  "FROM rejects ORDER BY id DESC LIMIT ?";
	sqlite3_stmt *st = store_stmt(c->st, sql);
	sqlite3_bind_int64(st, 1, limit);
	json_t *arr = c->g->json ? json_array() : NULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (arr) {
			json_t *r = json_object();
			json_object_set_new(r, "id", json_integer(sqlite3_column_int64(st, 0)));
			json_object_set_new(r, "received_at", cli_json_time(st, 1));
			json_object_set_new(r, "origin", cli_json_text(st, 2));
			json_object_set_new(r, "location", cli_json_text(st, 3));
			json_object_set_new(r, "reason", cli_json_text(st, 4));
			json_object_set_new(r, "size", json_integer(sqlite3_column_int64(st, 5)));
			/* the bytes may be anything: give a bounded, escaped preview */
			struct buf b = { 0 };
			int n = sqlite3_column_bytes(st, 6);
			escape_text(&b, (const char *)sqlite3_column_blob(st, 6),
				    (size_t)(n > 200 ? 200 : n), false);
			json_object_set_new(r, "preview", json_string(b.data));
			buf_free(&b);
			json_array_append_new(arr, r);
			continue;
		}
		char t[32];
		format_time_rfc3339(sqlite3_column_int64(st, 1), t);
		printf("%lld  %s  ", (long long)sqlite3_column_int64(st, 0), t);
		cli_print_escaped((const char *)sqlite3_column_text(st, 2));
		printf(":%s: ", sqlite3_column_text(st, 3));
		cli_print_escaped((const char *)sqlite3_column_text(st, 4));
		fputc('\n', stdout);
	}
	sqlite3_reset(st);
	if (arr)
		cli_print_json(json_pack("{s:o}", "rejects", arr));
	return 0;
}

int cmd_db(struct cli_ctx *c, int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "check") != 0)
		return cli_usage_error("db", "%s", "expected 'db check'");
	enum status s = cli_open_store(c);
	if (s != STATUS_OK)
		return status_exit_code(s);
	sqlite3_stmt *st = store_stmt(c->st, "PRAGMA integrity_check");
	json_t *problems = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r && strcmp(r, "ok") != 0)
			json_array_append_new(problems, json_string(r));
	}
	sqlite3_reset(st);
	sqlite3_stmt *fk = store_stmt(c->st, "PRAGMA foreign_key_check");
	while (sqlite3_step(fk) == SQLITE_ROW)
		json_array_append_new(problems,
				      json_sprintf("foreign key: %s row %lld",
						   sqlite3_column_text(fk, 0),
						   (long long)sqlite3_column_int64(fk, 1)));
	sqlite3_reset(fk);
	size_t n = json_array_size(problems);
	int version = store_version(c->st);
	if (c->g->json) {
		cli_print_json(json_pack("{s:b, s:i, s:o}", "ok", n == 0, "schema_version", version,
				     "problems", problems));
	} else {
		size_t i;
		json_t *p;
		json_array_foreach(problems, i, p) printf("%s\n", json_string_value(p));
		printf("%s: schema version %d, %s\n", store_path(c->st), version,
		       n ? "PROBLEMS FOUND" : "ok");
		json_decref(problems);
	}
	return n ? 3 : 0;
}

/* ---- dispatch --------------------------------------------------------- */

/*
 * --demo: a fresh database in a temporary directory, the demo history
 * imported, the demo service graph, and the scenario replayed into a spool
 * directory that the console's ingest thread reads like any other.
 */
static enum status setup_demo(struct cli_ctx *c, char **db, char **dir, struct demo **demo,
			      char **note)
{
	char tmpl[] = "/tmp/sitrep-demo-XXXXXX";
	if (!mkdtemp(tmpl)) {
		warnx_("cannot create a directory for the demo: %s", strerror(errno));
		return STATUS_IO;
	}
	*dir = xstrdup(tmpl);
	*db = xasprintf("%s/demo.db", tmpl);
	char *spool = xasprintf("%s/spool", tmpl);
	char *history = demo_data_file("history.ndjson");
	char *services = demo_data_file("services");
	char *scenario = demo_data_file("scenario");
	char *err = NULL;
	enum status st = STATUS_OK;

	struct store *s = NULL;
	if (store_open(&s, *db, 0, &err) != STATUS_OK)
		goto fail;
	FILE *quiet = fopen("/dev/null", "w");
	struct history_opts ho = { .messages = quiet };
	struct history_counts hc = { 0 };
	enum status hs = history_import_path(s, history, &ho, &hc);
	if (quiet)
		fclose(quiet);
	store_close(&s);
	if (hs != STATUS_OK) {
		err = xasprintf("%s: the demo history did not import", history);
		goto fail;
	}
	/* the demo's own graph and sources, whatever the user's config says */
	services_free(&c->conf.graph);
	if (services_load(&c->conf.graph, services, true, &err) != STATUS_OK)
		goto fail;
	c->conf.incidents.graph = c->conf.graph;
	c->conf.spools = xrealloc(c->conf.spools, (c->conf.nspools + 1) * sizeof *c->conf.spools);
	c->conf.spools[c->conf.nspools++] = xstrdup(spool);
	c->conf.poll_ms = 1000;
	free(c->conf.log_service);
	c->conf.log_service = xstrdup("api");
	/* SITREP_DEMO_SPEED replays faster, for tests */
	const char *speed_env = getenv("SITREP_DEMO_SPEED");
	double speed = speed_env && *speed_env ? strtod(speed_env, NULL) : 1.0;
	if (speed < 1.0 || speed > DEMO_MAX_SPEED)
		speed = 1.0;
	*demo = demo_start(scenario, spool, speed, &err);
	if (!*demo)
		goto fail;
	*note = xasprintf("demo: %llu past incidents imported; a page starts now and lasts "
			  "about two minutes (database %s)",
			  (unsigned long long)(hc.imported + hc.updated), *db);
	goto out;
fail:
	warnx_("demo: %s", err ? err : "cannot start");
	free(err);
	st = STATUS_IO;
out:
	free(spool);
	free(history);
	free(services);
	free(scenario);
	return st;
}

int cli_console(const struct cli_globals *g)
{
	const char *script = getenv("SITREP_SCRIPT");
	if (!(script && *script) && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		warnx_("the console needs a terminal; for scripts see 'sitrep --help'");
		return 2;
	}
	struct cli_ctx c = { .g = g };
	if (load_conf(&c) != STATUS_OK)
		return 2;
	struct mask_rules *rules = NULL;
	char *err = NULL;
	if (mask_rules_load(&rules, c.conf.mask_rules, c.conf.mask_rules_set, &err) != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		conf_free(&c.conf);
		return 2;
	}
	char *path = NULL, *demo_dir = NULL, *note = NULL;
	struct demo *demo = NULL;
	int rc = 0;
	if (g->demo && setup_demo(&c, &path, &demo_dir, &demo, &note) != STATUS_OK) {
		rc = 3;
		goto out;
	}
	if (!path)
		path = store_default_path(g->db_path);
	struct console_opts o = {
		.db_path = path,
		.conf = &c.conf,
		.rules = g->read_only ? NULL : rules,
		.read_only = g->read_only && !g->demo,
		.demo = g->demo,
		.demo_note = note,
		.demo_feed = demo,
	};
	rc = console_main(&o);
out:
	demo_stop(&demo);
	if (demo_dir) {
		/* the demo leaves nothing behind but what the user copies */
		char *cmd = xasprintf("rm -rf '%s'", demo_dir);
		if (system(cmd) != 0)
			warnx_("could not remove %s", demo_dir);
		free(cmd);
	}
	free(demo_dir);
	free(note);
	free(path);
	mask_rules_free(&rules);
	conf_free(&c.conf);
	return rc;
}

int cli_run(const struct cli_globals *g, int argc, char **argv)
{
	const struct command *cmd = NULL;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "sitrep: unknown command '%s' (try 'sitrep --help')\n", argv[0]);
		return 2;
	}
	if (wants_help(argc, argv)) {
		command_usage(cmd, stdout);
		return 0;
	}
	struct cli_ctx c = { .g = g };
	optind = 0; /* GNU getopt: full reset */
	opterr = 1;
	/* a broken configuration is reported whatever the command */
	enum status st = load_conf(&c);
	if (st != STATUS_OK)
		return status_exit_code(st);
	int code = cmd->fn(&c, argc, argv);
	store_close(&c.st);
	if (c.conf_loaded)
		conf_free(&c.conf);
	return code;
}

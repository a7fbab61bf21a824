/*
 * cmd_incident.c — incidents at the command line: list, show, and every
 * lifecycle step (ack, snooze, resolve, reopen, note, merge, split,
 * ticket). The steps themselves live in incident.c, which the console uses
 * too, so both write the same audit rows.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "incident.h"

static bool parse_id(const char *s, int64_t *out)
{
	char *end;
	if (*s == '#')
		s++;
	long long v = strtoll(s, &end, 10);
	if (*end || v < 1 || end == s)
		return false;
	*out = v;
	return true;
}

/* Open the store and let time pass (snoozes end, known issues expire). */
static enum status open_ticked(struct cli_ctx *c)
{
	enum status st = cli_open_store(c);
	if (st == STATUS_OK)
		incidents_tick(c->st, &c->conf.incidents, now_ms());
	return st;
}

static int lifecycle_result(struct cli_ctx *c, enum status st, char *err, int64_t id,
			    const char *done_msg)
{
	if (st != STATUS_OK) {
		warnx_("%s", err ? err : status_message(st));
		free(err);
		return st == STATUS_NOT_FOUND ? 1 : status_exit_code(st);
	}
	if (c->g->json)
		cli_print_json(json_pack("{s:I, s:s}", "id", (json_int_t)id, "result", done_msg));
	else
		printf("incident %lld %s\n", (long long)id, done_msg);
	return 0;
}

/* ---- list -------------------------------------------------------------- */

static const char *const STATE_FILTERS[] = { "active", "open", "acknowledged", "snoozed",
					     "resolved", "merged", "all", NULL };

int cmd_list(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "state", required_argument, NULL, 's' },
		{ "clusters", no_argument, NULL, 'c' },
		{ 0 },
	};
	long limit = 50;
	const char *state = "active";
	bool clusters = false;
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'n' && cli_parse_limit(optarg, &limit))
			continue;
		if (o == 'c') {
			clusters = true;
			continue;
		}
		if (o == 's') {
			bool known = false;
			for (size_t i = 0; STATE_FILTERS[i]; i++)
				known = known || strcmp(optarg, STATE_FILTERS[i]) == 0;
			if (known) {
				state = optarg;
				continue;
			}
			return cli_usage_error("list", "unknown state '%s'", optarg);
		}
		return cli_usage_error("list", "%s", "bad option or --limit value");
	}
	if (optind < argc)
		return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
	if (clusters)
		return cli_list_clusters(c, limit);
	enum status s = open_ticked(c);
	if (s != STATUS_OK)
		return status_exit_code(s);

	static const char sql[] =
		"SELECT i.id, i.title, i.severity, i.state, i.services, i.opened_at, "
		"i.last_alert_at, i.alerts, i.recurrences, "
		"(SELECT count(*) FROM incident_clusters ic WHERE ic.incident_id = i.id), "
		"i.acked_by, i.resolved_at, i.snoozed_until "
		"FROM incidents i WHERE i.imported = 0 AND (?1 = 'all' OR i.state = ?1 OR "
		"(?1 = 'active' AND i.state IN ('open', 'acknowledged', 'snoozed'))) "
		"ORDER BY i.last_alert_at DESC, i.id DESC LIMIT ?2";
	sqlite3_stmt *st = store_stmt(c->st, sql);
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit);
	json_t *arr = c->g->json ? json_array() : NULL;
	if (!arr)
		printf("%5s %-8s %-12s %7s %6s %-9s %s\n", "ID", "SEVERITY", "STATE", "ALERTS",
		       "AGE", "LAST", "TITLE");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (arr) {
			json_t *i = json_object();
			json_object_set_new(i, "id", json_integer(sqlite3_column_int64(st, 0)));
			json_object_set_new(i, "title", cli_json_text(st, 1));
			json_object_set_new(i, "severity", cli_json_text(st, 2));
			json_object_set_new(i, "state", cli_json_text(st, 3));
			json_t *svcs = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
			json_object_set_new(i, "services", svcs ? svcs : json_array());
			json_object_set_new(i, "opened_at", cli_json_time(st, 5));
			json_object_set_new(i, "last_alert_at", cli_json_time(st, 6));
			json_object_set_new(i, "alerts", json_integer(sqlite3_column_int64(st, 7)));
			json_object_set_new(i, "recurrences",
					    json_integer(sqlite3_column_int64(st, 8)));
			json_object_set_new(i, "clusters", json_integer(sqlite3_column_int64(st, 9)));
			json_object_set_new(i, "acked_by", cli_json_text(st, 10));
			json_object_set_new(i, "resolved_at", cli_json_time(st, 11));
			json_object_set_new(i, "snoozed_until", cli_json_time(st, 12));
			json_array_append_new(arr, i);
			continue;
		}
		char age[16], last[32];
		format_age(sqlite3_column_int64(st, 5), age);
		cli_format_age(sqlite3_column_int64(st, 6), last);
		printf("%5lld %-8s %-12s %7lld %6s %-9s ", (long long)sqlite3_column_int64(st, 0),
		       sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
		       (long long)sqlite3_column_int64(st, 7), age, last);
		cli_print_escaped((const char *)sqlite3_column_text(st, 1));
		if (sqlite3_column_int64(st, 8))
			printf("  (recurred %lldx)", (long long)sqlite3_column_int64(st, 8));
		fputc('\n', stdout);
	}
	sqlite3_reset(st);
	if (arr)
		cli_print_json(json_pack("{s:o}", "incidents", arr));
	return 0;
}

/* ---- show -------------------------------------------------------------- */

static json_t *incident_json(sqlite3_stmt *st)
{
	json_t *i = json_object();
	static const char *const cols[] = { "id",	     "title",	     "summary",
					    "details",	     "services",     "severity",
					    "state",	     "origin_cluster", "opened_at",
					    "last_alert_at", "acked_at",     "acked_by",
					    "snoozed_until", "resolved_at",  "resolved_by",
					    "root_cause",    "action_taken", "worked",
					    "merged_into",   "recurrences",  "alerts",
					    "external_id",   "imported" };
	for (int k = 0; k < (int)(sizeof cols / sizeof cols[0]); k++) {
		const char *name = cols[k];
		json_t *v;
		if (sqlite3_column_type(st, k) == SQLITE_NULL)
			v = json_null();
		else if (strcmp(name, "services") == 0)
			v = json_loads((const char *)sqlite3_column_text(st, k), 0, NULL);
		else if (strstr(name, "_at") || strcmp(name, "snoozed_until") == 0)
			v = cli_json_time(st, k);
		else if (strcmp(name, "worked") == 0 || strcmp(name, "imported") == 0)
			v = json_boolean(sqlite3_column_int(st, k));
		else if (sqlite3_column_type(st, k) == SQLITE_INTEGER)
			v = json_integer(sqlite3_column_int64(st, k));
		else
			v = cli_json_text(st, k);
		json_object_set_new(i, name, v ? v : json_null());
	}
	return i;
}

static const char SQL_INCIDENT[] =
	"SELECT id, title, summary, details, services, severity, state, origin_cluster, "
	"opened_at, last_alert_at, acked_at, acked_by, snoozed_until, resolved_at, resolved_by, "
	"root_cause, action_taken, worked, merged_into, recurrences, alerts, external_id, imported "
	"FROM incidents WHERE id = ?";

static void print_field(const char *label, json_t *v)
{
	if (!v || json_is_null(v))
		return;
	printf("%-12s", label);
	if (json_is_string(v)) {
		cli_print_escaped(json_string_value(v));
	} else {
		char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		cli_print_escaped(d);
		free(d);
	}
	fputc('\n', stdout);
}

int cmd_show(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = { { "cluster", no_argument, NULL, 'c' }, { 0 } };
	bool cluster = false;
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o != 'c')
			return cli_usage_error("show", "%s", "bad option");
		cluster = true;
	}
	int64_t id;
	if (optind + 1 != argc || !parse_id(argv[optind], &id))
		return cli_usage_error("show", "%s", cluster ? "needs one cluster ID"
							     : "needs one incident ID");
	if (cluster)
		return cli_show_cluster(c, id);
	enum status s = open_ticked(c);
	if (s != STATUS_OK)
		return status_exit_code(s);

	sqlite3_stmt *st = store_stmt(c->st, SQL_INCIDENT);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		warnx_("no incident %lld", (long long)id);
		return 1;
	}
	json_t *inc = incident_json(st);
	sqlite3_reset(st);

	json_t *clusters = json_array();
	st = store_stmt(c->st, "SELECT c.id, c.name, c.service, c.template, c.severity, c.alerts, "
			       "c.occurrences, c.first_seen, c.last_seen, ic.reason, ic.joined_at, "
			       "ki.ticket FROM incident_clusters ic JOIN clusters c ON "
			       "c.id = ic.cluster_id LEFT JOIN known_issues ki ON "
			       "ki.cluster_id = c.id WHERE ic.incident_id = ? ORDER BY c.first_seen");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *k = json_object();
		json_object_set_new(k, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(k, "name", cli_json_text(st, 1));
		json_object_set_new(k, "service", cli_json_text(st, 2));
		json_object_set_new(k, "template", cli_json_text(st, 3));
		json_object_set_new(k, "severity", cli_json_text(st, 4));
		json_object_set_new(k, "alerts", json_integer(sqlite3_column_int64(st, 5)));
		json_object_set_new(k, "occurrences", json_integer(sqlite3_column_int64(st, 6)));
		json_object_set_new(k, "first_seen", cli_json_time(st, 7));
		json_object_set_new(k, "last_seen", cli_json_time(st, 8));
		json_object_set_new(k, "reason", cli_json_text(st, 9));
		json_object_set_new(k, "joined_at", cli_json_time(st, 10));
		json_object_set_new(k, "ticket", cli_json_text(st, 11));
		json_array_append_new(clusters, k);
	}
	sqlite3_reset(st);

	json_t *impacted = json_object();
	st = store_stmt(c->st, "SELECT key, value FROM incident_labels WHERE incident_id = ? "
			       "ORDER BY key, last_seen");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		json_t *arr = json_object_get(impacted, key);
		if (!arr) {
			arr = json_array();
			json_object_set_new(impacted, key, arr);
		}
		json_array_append_new(arr, cli_json_text(st, 1));
	}
	sqlite3_reset(st);

	json_t *events = json_array();
	st = store_stmt(c->st, "SELECT at, kind, actor, detail FROM events WHERE incident_id = ? "
			       "ORDER BY at, id");
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_array_append_new(events, json_pack("{s:o, s:o, s:o, s:o}", "at",
							cli_json_time(st, 0), "kind",
							cli_json_text(st, 1), "actor",
							cli_json_text(st, 2), "detail",
							cli_json_text(st, 3)));
	}
	sqlite3_reset(st);

	if (c->g->json) {
		json_object_set_new(inc, "clusters", clusters);
		json_object_set_new(inc, "impacted", impacted);
		json_object_set_new(inc, "timeline", events);
		cli_print_json(json_pack("{s:o}", "incident", inc));
		return 0;
	}
	printf("incident %lld  ", (long long)id);
	cli_print_escaped(json_string_value(json_object_get(inc, "title")));
	printf("\n");
	print_field("state:", json_object_get(inc, "state"));
	print_field("merged into:", json_object_get(inc, "merged_into"));
	print_field("severity:", json_object_get(inc, "severity"));
	print_field("services:", json_object_get(inc, "services"));
	print_field("opened:", json_object_get(inc, "opened_at"));
	print_field("last alert:", json_object_get(inc, "last_alert_at"));
	print_field("alerts:", json_object_get(inc, "alerts"));
	if (json_integer_value(json_object_get(inc, "recurrences")))
		print_field("recurrences:", json_object_get(inc, "recurrences"));
	print_field("acked:", json_object_get(inc, "acked_at"));
	print_field("acked by:", json_object_get(inc, "acked_by"));
	print_field("snoozed to:", json_object_get(inc, "snoozed_until"));
	print_field("resolved:", json_object_get(inc, "resolved_at"));
	print_field("resolved by:", json_object_get(inc, "resolved_by"));
	print_field("root cause:", json_object_get(inc, "root_cause"));
	print_field("action:", json_object_get(inc, "action_taken"));
	print_field("worked:", json_object_get(inc, "worked"));
	if (json_object_size(impacted)) {
		const char *key;
		json_t *vals;
		json_object_foreach(impacted, key, vals)
		{
			char label[64];
			snprintf(label, sizeof label, "impacted %s:", key);
			printf("%s ", label);
			size_t k;
			json_t *v;
			json_array_foreach(vals, k, v)
			{
				if (k)
					fputs(", ", stdout);
				cli_print_escaped(json_string_value(v));
			}
			fputc('\n', stdout);
		}
	}
	json_int_t origin = json_integer_value(json_object_get(inc, "origin_cluster"));
	printf("\nclusters:\n");
	size_t k;
	json_t *cl;
	json_array_foreach(clusters, k, cl)
	{
		json_int_t cid = json_integer_value(json_object_get(cl, "id"));
		printf("  %s%lld %-8s x%-5lld ", cid == origin ? "*" : " ", (long long)cid,
		       json_string_value(json_object_get(cl, "severity")),
		       (long long)json_integer_value(json_object_get(cl, "occurrences")));
		cli_print_escaped(json_string_value(json_object_get(cl, "name")));
		const char *svc = json_string_value(json_object_get(cl, "service"));
		if (svc && *svc) {
			printf(" (");
			cli_print_escaped(svc);
			printf(")");
		}
		printf(": ");
		cli_print_escaped(json_string_value(json_object_get(cl, "template")));
		printf("\n          joined: ");
		cli_print_escaped(json_string_value(json_object_get(cl, "reason")));
		const char *ticket = json_string_value(json_object_get(cl, "ticket"));
		if (ticket) {
			printf("; known issue ");
			cli_print_escaped(ticket);
		}
		fputc('\n', stdout);
	}
	if (origin)
		printf("  (* probable origin)\n");
	printf("\ntimeline:\n");
	json_t *ev;
	json_array_foreach(events, k, ev)
	{
		printf("  %s  %-10s %-10s ", json_string_value(json_object_get(ev, "at")),
		       json_string_value(json_object_get(ev, "kind")),
		       json_string_value(json_object_get(ev, "actor")));
		cli_print_escaped(json_string_value(json_object_get(ev, "detail")));
		fputc('\n', stdout);
	}
	json_decref(inc);
	json_decref(clusters);
	json_decref(impacted);
	json_decref(events);
	return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

/* The common shape: `sitrep CMD ID`, with no options. */
static int one_id(struct cli_ctx *c, int argc, char **argv, const char *cmd, int64_t *id)
{
	static const struct option none[] = { { 0 } };
	if (getopt_long(argc, argv, "+", none, NULL) != -1)
		return cli_usage_error(cmd, "%s", "bad option");
	if (optind >= argc || !parse_id(argv[optind], id))
		return cli_usage_error(cmd, "%s", "needs an incident ID");
	enum status st = open_ticked(c);
	return st == STATUS_OK ? -1 : status_exit_code(st);
}

/* `sitrep CMD ID` for the steps that take nothing but the incident. */
static int id_only(struct cli_ctx *c, int argc, char **argv, const char *cmd,
		   enum status (*step)(struct store *, int64_t, char **), const char *done_msg)
{
	int64_t id;
	int rc = one_id(c, argc, argv, cmd, &id);
	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	char *err = NULL;
	enum status lst = step(c->st, id, &err);
	return lifecycle_result(c, lst, err, id, done_msg);
}

int cmd_ack(struct cli_ctx *c, int argc, char **argv)
{
	return id_only(c, argc, argv, "ack", incident_ack, "acknowledged");
}

int cmd_snooze(struct cli_ctx *c, int argc, char **argv)
{
	int64_t id, secs;
	int rc = one_id(c, argc, argv, "snooze", &id);
	if (rc >= 0)
		return rc;
	if (optind + 2 != argc || !parse_duration(argv[optind + 1], &secs) || secs <= 0)
		return cli_usage_error("snooze", "%s", "needs an incident ID and a duration (30m, 2h)");
	char *err = NULL;
	char msg[64];
	snprintf(msg, sizeof msg, "snoozed for %s", argv[optind + 1]);
	enum status lst = incident_snooze(c->st, id, now_ms() + secs * 1000, &err);
	return lifecycle_result(c, lst, err, id, msg);
}

int cmd_resolve(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cause", required_argument, NULL, 'c' },
		{ "action", required_argument, NULL, 'a' },
		{ "worked", required_argument, NULL, 'w' },
		{ 0 },
	};
	const char *cause = NULL, *action = NULL;
	int worked = -1, o;
	/* options may follow the id: `resolve 12 --cause ... --action ...` */
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'c')
			cause = optarg;
		else if (o == 'a')
			action = optarg;
		else if (o == 'w' && (strcmp(optarg, "yes") == 0 || strcmp(optarg, "no") == 0))
			worked = strcmp(optarg, "yes") == 0;
		else
			return cli_usage_error("resolve", "%s", "bad option (--worked takes yes or no)");
	}
	int64_t id;
	if (optind + 1 != argc || !parse_id(argv[optind], &id))
		return cli_usage_error("resolve", "%s", "needs one incident ID");
	if (!cause || !*cause || !action || !*action)
		return cli_usage_error("resolve", "%s",
				       "needs --cause TEXT and --action TEXT: say what it was and "
				       "what was done");
	enum status st = open_ticked(c);
	if (st != STATUS_OK)
		return status_exit_code(st);
	char *err = NULL;
	enum status lst = incident_resolve(c->st, id, cause, action, worked, &err);
	return lifecycle_result(c, lst, err, id, "resolved");
}

int cmd_reopen(struct cli_ctx *c, int argc, char **argv)
{
	return id_only(c, argc, argv, "reopen", incident_reopen, "reopened");
}

int cmd_note(struct cli_ctx *c, int argc, char **argv)
{
	int64_t id;
	int rc = one_id(c, argc, argv, "note", &id);
	if (rc >= 0)
		return rc;
	if (optind + 1 >= argc)
		return cli_usage_error("note", "%s", "needs an incident ID and the text");
	struct buf text = { 0 };
	for (int i = optind + 1; i < argc; i++)
		buf_printf(&text, "%s%s", i > optind + 1 ? " " : "", argv[i]);
	char *err = NULL;
	enum status lst = incident_note(c->st, id, text.data, &err);
	int r = lifecycle_result(c, lst, err, id, "noted");
	buf_free(&text);
	return r;
}

int cmd_merge(struct cli_ctx *c, int argc, char **argv)
{
	int64_t target;
	int rc = one_id(c, argc, argv, "merge", &target);
	if (rc >= 0)
		return rc;
	if (optind + 2 > argc)
		return cli_usage_error("merge", "%s", "needs a target incident and at least one more");
	size_t n = (size_t)(argc - optind - 1);
	int64_t *others = xcalloc(n, sizeof *others);
	for (size_t i = 0; i < n; i++) {
		if (!parse_id(argv[optind + 1 + (int)i], &others[i])) {
			free(others);
			return cli_usage_error("merge", "'%s' is not an incident ID",
					       argv[optind + 1 + (int)i]);
		}
	}
	char *err = NULL;
	enum status lst = incident_merge(c->st, target, others, n, &err);
	rc = lifecycle_result(c, lst, err, target, "now holds the merged incidents");
	free(others);
	return rc;
}

int cmd_split(struct cli_ctx *c, int argc, char **argv)
{
	int64_t id, cluster, new_id = 0;
	int rc = one_id(c, argc, argv, "split", &id);
	if (rc >= 0)
		return rc;
	if (optind + 2 != argc || !parse_id(argv[optind + 1], &cluster))
		return cli_usage_error("split", "%s", "needs an incident ID and a cluster ID");
	char *err = NULL;
	enum status st = incident_split(c->st, id, cluster, &new_id, &err);
	if (st != STATUS_OK)
		return lifecycle_result(c, st, err, id, "");
	if (c->g->json)
		cli_print_json(json_pack("{s:I, s:I, s:I}", "id", (json_int_t)id, "cluster",
					 (json_int_t)cluster, "new_incident", (json_int_t)new_id));
	else
		printf("cluster %lld split from incident %lld into incident %lld\n",
		       (long long)cluster, (long long)id, (long long)new_id);
	return 0;
}

int cmd_ticket(struct cli_ctx *c, int argc, char **argv)
{
	int64_t id;
	int rc = one_id(c, argc, argv, "ticket", &id);
	if (rc >= 0)
		return rc;
	if (optind + 2 != argc || !*argv[optind + 1])
		return cli_usage_error("ticket", "%s", "needs an incident ID and a ticket reference");
	char *err = NULL;
	char msg[160];
	snprintf(msg, sizeof msg, "registered as known issue %.120s", argv[optind + 1]);
	enum status lst = incident_ticket(c->st, id, argv[optind + 1], &err);
	return lifecycle_result(c, lst, err, id,
				msg);
}

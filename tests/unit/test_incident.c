/* test_incident.c — correlation rules and every lifecycle transition,
 * driven through the real ingest path with alerts whose start times are
 * set relative to now. */
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

#include "incident.h"
#include "ingest.h"

struct fx {
	char dir[64];
	char *path;
	struct store *st;
	struct mask_rules *rules;
	struct service_graph *graph;
	struct incident_settings set;
	FILE *devnull;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	strcpy(f->dir, "/tmp/sitrep-test-inc-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/i.db", f->dir);
	char *err = NULL;
	if (store_open(&f->st, f->path, 0, &err) != STATUS_OK)
		return -1;
	if (mask_rules_load(&f->rules, NULL, false, &err) != STATUS_OK)
		return -1;
	if (services_from_text(&f->graph, "api -> db\nworker -> queue, db\n", "test", &err) !=
	    STATUS_OK)
		return -1;
	incident_settings_default(&f->set);
	f->set.graph = f->graph;
	f->devnull = fopen("/dev/null", "w");
	setenv("SITREP_USER", "tester", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fclose(f->devnull);
	incident_settings_free(&f->set);
	services_free(&f->graph);
	mask_rules_free(&f->rules);
	store_close(&f->st);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(cmd);
	free(f->path);
	free(f);
	return rc;
}

/* Ingest NDJSON text; %T in the text is not used: callers format times. */
static void feed(struct fx *f, const char *ndjson)
{
	struct ingest_opts o = { .messages = f->devnull, .incidents = &f->set };
	struct ingest *ing = ingest_new(f->st, f->rules, &o);
	char *copy = xstrdup(ndjson); /* fmemopen wants a writable buffer */
	FILE *in = fmemopen(copy, strlen(copy), "r");
	assert_non_null(in);
	enum status st = ingest_stream(ing, in, "test");
	fclose(in);
	free(copy);
	ingest_free(&ing);
	assert_int_equal(st, STATUS_OK);
}

/* One alert line, `ago` minutes before now. */
static char *alert(const char *name, const char *service, const char *severity, const char *msg,
		   int ago_min, const char *extra)
{
	char t[32];
	format_time_rfc3339(now_ms() - ago_min * 60000LL, t);
	return xasprintf("{\"name\":\"%s\",\"service\":\"%s\",\"severity\":\"%s\",\"message\":\"%s\","
			 "\"startsAt\":\"%s\"%s%s}\n",
			 name, service, severity, msg, t, extra ? "," : "", extra ? extra : "");
}

static void feed1(struct fx *f, const char *name, const char *service, const char *severity,
		  const char *msg, int ago_min, const char *extra)
{
	char *line = alert(name, service, severity, msg, ago_min, extra);
	feed(f, line);
	free(line);
}

static int64_t q(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(f->st), sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("bad test query: %s", sqlite3_errmsg(store_db(f->st)));
	int64_t v = -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static char *qs(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(f->st), sql, -1, &st, NULL);
	char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v ? v : xstrdup("");
}

static int64_t incident_of(struct fx *f, const char *name)
{
	char *sql = xasprintf("SELECT ic.incident_id FROM incident_clusters ic JOIN clusters c ON "
			      "c.id = ic.cluster_id WHERE c.name = '%s'",
			      name);
	int64_t v = q(f, sql);
	free(sql);
	return v;
}

/* ---- correlation ---- */

static void test_same_service_within_window(void **state)
{
	struct fx *f = *state;
	feed1(f, "ConnRefused", "api", "high", "connection refused", 8, NULL);
	feed1(f, "SlowQueries", "api", "warning", "slow queries", 3, NULL);
	assert_int_equal(incident_of(f, "ConnRefused"), incident_of(f, "SlowQueries"));
	char *reason = qs(f, "SELECT reason FROM incident_clusters ic JOIN clusters c ON c.id = "
			     "ic.cluster_id WHERE c.name = 'SlowQueries'");
	assert_string_equal(reason, "same service api within 10m");
	free(reason);
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), 1);
	/* severity is the highest of its alerts */
	char *sev = qs(f, "SELECT severity FROM incidents");
	assert_string_equal(sev, "high");
	free(sev);
}

static void test_same_service_outside_window(void **state)
{
	struct fx *f = *state;
	feed1(f, "ConnRefused", "api", "high", "connection refused", 60, NULL);
	feed1(f, "SlowQueries", "api", "warning", "slow queries", 5, NULL);
	assert_int_not_equal(incident_of(f, "ConnRefused"), incident_of(f, "SlowQueries"));
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), 2);
}

static void test_service_graph_and_origin(void **state)
{
	struct fx *f = *state;
	/* the downstream symptom first, then its upstream cause */
	feed1(f, "Api5xx", "api", "high", "5xx rate 9%", 6, NULL);
	feed1(f, "DbPool", "db", "critical", "pool exhausted", 5, NULL);
	int64_t inc = incident_of(f, "Api5xx");
	assert_int_equal(inc, incident_of(f, "DbPool"));
	char *reason = qs(f, "SELECT reason FROM incident_clusters ic JOIN clusters c ON c.id = "
			     "ic.cluster_id WHERE c.name = 'DbPool'");
	assert_string_equal(reason, "api depends on db, within 10m");
	free(reason);
	/* the upstream cluster is the probable origin, and names the incident */
	assert_int_equal(q(f, "SELECT origin_cluster FROM incidents"),
			 q(f, "SELECT id FROM clusters WHERE name = 'DbPool'"));
	char *title = qs(f, "SELECT title FROM incidents");
	assert_string_equal(title, "DbPool on db");
	free(title);
	/* transitively linked: worker depends on db too */
	feed1(f, "WorkerLag", "worker", "warning", "lag 500", 4, NULL);
	assert_int_equal(incident_of(f, "WorkerLag"), inc);
	/* unrelated service stays apart */
	feed1(f, "CertExpiring", "mail", "info", "cert expires", 4, NULL);
	assert_int_not_equal(incident_of(f, "CertExpiring"), inc);
}

static void test_customer_report_joins_by_label(void **state)
{
	struct fx *f = *state;
	feed1(f, "UploadFailed", "uploads", "high", "upload failed", 7, "\"labels\":{\"firm\":\"f-1042\"}");
	feed1(f, "Customer report", "support", "high", "bank statement upload stuck", 2,
	      "\"firm\":\"f-1042\"");
	assert_int_equal(incident_of(f, "UploadFailed"), incident_of(f, "Customer report"));
	char *reason = qs(f, "SELECT reason FROM incident_clusters ic JOIN clusters c ON c.id = "
			     "ic.cluster_id WHERE c.name = 'Customer report'");
	assert_string_equal(reason, "same firm f-1042 within 10m");
	free(reason);
	/* another firm does not join */
	feed1(f, "Customer report 2", "support2", "high", "cannot log in", 1, "\"firm\":\"f-9\"");
	assert_int_not_equal(incident_of(f, "Customer report 2"), incident_of(f, "UploadFailed"));
}

static void test_silenced_and_resolved_do_not_open(void **state)
{
	struct fx *f = *state;
	feed(f, "{\"name\":\"Quiet\",\"message\":\"m\",\"status\":\"resolved\"}\n");
	assert_int_equal(q(f, "SELECT count(*) FROM incidents"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
}

static void test_split_pair_never_rejoins(void **state)
{
	struct fx *f = *state;
	feed1(f, "A", "api", "high", "a failed", 5, NULL);
	feed1(f, "B", "api", "high", "b failed", 4, NULL);
	int64_t inc = incident_of(f, "A");
	assert_int_equal(inc, incident_of(f, "B"));
	int64_t b = q(f, "SELECT id FROM clusters WHERE name = 'B'");
	int64_t nid;
	char *err = NULL;
	assert_int_equal(incident_split(f->st, inc, b, &nid, &err), STATUS_OK);
	assert_int_equal(incident_of(f, "B"), nid);
	/* a split of the last cluster is refused */
	assert_int_equal(incident_split(f->st, nid, b, &nid, &err), STATUS_USAGE);
	free(err);
	err = NULL;
	/* B fires again next to A: the pair stays apart; A's incident keeps A */
	feed1(f, "B", "api", "high", "b failed", 1, NULL);
	assert_int_not_equal(incident_of(f, "B"), incident_of(f, "A"));
	/* a new cluster C on api may still join A */
	feed1(f, "C", "api", "high", "c failed", 1, NULL);
	assert_true(incident_of(f, "C") == inc || incident_of(f, "C") == nid);
	assert_int_equal(q(f, "SELECT count(*) FROM split_pairs"), 1);
}

/* ---- lifecycle ---- */

static int64_t audit_count(struct fx *f, const char *action)
{
	char *sql = xasprintf("SELECT count(*) FROM audit WHERE action = '%s' AND actor = 'tester'",
			      action);
	int64_t v = q(f, sql);
	free(sql);
	return v;
}

static void test_ack_resolve_reopen(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	feed1(f, "Disk", "db", "warning", "disk 91%", 2, NULL);
	int64_t id = incident_of(f, "Disk");
	assert_int_equal(incident_ack(f->st, id, &err), STATUS_OK);
	char *s = qs(f, "SELECT state || ' ' || acked_by FROM incidents");
	assert_string_equal(s, "acknowledged tester");
	free(s);
	assert_int_equal(audit_count(f, "ack"), 1);
	/* ack twice is refused: it is already acknowledged */
	assert_int_equal(incident_ack(f->st, id, &err), STATUS_USAGE);
	assert_non_null(strstr(err, "acknowledged"));
	xfree(&err);
	assert_int_equal(incident_resolve(f->st, id, "log rotation off", "rotated logs", 1, &err),
			 STATUS_OK);
	s = qs(f, "SELECT state || '|' || root_cause || '|' || action_taken || '|' || worked "
		  "FROM incidents");
	assert_string_equal(s, "resolved|log rotation off|rotated logs|1");
	free(s);
	assert_true(q(f, "SELECT resolved_at - opened_at FROM incidents") > 0);
	assert_int_equal(incident_resolve(f->st, id, "x", "y", -1, &err), STATUS_USAGE);
	xfree(&err);
	assert_int_equal(incident_reopen(f->st, id, &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT state = 'open' FROM incidents"), 1);
	assert_int_equal(incident_note(f->st, id, "looking at it", &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'note' AND detail = "
			      "'looking at it'"),
			 1);
	assert_int_equal(audit_count(f, "resolve"), 1);
	assert_int_equal(audit_count(f, "reopen"), 1);
	assert_int_equal(audit_count(f, "note"), 1);
	assert_int_equal(incident_ack(f->st, 999, &err), STATUS_NOT_FOUND);
	xfree(&err);
}

static void test_recurrence_reopens_within_window(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	feed1(f, "Disk", "db", "warning", "disk 91%", 3, NULL);
	int64_t id = incident_of(f, "Disk");
	assert_int_equal(incident_resolve(f->st, id, "c", "a", 1, &err), STATUS_OK);
	feed1(f, "Disk", "db", "warning", "disk 93%", 0, NULL);
	assert_int_equal(incident_of(f, "Disk"), id);
	assert_int_equal(q(f, "SELECT recurrences FROM incidents"), 1);
	assert_int_equal(q(f, "SELECT state = 'open' FROM incidents"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'reopened'"), 1);
}

static void test_recurrence_after_window_opens_new(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	f->set.reopen_ms = 1; /* anything later is "too long ago" */
	feed1(f, "Disk", "db", "warning", "disk 91%", 3, NULL);
	int64_t id = incident_of(f, "Disk");
	assert_int_equal(incident_resolve(f->st, id, "c", "a", 1, &err), STATUS_OK);
	usleep(5000);
	feed1(f, "Disk", "db", "warning", "disk 93%", 0, NULL);
	int64_t id2 = incident_of(f, "Disk");
	assert_int_not_equal(id2, id);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'recurrence'"), 1);
	/* the cluster remembers both */
	assert_int_equal(q(f, "SELECT count(*) FROM cluster_history"), 2);
	char *s = qs(f, "SELECT state FROM incidents WHERE id = (SELECT min(id) FROM incidents)");
	assert_string_equal(s, "resolved");
	free(s);
}

static void test_snooze_ends_and_wakes(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	feed1(f, "Queue", "queue", "warning", "backlog 100", 2, NULL);
	int64_t id = incident_of(f, "Queue");
	assert_int_equal(incident_snooze(f->st, id, now_ms() + 3600000, &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT state = 'snoozed' FROM incidents"), 1);
	assert_int_equal(incident_snooze(f->st, id, now_ms() - 1, &err), STATUS_USAGE);
	xfree(&err);
	/* the same severity again keeps it asleep */
	feed1(f, "Queue", "queue", "warning", "backlog 120", 1, NULL);
	assert_int_equal(q(f, "SELECT state = 'snoozed' FROM incidents"), 1);
	/* worse severity wakes it */
	feed1(f, "Queue", "queue", "critical", "backlog 90000", 0, NULL);
	assert_int_equal(q(f, "SELECT state = 'open' FROM incidents"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'woke'"), 1);
	/* a snooze that ended goes back to open at the next tick */
	assert_int_equal(incident_snooze(f->st, id, now_ms() + 60000, &err), STATUS_OK);
	assert_int_equal(incidents_tick(f->st, &f->set, now_ms() + 120000), STATUS_OK);
	assert_int_equal(q(f, "SELECT state = 'open' FROM incidents"), 1);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'wake'"), 1);
}

static void test_snooze_wakes_on_rate_jump(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	feed1(f, "Flap", "edge", "warning", "link flap", 1, NULL);
	int64_t id = incident_of(f, "Flap");
	assert_int_equal(incident_snooze(f->st, id, now_ms() + 3600000, &err), STATUS_OK);
	/* a burst of occurrences of the same alert kind, distinct alerts */
	struct buf b = { 0 };
	for (int i = 0; i < 30; i++) {
		char *l = alert("Flap", "edge", "warning", "link flap", 0, NULL);
		buf_adds(&b, l);
		free(l);
	}
	feed(f, b.data);
	buf_free(&b);
	assert_int_equal(q(f, "SELECT state = 'open' FROM incidents"), 1);
	char *d = qs(f, "SELECT detail FROM events WHERE kind = 'woke'");
	assert_non_null(strstr(d, "alert rate jumped"));
	free(d);
}

static void test_merge(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	feed1(f, "A", "svc-a", "warning", "a", 3, NULL);
	feed1(f, "B", "svc-b", "critical", "b", 2, NULL);
	int64_t a = incident_of(f, "A"), b = incident_of(f, "B");
	assert_int_not_equal(a, b);
	int64_t others[] = { b };
	assert_int_equal(incident_merge(f->st, a, others, 1, &err), STATUS_OK);
	assert_int_equal(incident_of(f, "B"), a);
	char *s = qs(f, "SELECT state || ' ' || merged_into FROM incidents WHERE id = (SELECT "
			"max(id) FROM incidents)");
	char want[32];
	snprintf(want, sizeof want, "merged %lld", (long long)a);
	assert_string_equal(s, want);
	free(s);
	s = qs(f, "SELECT severity FROM incidents WHERE id = (SELECT min(id) FROM incidents)");
	assert_string_equal(s, "critical");
	free(s);
	assert_int_equal(q(f, "SELECT json_array_length(services) FROM incidents WHERE id = "
			      "(SELECT min(id) FROM incidents)"),
			 2);
	/* alerts of the merged incident's clusters land on the survivor */
	feed1(f, "B", "svc-b", "critical", "b", 0, NULL);
	assert_int_equal(incident_of(f, "B"), a);
	/* merging into itself or a missing incident is refused */
	int64_t self[] = { a };
	assert_int_equal(incident_merge(f->st, a, self, 1, &err), STATUS_USAGE);
	xfree(&err);
	assert_int_equal(audit_count(f, "merge"), 1);
}

static void test_known_issue_and_expiry(void **state)
{
	struct fx *f = *state;
	char *err = NULL;
	f->set.known_quiet_ms = 60 * 1000;
	feed1(f, "Cron", "batch", "warning", "job failed", 30, NULL);
	int64_t id = incident_of(f, "Cron");
	assert_int_equal(incident_ticket(f->st, id, "OPS-7", &err), STATUS_OK);
	assert_int_equal(q(f, "SELECT count(*) FROM known_issues WHERE ticket = 'OPS-7'"), 1);
	/* it fires again after a quiet period: the incident says so */
	sqlite3_exec(store_db(f->st), "UPDATE known_issues SET last_seen = last_seen - 600000",
		     NULL, NULL, NULL);
	feed1(f, "Cron", "batch", "warning", "job failed", 0, NULL);
	char *d = qs(f, "SELECT detail FROM events WHERE kind = 'known-issue'");
	assert_non_null(strstr(d, "known issue OPS-7 reappeared"));
	free(d);
	/* not seen for longer than the expiry: dropped */
	assert_int_equal(incidents_tick(f->st, &f->set, now_ms() + f->set.known_expire_ms + 60000),
			 STATUS_OK);
	assert_int_equal(q(f, "SELECT count(*) FROM known_issues"), 0);
	assert_int_equal(q(f, "SELECT count(*) FROM events WHERE kind = 'known-issue-expired'"), 1);
}

static void test_read_only_refuses(void **state)
{
	struct fx *f = *state;
	feed1(f, "X", "x", "warning", "x", 1, NULL);
	struct store *ro = NULL;
	char *err = NULL;
	assert_int_equal(store_open(&ro, f->path, STORE_READ_ONLY, &err), STATUS_OK);
	assert_int_equal(incident_ack(ro, 1, &err), STATUS_USAGE);
	assert_non_null(strstr(err, "read-only"));
	free(err);
	store_close(&ro);
	char *state_now = qs(f, "SELECT state FROM incidents");
	assert_string_equal(state_now, "open"); /* nothing was written */
	free(state_now);
}

static void test_settings_labels(void **state)
{
	struct incident_settings s;
	incident_settings_default(&s);
	assert_true(s.nlabel_keys >= 3);
	incident_settings_set_labels(&s, " tenant,region  ,, cell");
	assert_int_equal(s.nlabel_keys, 3);
	assert_string_equal(s.label_keys[0], "tenant");
	assert_string_equal(s.label_keys[1], "region");
	assert_string_equal(s.label_keys[2], "cell");
	incident_settings_free(&s);
	struct alert a = { .starts_at = 1000 };
	assert_int_equal(alert_event_time(&a, 5000), 1000);
	a.starts_at = 5000 + 3600 * 1000; /* in the future: not trusted */
	assert_int_equal(alert_event_time(&a, 5000), 5000);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_same_service_within_window), T(test_same_service_outside_window),
		T(test_service_graph_and_origin),   T(test_customer_report_joins_by_label),
		T(test_silenced_and_resolved_do_not_open), T(test_split_pair_never_rejoins),
		T(test_ack_resolve_reopen),	    T(test_recurrence_reopens_within_window),
		T(test_recurrence_after_window_opens_new), T(test_snooze_ends_and_wakes),
		T(test_snooze_wakes_on_rate_jump),  T(test_merge),
		T(test_known_issue_and_expiry),	    T(test_read_only_refuses),
		cmocka_unit_test(test_settings_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

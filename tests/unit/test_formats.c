/* test_formats.c — format detection, field mapping, rejects, log levels. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

#ifndef FIXTURES
#error "FIXTURES must name the tests/fixtures directory"
#endif

/* ---- helpers ---------------------------------------------------------------- */

static json_t *load_fixture(const char *name)
{
	char path[1024];
	json_error_t err;
	snprintf(path, sizeof path, "%s/formats/%s", FIXTURES, name);
	json_t *root = json_load_file(path, 0, &err);
	if (!root)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	return root;
}

/* Line `index` (0-based) of an NDJSON fixture. */
static json_t *load_ndjson_line(const char *name, int index)
{
	char path[1024], line[4096];
	snprintf(path, sizeof path, "%s/formats/%s", FIXTURES, name);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	json_t *root = NULL;
	for (int i = 0; fgets(line, sizeof line, fp); i++) {
		if (i == index) {
			root = json_loads(line, 0, NULL);
			break;
		}
	}
	fclose(fp);
	assert_non_null(root);
	return root;
}

static json_t *parse_text(const char *text)
{
	json_error_t err;
	json_t *root = json_loads(text, JSON_DECODE_ANY, &err);
	if (!root)
		fail_msg("bad test JSON: %s: %s", text, err.text);
	return root;
}

static int64_t ms(const char *rfc3339)
{
	int64_t v = 0;
	assert_true(parse_time_rfc3339(rfc3339, &v));
	return v;
}

static void assert_label(const struct alert *a, const char *key, const char *value)
{
	const char *got = json_string_value(json_object_get(a->labels, key));
	if (!got || strcmp(got, value) != 0)
		fail_msg("label %s: want \"%s\", got \"%s\"", key, value, got ? got : "(none)");
}

/* Parse a fixture with an explicit format and expect success. */
static void parse_ok(enum format_id f, const char *fixture, struct alert_list *out)
{
	json_t *root = load_fixture(fixture);
	char *why = NULL;
	bool ok = format_parse_json(f, root, out, &why);
	if (!ok)
		fail_msg("%s: %s", fixture, why);
	assert_null(why);
	json_decref(root);
}

/* ---- names ------------------------------------------------------------------ */

static void test_format_names_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < FMT_COUNT; i++) {
		enum format_id f = FMT_COUNT;
		const char *name = format_name((enum format_id)i);
		assert_non_null(name);
		assert_true(format_from_name(name, &f));
		assert_int_equal(f, i);
		assert_true(strlen(format_help((enum format_id)i)) > 0);
	}
	enum format_id f = FMT_LOG;
	assert_true(format_from_name("alertmanager", &f));
	assert_int_equal(f, FMT_AM_WEBHOOK);
	assert_true(format_from_name("alertmanager-api", &f));
	assert_int_equal(f, FMT_AM_API);
	assert_true(format_from_name("PagerDuty", &f));
	assert_int_equal(f, FMT_PAGERDUTY);

	f = FMT_LOG;
	assert_false(format_from_name("nagios", &f));
	assert_false(format_from_name("", &f));
	assert_false(format_from_name(NULL, &f));
	assert_int_equal(f, FMT_LOG); /* untouched on failure */
}

/* ---- detection -------------------------------------------------------------- */

static void test_detect_fixtures(void **state)
{
	(void)state;
	static const struct {
		const char *fixture;
		enum format_id want;
	} cases[] = {
		{ "am_webhook.json", FMT_AM_WEBHOOK }, { "am_api.json", FMT_AM_API },
		{ "pd_trigger.json", FMT_PAGERDUTY },  { "pd_acknowledge.json", FMT_PAGERDUTY },
		{ "pd_resolve.json", FMT_PAGERDUTY },  { "grafana.json", FMT_GRAFANA },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *root = load_fixture(cases[i].fixture);
		enum format_id got = format_detect(root);
		if (got != cases[i].want)
			fail_msg("%s: detected %s, want %s", cases[i].fixture, format_name(got),
				 format_name(cases[i].want));
		json_decref(root);
	}
	for (int line = 0; line < 5; line++) {
		json_t *root = load_ndjson_line("generic.ndjson", line);
		assert_int_equal(format_detect(root), FMT_JSON);
		json_decref(root);
	}
}

static void test_detect_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		enum format_id want;
	} cases[] = {
		{ "[]", FMT_AM_API },
		{ "[{\"labels\":{},\"status\":{\"state\":\"active\"}}]", FMT_AM_API },
		{ "[{\"labels\":{},\"status\":\"firing\"}]", FMT_AUTO },
		{ "[1,2]", FMT_AUTO },
		{ "[[]]", FMT_AUTO },
		{ "\"just a string\"", FMT_AUTO },
		{ "42", FMT_AUTO },
		{ "null", FMT_AUTO },
		{ "{}", FMT_AUTO },
		{ "{\"name\":1,\"title\":null}", FMT_AUTO },
		{ "{\"name\":\"\"}", FMT_AUTO },
		{ "{\"host\":\"db-1\",\"value\":3}", FMT_AUTO },
		{ "{\"title\":\"x\"}", FMT_JSON },
		{ "{\"summary\":\"x\"}", FMT_JSON },
		{ "{\"alertname\":\"x\"}", FMT_JSON },
		/* webhook envelopes */
		{ "{\"version\":\"4\",\"receiver\":\"r\",\"alerts\":[]}", FMT_AM_WEBHOOK },
		{ "{\"version\":\"4\",\"groupKey\":\"g\",\"alerts\":[]}", FMT_AM_WEBHOOK },
		{ "{\"receiver\":\"r\",\"alerts\":[{\"labels\":{}}]}", FMT_AM_WEBHOOK },
		{ "{\"version\":\"1\",\"receiver\":\"r\",\"alerts\":[]}", FMT_GRAFANA },
		{ "{\"version\":\"4\",\"orgId\":3,\"receiver\":\"r\",\"alerts\":[]}", FMT_GRAFANA },
		{ "{\"receiver\":\"r\",\"alerts\":[{\"valueString\":\"[ ]\"}]}", FMT_GRAFANA },
		{ "{\"groupKey\":\"g\",\"alerts\":[{\"dashboardURL\":\"\"}]}", FMT_GRAFANA },
		/* alerts without receiver/groupKey is not a webhook; with a title it is JSON */
		{ "{\"alerts\":[],\"title\":\"t\"}", FMT_JSON },
		{ "{\"receiver\":\"r\",\"alerts\":{}}", FMT_AUTO },
		/* PagerDuty */
		{ "{\"event_action\":\"resolve\",\"dedup_key\":\"k\"}", FMT_PAGERDUTY },
		{ "{\"event_action\":\"trigger\",\"routing_key\":\"r\"}", FMT_PAGERDUTY },
		{ "{\"event_action\":\"trigger\"}", FMT_AUTO },
		{ "{\"event_action\":5,\"payload\":{}}", FMT_AUTO },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *root = parse_text(cases[i].json);
		enum format_id got = format_detect(root);
		if (got != cases[i].want)
			fail_msg("%s: detected %s, want %s", cases[i].json, format_name(got),
				 format_name(cases[i].want));
		json_decref(root);
	}
	assert_int_equal(format_detect(NULL), FMT_AUTO);
}

/* ---- Alertmanager webhook --------------------------------------------------- */

static void test_am_webhook(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	parse_ok(FMT_AM_WEBHOOK, "am_webhook.json", &l);
	assert_int_equal(l.n, 2);

	const struct alert *a = &l.v[0];
	assert_string_equal(a->source, "alertmanager");
	assert_string_equal(a->name, "SettlementQueueBacklog");
	assert_string_equal(a->service, "settlement-worker"); /* job */
	assert_string_equal(a->message, "Settlement queue for f-1042 is 4812 messages behind");
	assert_int_equal(a->severity, SEV_CRITICAL);
	assert_string_equal(a->dedup_key, "7f3c2a91be04d5e6");
	assert_false(a->resolved);
	assert_false(a->status_only);
	assert_false(a->silenced);
	assert_false(a->inhibited);
	assert_int_equal(a->starts_at, ms("2024-05-01T08:15:30.123Z"));
	assert_int_equal(a->ends_at, 0); /* Go zero time: not set */
	assert_true(json_is_object(a->labels));
	assert_int_equal(json_object_size(a->labels), 6);
	assert_label(a, "firm", "f-1042");
	assert_label(a, "instance", "settle-03.prod:9102");
	assert_null(json_object_get(a->labels, "runbook_url")); /* annotations are not labels */

	a = &l.v[1];
	assert_true(a->resolved);
	assert_int_equal(a->severity, SEV_WARNING);
	/* no summary: the description is the message */
	assert_string_equal(a->message,
			    "The settlement queue has grown for 15 minutes; trades will miss the T+1 cut-off.");
	assert_int_equal(a->starts_at, ms("2024-05-01T07:00:00Z"));
	assert_int_equal(a->ends_at, ms("2024-05-01T08:20:05.500Z"));
	assert_string_equal(a->dedup_key, "0c11de7a9f2b3345");
	assert_label(a, "firm", "f-2210");

	alert_list_clear(&l);
	free(l.v);
}

static void test_am_labels_are_copies(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	json_t *root = load_fixture("am_webhook.json");
	char *why = NULL;
	assert_true(format_parse_json(FMT_AM_WEBHOOK, root, &l, &why));
	json_t *orig = json_object_get(json_array_get(json_object_get(root, "alerts"), 0), "labels");
	assert_ptr_not_equal(l.v[0].labels, orig);
	json_decref(root); /* the alert must outlive its record */
	assert_label(&l.v[0], "alertname", "SettlementQueueBacklog");
	alert_list_clear(&l);
	free(l.v);
}

static void test_am_fallbacks(void **state)
{
	(void)state;
	/* no alertname → annotations.summary; no fingerprint → sorted labels;
	 * severity via priority; service via namespace; message falls back to name;
	 * an item without status takes the group's */
	json_t *root = parse_text(
		"{\"version\":\"4\",\"receiver\":\"r\",\"status\":\"resolved\",\"alerts\":["
		"{\"labels\":{\"zone\":\"b\",\"namespace\":\"ledger\",\"priority\":\"P1\"},"
		" \"annotations\":{\"summary\":\"Ledger lag\"}},"
		"{\"status\":\"firing\",\"labels\":{\"namespace\":\"ledger\",\"zone\":\"b\",\"priority\":\"P1\"}},"
		"{\"status\":\"firing\",\"labels\":{\"alertname\":\"Up\",\"severity\":\"nonsense\","
		"  \"service\":\"api\",\"job\":\"j\"},\"annotations\":{\"summary\":\"\"}}]}");
	struct alert_list l = { 0 };
	char *why = NULL;
	assert_true(format_parse_json(FMT_AUTO, root, &l, &why));
	assert_int_equal(l.n, 3);

	assert_string_equal(l.v[0].name, "Ledger lag");
	assert_string_equal(l.v[0].message, "Ledger lag");
	assert_string_equal(l.v[0].service, "ledger");
	assert_int_equal(l.v[0].severity, SEV_CRITICAL);
	assert_true(l.v[0].resolved);
	assert_string_equal(l.v[0].dedup_key,
			    "labels:{\"namespace\":\"ledger\",\"priority\":\"P1\",\"zone\":\"b\"}");

	assert_string_equal(l.v[1].name, "alert");
	assert_string_equal(l.v[1].message, "alert");
	assert_false(l.v[1].resolved);
	/* same labels in another order → same key */
	assert_string_equal(l.v[1].dedup_key, l.v[0].dedup_key);

	assert_string_equal(l.v[2].service, "api");
	assert_int_equal(l.v[2].severity, SEV_WARNING); /* unknown word → default */
	assert_string_equal(l.v[2].message, "Up");      /* empty summary is absent */

	alert_list_clear(&l);
	free(l.v);
	json_decref(root);
}

/* ---- Alertmanager API v2 ---------------------------------------------------- */

static void test_am_api(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	parse_ok(FMT_AM_API, "am_api.json", &l);
	assert_int_equal(l.n, 3);

	const struct alert *a = &l.v[0];
	assert_string_equal(a->source, "alertmanager-api");
	assert_string_equal(a->name, "KubePodCrashLooping");
	assert_string_equal(a->service, "trading"); /* namespace */
	assert_int_equal(a->severity, SEV_HIGH);    /* "error" */
	assert_string_equal(a->dedup_key, "a1b2c3d4e5f60718");
	assert_true(strncmp(a->message, "Pod trading/quote-router", 24) == 0);
	assert_false(a->resolved);
	assert_false(a->silenced);
	assert_false(a->inhibited);
	assert_int_equal(a->starts_at, ms("2024-05-01T09:58:12.004Z"));
	assert_int_equal(a->ends_at, ms("2024-05-01T10:22:12.004Z"));
	assert_label(a, "pod", "quote-router-6d9f7c-2xk4p");

	a = &l.v[1];
	assert_true(a->silenced);
	assert_false(a->inhibited);
	assert_false(a->resolved);
	assert_string_equal(a->service, "node");
	assert_string_equal(a->message, "Disk on db-replica-2 will fill within 4 hours");

	a = &l.v[2];
	assert_false(a->silenced);
	assert_true(a->inhibited);
	assert_false(a->resolved); /* the API lists only alerts that are still active */
	assert_string_equal(a->message, "50% of the fix-gateway targets are down.");

	alert_list_clear(&l);
	free(l.v);

	/* an empty answer is fine and appends nothing */
	json_t *empty = json_array();
	char *why = NULL;
	assert_true(format_parse_json(FMT_AUTO, empty, &l, &why));
	assert_int_equal(l.n, 0);
	json_decref(empty);
}

/* ---- Grafana ---------------------------------------------------------------- */

static void test_grafana(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	parse_ok(FMT_GRAFANA, "grafana.json", &l);
	assert_int_equal(l.n, 2);

	const struct alert *a = &l.v[0];
	assert_string_equal(a->source, "grafana");
	assert_string_equal(a->name, "Checkout p99 latency");
	assert_string_equal(a->service, "checkout-api");
	assert_string_equal(a->message, "checkout-api p99 latency is 2.4s in eu-west-1");
	assert_int_equal(a->severity, SEV_HIGH);
	assert_string_equal(a->dedup_key, "3d8e0b5a71c4f2e9");
	assert_false(a->resolved);
	assert_int_equal(a->starts_at, ms("2024-05-01T09:05:00Z"));
	assert_int_equal(a->ends_at, 0);
	assert_label(a, "region", "eu-west-1");

	a = &l.v[1];
	assert_true(a->resolved);
	assert_int_equal(a->severity, SEV_WARNING);
	assert_string_equal(a->message, "Checkout error rate");
	assert_int_equal(a->ends_at, ms("2024-05-01T10:00:00Z"));

	alert_list_clear(&l);
	free(l.v);
}

/* ---- PagerDuty -------------------------------------------------------------- */

static void test_pagerduty_trigger(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	parse_ok(FMT_PAGERDUTY, "pd_trigger.json", &l);
	assert_int_equal(l.n, 1);

	const struct alert *a = &l.v[0];
	assert_string_equal(a->source, "pagerduty");
	assert_false(a->status_only);
	assert_false(a->resolved);
	assert_string_equal(a->name, "session drop"); /* class */
	assert_string_equal(a->message, "FIX session to LDN4 dropped 3 times in 5 minutes");
	assert_string_equal(a->service, "fix-gateway"); /* component */
	assert_int_equal(a->severity, SEV_HIGH);        /* error */
	assert_string_equal(a->dedup_key, "fix-gw/session-drop/LDN4");
	assert_int_equal(a->starts_at, ms("2024-05-01T10:02:41Z"));
	assert_label(a, "firm", "f-1042");
	assert_label(a, "counterparty", "LDN4");
	assert_int_equal(json_integer_value(json_object_get(a->labels, "drops_last_5m")), 3);
	/* custom_details' own "source" wins over payload.source */
	assert_label(a, "source", "session-monitor");
	assert_label(a, "component", "fix-gateway");
	assert_label(a, "group", "order-routing");
	assert_label(a, "class", "session drop");
	assert_null(json_object_get(a->labels, "routing_key"));

	alert_list_clear(&l);
	free(l.v);
}

static void test_pagerduty_trigger_minimal(void **state)
{
	(void)state;
	static const char *const severities[][2] = {
		{ "critical", "critical" }, { "error", "high" }, { "warning", "warning" }, { "info", "info" },
	};
	struct alert_list l = { 0 };
	char *why = NULL;
	for (size_t i = 0; i < 4; i++) {
		json_t *root = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "routing_key", "R1",
					 "event_action", "trigger", "payload", "summary", "Disk full on web-3",
					 "source", "web-3", "severity", severities[i][0]);
		assert_true(format_parse_json(FMT_PAGERDUTY, root, &l, &why));
		json_decref(root);
		assert_string_equal(severity_name(l.v[i].severity), severities[i][1]);
	}
	const struct alert *a = &l.v[0];
	assert_string_equal(a->name, "Disk full on web-3"); /* no class: summary */
	assert_string_equal(a->service, "web-3");           /* no component: source */
	assert_label(a, "source", "web-3");
	assert_int_equal(json_object_size(a->labels), 1);
	assert_int_equal(a->starts_at, 0);
	/* computed key: stable, and never the routing key in the clear */
	assert_non_null(a->dedup_key);
	assert_string_equal(a->dedup_key, l.v[1].dedup_key);
	assert_null(strstr(a->dedup_key, "R1"));

	json_t *other = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "routing_key", "R2", "event_action",
				  "trigger", "payload", "summary", "Disk full on web-3", "source", "web-3",
				  "severity", "info");
	assert_true(format_parse_json(FMT_PAGERDUTY, other, &l, &why));
	json_decref(other);
	assert_string_not_equal(l.v[4].dedup_key, l.v[0].dedup_key); /* the list may have moved */

	/* a non-object custom_details is kept under its own name */
	json_t *str = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "event_action", "trigger", "payload",
				"summary", "s", "source", "h", "severity", "info", "custom_details",
				"free text");
	assert_true(format_parse_json(FMT_PAGERDUTY, str, &l, &why));
	json_decref(str);
	assert_label(&l.v[5], "custom_details", "free text");

	alert_list_clear(&l);
	free(l.v);
}

static void test_pagerduty_status_events(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	parse_ok(FMT_PAGERDUTY, "pd_acknowledge.json", &l);
	parse_ok(FMT_AUTO, "pd_resolve.json", &l);
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct alert *a = &l.v[i];
		assert_string_equal(a->source, "pagerduty");
		assert_true(a->status_only);
		assert_null(a->name);
		assert_null(a->message);
		assert_string_equal(a->service, "");
		assert_string_equal(a->dedup_key, "fix-gw/session-drop/LDN4");
		assert_true(json_is_object(a->labels));
		assert_int_equal(json_object_size(a->labels), 0);
	}
	assert_false(l.v[0].resolved); /* acknowledge */
	assert_true(l.v[1].resolved);  /* resolve */
	alert_list_clear(&l);
	free(l.v);
}

/* ---- generic JSON ----------------------------------------------------------- */

static void test_generic_json(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	char *why = NULL;
	for (int i = 0; i < 5; i++) {
		json_t *root = load_ndjson_line("generic.ndjson", i);
		if (!format_parse_json(FMT_AUTO, root, &l, &why))
			fail_msg("line %d: %s", i + 1, why);
		json_decref(root);
	}
	assert_int_equal(l.n, 5);

	const struct alert *a = &l.v[0];
	assert_string_equal(a->source, "json");
	assert_string_equal(a->name, "Login failures");
	assert_string_equal(a->message, "42 failed logins for f-1042 in 5m");
	assert_int_equal(a->severity, SEV_CRITICAL);
	assert_string_equal(a->service, "auth");
	assert_int_equal(a->starts_at, ms("2024-05-01T10:00:00Z"));
	assert_false(a->resolved);
	assert_label(a, "region", "eu");
	assert_label(a, "firm", "f-1042"); /* unknown scalar kept */
	assert_int_equal(json_integer_value(json_object_get(a->labels, "attempts")), 42);
	assert_null(json_object_get(a->labels, "name")); /* consumed fields are not labels */
	assert_null(json_object_get(a->labels, "timestamp"));
	assert_null(json_object_get(a->labels, "labels"));
	assert_string_equal(a->dedup_key, "json:[\"Login failures\",\"auth\",{\"region\":\"eu\"}]");

	a = &l.v[1];
	assert_string_equal(a->name, "Nightly reconciliation late");
	assert_string_equal(a->message, "Nightly reconciliation late"); /* message falls back to name */
	assert_int_equal(a->severity, SEV_WARNING);
	assert_string_equal(a->service, "recon");
	assert_int_equal(a->starts_at, 1714557600000LL); /* epoch seconds */
	assert_string_equal(a->dedup_key, "9001");        /* integer id */
	assert_int_equal(json_object_size(a->labels), 0);

	a = &l.v[2];
	assert_string_equal(a->name, "Cron job backup-db exited 1"); /* name from the message */
	assert_string_equal(a->message, "Cron job backup-db exited 1");
	assert_int_equal(a->severity, SEV_HIGH); /* priority 2 */
	assert_string_equal(a->service, "db-1");  /* host */
	assert_int_equal(a->starts_at, 1714557600123LL); /* epoch ms */
	assert_true(a->resolved);
	assert_string_equal(a->dedup_key, "json:[\"Cron job backup-db exited 1\",\"db-1\",null]");

	a = &l.v[3];
	assert_string_equal(a->name, "QueueDepth");
	assert_string_equal(a->message, "Queue depth above 10k");
	assert_true(a->resolved); /* state "OK" */
	assert_int_equal(a->severity, SEV_WARNING);
	assert_string_equal(a->service, "");
	assert_string_equal(a->dedup_key, "q-depth-1");
	assert_label(a, "firm", "f-7"); /* explicit labels win */
	assert_label(a, "queue", "orders");
	assert_true(json_is_true(json_object_get(a->labels, "ok")));
	assert_null(json_object_get(a->labels, "nested")); /* only scalars */

	a = &l.v[4];
	assert_int_equal(a->severity, SEV_HIGH); /* "bogus" skipped, level error */
	assert_string_equal(a->service, "ci");
	assert_string_equal(a->dedup_key, "disk/build-7");
	assert_string_equal(a->name, "disk almost full on build-7");
	/* severity was not consumed from "severity", so the unread word stays */
	assert_label(a, "severity", "bogus");

	alert_list_clear(&l);
	free(l.v);
}

static void test_generic_json_times(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int64_t want;
	} cases[] = {
		{ "{\"name\":\"n\",\"time\":1714557600.5}", 1714557600500LL },
		{ "{\"name\":\"n\",\"timestamp\":\"not a time\",\"startsAt\":\"2024-05-01T10:00:00Z\"}",
		  1714557600000LL },
		{ "{\"name\":\"n\",\"timestamp\":\"yesterday\"}", 0 },
		{ "{\"name\":\"n\",\"timestamp\":-5}", 0 },
		{ "{\"name\":\"n\",\"timestamp\":1e300}", 0 },
		{ "{\"name\":\"n\",\"timestamp\":9223372036854775807}", 0 },
		{ "{\"name\":\"n\",\"starts_at\":\"0001-01-01T00:00:00Z\"}", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct alert_list l = { 0 };
		char *why = NULL;
		json_t *root = parse_text(cases[i].json);
		assert_true(format_parse_json(FMT_JSON, root, &l, &why));
		if (l.v[0].starts_at != cases[i].want)
			fail_msg("%s: starts_at %lld, want %lld", cases[i].json,
				 (long long)l.v[0].starts_at, (long long)cases[i].want);
		json_decref(root);
		alert_list_clear(&l);
		free(l.v);
	}
}

/* ---- rejects ---------------------------------------------------------------- */

static void test_rejects(void **state)
{
	(void)state;
	static const struct {
		enum format_id f;
		const char *json;
		const char *why; /* must appear in the reason */
	} cases[] = {
		{ FMT_AM_WEBHOOK, "[]", "alertmanager: record is not an object" },
		{ FMT_AM_WEBHOOK, "{\"version\":\"4\"}", "alertmanager: missing alerts" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":{}}", "alertmanager: alerts is not an array" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[5]}", "alertmanager: alerts[0] is not an object" },
		{ FMT_AM_WEBHOOK,
		  "{\"alerts\":[{\"labels\":{\"alertname\":\"a\"}},{\"labels\":{\"alertname\":\"b\"}},"
		  "{\"labels\":7}]}",
		  "alertmanager: alerts[2].labels is not an object" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{}]}", "alerts[0].labels is missing" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{\"labels\":{},\"annotations\":\"x\"}]}",
		  "alerts[0].annotations is not an object" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{\"labels\":{},\"status\":true}]}",
		  "alerts[0].status is not a string" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{\"labels\":{},\"startsAt\":\"yesterday\"}]}",
		  "alerts[0].startsAt is not an RFC 3339 time" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{\"labels\":{},\"endsAt\":12}]}",
		  "alerts[0].endsAt is not an RFC 3339 time" },
		{ FMT_AM_WEBHOOK, "{\"alerts\":[{\"labels\":{},\"fingerprint\":12}]}",
		  "alerts[0].fingerprint is not a string" },
		{ FMT_AM_WEBHOOK, "{\"status\":[],\"alerts\":[]}", "alertmanager: status is not a string" },
		{ FMT_GRAFANA, "{\"alerts\":[{\"labels\":null}]}", "grafana: alerts[0].labels is not an object" },
		{ FMT_AM_API, "{}", "alertmanager-api: record is not an array" },
		{ FMT_AM_API, "[{\"labels\":{},\"status\":{\"state\":\"active\"}},{\"labels\":[]}]",
		  "alertmanager-api: [1].labels is not an object" },
		{ FMT_AM_API, "[{\"labels\":{},\"status\":\"active\"}]", "[0].status is not an object" },
		{ FMT_AM_API, "[{\"labels\":{},\"status\":{\"state\":1}}]", "[0].status.state is not a string" },
		{ FMT_PAGERDUTY, "{\"routing_key\":\"r\"}", "pagerduty: missing event_action" },
		{ FMT_PAGERDUTY, "{\"event_action\":null}", "pagerduty: event_action is not a string" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"escalate\"}", "event_action is not trigger" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"resolve\"}", "pagerduty: resolve without dedup_key" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"acknowledge\",\"dedup_key\":\"\"}",
		  "acknowledge without dedup_key" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"resolve\",\"dedup_key\":7}", "dedup_key is not a string" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"trigger\",\"routing_key\":[]}",
		  "routing_key is not a string" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"trigger\"}", "pagerduty: trigger without payload" },
		{ FMT_PAGERDUTY, "{\"event_action\":\"trigger\",\"payload\":\"x\"}", "payload is not an object" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"source\":\"h\",\"severity\":\"info\"}}",
		  "payload.summary" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":1,\"severity\":\"info\"}}",
		  "payload.source" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"h\",\"severity\":\"P1\"}}",
		  "payload.severity" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"h\"}}",
		  "payload.severity" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"h\","
		  "\"severity\":\"info\",\"timestamp\":\"noon\"}}",
		  "payload.timestamp" },
		{ FMT_PAGERDUTY,
		  "{\"event_action\":\"trigger\",\"payload\":{\"summary\":\"s\",\"source\":\"h\","
		  "\"severity\":\"info\",\"class\":{}}}",
		  "payload.class is not a string" },
		{ FMT_JSON, "[1]", "json: record is not an object" },
		{ FMT_JSON, "{\"host\":\"db-1\"}", "json: no name/title or message/summary" },
		{ FMT_JSON, "{\"name\":null,\"message\":3}", "json: no name/title or message/summary" },
		{ FMT_JSON, "{\"name\":\"n\",\"labels\":\"a=b\"}", "json: labels is not an object" },
		{ FMT_AUTO, "{\"host\":\"db-1\"}", "not a shape sitrep knows" },
		{ FMT_AUTO, "17", "not a shape sitrep knows" },
		{ FMT_LOG, "{\"name\":\"n\"}", "log: not a JSON format" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* a list that already holds an alert: it must come back untouched */
		struct alert_list l = { 0 };
		format_parse_log("previous", 8, NULL, alert_list_add(&l));
		json_t *root = parse_text(cases[i].json);
		char *why = NULL;
		bool ok = format_parse_json(cases[i].f, root, &l, &why);
		if (ok)
			fail_msg("%s as %s: accepted", cases[i].json, format_name(cases[i].f));
		assert_int_equal(l.n, 1);
		assert_string_equal(l.v[0].message, "previous");
		if (!why || !strstr(why, cases[i].why))
			fail_msg("%s: why \"%s\", want \"%s\"", cases[i].json, why ? why : "(null)",
				 cases[i].why);
		free(why);
		json_decref(root);
		alert_list_clear(&l);
		free(l.v);
	}
}

static void test_reject_without_why(void **state)
{
	(void)state;
	struct alert_list l = { 0 };
	json_t *root = parse_text("{\"alerts\":[{\"labels\":{}},{\"labels\":1}]}");
	assert_false(format_parse_json(FMT_AM_WEBHOOK, root, &l, NULL));
	assert_int_equal(l.n, 0);
	json_decref(root);
	free(l.v);
}

/* Each @ in tmpl becomes a, b, a, b, … in turn. */
static char *fill_template(const char *tmpl, const char *a, const char *b)
{
	char *out = malloc(strlen(tmpl) * 2 + 256);
	size_t n = 0;
	int k = 0;
	assert_non_null(out);
	for (const char *p = tmpl; *p; p++) {
		if (*p != '@') {
			out[n++] = *p;
			continue;
		}
		const char *v = k++ % 2 ? b : a;
		memcpy(out + n, v, strlen(v));
		n += strlen(v);
	}
	out[n] = '\0';
	return out;
}

/*
 * Every format against values of every type in every position: never a
 * crash, and either a well-formed alert or a reject with a reason and
 * nothing appended.
 */
static void test_hostile_values(void **state)
{
	(void)state;
	static const char *const values[] = {
		"null", "true", "0", "-1", "1.5", "\"\"", "\"x\"", "[]", "[null]", "{}", "{\"a\":null}",
	};
	static const char *const templates[] = {
		"@",
		"{\"alerts\":@,\"receiver\":\"r\"}",
		"{\"alerts\":[@],\"receiver\":\"r\"}",
		"{\"alerts\":[{\"labels\":@}]}",
		"{\"alerts\":[{\"labels\":{\"alertname\":@,\"severity\":@}}]}",
		"{\"alerts\":[{\"labels\":{},\"annotations\":@,\"status\":@}]}",
		"[{\"labels\":{},\"status\":@}]",
		"[{\"labels\":{},\"status\":{\"state\":\"suppressed\",\"silencedBy\":@,\"inhibitedBy\":@}}]",
		"{\"event_action\":@,\"dedup_key\":@}",
		"{\"event_action\":\"trigger\",\"payload\":@}",
		"{\"event_action\":\"trigger\",\"payload\":{\"summary\":@,\"source\":\"s\",\"severity\":\"info\",\"custom_details\":@}}",
		"{\"name\":@,\"message\":@}",
		"{\"name\":\"n\",\"labels\":@,\"id\":@,\"time\":@,\"severity\":@,\"status\":@}",
	};
	size_t nv = sizeof values / sizeof values[0];
	for (size_t t = 0; t < sizeof templates / sizeof templates[0]; t++) {
		for (size_t i = 0; i < nv; i++) {
			char *text = fill_template(templates[t], values[i], values[(i + 3) % nv]);
			json_t *root = parse_text(text);
			free(text);
			for (int f = 0; f < FMT_COUNT; f++) {
				struct alert_list l = { 0 };
				char *why = NULL;
				bool ok = format_parse_json((enum format_id)f, root, &l, &why);
				if (!ok) {
					assert_int_equal(l.n, 0);
					assert_non_null(why);
					assert_true(strlen(why) > 0);
				} else {
					assert_null(why);
				}
				for (size_t k = 0; k < l.n; k++) {
					assert_non_null(l.v[k].source);
					assert_non_null(l.v[k].service);
					assert_true(json_is_object(l.v[k].labels));
					assert_true(l.v[k].status_only ||
						    (l.v[k].name && l.v[k].message));
				}
				free(why);
				alert_list_clear(&l);
				free(l.v);
			}
			(void)format_detect(root);
			json_decref(root);
		}
	}
}

/* ---- log lines -------------------------------------------------------------- */

static void test_log_fields(void **state)
{
	(void)state;
	struct alert a;
	const char line[] = "2024-05-01 10:00:00 ERROR db timeout\r\n";
	format_parse_log(line, sizeof line - 1, "ledger", &a);
	assert_string_equal(a.source, "log");
	assert_string_equal(a.name, "log");
	assert_string_equal(a.service, "ledger");
	assert_string_equal(a.message, "2024-05-01 10:00:00 ERROR db timeout");
	assert_int_equal(a.severity, SEV_HIGH);
	assert_null(a.dedup_key);
	assert_false(a.resolved);
	assert_false(a.status_only);
	assert_true(json_is_object(a.labels));
	assert_int_equal(json_object_size(a.labels), 0);
	alert_clear(&a);

	/* len is honoured: the rest of the buffer is not part of the line */
	format_parse_log("WARN disk\nFATAL next line", 9, NULL, &a);
	assert_string_equal(a.message, "WARN disk");
	assert_string_equal(a.service, "");
	assert_int_equal(a.severity, SEV_WARNING);
	alert_clear(&a);

	format_parse_log("", 0, NULL, &a);
	assert_string_equal(a.message, "");
	assert_int_equal(a.severity, SEV_INFO);
	alert_clear(&a);

	format_parse_log("\r\n", 2, NULL, &a);
	assert_string_equal(a.message, "");
	alert_clear(&a);

	/* NUL bytes inside the line never count as brackets or crash */
	const char nul[] = { '[', '\0', 'E', 'R', 'R', 'O', 'R', ']', ' ', 'x' };
	format_parse_log(nul, sizeof nul, NULL, &a);
	assert_int_equal(a.severity, SEV_INFO);
	alert_clear(&a);
}

static void test_log_severity_words(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum severity want;
	} cases[] = {
		{ "FATAL: out of memory", SEV_CRITICAL },
		{ "[crit] upstream gone", SEV_CRITICAL },
		{ "CRITICAL disk failure", SEV_CRITICAL },
		{ "panic: runtime error: index out of range", SEV_CRITICAL },
		{ "<emerg> kernel", SEV_CRITICAL },
		{ "ALERT raid degraded", SEV_CRITICAL },
		{ "[error] open() failed", SEV_HIGH },
		{ "ERROR: relation \"x\" does not exist", SEV_HIGH },
		{ "Err connection reset", SEV_HIGH },
		{ "SEVERE: servlet threw", SEV_HIGH },
		{ "warn: low disk", SEV_WARNING },
		{ "Warning - cert expires in 7 days", SEV_WARNING },
		{ "level=WARN msg=x", SEV_WARNING },
		{ "lvl=\"error\" msg=x", SEV_HIGH },
		{ "everything is fine", SEV_INFO },
		{ "errors=0 warnings=0", SEV_INFO },          /* not whole level words */
		{ "INFO no error here", SEV_INFO },           /* first level word decides */
		{ "1 2 3 4 5 6 7 8 ERROR late", SEV_INFO },   /* beyond the first 8 tokens */
		{ "1 2 3 4 5 6 7 ERROR in reach", SEV_HIGH },
		{ "sending alert to rota", SEV_INFO },        /* plain English "alert" */
		{ "<0>boot failure", SEV_CRITICAL },
		{ "<4>usb disconnect", SEV_WARNING },
		{ "<14>user message", SEV_INFO },
		{ "<11>daemon error", SEV_HIGH },
		{ "<x>not a priority", SEV_INFO },
		{ "10.0.0.1 - - GET /", SEV_INFO },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct alert a;
		format_parse_log(cases[i].line, strlen(cases[i].line), NULL, &a);
		if (a.severity != cases[i].want)
			fail_msg("\"%s\": %s, want %s", cases[i].line, severity_name(a.severity),
				 severity_name(cases[i].want));
		alert_clear(&a);
	}
}

static void test_log_fixture(void **state)
{
	(void)state;
	static const enum severity want[] = {
		SEV_INFO,     /* INFO */
		SEV_WARNING,  /* WARN */
		SEV_HIGH,     /* ERROR */
		SEV_INFO,     /* kernel OOM line carries no level word */
		SEV_CRITICAL, /* FATAL: */
		SEV_HIGH,     /* sshd error: */
		SEV_WARNING,  /* logfmt level=warning */
		SEV_HIGH,     /* syslog <3> */
		SEV_CRITICAL, /* Monolog app.CRITICAL: */
		SEV_INFO,     /* INFO ... error later */
		SEV_INFO,     /* "sending alert" */
		SEV_CRITICAL, /* [alert] */
	};
	char path[1024], line[4096];
	snprintf(path, sizeof path, "%s/formats/app.log", FIXTURES);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = 0;
	while (fgets(line, sizeof line, fp)) {
		assert_true(n < sizeof want / sizeof want[0]);
		struct alert a;
		format_parse_log(line, strlen(line), "app", &a);
		if (a.severity != want[n])
			fail_msg("app.log:%zu: %s, want %s", n + 1, severity_name(a.severity),
				 severity_name(want[n]));
		assert_null(strchr(a.message, '\n'));
		assert_string_equal(a.service, "app");
		alert_clear(&a);
		n++;
	}
	fclose(fp);
	assert_int_equal(n, sizeof want / sizeof want[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_names_round_trip),
		cmocka_unit_test(test_detect_fixtures),
		cmocka_unit_test(test_detect_shapes),
		cmocka_unit_test(test_am_webhook),
		cmocka_unit_test(test_am_labels_are_copies),
		cmocka_unit_test(test_am_fallbacks),
		cmocka_unit_test(test_am_api),
		cmocka_unit_test(test_grafana),
		cmocka_unit_test(test_pagerduty_trigger),
		cmocka_unit_test(test_pagerduty_trigger_minimal),
		cmocka_unit_test(test_pagerduty_status_events),
		cmocka_unit_test(test_generic_json),
		cmocka_unit_test(test_generic_json_times),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_reject_without_why),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_log_fields),
		cmocka_unit_test(test_log_severity_words),
		cmocka_unit_test(test_log_fixture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * formats.c — format adapters: one parsed record → alerts.
 *
 * Every adapter maps its source's vocabulary onto struct alert and nothing
 * more; masking, clustering and storage come later in the pipeline, and the
 * caller stores the raw record itself, so a field we do not map is not lost.
 *
 * Strictness. For the formats with a published shape (Alertmanager webhook
 * and API, Grafana, PagerDuty) a field we use that has the wrong type, or a
 * time that is not RFC 3339, rejects the whole record with a reason naming
 * the field: a half-understood alert is worse than a visible reject. The
 * generic JSON adapter is best-effort instead (a time it cannot read is
 * "unknown"), because it takes whatever an in-house script emits; only a
 * non-object `labels` or a record with neither name nor message rejects it.
 *
 * Atomicity. format_parse_json appends to the caller's list as it goes and,
 * on failure, clears everything it appended, so a payload of 50 alerts with
 * one bad item yields no alerts at all, never 49.
 */
#include "config.h"
#include "formats.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the format table ---------------------------------------------------- */

static const struct {
	const char *name;
	const char *help;
} format_table[] = {
#define FMT_ROW(id, name, help) { name, help },
	FORMAT_LIST(FMT_ROW)
#undef FMT_ROW
};

const char *format_name(enum format_id f)
{
	return (unsigned)f < FMT_COUNT ? format_table[f].name : "unknown";
}

const char *format_help(enum format_id f)
{
	return (unsigned)f < FMT_COUNT ? format_table[f].help : "";
}

bool format_from_name(const char *name, enum format_id *out)
{
	if (!name)
		return false;
	for (unsigned i = 0; i < FMT_COUNT; i++) {
		if (strcasecmp(name, format_table[i].name) == 0) {
			*out = (enum format_id)i;
			return true;
		}
	}
	return false;
}

/* ---- small JSON helpers -------------------------------------------------- */

/* The string at key, or NULL when absent, not a string or empty: an empty
 * value says nothing, so callers fall through to their next candidate. */
static const char *get_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && *s ? s : NULL;
}

/* The first non-empty string among keys (a NULL-terminated list). If used
 * is given it receives the key that matched. */
static const char *first_str(json_t *obj, const char *const *keys, const char **used)
{
	for (; *keys; keys++) {
		const char *s = get_str(obj, *keys);
		if (s) {
			if (used)
				*used = *keys;
			return s;
		}
	}
	return NULL;
}

/* A member that is present and not JSON null; null is treated as absent
 * everywhere because encoders emit it for unset optional fields. */
static json_t *get_opt(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static bool nonempty_array(json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0;
}

/* The value's compact dump with sorted keys: the same labels in any order
 * give the same text, which is what a computed dedup key needs. */
static char *dump_sorted(json_t *v)
{
	char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	return s ? s : xstrdup("null");
}

static bool fail(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(char **why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
	s[0] = '\0';
	va_start(ap, fmt);
	if (n > 0)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	free(*why);
	*why = s;
	return false;
}

/* RFC 3339 text → ms. Anything before 1970 becomes 0 (unknown): Go's zero
 * time "0001-01-01T00:00:00Z" is how Alertmanager and Grafana say "not set". */
static bool time_from_text(const char *s, int64_t *out)
{
	int64_t ms;
	if (!parse_time_rfc3339(s, &ms))
		return false;
	*out = ms > 0 ? ms : 0;
	return true;
}

/* A strict optional time field: absent is 0, a string must parse. */
static bool strict_time(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = get_opt(obj, key);
	*out = 0;
	if (!v)
		return true;
	const char *s = json_string_value(v);
	if (!s)
		return false;
	if (!*s)
		return true;
	return time_from_text(s, out);
}

/* 64-bit FNV-1a; only used to turn a computed identity into a short key
 * without putting the text (a PagerDuty routing key) in the clear. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	/* a separator, so ("ab","c") and ("a","bc") differ */
	h ^= 0xff;
	h *= 0x100000001b3ULL;
	return h;
}

/* ---- Alertmanager (webhook, API v2) and Grafana -------------------------- */

/*
 * The three share the alert item: labels, annotations, startsAt, endsAt,
 * fingerprint. They differ in the envelope (webhook object with alerts[],
 * or a bare array) and in how the state is told: the webhook's and
 * Grafana's item has status "firing"/"resolved"; the API's item has
 * status{state, silencedBy[], inhibitedBy[]} and only ever lists alerts
 * that are still active, so nothing from the API is resolved.
 */
static bool am_item(enum format_id f, json_t *item, const char *where, const char *default_status,
		    struct alert_list *out, char **why)
{
	const char *fmt = format_name(f);
	if (!json_is_object(item))
		return fail(why, "%s: %s is not an object", fmt, where);
	json_t *labels = json_object_get(item, "labels");
	if (!labels)
		return fail(why, "%s: %s.labels is missing", fmt, where);
	if (!json_is_object(labels))
		return fail(why, "%s: %s.labels is not an object", fmt, where);
	json_t *ann = get_opt(item, "annotations");
	if (ann && !json_is_object(ann))
		return fail(why, "%s: %s.annotations is not an object", fmt, where);
	json_t *fp = get_opt(item, "fingerprint");
	if (fp && !json_is_string(fp))
		return fail(why, "%s: %s.fingerprint is not a string", fmt, where);
	int64_t starts, ends;
	if (!strict_time(item, "startsAt", &starts))
		return fail(why, "%s: %s.startsAt is not an RFC 3339 time", fmt, where);
	if (!strict_time(item, "endsAt", &ends))
		return fail(why, "%s: %s.endsAt is not an RFC 3339 time", fmt, where);

	bool resolved = false, silenced = false, inhibited = false;
	json_t *status = get_opt(item, "status");
	if (f == FMT_AM_API) {
		if (status && !json_is_object(status))
			return fail(why, "%s: %s.status is not an object", fmt, where);
		json_t *state = get_opt(status, "state");
		if (state && !json_is_string(state))
			return fail(why, "%s: %s.status.state is not a string", fmt, where);
		/* The lists say why an alert is suppressed; state alone cannot. */
		silenced = nonempty_array(json_object_get(status, "silencedBy"));
		inhibited = nonempty_array(json_object_get(status, "inhibitedBy"));
	} else {
		if (status && !json_is_string(status))
			return fail(why, "%s: %s.status is not a string", fmt, where);
		const char *st = status ? json_string_value(status) : default_status;
		resolved = st && strcasecmp(st, "resolved") == 0;
	}

	struct alert *a = alert_list_add(out);
	a->source = xstrdup(fmt);
	a->labels = json_deep_copy(labels);
	a->resolved = resolved;
	a->silenced = silenced;
	a->inhibited = inhibited;
	a->starts_at = starts;
	a->ends_at = ends;

	/* Without alertname (a rule that drops it through relabelling) the
	 * summary is the best human name; "alert" only when there is nothing. */
	const char *name = get_str(labels, "alertname");
	if (!name)
		name = get_str(ann, "summary");
	a->name = xstrdup(name ? name : "alert");

	const char *svc = first_str(labels,
		(const char *const[]){ "service", "job", "app", "component", "namespace", NULL }, NULL);
	a->service = xstrdup(svc ? svc : "");

	const char *msg = first_str(ann,
		(const char *const[]){ "summary", "description", "message", NULL }, NULL);
	a->message = xstrdup(msg ? msg : a->name);

	a->severity = SEV_WARNING;
	if (!severity_from_word(get_str(labels, "severity"), &a->severity))
		severity_from_word(get_str(labels, "priority"), &a->severity);

	const char *fps = json_string_value(fp);
	if (fps && *fps) {
		a->dedup_key = xstrdup(fps);
	} else {
		/* Alertmanager's own fingerprint is a hash of the label set, so a
		 * key made of the sorted labels has the same identity. */
		char *d = dump_sorted(labels);
		a->dedup_key = xasprintf("labels:%s", d);
		free(d);
	}
	return true;
}

/* Webhook envelope, shared by Alertmanager (version "4") and Grafana. */
static bool parse_webhook(enum format_id f, json_t *root, struct alert_list *out, char **why)
{
	const char *fmt = format_name(f);
	if (!json_is_object(root))
		return fail(why, "%s: record is not an object", fmt);
	json_t *alerts = json_object_get(root, "alerts");
	if (!alerts)
		return fail(why, "%s: missing alerts", fmt);
	if (!json_is_array(alerts))
		return fail(why, "%s: alerts is not an array", fmt);
	json_t *st = get_opt(root, "status");
	if (st && !json_is_string(st))
		return fail(why, "%s: status is not a string", fmt);
	size_t i;
	json_t *item;
	json_array_foreach(alerts, i, item) {
		char where[48];
		snprintf(where, sizeof where, "alerts[%zu]", i);
		/* An item without its own status takes the group's. */
		if (!am_item(f, item, where, json_string_value(st), out, why))
			return false;
	}
	return true;
}

static bool parse_am_api(json_t *root, struct alert_list *out, char **why)
{
	if (!json_is_array(root))
		return fail(why, "%s: record is not an array", format_name(FMT_AM_API));
	size_t i;
	json_t *item;
	json_array_foreach(root, i, item) {
		char where[48];
		snprintf(where, sizeof where, "[%zu]", i);
		if (!am_item(FMT_AM_API, item, where, NULL, out, why))
			return false;
	}
	return true;
}

/* ---- PagerDuty Events API v2 --------------------------------------------- */

static bool pd_severity(const char *s, enum severity *out)
{
	static const struct {
		const char *word;
		enum severity sev;
	} map[] = {
		{ "critical", SEV_CRITICAL }, { "error", SEV_HIGH },
		{ "warning", SEV_WARNING },   { "info", SEV_INFO },
	};
	for (size_t i = 0; s && i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(s, map[i].word) == 0) {
			*out = map[i].sev;
			return true;
		}
	}
	return false;
}

/* Put value under key unless the sender's own details already use it. */
static void label_default(json_t *labels, const char *key, const char *value)
{
	if (value && !json_object_get(labels, key))
		json_object_set_new(labels, key, json_string(value));
}

static bool parse_pagerduty(json_t *root, struct alert_list *out, char **why)
{
	if (!json_is_object(root))
		return fail(why, "pagerduty: record is not an object");
	json_t *act = json_object_get(root, "event_action");
	if (!act)
		return fail(why, "pagerduty: missing event_action");
	const char *action = json_string_value(act);
	if (!action)
		return fail(why, "pagerduty: event_action is not a string");
	bool trigger = strcmp(action, "trigger") == 0;
	bool resolve = strcmp(action, "resolve") == 0;
	if (!trigger && !resolve && strcmp(action, "acknowledge") != 0)
		return fail(why, "pagerduty: event_action is not trigger, acknowledge or resolve");
	json_t *dk = get_opt(root, "dedup_key");
	if (dk && !json_is_string(dk))
		return fail(why, "pagerduty: dedup_key is not a string");
	const char *dedup = get_str(root, "dedup_key");
	json_t *rk = get_opt(root, "routing_key");
	if (rk && !json_is_string(rk))
		return fail(why, "pagerduty: routing_key is not a string");

	if (!trigger) {
		if (!dedup)
			return fail(why, "pagerduty: %s without dedup_key", action);
		struct alert *a = alert_list_add(out);
		a->source = xstrdup("pagerduty");
		a->dedup_key = xstrdup(dedup);
		a->status_only = true;
		a->resolved = resolve;
		a->service = xstrdup("");
		a->labels = json_object();
		return true;
	}

	json_t *payload = json_object_get(root, "payload");
	if (!payload)
		return fail(why, "pagerduty: trigger without payload");
	if (!json_is_object(payload))
		return fail(why, "pagerduty: payload is not an object");
	/* The three fields PagerDuty itself requires of a trigger. */
	const char *summary = get_str(payload, "summary");
	if (!summary)
		return fail(why, "pagerduty: payload.summary is missing or not a string");
	const char *source = get_str(payload, "source");
	if (!source)
		return fail(why, "pagerduty: payload.source is missing or not a string");
	enum severity sev;
	if (!pd_severity(json_string_value(json_object_get(payload, "severity")), &sev))
		return fail(why, "pagerduty: payload.severity is not critical, error, warning or info");
	int64_t ts;
	if (!strict_time(payload, "timestamp", &ts))
		return fail(why, "pagerduty: payload.timestamp is not an RFC 3339 time");
	static const char *const optional[] = { "component", "group", "class", NULL };
	for (const char *const *k = optional; *k; k++) {
		json_t *v = get_opt(payload, *k);
		if (v && !json_is_string(v))
			return fail(why, "pagerduty: payload.%s is not a string", *k);
	}

	struct alert *a = alert_list_add(out);
	a->source = xstrdup("pagerduty");
	a->severity = sev;
	a->starts_at = ts;
	/* class ("disk full") names the kind of problem; the summary is the
	 * sentence about this occurrence, so it is the message. */
	const char *cls = get_str(payload, "class");
	a->name = xstrdup(cls ? cls : summary);
	a->message = xstrdup(summary);
	const char *comp = get_str(payload, "component");
	a->service = xstrdup(comp ? comp : source);

	/* custom_details are the sender's labels. The envelope's source,
	 * component, group and class are kept under their own names too, but
	 * only where custom_details did not already use the name: the sender's
	 * explicit details win. A non-object custom_details (PagerDuty shows
	 * strings too) is kept whole under "custom_details". */
	json_t *details = get_opt(payload, "custom_details");
	if (json_is_object(details)) {
		a->labels = json_deep_copy(details);
	} else {
		a->labels = json_object();
		if (details)
			json_object_set_new(a->labels, "custom_details", json_deep_copy(details));
	}
	label_default(a->labels, "source", source);
	label_default(a->labels, "component", comp);
	label_default(a->labels, "group", get_str(payload, "group"));
	label_default(a->labels, "class", cls);

	if (dedup) {
		a->dedup_key = xstrdup(dedup);
	} else {
		/* PagerDuty would make up a random key, so every such trigger is
		 * a new alert there. We prefer that repeats of the same summary
		 * from the same source on the same integration fold together; the
		 * routing key is hashed because it is a credential. */
		uint64_t h = 0xcbf29ce484222325ULL;
		h = fnv1a(h, json_string_value(rk) ? json_string_value(rk) : "");
		h = fnv1a(h, source);
		h = fnv1a(h, summary);
		a->dedup_key = xasprintf("pd:%016llx", (unsigned long long)h);
	}
	return true;
}

/* ---- generic JSON --------------------------------------------------------- */

/* Numbers: epoch seconds below 1e11 (year 5138), milliseconds above. */
static int64_t time_from_number(double d)
{
	if (!(d > 0) || d > 9e15)
		return 0;
	return d < 1e11 ? (int64_t)(d * 1000.0) : (int64_t)d;
}

/* Best effort: the first key whose value reads as a time. */
static int64_t loose_time(json_t *obj, const char *const *keys, const char **used)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(obj, *keys);
		int64_t ms = 0;
		if (json_is_string(v))
			(void)time_from_text(json_string_value(v), &ms);
		else if (json_is_integer(v))
			ms = time_from_number((double)json_integer_value(v));
		else if (json_is_real(v))
			ms = time_from_number(json_real_value(v));
		if (ms > 0) {
			*used = *keys;
			return ms;
		}
	}
	return 0;
}

/* Words first; then 1..5 as P1..P5 (1 most urgent), the usual numbering. */
static bool json_severity(json_t *root, enum severity *out, const char **used)
{
	static const char *const keys[] = { "severity", "level", "priority", NULL };
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(root, *k);
		if (severity_from_word(json_string_value(v), out)) {
			*used = *k;
			return true;
		}
		if (json_is_integer(v)) {
			static const enum severity by_num[] = { SEV_CRITICAL, SEV_HIGH, SEV_WARNING,
								SEV_INFO, SEV_INFO };
			json_int_t n = json_integer_value(v);
			if (n >= 1 && n <= 5) {
				*out = by_num[n - 1];
				*used = *k;
				return true;
			}
		}
	}
	return false;
}

static bool key_in(const char *key, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] && strcmp(key, set[i]) == 0)
			return true;
	return false;
}

static bool parse_generic(json_t *root, struct alert_list *out, char **why)
{
	if (!json_is_object(root))
		return fail(why, "json: record is not an object");
	json_t *labels = get_opt(root, "labels");
	if (labels && !json_is_object(labels))
		return fail(why, "json: labels is not an object");

	/* The keys whose value went into a field; every other scalar is
	 * copied into labels below. "labels" itself is always consumed. */
	const char *used[12] = { "labels" };
	size_t nused = 1;

	const char *name = first_str(root,
		(const char *const[]){ "name", "title", "alertname", NULL }, &used[nused]);
	if (name)
		nused++;
	const char *msg = first_str(root,
		(const char *const[]){ "message", "summary", "description", "text", NULL }, &used[nused]);
	if (msg)
		nused++;
	if (!name && !msg)
		return fail(why, "json: no name/title or message/summary");

	enum severity sev = SEV_WARNING;
	if (json_severity(root, &sev, &used[nused]))
		nused++;
	const char *svc = first_str(root,
		(const char *const[]){ "service", "app", "component", "host", NULL }, &used[nused]);
	if (svc)
		nused++;
	int64_t starts = loose_time(root,
		(const char *const[]){ "timestamp", "time", "startsAt", "starts_at", NULL }, &used[nused]);
	if (starts)
		nused++;
	int64_t ends = loose_time(root, (const char *const[]){ "endsAt", "ends_at", NULL }, &used[nused]);
	if (ends)
		nused++;
	const char *st = first_str(root, (const char *const[]){ "status", "state", NULL }, &used[nused]);
	if (st)
		nused++;

	/* A given identity, string or integer. */
	char *dedup = NULL;
	static const char *const id_keys[] = { "dedup_key", "fingerprint", "id", NULL };
	for (const char *const *k = id_keys; *k && !dedup; k++) {
		json_t *v = json_object_get(root, *k);
		if (json_is_string(v) && *json_string_value(v))
			dedup = xstrdup(json_string_value(v));
		else if (json_is_integer(v))
			dedup = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		if (dedup)
			used[nused++] = *k;
	}

	struct alert *a = alert_list_add(out);
	a->source = xstrdup("json");
	a->name = xstrdup(name ? name : msg);
	a->message = xstrdup(msg ? msg : name);
	a->service = xstrdup(svc ? svc : "");
	a->severity = sev;
	a->starts_at = starts;
	a->ends_at = ends;
	a->resolved = st && (strcasecmp(st, "resolved") == 0 || strcasecmp(st, "ok") == 0 ||
			     strcasecmp(st, "closed") == 0);
	a->labels = labels ? json_deep_copy(labels) : json_object();

	if (dedup) {
		a->dedup_key = dedup;
	} else {
		/* Identity is name, service and the explicit labels object only:
		 * copied top-level fields often vary per occurrence (a latency, a
		 * request id) and would make every occurrence new. */
		json_t *id = json_pack("[ssO]", a->name, a->service, labels ? labels : json_null());
		char *d = dump_sorted(id);
		json_decref(id);
		a->dedup_key = xasprintf("json:%s", d);
		free(d);
	}

	/* Scalars nobody consumed ({"firm": "f-1042"}) become labels, so
	 * masking, correlation and outreach can see them; labels given
	 * explicitly win over a top-level field of the same name. */
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (key_in(key, used, nused) || json_object_get(a->labels, key))
			continue;
		if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
			json_object_set_new(a->labels, key, json_deep_copy(v));
	}
	return true;
}

/* ---- detection and dispatch ----------------------------------------------- */

/* Fields only Grafana puts on a webhook alert item. */
static bool grafana_item(json_t *item)
{
	static const char *const keys[] = { "values", "valueString", "dashboardURL", "panelURL",
					    "silenceURL", NULL };
	for (const char *const *k = keys; *k; k++)
		if (json_object_get(item, *k))
			return true;
	return false;
}

/* An Alertmanager API v2 gettableAlert: labels plus status{state}. */
static bool am_api_item(json_t *item)
{
	json_t *status = json_object_get(item, "status");
	return json_is_object(json_object_get(item, "labels")) && json_is_object(status) &&
	       json_is_string(json_object_get(status, "state"));
}

enum format_id format_detect(json_t *root)
{
	if (json_is_array(root)) {
		/* An empty answer is a valid API answer. Only the first item is
		 * looked at: if a later one is bad, the parser names it, which
		 * says more than "unknown shape". */
		if (json_array_size(root) == 0)
			return FMT_AM_API;
		return am_api_item(json_array_get(root, 0)) ? FMT_AM_API : FMT_AUTO;
	}
	if (!json_is_object(root))
		return FMT_AUTO;

	if (json_is_string(json_object_get(root, "event_action")) &&
	    (json_object_get(root, "routing_key") || json_object_get(root, "payload") ||
	     json_object_get(root, "dedup_key")))
		return FMT_PAGERDUTY;

	json_t *alerts = json_object_get(root, "alerts");
	if (json_is_array(alerts) &&
	    (json_object_get(root, "receiver") || json_object_get(root, "groupKey"))) {
		/* Alertmanager never sends orgId; Grafana sends version "1". */
		const char *ver = json_string_value(json_object_get(root, "version"));
		if (json_object_get(root, "orgId") || (ver && strcmp(ver, "1") == 0))
			return FMT_GRAFANA;
		if (ver && strcmp(ver, "4") == 0)
			return FMT_AM_WEBHOOK;
		size_t i;
		json_t *item;
		json_array_foreach(alerts, i, item)
			if (grafana_item(item))
				return FMT_GRAFANA;
		return FMT_AM_WEBHOOK;
	}

	if (first_str(root, (const char *const[]){ "name", "title", "alertname", "message", "summary",
						   NULL }, NULL))
		return FMT_JSON;
	return FMT_AUTO;
}

bool format_parse_json(enum format_id f, json_t *root, struct alert_list *out, char **why)
{
	size_t mark = out->n;
	char *reason = NULL;
	bool ok;

	if (f == FMT_AUTO)
		f = format_detect(root);
	switch (f) {
	case FMT_AM_WEBHOOK:
	case FMT_GRAFANA:
		ok = parse_webhook(f, root, out, &reason);
		break;
	case FMT_AM_API:
		ok = parse_am_api(root, out, &reason);
		break;
	case FMT_PAGERDUTY:
		ok = parse_pagerduty(root, out, &reason);
		break;
	case FMT_JSON:
		ok = parse_generic(root, out, &reason);
		break;
	case FMT_AUTO:
		ok = fail(&reason, "json: not a shape sitrep knows (no alerts, event_action, "
				   "name/title or message/summary)");
		break;
	default:
		ok = fail(&reason, "%s: not a JSON format", format_name(f));
		break;
	}
	if (!ok) {
		while (out->n > mark)
			alert_clear(&out->v[--out->n]);
	}
	if (why)
		*why = reason;
	else
		free(reason);
	return ok;
}

/* ---- plain log lines ------------------------------------------------------ */

/*
 * The level is the first level word among the first LOG_LEVEL_TOKENS
 * tokens. Real prefixes put it within five or six ("2024-05-01 10:00:00,123
 * host app[42]: ERROR ..."; syslog "May  1 10:00:00 host sshd[9]: error:
 * ..."), and stopping there keeps a body such as "retry ok, no error" from
 * deciding. info/debug/notice count as level words too, so "INFO ...
 * error budget" stays info. "alert" is also an English word that starts
 * many messages, so it only counts when written ALERT or decorated
 * ([alert], alert:, level=alert).
 */
#define LOG_LEVEL_TOKENS 8

static const struct {
	const char *word;
	enum severity sev;
	bool strict; /* needs upper case or decoration */
} log_levels[] = {
	{ "fatal", SEV_CRITICAL, false },  { "crit", SEV_CRITICAL, false },
	{ "critical", SEV_CRITICAL, false }, { "panic", SEV_CRITICAL, false },
	{ "emerg", SEV_CRITICAL, false },  { "emergency", SEV_CRITICAL, false },
	{ "alert", SEV_CRITICAL, true },   { "error", SEV_HIGH, false },
	{ "err", SEV_HIGH, false },        { "severe", SEV_HIGH, false },
	{ "warn", SEV_WARNING, false },    { "warning", SEV_WARNING, false },
	{ "info", SEV_INFO, false },       { "notice", SEV_INFO, false },
	{ "debug", SEV_INFO, false },      { "trace", SEV_INFO, false },
};

static bool all_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)s[i]))
			return false;
	return true;
}

static bool log_word(const char *s, size_t n, bool decorated, enum severity *out)
{
	for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++) {
		const char *w = log_levels[i].word;
		if (strlen(w) != n || strncasecmp(s, w, n) != 0)
			continue;
		if (log_levels[i].strict && !decorated && !all_upper(s, n))
			return false;
		*out = log_levels[i].sev;
		return true;
	}
	return false;
}

/* strchr would also match the terminator, and a line may hold NUL bytes. */
static bool in_set(char c, const char *set)
{
	return c && strchr(set, c);
}

/* One whitespace-separated token: strip brackets and trailing
 * punctuation, read logfmt "level=x", and Monolog's "app.ERROR". */
static bool log_token(const char *s, size_t n, enum severity *out)
{
	static const char open[] = "[(<{\"'";
	static const char close[] = "])>}:,;\"'|";
	bool decorated = false;
	while (n && in_set(s[0], open)) {
		s++, n--;
		decorated = true;
	}
	/* A full stop ends sentences, so it strips without decorating. */
	while (n && (in_set(s[n - 1], close) || s[n - 1] == '.')) {
		decorated |= s[n - 1] != '.';
		n--;
	}
	const char *eq = memchr(s, '=', n);
	if (eq) {
		size_t klen = (size_t)(eq - s);
		static const char *const keys[] = { "level", "lvl", "severity", "loglevel", NULL };
		for (const char *const *k = keys; *k; k++) {
			if (strlen(*k) == klen && strncasecmp(s, *k, klen) == 0) {
				const char *v = eq + 1;
				size_t vn = n - klen - 1;
				while (vn && in_set(v[0], open))
					v++, vn--;
				while (vn && in_set(v[vn - 1], close))
					vn--;
				return log_word(v, vn, true, out);
			}
		}
		return false;
	}
	if (log_word(s, n, decorated, out))
		return true;
	if (n && memchr(s, '.', n)) {
		const char *last = s + n;
		while (last > s && last[-1] != '.')
			last--;
		return log_word(last, (size_t)(s + n - last), decorated, out);
	}
	return false;
}

/* Syslog's "<PRI>" prefix, when there, is the most reliable level. */
static bool log_syslog_pri(const char *s, size_t n, enum severity *out)
{
	size_t i = 1;
	int pri = 0;
	if (n < 3 || s[0] != '<')
		return false;
	while (i < n && i < 4 && isdigit((unsigned char)s[i]))
		pri = pri * 10 + (s[i++] - '0');
	if (i == 1 || i >= n || s[i] != '>')
		return false;
	static const enum severity by_level[8] = { SEV_CRITICAL, SEV_CRITICAL, SEV_CRITICAL, SEV_HIGH,
						   SEV_WARNING,  SEV_INFO,     SEV_INFO,     SEV_INFO };
	*out = by_level[pri % 8];
	return true;
}

static enum severity log_severity(const char *s, size_t n)
{
	enum severity sev = SEV_INFO;
	if (log_syslog_pri(s, n, &sev))
		return sev;
	size_t i = 0;
	for (int tok = 0; tok < LOG_LEVEL_TOKENS && i < n; tok++) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		size_t start = i;
		while (i < n && !isspace((unsigned char)s[i]))
			i++;
		if (i > start && log_token(s + start, i - start, &sev))
			return sev;
	}
	return SEV_INFO;
}

void format_parse_log(const char *line, size_t len, const char *service, struct alert *out)
{
	if (!line)
		len = 0;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	*out = (struct alert){
		.source = xstrdup("log"),
		.name = xstrdup("log"),
		.service = xstrdup(service ? service : ""),
		.message = len ? xstrndup(line, len) : xstrdup(""),
		.labels = json_object(),
		.severity = log_severity(line, len),
	};
}

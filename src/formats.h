/*
 * formats.h — format adapters: bytes of one input record → alerts.
 *
 * A record is one JSON document, one NDJSON line or one log line. JSON
 * records are parsed once by the caller (ingest.c, which also enforces the
 * size, depth and UTF-8 limits) and handed here as a jansson value.
 */
#ifndef SITREP_FORMATS_H
#define SITREP_FORMATS_H

#include <jansson.h>

#include "alert.h"

#define FORMAT_LIST(_)                                                             \
	_(AUTO, "auto", "detect from the content")                                 \
	_(AM_WEBHOOK, "alertmanager", "Alertmanager webhook payload (version 4)")  \
	_(AM_API, "alertmanager-api", "Alertmanager API v2 alerts (GET /api/v2/alerts)") \
	_(PAGERDUTY, "pagerduty", "PagerDuty Events API v2 event")                 \
	_(GRAFANA, "grafana", "Grafana unified-alerting webhook")                  \
	_(JSON, "json", "generic JSON object or NDJSON stream")                    \
	_(LOG, "log", "plain log lines")

enum format_id {
#define FMT_ENUM(id, name, help) FMT_##id,
	FORMAT_LIST(FMT_ENUM)
#undef FMT_ENUM
	FMT_COUNT
};

const char *format_name(enum format_id f);
const char *format_help(enum format_id f);
bool format_from_name(const char *name, enum format_id *out);

/* The shape of a parsed JSON record: one of the JSON formats, or FMT_AUTO
 * when it is of no shape sitrep knows (the caller rejects it). A plain JSON
 * object with at least a name/title or message/summary is FMT_JSON. */
enum format_id format_detect(json_t *root);

/* Turn a JSON record of format f into alerts appended to out. On failure
 * returns false, appends nothing, and sets *why (malloc'd) to a reason
 * naming the offending field. */
bool format_parse_json(enum format_id f, json_t *root, struct alert_list *out, char **why);

/* One plain log line → one alert (name "log", severity from a level word
 * in the line, the whole line as message). service may be NULL. */
void format_parse_log(const char *line, size_t len, const char *service, struct alert *out);

#endif

/*
 * alert.h — one alert occurrence as every format adapter produces it.
 *
 * Strings are owned (malloc'd) by the alert; labels is an owned jansson
 * object holding the labels exactly as they came (firm, user, instance…).
 */
#ifndef SITREP_ALERT_H
#define SITREP_ALERT_H

#include <jansson.h>

#include "util.h"

/* One scale for every source, lowest first. */
#define SEVERITY_LIST(_)     \
	_(INFO, "info")      \
	_(WARNING, "warning") \
	_(HIGH, "high")      \
	_(CRITICAL, "critical")

enum severity {
#define SEV_ENUM(id, name) SEV_##id,
	SEVERITY_LIST(SEV_ENUM)
#undef SEV_ENUM
};

const char *severity_name(enum severity s);
/* Map a source's word (critical, crit, P1, error, warn, sev2, …) onto the
 * scale. Unknown words return false and leave *out alone. */
bool severity_from_word(const char *word, enum severity *out);

struct alert {
	char *source;    /* format name: alertmanager, pagerduty, … */
	char *dedup_key; /* NULL: no identity across occurrences */
	bool resolved;
	/* PagerDuty acknowledge/resolve: changes the status of the alert with
	 * this dedup_key and carries no content (name and message are NULL). */
	bool status_only;
	bool silenced, inhibited;
	enum severity severity;
	char *name;
	char *service;   /* "" when unknown */
	char *message;
	json_t *labels;  /* object, never NULL once produced */
	int64_t starts_at, ends_at; /* ms since epoch; 0 unknown */
};

struct alert_list {
	struct alert *v;
	size_t n, cap;
};

/* Append a zeroed alert and return it. */
struct alert *alert_list_add(struct alert_list *l);
void alert_clear(struct alert *a);
void alert_list_clear(struct alert_list *l);

#endif

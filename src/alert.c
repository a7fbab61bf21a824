/* alert.c — see alert.h. */
#include "config.h"
#include "alert.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const severity_names[] = {
#define SEV_NAME(id, name) name,
	SEVERITY_LIST(SEV_NAME)
#undef SEV_NAME
};

const char *severity_name(enum severity s)
{
	return severity_names[s];
}

bool severity_from_word(const char *word, enum severity *out)
{
	static const struct {
		const char *word;
		enum severity sev;
	} map[] = {
		{ "critical", SEV_CRITICAL }, { "crit", SEV_CRITICAL },   { "fatal", SEV_CRITICAL },
		{ "emergency", SEV_CRITICAL }, { "emerg", SEV_CRITICAL },  { "alert", SEV_CRITICAL },
		{ "disaster", SEV_CRITICAL }, { "page", SEV_CRITICAL },    { "p1", SEV_CRITICAL },
		{ "sev1", SEV_CRITICAL },     { "sev-1", SEV_CRITICAL },   { "panic", SEV_CRITICAL },
		{ "high", SEV_HIGH },         { "error", SEV_HIGH },       { "err", SEV_HIGH },
		{ "major", SEV_HIGH },        { "severe", SEV_HIGH },      { "p2", SEV_HIGH },
		{ "sev2", SEV_HIGH },         { "sev-2", SEV_HIGH },
		{ "warning", SEV_WARNING },   { "warn", SEV_WARNING },     { "medium", SEV_WARNING },
		{ "average", SEV_WARNING },   { "minor", SEV_WARNING },    { "p3", SEV_WARNING },
		{ "sev3", SEV_WARNING },      { "sev-3", SEV_WARNING },
		{ "info", SEV_INFO },         { "informational", SEV_INFO }, { "information", SEV_INFO },
		{ "notice", SEV_INFO },       { "low", SEV_INFO },         { "debug", SEV_INFO },
		{ "trace", SEV_INFO },        { "ok", SEV_INFO },          { "none", SEV_INFO },
		{ "p4", SEV_INFO },           { "p5", SEV_INFO },          { "sev4", SEV_INFO },
		{ "sev-4", SEV_INFO },
	};
	if (!word)
		return false;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcasecmp(word, map[i].word) == 0) {
			*out = map[i].sev;
			return true;
		}
	}
	return false;
}

struct alert *alert_list_add(struct alert_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof l->v[0]);
	}
	struct alert *a = &l->v[l->n++];
	memset(a, 0, sizeof *a);
	return a;
}

void alert_clear(struct alert *a)
{
	free(a->source);
	free(a->dedup_key);
	free(a->name);
	free(a->service);
	free(a->message);
	json_decref(a->labels);
	memset(a, 0, sizeof *a);
}

void alert_list_clear(struct alert_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		alert_clear(&l->v[i]);
	l->n = 0;
}

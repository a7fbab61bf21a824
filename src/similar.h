/*
 * similar.h — past incidents most likely to share a cause with an incident
 * or with a text ("we have seen this before, and this is what fixed it").
 *
 * Candidates are resolved incidents (native and imported), never the
 * incident asked about or one merged with it. They are ranked by:
 *
 *   recurrence  clusters in common (current or past membership, merges
 *               followed), then cluster templates in common: a recurrence
 *               ranks above everything that only shares words;
 *   text        BM25 over title, summary, details, services, root cause,
 *               action taken and the names and templates of its clusters;
 *   services    services in common (incident queries);
 *   labels      identifying label values in common (firm, user, product…),
 *               or named in the text;
 *   identifiers multi-part identifiers of the text (f-1042, us-east-1,
 *               vm-3f2a) found verbatim (FTS5 phrase match).
 *
 * Scores: 10 and above share clusters, 5 to 10 share templates, below 5
 * the rest (text is scaled so that the best text match is 1).
 */
#ifndef SITREP_SIMILAR_H
#define SITREP_SIMILAR_H

#include "store.h"

#define SIMILAR_DEFAULT_LIMIT 5

/* Why a hit was found (bits of similar_hit.reasons). */
#define SIMILAR_REASONS(_)                              \
	_(CLUSTER, "cluster", "shares a cluster")       \
	_(TEMPLATE, "template", "shares a template")    \
	_(TEXT, "text", "words in common")              \
	_(SERVICE, "service", "services in common")     \
	_(LABEL, "label", "identifying labels in common") \
	_(IDENT, "identifier", "identifiers in common")

enum similar_reason_bit {
#define SIMILAR_BIT(name, word, text) SIMILAR_BIT_##name,
	SIMILAR_REASONS(SIMILAR_BIT)
#undef SIMILAR_BIT
};
enum similar_reason {
#define SIMILAR_FLAG(name, word, text) SIMILAR_##name = 1u << SIMILAR_BIT_##name,
	SIMILAR_REASONS(SIMILAR_FLAG)
#undef SIMILAR_FLAG
};
/* The word for one reason bit ("cluster", "text", …). */
const char *similar_reason_word(unsigned bit);

struct similar_opts {
	size_t limit;              /* 0: SIMILAR_DEFAULT_LIMIT */
	const int64_t *exclude;    /* incident ids never returned */
	size_t nexclude;
	char *const *label_keys;   /* identifying label keys looked up from a text */
	size_t nlabel_keys;        /* (correlate.labels); 0: none */
};

struct similar_hit {
	int64_t id;
	char *external_id; /* the imported id; NULL for native incidents */
	double score;
	unsigned reasons;  /* SIMILAR_* bits */
	char *title;
	char *root_cause;  /* NULL when none was recorded */
	char *mitigation;  /* action taken; NULL when none */
	bool has_resolved_at;
	int64_t resolved_at;
};

struct similar_list {
	struct similar_hit *v;
	size_t n;
};

/* Past incidents like incident id, best first. STATUS_NOT_FOUND when there
 * is no such incident. On failure *err says why (malloc'd). */
enum status similar_to_incident(struct store *st, int64_t id, const struct similar_opts *o,
				struct similar_list *out, char **err);
/* Past incidents like a free text (a customer report, an alert message). The
 * text is only tokenized, never interpreted as a query language. */
enum status similar_to_text(struct store *st, const char *text, const struct similar_opts *o,
			    struct similar_list *out, char **err);
void similar_list_clear(struct similar_list *l);

/* Incidents queued for the index (changed since it was last refreshed). */
int64_t similar_pending(struct store *st);
/* Fold the queued incidents into the index: one by one when they are few,
 * else (or when rebuild) by rebuilding it, which also prunes it. Runs in the
 * caller's transaction when one is open, else in its own. Queries stay
 * correct without it (up to 512 queued incidents are scored directly), only
 * slower. A rebuild holds the write lock while it reads the whole history:
 * about a second per 3,000 incidents. */
enum status similar_refresh(struct store *st, bool rebuild, char **err);

#endif

/*
 * miner.h — online template mining: messages that share a structure join one
 * cluster whose template keeps the constant tokens and shows <*> (or a typed
 * placeholder such as <num> when every member agrees) for the variables.
 *
 * Streaming and deterministic: the same messages in the same order give the
 * same ids and templates. Cluster ids are handed out in creation order and
 * never reused. Two messages with different identities (name, service)
 * never share a cluster.
 *
 * Memory is bounded by a cap on live templates; the least recently seen one
 * is evicted. Persistence is the caller's: the event hook reports every new,
 * changed, merged and evicted template with what is needed to restore it
 * (struct miner_template), and the loader hook is asked for the stored
 * templates of a bucket (identity + token count) whenever the miner touches
 * that bucket for the first time or finds no match in a bucket that lost
 * templates to eviction. The caller answers with miner_restore().
 */
#ifndef SITREP_MINER_H
#define SITREP_MINER_H

#include "mask.h"
#include "util.h"

struct miner;

struct miner_config {
	size_t max_templates; /* live template cap; 0: MINER_DEFAULT_MAX_TEMPLATES */
	uint64_t first_id;    /* first id to hand out; 0: 1 (use max stored id + 1) */
};
#define MINER_DEFAULT_MAX_TEMPLATES 50000

/* Everything a store needs to keep a template and give it back. */
struct miner_template {
	uint64_t id;
	uint64_t bucket;       /* miner_bucket_key(name, service, ntokens) */
	const char *name;      /* identity, "" when absent */
	const char *service;
	const char *text;      /* the template as shown, <*> for variables */
	const char *kinds;     /* one letter per token (see below) */
	size_t ntokens;
	uint64_t count;        /* messages seen (informational) */
};
/*
 * kinds: 'w' word, 'p' punctuation, 't' typed placeholder (<num>...),
 * 'n' variable seen only as numbers/placeholders, '*' any variable. Tokens
 * are what miner_add splits a message into: runs of characters between
 * white space and the punctuation = , ; : ( ) [ ] { } " ' | (each of which
 * is a token of its own); text re-splits into exactly `ntokens` tokens.
 */

enum miner_event_kind {
	MINER_EV_NEW,     /* a cluster was created */
	MINER_EV_CHANGED, /* its template generalised (same id) */
	MINER_EV_MERGED,  /* `merged_from` was folded into tmpl->id and is gone */
	MINER_EV_EVICTED, /* dropped from memory; store it to restore it later */
};

struct miner_event {
	enum miner_event_kind kind;
	const struct miner_template *tmpl; /* valid during the callback only */
	uint64_t merged_from;              /* MINER_EV_MERGED: the loser's id */
};

typedef void (*miner_event_fn)(void *ctx, const struct miner_event *ev);
/* Call miner_restore() for every stored (not live) template of `bucket`. */
typedef void (*miner_loader_fn)(void *ctx, struct miner *m, uint64_t bucket);

struct miner_result {
	uint64_t id;
	const char *template_text; /* valid until the next call on this miner */
	size_t template_len;
	bool is_new;      /* this message created the cluster */
	bool changed;     /* this message generalised the template */
	size_t nmerged;   /* clusters merged into `id` during this call */
	const uint64_t *merged_from;
};

/* One token of the last message, for `sitrep show`. */
struct miner_token {
	uint32_t start, end; /* byte offsets into the original message */
	int32_t rule;        /* mask rule that replaced (part of) it, or -1 */
	bool wildcard;       /* the template has a variable at this position */
};

struct miner *miner_new(const struct mask_rules *rules, const struct miner_config *cfg);
void miner_free(struct miner **m);
void miner_set_hooks(struct miner *m, miner_event_fn on_event, miner_loader_fn loader, void *ctx);

/* Mask, tokenise and cluster one message. name/service may be NULL. */
void miner_add(struct miner *m, const char *name, const char *service, const char *text,
	       size_t len, struct miner_result *out);

/* Re-insert a stored template (start-up, or from the loader). A template
 * whose id is live is ignored. Returns STATUS_BAD_INPUT when t is
 * inconsistent (token count or bucket disagree with the text). */
enum status miner_restore(struct miner *m, const struct miner_template *t);

uint64_t miner_bucket_key(const char *name, const char *service, size_t ntokens);

/* The tokens of the last miner_add, in order. */
size_t miner_explain(struct miner *m, const struct miner_token **tokens);

size_t miner_live_count(const struct miner *m);
uint64_t miner_next_id(const struct miner *m);
/* The masker the miner uses (its spans describe the last message). */
const struct masker *miner_masker(const struct miner *m);

#endif

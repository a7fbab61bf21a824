/*
 * mask.h — replace the variable parts of a message with typed placeholders.
 *
 * Rules are pcre2 patterns compiled with JIT. The built-in set is
 * data/mask.rules, compiled into the binary; a user file adds, replaces or
 * disables rules by name (syntax in mask.c and sitrep(1)).
 *
 * Each rule scans the original text on its own; a match claims its bytes,
 * and a later rule's match that overlaps a claimed byte is dropped. So rule
 * order is priority order, and no rule ever sees another rule's placeholder.
 */
#ifndef SITREP_MASK_H
#define SITREP_MASK_H

#include "util.h"

struct mask_rules;
struct masker;

struct mask_span {
	uint32_t start, end; /* byte offsets into the original text */
	uint32_t rule;       /* index into the rule set */
};

/* Compile the built-in rules, then apply user_file (NULL or missing: none;
 * a missing file named explicitly is an error). On error *err says where. */
enum status mask_rules_load(struct mask_rules **out, const char *user_file, bool user_file_required,
			    char **err);
/* Compile rules from text only (tests, `sitrep mask --rules`). */
enum status mask_rules_from_text(struct mask_rules **out, const char *text, const char *origin,
				 char **err);
void mask_rules_free(struct mask_rules **rules);
size_t mask_rules_count(const struct mask_rules *rules);
const char *mask_rule_name(const struct mask_rules *rules, size_t i);
const char *mask_rule_placeholder(const struct mask_rules *rules, size_t i);

/* A masker holds per-thread scratch space; one per thread. */
struct masker *masker_new(const struct mask_rules *rules);
void masker_free(struct masker **m);

/* Mask [text, text+len). The result is NUL-terminated and stays valid until
 * the next call on the same masker. */
const char *mask_apply(struct masker *m, const char *text, size_t len, size_t *out_len);
/* The spans of the last mask_apply, sorted by start. */
size_t mask_last_spans(const struct masker *m, const struct mask_span **spans);

/* Stable 64-bit fingerprint of an alert's identity and masked message, as
 * 16 lowercase hex digits in out[17]. */
void fingerprint_hex(const char *name, const char *service, const char *masked, size_t masked_len,
		     char out[17]);

#endif

/*
 * mask.c — masking rules.
 *
 * Rule file syntax, one rule a line:
 *
 *     # comment
 *     NAME  PLACEHOLDER  PATTERN
 *     disable NAME
 *
 * NAME is [a-z0-9_-]+, PLACEHOLDER is the text put in place of a match
 * (conventionally <type>), PATTERN is the rest of the line, a pcre2 pattern.
 * In a user file, a NAME that exists replaces that rule in place, a new
 * NAME is tried before every built-in rule (the user knows their logs
 * better), and `disable NAME` removes a rule.
 *
 * Why one regex per rule and not one big alternation: pcre2 can then use
 * each pattern's own start-of-match and required-character optimisations.
 * Measured on the loghub samples, separate passes were twice as fast as an
 * alternation of the same rules.
 */
#include "config.h"
#include "mask.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <xxhash.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include "builtin_data.h"

struct mask_rule {
	char *name;
	char *placeholder;
	size_t placeholder_len;
	char *pattern;
	pcre2_code *code;
	/*
	 * Necessary conditions from pcre2_pattern_info, checked against the
	 * bytes present in a line before running the rule at all: some byte
	 * of `first` must be present (when has_first), and the required byte
	 * (either case when req_caseless) must be present (when has_req).
	 */
	uint64_t first[4];
	bool has_first;
	bool has_req;
	uint8_t req, req_other;
	/* the same conditions over byte classes (see rules_classify) */
	uint64_t first_mask, req_mask;
	uint32_t min_len;  /* pcre2's minimum match length */
	bool within_word; /* no match can hold white space (see may_match_space) */
	bool jit;         /* JIT-compiled: call pcre2_jit_match directly */
	/*
	 * Where a match can start, from pattern_analyse: per byte, the
	 * START_* bits below, and per byte one bit for each required set it
	 * belongs to (every match holds a byte of each set). Used only when
	 * has_scan (the pattern was understood and min_len > 0).
	 */
	bool has_scan;
	bool word_boundary; /* the pattern starts with \b */
	bool first_space;   /* a match can start with white space */
	uint8_t nreq;       /* required sets */
	uint8_t nreq_all;   /* all required-set bits */
	uint64_t reqset[8][4];   /* the required sets */
	uint64_t req_class[8];   /* the same as byte classes (see rules_classify) */
	uint8_t stab[256];
	uint8_t rbits[256];
};

/* stab bits */
enum {
	START_FIRST = 1, /* a match can start with this byte (pcre2's first-code info) */
	START_ALPHA = 2, /* a match can hold this byte */
	START_NOPREV = 4, /* the byte before a match cannot be this one */
	START_WORD = 8,  /* \w, for the \b test */
};

struct mask_rules {
	struct mask_rule *v;
	size_t n, cap;
	uint32_t max_capture; /* largest ovector any rule needs */
	uint64_t byte_class[256]; /* one bit per class of bytes the prefilters tell apart */
};

/* A run of non-space bytes of the line being masked. */
struct word {
	uint32_t start, end;
	uint32_t unclaimed; /* bytes no rule has claimed yet */
	uint64_t classes;   /* byte classes present */
	uint64_t suffix;    /* byte classes present in this word and every later one */
};

struct masker {
	const struct mask_rules *rules;
	pcre2_match_data *md;
	struct mask_span *spans;
	size_t nspans, capspans;
	unsigned char *claimed;
	size_t capclaimed;
	struct word *words;
	size_t capwords;
	struct buf out;
};

static void rule_clear(struct mask_rule *r)
{
	xfree(&r->name);
	xfree(&r->placeholder);
	xfree(&r->pattern);
	pcre2_code_free(r->code);
	r->code = NULL;
}

void mask_rules_free(struct mask_rules **rules)
{
	if (!*rules)
		return;
	for (size_t i = 0; i < (*rules)->n; i++)
		rule_clear(&(*rules)->v[i]);
	free((*rules)->v);
	xfree(rules);
}

size_t mask_rules_count(const struct mask_rules *rules)
{
	return rules->n;
}

const char *mask_rule_name(const struct mask_rules *rules, size_t i)
{
	return rules->v[i].name;
}

const char *mask_rule_placeholder(const struct mask_rules *rules, size_t i)
{
	return rules->v[i].placeholder;
}

static void set_byte(uint64_t set[4], unsigned b)
{
	set[b >> 6] |= (uint64_t)1 << (b & 63);
}

static bool other_case(unsigned b, uint8_t *out)
{
	if (b >= 'a' && b <= 'z')
		*out = (uint8_t)(b - 32);
	else if (b >= 'A' && b <= 'Z')
		*out = (uint8_t)(b + 32);
	else
		return false;
	return true;
}

/* What pcre2 knows every match must start with or contain. */
static void rule_prefilter(struct mask_rule *r)
{
	uint32_t type = 0, unit = 0, flags = 0;
	memset(r->first, 0, sizeof r->first);
	r->has_first = false;
	if (pcre2_pattern_info(r->code, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 && type == 1 &&
	    pcre2_pattern_info(r->code, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 && unit < 256) {
		set_byte(r->first, unit);
		uint8_t o;
		/* FIRSTCODEUNIT has no caseless flag: allow the other case */
		if (other_case(unit, &o))
			set_byte(r->first, o);
		r->has_first = true;
	} else {
		const uint8_t *bm = NULL;
		if (pcre2_pattern_info(r->code, PCRE2_INFO_FIRSTBITMAP, &bm) == 0 && bm) {
			for (unsigned b = 0; b < 256; b++)
				if (bm[b >> 3] & (1u << (b & 7)))
					set_byte(r->first, b);
			r->has_first = true;
		}
	}
	r->has_req = false;
	if (pcre2_pattern_info(r->code, PCRE2_INFO_LASTCODETYPE, &type) == 0 && type == 1 &&
	    pcre2_pattern_info(r->code, PCRE2_INFO_LASTCODEUNIT, &unit) == 0 && unit < 256 &&
	    pcre2_pattern_info(r->code, PCRE2_INFO_ALLOPTIONS, &flags) == 0) {
		r->has_req = true;
		r->req = (uint8_t)unit;
		r->req_other = (uint8_t)unit;
		/* be safe about case: accept either case of a letter */
		other_case(unit, &r->req_other);
	}
}

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Can the pattern match (or look at, through an anchor) a white-space
 * byte? Conservative: anything not understood says yes. A rule that
 * cannot is run word by word (see mask_apply), which finds exactly the
 * matches a scan of the whole line finds.
 */
static bool may_match_space(const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\') {
			p++;
			if (!*p)
				return true;
			/* \d \w \S \b \B and escaped punctuation cannot */
			if (strchr("dwSbB", *p))
				continue;
			if (ispunct((unsigned char)*p) && *p != '#')
				continue;
			return true;
		}
		if (c == '[') {
			bool neg = p[1] == '^', excl_space = false;
			const char *q = p + 1 + neg;
			if (*q == ']')
				q++; /* a leading ] is literal */
			for (; *q && *q != ']'; q++) {
				if (q[0] == '[' && q[1] == ':')
					return true;
				if (*q == '\\') {
					q++;
					if (!*q)
						return true;
					if (*q == 's') {
						if (!neg)
							return true;
						excl_space = true;
					} else if (!strchr("dwS", *q) && !ispunct((unsigned char)*q)) {
						return true;
					}
					continue;
				}
				if (is_ws((unsigned char)*q))
					return true;
				/* a range over the white space bytes */
				if (q[1] == '-' && q[2] && q[2] != ']') {
					if (q[2] == '\\')
						return true;
					if ((unsigned char)*q <= ' ' && (unsigned char)q[2] >= '\t')
						return true;
					q += 2;
				}
			}
			if (!*q || (neg && !excl_space))
				return true;
			p = q;
			continue;
		}
		if (c == '(' && p[1] == '?') {
			/* lookarounds and groups are fine; option settings are not */
			char k = p[2];
			if (k == ':' || k == '=' || k == '!')
				continue;
			if (k == '<' && (p[3] == '=' || p[3] == '!'))
				continue;
			return true;
		}
		if (c == '.' || c == '^' || c == '$' || is_ws(c) || c >= 0x80)
			return true;
	}
	return false;
}

/*
 * Pattern analysis for the scan prefilter. A small recursive reader of the
 * pcre2 syntax the rules use works out, conservatively:
 *   - the alphabet: every byte some consuming item can match (lookaround
 *     contents excluded), so every match is a run of alphabet bytes;
 *   - required sets: every match holds at least one byte of each;
 *   - what the byte before a match may not be: leading negative
 *     lookbehinds of one byte and a leading \b, common to every top-level
 *     branch.
 * Anything it does not understand (options, backreferences, Unicode
 * properties, POSIX classes...) marks the pattern as not understood, and
 * the rule runs without this prefilter.
 */
#define MAX_REQ 8

struct byteset {
	uint64_t b[4];
};

struct pinfo {
	struct byteset alpha;
	struct byteset req[MAX_REQ];
	size_t nreq;
	bool single;        /* exactly one unquantified item matching one byte */
	struct byteset set; /* that item's bytes */
};

struct lead {
	struct byteset noprev; /* the byte before a match is none of these */
	bool wb;               /* \b at the start */
};

struct preader {
	const char *p;
	bool bad;
};

enum item_kind { ITEM_CONSUME, ITEM_WORDB, ITEM_NEGLB, ITEM_ZERO };

static void bs_add(struct byteset *s, unsigned c)
{
	s->b[c >> 6] |= (uint64_t)1 << (c & 63);
}

static bool bs_has(const struct byteset *s, unsigned c)
{
	return (s->b[c >> 6] >> (c & 63)) & 1;
}

static void bs_or(struct byteset *d, const struct byteset *s)
{
	for (int i = 0; i < 4; i++)
		d->b[i] |= s->b[i];
}

static void bs_and(struct byteset *d, const struct byteset *s)
{
	for (int i = 0; i < 4; i++)
		d->b[i] &= s->b[i];
}

static void bs_not(struct byteset *s)
{
	for (int i = 0; i < 4; i++)
		s->b[i] = ~s->b[i];
}

static void bs_range(struct byteset *s, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi; c++)
		bs_add(s, c);
}

static unsigned bs_count(const struct byteset *s)
{
	unsigned n = 0;
	for (int i = 0; i < 4; i++)
		n += (unsigned)__builtin_popcountll(s->b[i]);
	return n;
}

static bool bs_eq(const struct byteset *a, const struct byteset *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

static void word_set(struct byteset *s)
{
	bs_range(s, '0', '9');
	bs_range(s, 'A', 'Z');
	bs_range(s, 'a', 'z');
	bs_add(s, '_');
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * An escape after the backslash at r->p (which points past it). Class
 * escapes fill *set and return 2; a literal fills *lit and returns 1; an
 * assertion returns 3 (\b: *lit = 'b'); anything else marks r bad.
 */
static int read_escape(struct preader *r, struct byteset *set, unsigned *lit, bool in_class)
{
	char c = *r->p;
	memset(set, 0, sizeof *set);
	if (c == '\0') {
		r->bad = true;
		return 0;
	}
	r->p++;
	switch (c) {
	case 'd':
	case 'D':
		bs_range(set, '0', '9');
		if (c == 'D')
			bs_not(set);
		return 2;
	case 'w':
	case 'W':
		word_set(set);
		if (c == 'W')
			bs_not(set);
		return 2;
	case 's':
	case 'S':
		bs_range(set, 9, 13);
		bs_add(set, ' ');
		if (c == 'S')
			bs_not(set);
		return 2;
	case 'n': *lit = '\n'; return 1;
	case 't': *lit = '\t'; return 1;
	case 'r': *lit = '\r'; return 1;
	case 'f': *lit = '\f'; return 1;
	case 'e': *lit = 27; return 1;
	case 'a': *lit = 7; return 1;
	case 'x': {
		int h = hexval(r->p[0]), l = h >= 0 ? hexval(r->p[1]) : -1;
		if (h < 0 || l < 0)
			break;
		r->p += 2;
		*lit = (unsigned)(h * 16 + l);
		return 1;
	}
	case 'b':
		if (in_class) {
			*lit = 8;
			return 1;
		}
		*lit = 'b';
		return 3;
	case 'B':
	case 'A':
	case 'z':
	case 'Z':
	case 'G':
		if (in_class)
			break;
		*lit = (unsigned char)c;
		return 3;
	default:
		if (c && !isalnum((unsigned char)c) && (unsigned char)c < 0x80) {
			*lit = (unsigned char)c;
			return 1;
		}
		break;
	}
	r->bad = true;
	return 0;
}

static void read_class(struct preader *r, struct byteset *set)
{
	memset(set, 0, sizeof *set);
	bool neg = *r->p == '^';
	if (neg)
		r->p++;
	if (*r->p == ']') {
		bs_add(set, ']');
		r->p++;
	}
	while (*r->p && *r->p != ']' && !r->bad) {
		unsigned lo;
		if (r->p[0] == '[' && r->p[1] == ':') {
			r->bad = true;
			return;
		}
		if (*r->p == '\\') {
			struct byteset es;
			r->p++;
			int k = read_escape(r, &es, &lo, true);
			if (k == 2) {
				bs_or(set, &es);
				if (r->p[0] == '-' && r->p[1] != ']')
					r->bad = true;
				continue;
			}
			if (k != 1) {
				r->bad = true;
				return;
			}
		} else {
			lo = (unsigned char)*r->p++;
		}
		if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
			unsigned hi;
			r->p++;
			if (*r->p == '\\') {
				struct byteset es;
				r->p++;
				if (read_escape(r, &es, &hi, true) != 1) {
					r->bad = true;
					return;
				}
			} else {
				hi = (unsigned char)*r->p++;
			}
			if (hi < lo) {
				r->bad = true;
				return;
			}
			bs_range(set, lo, hi);
		} else {
			bs_add(set, lo);
		}
	}
	if (*r->p != ']') {
		r->bad = true;
		return;
	}
	r->p++;
	if (neg)
		bs_not(set);
}

/* A quantifier after an item, if any: its minimum count in *min. */
static bool read_quantifier(struct preader *r, unsigned *min)
{
	char c = *r->p;
	if (c == '*' || c == '?' || c == '+') {
		*min = c == '+';
		r->p++;
	} else if (c == '{' && isdigit((unsigned char)r->p[1])) {
		const char *q = r->p + 1;
		unsigned n = 0;
		while (isdigit((unsigned char)*q))
			n = n * 10 + (unsigned)(*q++ - '0');
		if (*q == ',') {
			q++;
			while (isdigit((unsigned char)*q))
				q++;
		}
		if (*q != '}')
			return false; /* not a quantifier: a literal { follows */
		r->p = q + 1;
		*min = n;
	} else {
		return false;
	}
	if (*r->p == '+' || *r->p == '?') /* possessive or lazy */
		r->p++;
	return true;
}

static void add_req(struct pinfo *x, const struct byteset *s)
{
	for (size_t i = 0; i < x->nreq; i++)
		if (bs_eq(&x->req[i], s))
			return;
	if (x->nreq < MAX_REQ) {
		x->req[x->nreq++] = *s;
		return;
	}
	/* keep the most selective sets */
	size_t worst = 0;
	for (size_t i = 1; i < x->nreq; i++)
		if (bs_count(&x->req[i]) > bs_count(&x->req[worst]))
			worst = i;
	if (bs_count(s) < bs_count(&x->req[worst]))
		x->req[worst] = *s;
}

static void read_alt(struct preader *r, struct pinfo *out, struct lead *lead);

static enum item_kind read_item(struct preader *r, struct pinfo *a)
{
	memset(a, 0, sizeof *a);
	char c = *r->p;
	if (c == '(') {
		bool look = false, behind_neg = false;
		if (r->p[1] == '?') {
			char k = r->p[2];
			if (k == ':' || k == '>') {
				r->p += 3;
			} else if (k == '=' || k == '!') {
				look = true;
				r->p += 3;
			} else if (k == '<' && (r->p[3] == '=' || r->p[3] == '!')) {
				look = true;
				behind_neg = r->p[3] == '!';
				r->p += 4;
			} else {
				r->bad = true;
				return ITEM_ZERO;
			}
		} else {
			r->p++;
		}
		struct pinfo in;
		read_alt(r, &in, NULL);
		if (r->bad || *r->p != ')') {
			r->bad = true;
			return ITEM_ZERO;
		}
		r->p++;
		if (look) {
			a->set = in.set;
			return behind_neg && in.single ? ITEM_NEGLB : ITEM_ZERO;
		}
		*a = in;
		return ITEM_CONSUME;
	}
	struct byteset set = { { 0 } };
	unsigned lit = 0;
	if (c == '[') {
		r->p++;
		read_class(r, &set);
	} else if (c == '\\') {
		r->p++;
		int k = read_escape(r, &set, &lit, false);
		if (k == 3)
			return lit == 'b' ? ITEM_WORDB : ITEM_ZERO;
		if (k == 1)
			bs_add(&set, lit);
	} else if (c == '.') {
		r->p++;
		bs_not(&set);
	} else if (c == '^' || c == '$') {
		r->p++;
		return ITEM_ZERO;
	} else if (c == '*' || c == '+' || c == '?' || c == '{' || c == '\0') {
		r->bad = true;
		return ITEM_ZERO;
	} else {
		r->p++;
		bs_add(&set, (unsigned char)c);
	}
	if (r->bad)
		return ITEM_ZERO;
	a->alpha = set;
	a->set = set;
	a->single = true;
	a->req[0] = set;
	a->nreq = 1;
	return ITEM_CONSUME;
}

static void read_seq(struct preader *r, struct pinfo *out, struct lead *lead)
{
	memset(out, 0, sizeof *out);
	if (lead)
		memset(lead, 0, sizeof *lead);
	bool leading = true;
	size_t nitems = 0;
	while (*r->p && *r->p != '|' && *r->p != ')' && !r->bad) {
		struct pinfo a;
		enum item_kind k = read_item(r, &a);
		if (r->bad)
			return;
		unsigned min = 1;
		bool quant = read_quantifier(r, &min);
		nitems++;
		if (k == ITEM_CONSUME) {
			bs_or(&out->alpha, &a.alpha);
			if (min >= 1)
				for (size_t i = 0; i < a.nreq; i++)
					add_req(out, &a.req[i]);
			out->single = nitems == 1 && a.single && !quant;
			out->set = a.set;
			leading = false;
			continue;
		}
		out->single = false;
		if (!leading || !lead || quant) {
			leading = false;
			continue;
		}
		if (k == ITEM_WORDB)
			lead->wb = true;
		else if (k == ITEM_NEGLB)
			bs_or(&lead->noprev, &a.set);
		else
			leading = false;
	}
	if (nitems != 1)
		out->single = false;
}

static void read_alt(struct preader *r, struct pinfo *out, struct lead *lead)
{
	read_seq(r, out, lead);
	while (!r->bad && *r->p == '|') {
		r->p++;
		struct pinfo b;
		struct lead bl;
		read_seq(r, &b, lead ? &bl : NULL);
		if (r->bad)
			return;
		bs_or(&out->alpha, &b.alpha);
		out->single = false;
		/* a byte of (a ∪ the smallest of b's sets) is in every match of either */
		if (b.nreq == 0) {
			out->nreq = 0;
		} else {
			size_t best = 0;
			for (size_t i = 1; i < b.nreq; i++)
				if (bs_count(&b.req[i]) < bs_count(&b.req[best]))
					best = i;
			for (size_t i = 0; i < out->nreq; i++)
				bs_or(&out->req[i], &b.req[best]);
		}
		if (lead) {
			bs_and(&lead->noprev, &bl.noprev);
			lead->wb = lead->wb && bl.wb;
		}
	}
}

/* Fill the rule's scan tables; leave has_scan false when not understood. */
static void pattern_analyse(struct mask_rule *x)
{
	struct preader r = { x->pattern, false };
	struct pinfo info;
	struct lead lead;
	x->has_scan = false;
	read_alt(&r, &info, &lead);
	if (r.bad || *r.p != '\0' || x->min_len == 0)
		return;
	struct byteset word = { { 0 } };
	word_set(&word);
	memset(x->rbits, 0, sizeof x->rbits);
	for (unsigned b = 0; b < 256; b++) {
		uint8_t v = 0;
		if (!x->has_first || ((x->first[b >> 6] >> (b & 63)) & 1))
			v |= START_FIRST;
		if (bs_has(&info.alpha, b))
			v |= START_ALPHA;
		if (bs_has(&lead.noprev, b))
			v |= START_NOPREV;
		if (bs_has(&word, b))
			v |= START_WORD;
		x->stab[b] = v;
		for (size_t i = 0; i < info.nreq; i++)
			if (bs_has(&info.req[i], b))
				x->rbits[b] |= (uint8_t)(1u << i);
	}
	x->nreq = (uint8_t)info.nreq;
	x->nreq_all = (uint8_t)((1u << info.nreq) - 1);
	for (size_t i = 0; i < info.nreq; i++)
		memcpy(x->reqset[i], info.req[i].b, sizeof x->reqset[i]);
	x->first_space = false;
	for (unsigned b = 0; b < 256; b++)
		if ((x->stab[b] & START_FIRST) && is_ws((unsigned char)b))
			x->first_space = true;
	x->word_boundary = lead.wb;
	x->has_scan = true;
}

static bool compile_rule(struct mask_rule *r, char **why)
{
	int errcode;
	PCRE2_SIZE erroff;
	r->code = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff,
				NULL);
	if (!r->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof msg);
		*why = xasprintf("bad pattern for rule '%s' at offset %zu: %s", r->name,
				 (size_t)erroff, (char *)msg);
		return false;
	}
	/* JIT is an optimisation; a platform without it still works. */
	r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
	rule_prefilter(r);
	r->min_len = 0;
	(void)pcre2_pattern_info(r->code, PCRE2_INFO_MINLENGTH, &r->min_len);
	r->within_word = !may_match_space(r->pattern);
	pattern_analyse(r);
	return true;
}

static ssize_t find_rule(const struct mask_rules *rules, const char *name)
{
	for (size_t i = 0; i < rules->n; i++)
		if (strcmp(rules->v[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

/*
 * Apply one rules text to the set. `user` selects the user-file placement
 * (new names go first). `prepend_at` counts how many user rules were put
 * first so far, to keep them in file order.
 */
static enum status apply_rules_text(struct mask_rules *rules, const char *text, const char *origin,
				    bool user, char **err)
{
	size_t prepend_at = 0;
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
		lineno++;
		char *line = xstrndup(p, linelen);
		p = eol ? eol + 1 : p + linelen;

		char *s = line;
		size_t l = strlen(s);
		while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
			s[--l] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#') {
			free(line);
			continue;
		}
		size_t n1 = strcspn(s, " \t");
		char *w2 = s + n1;
		while (*w2 == ' ' || *w2 == '\t')
			w2++;
		size_t n2 = strcspn(w2, " \t");
		char *w3 = w2 + n2;
		while (*w3 == ' ' || *w3 == '\t')
			w3++;

		if (n1 == 7 && strncmp(s, "disable", 7) == 0) {
			if (!valid_name(w2, n2) || *w3) {
				*err = xasprintf("%s:%d: expected 'disable NAME'", origin, lineno);
				free(line);
				return STATUS_CONFIG;
			}
			w2[n2] = '\0';
			ssize_t at = find_rule(rules, w2);
			if (at < 0) {
				*err = xasprintf("%s:%d: no rule named '%s' to disable", origin, lineno,
						 w2);
				free(line);
				return STATUS_CONFIG;
			}
			rule_clear(&rules->v[at]);
			memmove(&rules->v[at], &rules->v[at + 1],
				(rules->n - (size_t)at - 1) * sizeof rules->v[0]);
			rules->n--;
			if ((size_t)at < prepend_at)
				prepend_at--;
			free(line);
			continue;
		}
		if (!valid_name(s, n1) || n2 == 0 || *w3 == '\0') {
			*err = xasprintf("%s:%d: expected 'NAME PLACEHOLDER PATTERN' (NAME is "
					 "[a-z0-9_-]+)",
					 origin, lineno);
			free(line);
			return STATUS_CONFIG;
		}
		struct mask_rule r = { 0 };
		r.name = xstrndup(s, n1);
		r.placeholder = xstrndup(w2, n2);
		r.placeholder_len = n2;
		r.pattern = xstrdup(w3);
		char *why = NULL;
		if (!compile_rule(&r, &why)) {
			*err = xasprintf("%s:%d: %s", origin, lineno, why);
			free(why);
			rule_clear(&r);
			free(line);
			return STATUS_CONFIG;
		}
		uint32_t caps = 0;
		pcre2_pattern_info(r.code, PCRE2_INFO_CAPTURECOUNT, &caps);
		if (caps + 1 > rules->max_capture)
			rules->max_capture = caps + 1;

		ssize_t at = find_rule(rules, r.name);
		if (at >= 0) {
			rule_clear(&rules->v[at]);
			rules->v[at] = r;
		} else {
			if (rules->n == rules->cap) {
				rules->cap = rules->cap ? rules->cap * 2 : 32;
				rules->v = xrealloc(rules->v, rules->cap * sizeof rules->v[0]);
			}
			size_t pos = user ? prepend_at++ : rules->n;
			memmove(&rules->v[pos + 1], &rules->v[pos],
				(rules->n - pos) * sizeof rules->v[0]);
			rules->v[pos] = r;
			rules->n++;
		}
		free(line);
	}
	return STATUS_OK;
}

static bool in_set(const uint64_t set[4], unsigned b)
{
	return (set[b >> 6] >> (b & 63)) & 1;
}

/*
 * Bytes that every prefilter treats alike share a class; each class gets
 * one bit (the 64th takes all classes past 63, which only weakens the
 * filters). A word's classes are then one OR per byte, and a rule's
 * conditions one AND each.
 */
static void rules_classify(struct mask_rules *rules)
{
	uint8_t rep[64]; /* a byte of each class */
	size_t nclass = 0;
	for (unsigned b = 0; b < 256; b++) {
		size_t k;
		for (k = 0; k < nclass; k++) {
			unsigned a = rep[k];
			bool same = true;
			for (size_t r = 0; r < rules->n && same; r++) {
				const struct mask_rule *x = &rules->v[r];
				same = in_set(x->first, a) == in_set(x->first, b) &&
				       (a == x->req || a == x->req_other) ==
					       (b == x->req || b == x->req_other);
				for (size_t i = 0; same && x->has_scan && i < x->nreq; i++)
					same = in_set(x->reqset[i], a) == in_set(x->reqset[i], b);
			}
			if (same)
				break;
		}
		if (k == nclass) {
			if (nclass < 63)
				rep[nclass] = (uint8_t)b;
			k = nclass < 63 ? nclass++ : 63;
		}
		rules->byte_class[b] = (uint64_t)1 << k;
	}
	for (size_t r = 0; r < rules->n; r++) {
		struct mask_rule *x = &rules->v[r];
		x->first_mask = 0;
		for (unsigned b = 0; b < 256; b++)
			if (in_set(x->first, b))
				x->first_mask |= rules->byte_class[b];
		x->req_mask = rules->byte_class[x->req] | rules->byte_class[x->req_other];
		for (size_t i = 0; x->has_scan && i < x->nreq; i++) {
			x->req_class[i] = 0;
			for (unsigned b = 0; b < 256; b++)
				if (in_set(x->reqset[i], b))
					x->req_class[i] |= rules->byte_class[b];
			/* words hold no white space: such a set is not a word test */
			for (unsigned b = 0; b < 256; b++)
				if (in_set(x->reqset[i], b) && is_ws((unsigned char)b))
					x->req_class[i] = ~(uint64_t)0;
		}
	}
}

enum status mask_rules_from_text(struct mask_rules **out, const char *text, const char *origin,
				 char **err)
{
	struct mask_rules *rules = xcalloc(1, sizeof *rules);
	rules->max_capture = 1;
	enum status st = apply_rules_text(rules, text, origin, false, err);
	if (st != STATUS_OK) {
		mask_rules_free(&rules);
		return st;
	}
	rules_classify(rules);
	*out = rules;
	return STATUS_OK;
}

static char *slurp(const char *path, int *err_no)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err_no = errno;
		return NULL;
	}
	struct buf b = { 0 };
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		*err_no = EIO;
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

enum status mask_rules_load(struct mask_rules **out, const char *user_file, bool user_file_required,
			    char **err)
{
	struct mask_rules *rules;
	enum status st = mask_rules_from_text(&rules, builtin_mask_rules, "data/mask.rules", err);
	if (st != STATUS_OK)
		return st;
	if (user_file) {
		int e = 0;
		char *text = slurp(user_file, &e);
		if (!text) {
			if (e == ENOENT && !user_file_required) {
				*out = rules;
				return STATUS_OK;
			}
			*err = xasprintf("%s: %s", user_file, strerror(e));
			mask_rules_free(&rules);
			return STATUS_CONFIG;
		}
		st = apply_rules_text(rules, text, user_file, true, err);
		free(text);
		if (st != STATUS_OK) {
			mask_rules_free(&rules);
			return st;
		}
		rules_classify(rules);
	}
	*out = rules;
	return STATUS_OK;
}

struct masker *masker_new(const struct mask_rules *rules)
{
	struct masker *m = xcalloc(1, sizeof *m);
	m->rules = rules;
	m->md = pcre2_match_data_create(rules->max_capture, NULL);
	if (!m->md) {
		fprintf(stderr, "sitrep: out of memory (pcre2 match data)\n");
		abort();
	}
	return m;
}

void masker_free(struct masker **m)
{
	if (!*m)
		return;
	pcre2_match_data_free((*m)->md);
	free((*m)->spans);
	free((*m)->claimed);
	free((*m)->words);
	buf_free(&(*m)->out);
	xfree(m);
}

static void add_span(struct masker *m, uint32_t s, uint32_t e, uint32_t rule)
{
	if (m->nspans == m->capspans) {
		m->capspans = m->capspans ? m->capspans * 2 : 32;
		m->spans = xrealloc(m->spans, m->capspans * sizeof m->spans[0]);
	}
	/* insertion keeps spans sorted by start; lines have few spans */
	size_t i = m->nspans;
	while (i > 0 && m->spans[i - 1].start > s) {
		m->spans[i] = m->spans[i - 1];
		i--;
	}
	m->spans[i] = (struct mask_span){ s, e, rule };
	m->nspans++;
}

/* Claim [s, e) for rule r unless a byte of it is claimed already. */
static void claim(struct masker *m, size_t s, size_t e, uint32_t r, struct word *w, size_t nw)
{
	for (size_t q = s; q < e; q++)
		if (m->claimed[q])
			return;
	memset(m->claimed + s, 1, e - s);
	add_span(m, (uint32_t)s, (uint32_t)e, r);
	for (size_t k = 0; k < nw; k++) {
		size_t a = w[k].start > s ? w[k].start : s, b = w[k].end < e ? w[k].end : e;
		if (a < b)
			w[k].unclaimed -= (uint32_t)(b - a);
	}
}

/* Can a match of x hold bytes of the classes in `have`? */
static inline bool has_req_classes(const struct mask_rule *x, uint64_t have)
{
	for (size_t i = 0; i < x->nreq; i++)
		if (!(x->req_class[i] & have))
			return false;
	return true;
}

/*
 * The places in [from, wend) where a match of rule x can start: a byte
 * that can begin a match, with a byte before it the pattern's leading
 * assertions accept, then (up to `to`) at least min_len alphabet bytes
 * holding a byte of every required set. The first such place goes to
 * *raw unless set already (claims aside, no match starts before it).
 * Returns the first place whose run is unclaimed up to where the
 * conditions are met, or SIZE_MAX: only there can a match this rule finds
 * be claimed.
 */
static size_t find_start(const struct mask_rule *x, const unsigned char *t,
			 const unsigned char *claimed, size_t from, size_t wend, size_t to,
			 size_t *raw)
{
	const unsigned all = x->nreq_all, min = x->min_len;
	for (size_t i = from; i < wend; i++) {
		unsigned c = x->stab[t[i]];
		if ((c & (START_FIRST | START_ALPHA)) != (START_FIRST | START_ALPHA))
			continue;
		if (claimed[i] && *raw != SIZE_MAX)
			continue;
		if (i > 0) {
			unsigned p = x->stab[t[i - 1]];
			if (p & START_NOPREV)
				continue;
			if (x->word_boundary && !((p ^ c) & START_WORD))
				continue;
		}
		unsigned seen = 0;
		bool clean = true, ok = false;
		for (size_t j = i; j < to; j++) {
			unsigned ch = t[j];
			if (!(x->stab[ch] & START_ALPHA))
				break;
			seen |= x->rbits[ch];
			clean = clean && !claimed[j];
			if (j + 1 - i >= min && (seen & all) == all) {
				ok = true;
				break;
			}
		}
		if (!ok)
			continue;
		if (*raw == SIZE_MAX)
			*raw = i;
		if (clean)
			return i;
	}
	return SIZE_MAX;
}

static inline int rule_match(const struct mask_rule *x, const char *text, size_t sub, size_t off,
			     pcre2_match_data *md)
{
	if (x->jit)
		return pcre2_jit_match(x->code, (PCRE2_SPTR)text, sub, off, 0, md, NULL);
	return pcre2_match(x->code, (PCRE2_SPTR)text, sub, off, 0, md, NULL);
}

/*
 * Run rule r from off, claiming each match that overlaps no claimed
 * byte. A rule that can match white space runs over the whole line; one
 * that cannot runs over the one word w (words[0]), with the subject ending
 * a byte past it so that assertions see the same neighbour. With the
 * rule's scan tables, each search starts at the first place a match can
 * start (find_start), and stops when no match there could be claimed.
 */
static void run_rule(struct masker *m, const struct mask_rule *x, uint32_t r, const char *text,
		     size_t len, struct word *words, size_t nw, bool line)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t off = line ? 0 : words[0].start, to = line ? len : words[0].end;
	size_t sub = line ? len : (to < len ? to + 1 : len);
	bool scan = x->has_scan && !(line && x->first_space);
	size_t k = 0;
	while (off < to) {
		if (scan) {
			size_t raw = SIZE_MAX, cand = SIZE_MAX;
			if (!line) {
				cand = find_start(x, t, m->claimed, off, to, to, &raw);
			} else {
				while (k < nw && words[k].end <= off)
					k++;
				for (size_t q = k; q < nw && cand == SIZE_MAX; q++) {
					const struct word *w = &words[q];
					if (x->has_first && !(x->first_mask & w->classes))
						continue;
					if (!has_req_classes(x, w->suffix))
						break;
					size_t from = w->start > off ? w->start : off;
					cand = find_start(x, t, m->claimed, from, w->end, len, &raw);
				}
			}
			if (cand == SIZE_MAX)
				return;
			off = raw;
		}
		int rc = rule_match(x, text, sub, off, m->md);
		if (rc < 0)
			return;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
		size_t s = ov[0], e = ov[1];
		if (e <= s) {
			off = s + 1; /* empty match: skip, never loop */
			continue;
		}
		off = e;
		if (line)
			claim(m, s, e, r, words, nw);
		else
			claim(m, s, e, r, words, 1);
	}
}

/*
 * Every rule, in order, finds its matches left to right from where its
 * previous match ended; a match that overlaps bytes an earlier match
 * claimed is dropped. A rule that cannot match white space (within_word)
 * is run on each word (run of non-space bytes) that can hold a match,
 * with the subject ending one byte past the word so that assertions see
 * the same neighbour: its matches lie inside one word, so this finds
 * exactly what a scan of the whole line finds, and skips the words its
 * prefilters rule out (no byte a match can start with, no byte a match
 * must contain, too short, or claimed already).
 */
const char *mask_apply(struct masker *m, const char *text, size_t len, size_t *out_len)
{
	const struct mask_rules *rules = m->rules;
	m->nspans = 0;
	if (len + 1 > m->capclaimed) {
		m->capclaimed = len + 64;
		m->claimed = xrealloc(m->claimed, m->capclaimed);
	}
	memset(m->claimed, 0, len + 1);

	/* the words and the byte classes present */
	size_t nw = 0;
	uint64_t line_classes = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && is_ws((unsigned char)text[i]))
			i++;
		if (i == len)
			break;
		if (nw == m->capwords) {
			m->capwords = m->capwords ? m->capwords * 2 : 64;
			m->words = xrealloc(m->words, m->capwords * sizeof *m->words);
		}
		struct word *w = &m->words[nw++];
		uint64_t cls = 0;
		size_t st = i;
		for (; i < len && !is_ws((unsigned char)text[i]); i++)
			cls |= rules->byte_class[(unsigned char)text[i]];
		w->start = (uint32_t)st;
		w->end = (uint32_t)i;
		w->unclaimed = (uint32_t)(i - st);
		w->classes = cls;
		line_classes |= cls;
	}
	struct word *words = m->words;
	for (size_t k = nw, acc = 0; k-- > 0;) {
		acc |= words[k].classes;
		words[k].suffix = acc;
	}

	for (size_t r = 0; r < rules->n; r++) {
		const struct mask_rule *rule = &rules->v[r];
		if (rule->has_first && !(rule->first_mask & line_classes))
			continue;
		if (rule->has_req && !(rule->req_mask & line_classes))
			continue;
		if (rule->has_scan && !has_req_classes(rule, line_classes))
			continue;
		if (!rule->within_word) {
			run_rule(m, rule, (uint32_t)r, text, len, words, nw, true);
			continue;
		}
		for (size_t k = 0; k < nw; k++) {
			struct word *w = &words[k];
			if (w->unclaimed < rule->min_len || w->end - w->start < rule->min_len)
				continue;
			if (w->unclaimed == 0)
				continue;
			if (rule->has_first && !(rule->first_mask & w->classes))
				continue;
			if (rule->has_req && !(rule->req_mask & w->classes))
				continue;
			if (rule->has_scan && !has_req_classes(rule, w->classes))
				continue;
			run_rule(m, rule, (uint32_t)r, text, len, w, 1, false);
		}
	}

	buf_reset(&m->out);
	buf_grow(&m->out, len + 16);
	size_t at = 0;
	for (size_t i = 0; i < m->nspans; i++) {
		const struct mask_span *sp = &m->spans[i];
		buf_add(&m->out, text + at, sp->start - at);
		buf_add(&m->out, rules->v[sp->rule].placeholder, rules->v[sp->rule].placeholder_len);
		at = sp->end;
	}
	buf_add(&m->out, text + at, len - at);
	if (out_len)
		*out_len = m->out.len;
	return m->out.data;
}

size_t mask_last_spans(const struct masker *m, const struct mask_span **spans)
{
	*spans = m->spans;
	return m->nspans;
}

void fingerprint_hex(const char *name, const char *service, const char *masked, size_t masked_len,
		     char out[17])
{
	/* chained seeds; the NUL of each field keeps ("ab","c") apart from ("a","bc") */
	const char *n = name ? name : "", *s = service ? service : "";
	XXH64_hash_t h = XXH3_64bits(n, strlen(n) + 1);
	h = XXH3_64bits_withSeed(s, strlen(s) + 1, h);
	h = XXH3_64bits_withSeed(masked, masked_len, h);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

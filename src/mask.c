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
	bool end_boundary;  /* the pattern ends with \b */
	uint8_t count_need; /* every match holds this many START_COUNT bytes */
	bool first_space;   /* a match can start with white space */
	/*
	 * What the byte before a match start must be, as a level of
	 * struct word's start[]: 0 anything, 1 not \w, 2 not \w or '.'.
	 */
	uint8_t start_level;
	uint8_t nreq;       /* required sets */
	uint8_t nreq_all;   /* all required-set bits */
	uint64_t reqset[8][4];   /* the required sets */
	uint64_t req_class[8];   /* the same as byte classes (see rules_classify) */
	uint8_t stab[256];
	uint8_t rbits[256];
};

/* bflags bits */
enum { AFTER1 = 1, AFTER2 = 2, BYTE_WS = 4 };

/* stab bits */
enum {
	START_FIRST = 1, /* a match can start with this byte (pcre2's first-code info) */
	START_ALPHA = 2, /* a match can hold this byte */
	START_NOPREV = 4, /* the byte before a match cannot be this one */
	START_WORD = 8,  /* \w, for the \b test */
	START_LAST = 16,   /* a match can end with this byte */
	START_NONEXT = 32, /* the byte after a match cannot be this one */
	START_COUNT = 64,  /* a byte of the counted set (count_need) */
};

struct mask_rules {
	struct mask_rule *v;
	size_t n, cap;
	uint32_t max_capture; /* largest ovector any rule needs */
	uint64_t byte_class[256]; /* one bit per class of bytes the prefilters tell apart */
	/* per byte: AFTER1, AFTER2 (a match may start after it at that level), WS */
	uint8_t bflags[256];
};

/* A run of non-space bytes of the line being masked. */
struct word {
	uint32_t start, end;
	uint32_t unclaimed; /* bytes no rule has claimed yet */
	uint64_t classes;   /* byte classes present */
	uint64_t starts[3]; /* classes present where a match can start (see start_level) */
	uint64_t suffix;    /* byte classes present in this word and every later one */
	uint64_t rules;     /* word rules (of the first 64) whose class tests it passes */
	uint32_t b0, b1;    /* its bytes after a byte not \w: masker.bpos[b0, b1) */
};

/* A cache of the class tests: the rules a word with given classes may hold. */
#define WORD_CACHE 2048
struct word_test {
	uint64_t classes, start1, start2, rules;
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
	uint32_t *bpos; /* positions of bytes after a byte not \w (or a line start) */
	size_t capbpos;
	struct word_test cache[WORD_CACHE];
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
	unsigned reqn[MAX_REQ]; /* every match holds at least this many bytes of req[i] */
	size_t nreq;
	bool single;        /* exactly one unquantified item matching one byte */
	struct byteset set; /* that item's bytes */
	struct byteset last; /* bytes a match can end with */
	bool nullable;       /* can match the empty string */
};

struct lead {
	struct byteset noprev; /* the byte before a match is none of these */
	bool wb;               /* \b at the start */
	struct byteset nonext; /* the byte after a match is none of these */
	bool end_wb;           /* \b at the end */
};

struct preader {
	const char *p;
	bool bad;
};

enum item_kind { ITEM_CONSUME, ITEM_WORDB, ITEM_NEGLB, ITEM_NEGLA, ITEM_ZERO };

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

static void add_req(struct pinfo *x, const struct byteset *s, unsigned n)
{
	for (size_t i = 0; i < x->nreq; i++)
		if (bs_eq(&x->req[i], s)) {
			/* items of a sequence match different bytes: counts add */
			x->reqn[i] = x->reqn[i] + n > 255 ? 255 : x->reqn[i] + n;
			return;
		}
	if (x->nreq < MAX_REQ) {
		x->reqn[x->nreq] = n;
		x->req[x->nreq++] = *s;
		return;
	}
	/* keep the most selective sets */
	size_t worst = 0;
	for (size_t i = 1; i < x->nreq; i++)
		if (bs_count(&x->req[i]) > bs_count(&x->req[worst]))
			worst = i;
	if (bs_count(s) < bs_count(&x->req[worst])) {
		x->req[worst] = *s;
		x->reqn[worst] = n;
	}
}

static void read_alt(struct preader *r, struct pinfo *out, struct lead *lead);

static enum item_kind read_item(struct preader *r, struct pinfo *a)
{
	memset(a, 0, sizeof *a);
	char c = *r->p;
	if (c == '(') {
		bool look = false, behind_neg = false, behind = false, ahead_neg = false;
		if (r->p[1] == '?') {
			char k = r->p[2];
			if (k == ':' || k == '>') {
				r->p += 3;
			} else if (k == '=' || k == '!') {
				look = true;
				ahead_neg = k == '!';
				r->p += 3;
			} else if (k == '<' && (r->p[3] == '=' || r->p[3] == '!')) {
				look = true;
				behind = true;
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
			if (in.single && behind_neg)
				return ITEM_NEGLB;
			if (in.single && !behind && ahead_neg)
				return ITEM_NEGLA;
			return ITEM_ZERO;
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
	a->last = set;
	a->single = true;
	a->req[0] = set;
	a->reqn[0] = 1;
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
	out->nullable = true;
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
			/*
			 * Sets of one item can be equal (an alternation unions
			 * them) and then need not hold different bytes: keep the
			 * largest count of each before adding them up.
			 */
			for (size_t i = 0; i < a.nreq; i++)
				for (size_t j = i + 1; j < a.nreq; j++)
					if (a.reqn[i] && bs_eq(&a.req[i], &a.req[j])) {
						if (a.reqn[j] > a.reqn[i])
							a.reqn[i] = a.reqn[j];
						a.reqn[j] = 0;
					}
			if (min >= 1)
				for (size_t i = 0; i < a.nreq; i++)
					if (a.reqn[i])
						add_req(out, &a.req[i],
							a.reqn[i] * min > 255 ? 255
									      : a.reqn[i] * min);
			out->single = nitems == 1 && a.single && !quant;
			out->set = a.set;
			bool a_nullable = a.nullable || min == 0;
			if (a_nullable) {
				bs_or(&out->last, &a.last);
			} else {
				out->last = a.last;
				out->nullable = false;
			}
			leading = false;
			if (lead) {
				/* trailing assertions start again after this item */
				memset(&lead->nonext, 0, sizeof lead->nonext);
				lead->end_wb = false;
			}
			continue;
		}
		out->single = false;
		if (lead && !quant) {
			if (k == ITEM_WORDB)
				lead->end_wb = true;
			else if (k == ITEM_NEGLA)
				bs_or(&lead->nonext, &a.set);
		}
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
		bs_or(&out->last, &b.last);
		out->nullable = out->nullable || b.nullable;
		out->single = false;
		/* a byte of (a ∪ the smallest of b's sets) is in every match of either */
		if (b.nreq == 0) {
			out->nreq = 0;
		} else {
			size_t best = 0;
			for (size_t i = 1; i < b.nreq; i++)
				if (bs_count(&b.req[i]) < bs_count(&b.req[best]))
					best = i;
			for (size_t i = 0; i < out->nreq; i++) {
				bs_or(&out->req[i], &b.req[best]);
				if (b.reqn[best] < out->reqn[i])
					out->reqn[i] = b.reqn[best];
			}
		}
		if (lead) {
			bs_and(&lead->noprev, &bl.noprev);
			lead->wb = lead->wb && bl.wb;
			bs_and(&lead->nonext, &bl.nonext);
			lead->end_wb = lead->end_wb && bl.end_wb;
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
	/* the most selective set required more than once is counted */
	size_t counted = MAX_REQ;
	for (size_t i = 0; i < info.nreq; i++)
		if (info.reqn[i] >= 2 &&
		    (counted == MAX_REQ || bs_count(&info.req[i]) < bs_count(&info.req[counted])))
			counted = i;
	x->count_need = 0;
	if (counted < MAX_REQ) {
		x->count_need = (uint8_t)info.reqn[counted];
		for (unsigned b = 0; b < 256; b++)
			if (bs_has(&info.req[counted], b))
				x->stab[b] |= START_COUNT;
	}
	for (unsigned b = 0; b < 256; b++) {
		if (bs_has(&info.last, b))
			x->stab[b] |= START_LAST;
		if (bs_has(&lead.nonext, b))
			x->stab[b] |= START_NONEXT;
	}
	x->end_boundary = lead.end_wb;
	for (size_t i = 0; i < info.nreq; i++)
		memcpy(x->reqset[i], info.req[i].b, sizeof x->reqset[i]);
	x->first_space = false;
	for (unsigned b = 0; b < 256; b++)
		if ((x->stab[b] & START_FIRST) && is_ws((unsigned char)b))
			x->first_space = true;
	x->word_boundary = lead.wb;
	x->has_scan = true;
	struct byteset wdot = word;
	bs_add(&wdot, '.');
	struct byteset both = lead.noprev;
	bs_and(&both, &wdot);
	bool after_word = true; /* every match starts after a byte not \w */
	for (unsigned b = 0; b < 256; b++) {
		if (bs_has(&word, b) && !bs_has(&lead.noprev, b))
			after_word = false;
	}
	if (!after_word && lead.wb) {
		/* \b before a \w byte: the byte before is not \w */
		after_word = true;
		for (unsigned b = 0; b < 256; b++)
			if ((x->stab[b] & START_FIRST) && !bs_has(&word, b))
				after_word = false;
	}
	x->start_level = bs_eq(&both, &wdot) ? 2 : after_word ? 1 : 0;
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
	for (unsigned b = 0; b < 256; b++) {
		bool w = isalnum(b) || b == '_';
		rules->bflags[b] = (uint8_t)((w ? 0 : AFTER1) | (w || b == '.' ? 0 : AFTER2) |
					     (is_ws((unsigned char)b) ? BYTE_WS : 0));
	}
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
	free((*m)->bpos);
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
 * Can rule x start a match at i that could be claimed? i is unclaimed and
 * can begin a match, the byte before it is one the pattern's leading
 * assertions accept, and then (up to `to`) come unclaimed alphabet bytes
 * up to a place where a match could end: at least min_len of them, holding
 * a byte of every required set and count_need bytes of the counted set,
 * the last one a byte a match can end with, followed by a byte the
 * trailing assertions accept.
 *
 * When the answer is no, *dead is set past the run of bytes looked at: a
 * later start in that run sees fewer bytes under the same end conditions,
 * so it cannot succeed either.
 */
static inline bool may_start(const struct mask_rule *x, const unsigned char *t,
			     const unsigned char *claimed, size_t i, size_t to, size_t len,
			     size_t *dead)
{
	if (claimed[i])
		return false;
	unsigned c = x->stab[t[i]];
	if ((c & (START_FIRST | START_ALPHA)) != (START_FIRST | START_ALPHA))
		return false;
	if (i > 0) {
		unsigned p = x->stab[t[i - 1]];
		if (p & START_NOPREV)
			return false;
		if (x->word_boundary && !((p ^ c) & START_WORD))
			return false;
	}
	const unsigned all = x->nreq_all, min = x->min_len, need = x->count_need;
	unsigned seen = 0, count = 0;
	size_t j = i;
	for (; j < to && !claimed[j]; j++) {
		unsigned ch = t[j], cj = x->stab[ch];
		if (!(cj & START_ALPHA))
			break;
		seen |= x->rbits[ch];
		count += (cj & START_COUNT) != 0;
		if (j + 1 - i < min || (seen & all) != all || count < need || !(cj & START_LAST))
			continue;
		/* could a match end here, by the pattern's trailing assertions? */
		if (j + 1 >= len)
			return true;
		unsigned n = x->stab[t[j + 1]];
		if (!(n & START_NONEXT) && (!x->end_boundary || ((cj ^ n) & START_WORD)))
			return true;
	}
	*dead = j;
	return false;
}

/*
 * The first place in word w, from `from` on and past *dead, where rule x
 * can start a match that could be claimed (may_start), or SIZE_MAX. A rule
 * whose matches start after a byte not \w only looks at such places.
 */
static size_t find_start(const struct masker *m, const struct mask_rule *x, const struct word *w,
			 const unsigned char *t, size_t from, size_t to, size_t len, size_t *dead)
{
	if (x->start_level > 0) {
		for (size_t b = w->b0; b < w->b1; b++) {
			size_t i = m->bpos[b];
			if (i >= from && i >= *dead && may_start(x, t, m->claimed, i, to, len, dead))
				return i;
		}
		return SIZE_MAX;
	}
	for (size_t i = from > *dead ? from : *dead; i < w->end; i++)
		if (may_start(x, t, m->claimed, i, to, len, dead))
			return i;
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
 * Where to search from for a match at cand: every place before cand can
 * only start matches that overlap claimed bytes. Those in an earlier run
 * of alphabet bytes end before cand's run, so they cannot reach cand, and
 * the search can start at the start of cand's run (not before off).
 */
static inline size_t run_start(const struct mask_rule *x, const unsigned char *t, size_t off,
			       size_t cand)
{
	while (cand > off && (x->stab[t[cand - 1]] & START_ALPHA))
		cand--;
	return cand;
}

/*
 * Run rule r, which cannot match white space, over word w, with the
 * subject ending a byte past the word so that assertions see the same
 * neighbour: its matches lie inside one word, so this finds exactly what a
 * scan of the whole line finds. Each search starts as in run_line_rule.
 */
static inline void run_word_rule(struct masker *m, const struct mask_rule *x, uint32_t r,
				 const char *text, size_t len, struct word *w)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t off = w->start, to = w->end, sub = to < len ? to + 1 : len;
	while (off < to) {
		if (x->has_scan) {
			size_t dead = 0;
			size_t cand = find_start(m, x, w, t, off, to, len, &dead);
			if (cand == SIZE_MAX)
				return;
			off = run_start(x, t, off, cand);
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
		claim(m, s, e, r, w, 1);
	}
}

/*
 * Run rule r, which can match white space, over the whole line, claiming
 * each match that overlaps no claimed byte. With the rule's scan tables,
 * each search starts where a claimable match can first start (find_start
 * over the words that can hold one), and the rule stops when there is
 * none.
 */
static void run_line_rule(struct masker *m, const struct mask_rule *x, uint32_t r,
			  const char *text, size_t len, struct word *words, size_t nw)
{
	const unsigned char *t = (const unsigned char *)text;
	bool scan = x->has_scan && !x->first_space;
	size_t off = 0, k = 0;
	while (off < len) {
		if (scan) {
			size_t cand = SIZE_MAX, dead = 0;
			while (k < nw && words[k].end <= off)
				k++;
			for (size_t q = k; q < nw && cand == SIZE_MAX; q++) {
				const struct word *w = &words[q];
				if (x->has_first && !(x->first_mask & w->starts[x->start_level]))
					continue;
				if (!has_req_classes(x, w->suffix))
					break;
				if (w->unclaimed == 0)
					continue;
				cand = find_start(m, x, w, t, off, len, len, &dead);
			}
			if (cand == SIZE_MAX)
				return;
			off = run_start(x, t, off, cand);
		}
		int rc = rule_match(x, text, len, off, m->md);
		if (rc < 0)
			return;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
		size_t s = ov[0], e = ov[1];
		if (e <= s) {
			off = s + 1; /* empty match: skip, never loop */
			continue;
		}
		off = e;
		claim(m, s, e, r, words, nw);
	}
}

/*
 * The class tests: can text with these byte classes (and these classes
 * where a match may start) hold a match of x?
 */
static bool rule_may_hold(const struct mask_rule *x, uint64_t classes, const uint64_t start[3])
{
	if (x->has_first && !(x->first_mask & start[x->start_level]))
		return false;
	if (x->has_req && !(x->req_mask & classes))
		return false;
	return !x->has_scan || has_req_classes(x, classes);
}

/* The word rules (of the first 64) a word with these classes may hold. */
static uint64_t word_rules(struct masker *m, uint64_t cls, uint64_t s1, uint64_t s2)
{
	uint64_t h = (cls * 0x9E3779B97F4A7C15u) ^ (s1 * 0xC2B2AE3D27D4EB4Fu) ^
		     (s2 * 0x165667B19E3779F9u);
	struct word_test *c = &m->cache[(h >> 40) % WORD_CACHE];
	if (c->rules != 0 && c->classes == cls && c->start1 == s1 && c->start2 == s2)
		return c->rules;
	const struct mask_rules *rules = m->rules;
	const uint64_t start[3] = { cls, s1, s2 };
	/* bit 63 stays set so that a cached entry is never 0 */
	uint64_t out = (uint64_t)1 << 63;
	for (size_t r = 0; r < rules->n && r < 63; r++)
		if (rules->v[r].within_word && rule_may_hold(&rules->v[r], cls, start))
			out |= (uint64_t)1 << r;
	if (rules->n > 63)
		out |= (uint64_t)1 << 63;
	*c = (struct word_test){ cls, s1, s2, out };
	return out;
}

/*
 * Every rule, in order, finds its matches left to right from where its
 * previous match ended; a match that overlaps bytes an earlier match
 * claimed is dropped. A rule that cannot match white space (within_word)
 * is run on each word (run of non-space bytes) that can hold a match
 * (run_word_rule); one that can runs over the line (run_line_rule).
 *
 * The prefilters, all derived from the patterns and each only a necessary
 * condition for a match, so that the spans are exactly those of running
 * every rule over the whole line:
 *   - byte classes per word and line: a byte a match can start with (at a
 *     place the leading assertions allow), and a byte of each required set;
 *   - per candidate place, a walk over the alphabet bytes after it
 *     (may_start), which also tells pcre2 where to start searching.
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
	if (len + 1 > m->capbpos) {
		m->capbpos = len + 64;
		m->bpos = xrealloc(m->bpos, m->capbpos * sizeof *m->bpos);
	}
	uint32_t *bpos = m->bpos;
	size_t nb = 0;

	/* the words and the byte classes present */
	size_t nw = 0;
	uint64_t line_classes = 0, line_start1 = 0, line_start2 = 0;
	const unsigned char *t = (const unsigned char *)text;
	const uint8_t *fl = rules->bflags;
	for (size_t i = 0; i < len;) {
		while (i < len && (fl[t[i]] & BYTE_WS))
			i++;
		if (i == len)
			break;
		if (nw == m->capwords) {
			m->capwords = m->capwords ? m->capwords * 2 : 64;
			m->words = xrealloc(m->words, m->capwords * sizeof *m->words);
		}
		struct word *w = &m->words[nw++];
		uint64_t cls = 0, s1 = 0, s2 = 0;
		size_t st = i;
		unsigned pf = AFTER1 | AFTER2; /* the byte before a word is white space */
		w->b0 = (uint32_t)nb;
		for (; i < len; i++) {
			unsigned f = fl[t[i]];
			if (f & BYTE_WS)
				break;
			cls |= rules->byte_class[t[i]];
			bpos[nb] = (uint32_t)i;
			nb += pf & AFTER1;
			pf = f;
		}
		w->b1 = (uint32_t)nb;
		/* the classes where a match may start: at the places after a byte not \w */
		for (size_t b = w->b0; b < nb; b++) {
			size_t p = bpos[b];
			uint64_t k = rules->byte_class[t[p]];
			s1 |= k;
			if (p == st || (fl[t[p - 1]] & AFTER2))
				s2 |= k;
		}
		w->start = (uint32_t)st;
		w->end = (uint32_t)i;
		w->unclaimed = (uint32_t)(i - st);
		w->classes = cls;
		w->starts[0] = cls;
		w->starts[1] = s1;
		w->starts[2] = s2;
		w->rules = word_rules(m, cls, s1, s2);
		line_classes |= cls;
		line_start1 |= s1;
		line_start2 |= s2;
	}
	struct word *words = m->words;
	uint64_t line_rules = 0;
	for (size_t k = nw, acc = 0; k-- > 0;) {
		acc |= words[k].classes;
		words[k].suffix = acc;
		line_rules |= words[k].rules;
	}
	const uint64_t line_start[3] = { line_classes, line_start1, line_start2 };

	for (size_t r = 0; r < rules->n;) {
		const struct mask_rule *rule = &rules->v[r];
		if (!rule->within_word) {
			if (rule_may_hold(rule, line_classes, line_start))
				run_line_rule(m, rule, (uint32_t)r, text, len, words, nw);
			r++;
			continue;
		}
		/*
		 * A block of word rules: they only see claims in the word they
		 * run on, so running them word by word, in rule order in each
		 * word, claims what running them rule by rule does.
		 */
		size_t r1 = r;
		while (r1 < rules->n && rules->v[r1].within_word)
			r1++;
		uint64_t block = 0;
		for (size_t q = r; q < r1 && q < 63; q++)
			block |= (uint64_t)1 << q;
		if (r1 <= 63 && !(line_rules & block)) {
			r = r1;
			continue;
		}
		for (size_t k = 0; k < nw; k++) {
			struct word *w = &words[k];
			uint64_t todo = w->rules & block;
			for (size_t q = r; q < r1; q++) {
				if (q < 63) {
					if (!todo)
						break;
					q += (size_t)__builtin_ctzll(todo) - q;
					todo &= todo - 1;
				} else if (!rule_may_hold(&rules->v[q], w->classes, w->starts)) {
					continue;
				}
				const struct mask_rule *x = &rules->v[q];
				if (w->unclaimed < x->min_len || w->unclaimed == 0)
					continue;
				run_word_rule(m, x, (uint32_t)q, text, len, w);
			}
		}
		r = r1;
	}

	/* the output: the text with each span replaced by its placeholder */
	size_t need = len + 1;
	for (size_t i = 0; i < m->nspans; i++)
		need += rules->v[m->spans[i].rule].placeholder_len;
	buf_reset(&m->out);
	buf_grow(&m->out, need);
	char *o = m->out.data;
	size_t at = 0;
	for (size_t i = 0; i < m->nspans; i++) {
		const struct mask_span *sp = &m->spans[i];
		const struct mask_rule *x = &rules->v[sp->rule];
		memcpy(o, text + at, sp->start - at);
		o += sp->start - at;
		memcpy(o, x->placeholder, x->placeholder_len);
		o += x->placeholder_len;
		at = sp->end;
	}
	memcpy(o, text + at, len - at);
	o += len - at;
	*o = '\0';
	m->out.len = (size_t)(o - m->out.data);
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
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 15];
	out[16] = '\0';
}

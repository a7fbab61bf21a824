/*
 * miner.c — the online template miner.
 *
 * Tokens. A message is masked (mask.c) and split into tokens at white space
 * and at the punctuation that structures messages (= , ; : ( ) [ ] { } " '
 * |), each such character a token of its own. A token that is exactly a
 * rule's placeholder is typed (<num>, <ip>...); a token holding a digit is a
 * variable at once (ids, hosts with numbers, counters, dates in shapes the
 * rules missed); every other token is a word, compared by its 64-bit hash.
 *
 * Buckets. Candidates for a message are the templates of its bucket: same
 * identity (name, service) and same token count. Two identities never
 * share a bucket, so they never share a cluster.
 *
 * Matching. A template position is a word, a punctuation mark, a typed
 * placeholder, a numeric variable (seen only as numbers or placeholders) or
 * an any-variable. A message agrees with a template when every position
 * agrees; a numeric token against a typed one generalises that position to
 * a numeric variable. Words never generalise on their own: one differing
 * word (Failed/Accepted, Acquiring/Releasing, HTTPS/SOCKS5) usually means a
 * different event.
 *
 * Variable words. A word position is a variable when it takes many values
 * while the rest stays fixed (user alice, user bob, user carol). So when no
 * template agrees, the nearest one (fewest disagreeing positions, at most
 * half the message's words) defines the differing positions D; the
 * templates of the bucket that agree with the message outside D are its
 * siblings. When the siblings and the message number at least
 * MINER_SIBLINGS, they merge into one cluster with D made variable (the
 * oldest id survives); otherwise the message founds a cluster of its own.
 * This is the column-cardinality test of frequency-based parsers, done
 * online on the templates themselves, so it needs no state beyond them.
 *
 * After a template generalises it may cover another template of its bucket
 * (every constant equal); the two describe one structure and merge.
 *
 * Determinism: the result depends only on the live templates of the bucket,
 * which the loader restores before a bucket is first used after a restart;
 * ties are broken by id, never by memory layout. The exact-match cache
 * (token sequence → cluster) is only a shortcut: an entry is trusted while
 * its bucket is unchanged since it was written.
 *
 * Memory: clusters and buckets live in slabs indexed by uint32; clusters are
 * on an LRU list and the tail is evicted when the cap is exceeded. A bucket
 * is freed with its last cluster.
 */
#include "config.h"
#include "miner.h"

#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define CACHE_BITS 16

/* Templates agreeing outside the differing positions that make them variable. */
#define MINER_SIBLINGS 3
/* At most this share of a message's words may differ from its nearest template. */
#define MINER_MAX_DIFF 0.5
/* ...and the siblings must number at least this share of their messages. */
#define MINER_MIN_VALUE_SHARE 0.05
/* Longest bracket group that is glued into the word before it. */
#define MINER_GROUP_MAX 512
/* A line's header ends within this many tokens. */
#define MINER_HEADER_SCAN 32

enum tkind { T_WORD, T_PUNCT, T_TYPED, T_NUM, T_ANY };
static const char KIND_LETTER[] = "wptn*";

struct tok {
	uint64_t h;          /* hash of the text; 0 for variables */
	uint32_t start, len; /* in the masked text (message) or template text */
	uint8_t kind;
	uint8_t space;       /* white space before it */
};

struct cluster {
	uint64_t id;
	uint64_t serial; /* 0: free slot */
	uint64_t count;
	uint32_t bucket;
	uint32_t ntok;
	struct tok *t;
	char *text;  /* as shown */
	size_t text_len;
	char *kinds; /* KIND_LETTER per token */
	uint32_t lru_prev, lru_next;
};

struct bucket {
	uint64_t key;
	uint64_t gen; /* changes whenever its set of templates changes */
	char *name, *service;
	uint32_t ntok;
	uint32_t *cl; /* cluster slots, ascending id */
	uint32_t n, cap;
	bool had_evictions;
	bool used;
};

/* u64 → u32 open-addressing map with backward-shift deletion. */
struct map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n; /* cap is a power of two; key 0 is never stored */
};

struct cache_entry {
	uint64_t key;
	uint64_t serial;
	uint64_t bgen;
	uint32_t slot;
};

struct miner {
	struct masker *masker;
	const struct mask_rules *rules;
	size_t *placeholder_len; /* per rule */
	uint64_t punct_hash[256]; /* token_hash of each one-byte punctuation token */
	uint64_t dots_hash;       /* token_hash("..") */
	uint64_t ts_hash;        /* the time stamp placeholder as a token */
	size_t max_templates;
	uint64_t next_id, next_serial, next_gen;

	struct cluster *cl;
	size_t ncl, capcl;
	uint32_t cl_free; /* free list threaded through lru_next */
	uint32_t lru_head, lru_tail;
	size_t live;

	struct bucket *bk;
	size_t nbk, capbk;
	uint32_t *bk_free;
	size_t nbk_free, capbk_free;

	struct map by_bucket; /* bucket key → bucket slot */
	struct map by_id;     /* cluster id → cluster slot */
	struct cache_entry *cache;

	miner_event_fn on_event;
	miner_loader_fn loader;
	void *ctx;

	/* the last message */
	const char *masked;
	size_t masked_len;
	struct tok *tok;
	size_t ntok, captok;
	size_t nwords;
	uint32_t first_word; /* index of the message's first word token */
	struct miner_token *expl;
	size_t capexpl;
	uint32_t last_slot;
	bool in_add; /* inside miner_add (a loader may be restoring) */

	/* scratch */
	uint32_t *diff;
	uint32_t *sib;
	size_t capdiff, capsib;
	uint64_t *merged;
	size_t nmerged, capmerged;
};

/* ---- small containers ------------------------------------------------------ */

static void map_init(struct map *mp)
{
	mp->cap = 1024;
	mp->n = 0;
	mp->keys = xcalloc(mp->cap, sizeof *mp->keys);
	mp->vals = xcalloc(mp->cap, sizeof *mp->vals);
}

static void map_free(struct map *mp)
{
	free(mp->keys);
	free(mp->vals);
	mp->keys = NULL;
	mp->vals = NULL;
}

static inline size_t map_home(const struct map *mp, uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (mp->cap - 1);
}

static uint32_t map_get(const struct map *mp, uint64_t key)
{
	for (size_t i = map_home(mp, key);; i = (i + 1) & (mp->cap - 1)) {
		if (mp->keys[i] == key)
			return mp->vals[i];
		if (mp->keys[i] == 0)
			return NIL;
	}
}

static void map_put(struct map *mp, uint64_t key, uint32_t val);

static void map_grow(struct map *mp)
{
	struct map old = *mp;
	mp->cap *= 2;
	mp->n = 0;
	mp->keys = xcalloc(mp->cap, sizeof *mp->keys);
	mp->vals = xcalloc(mp->cap, sizeof *mp->vals);
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i])
			map_put(mp, old.keys[i], old.vals[i]);
	map_free(&old);
}

static void map_put(struct map *mp, uint64_t key, uint32_t val)
{
	if ((mp->n + 1) * 4 > mp->cap * 3)
		map_grow(mp);
	for (size_t i = map_home(mp, key);; i = (i + 1) & (mp->cap - 1)) {
		if (mp->keys[i] == key) {
			mp->vals[i] = val;
			return;
		}
		if (mp->keys[i] == 0) {
			mp->keys[i] = key;
			mp->vals[i] = val;
			mp->n++;
			return;
		}
	}
}

static void map_del(struct map *mp, uint64_t key)
{
	size_t mask = mp->cap - 1, i = map_home(mp, key);
	while (mp->keys[i] != key) {
		if (mp->keys[i] == 0)
			return;
		i = (i + 1) & mask;
	}
	/* backward shift: pull later entries of the probe run into the hole */
	for (size_t j = (i + 1) & mask; mp->keys[j]; j = (j + 1) & mask) {
		size_t h = map_home(mp, mp->keys[j]);
		bool movable = (j > i) ? (h <= i || h > j) : (h <= i && h > j);
		if (movable) {
			mp->keys[i] = mp->keys[j];
			mp->vals[i] = mp->vals[j];
			i = j;
		}
	}
	mp->keys[i] = 0;
	mp->n--;
}

/* ids and bucket keys are never 0 in the maps */
static inline uint64_t nz(uint64_t k)
{
	return k ? k : 1;
}

/* ---- hashing and tokens ------------------------------------------------------ */

static inline uint64_t token_hash(const char *s, size_t n)
{
	uint64_t h = XXH3_64bits(s, n);
	return h ? h : 1;
}

/* Byte classes for split_tokens, one table lookup per byte. */
enum { CH_SPACE = 1, CH_PUNCT = 2, CH_DOT = 4, CH_DIGIT = 8, CH_OPEN = 16, CH_CLOSE = 32 };

static const uint8_t char_class[256] = {
	['\t'] = CH_SPACE, ['\n'] = CH_SPACE, ['\v'] = CH_SPACE, ['\f'] = CH_SPACE,
	['\r'] = CH_SPACE, [' '] = CH_SPACE,
	['='] = CH_PUNCT, [','] = CH_PUNCT, [';'] = CH_PUNCT, [':'] = CH_PUNCT,
	['('] = CH_PUNCT | CH_OPEN, [')'] = CH_PUNCT | CH_CLOSE,
	['['] = CH_PUNCT | CH_OPEN, [']'] = CH_PUNCT | CH_CLOSE,
	['{'] = CH_PUNCT | CH_OPEN, ['}'] = CH_PUNCT | CH_CLOSE,
	['"'] = CH_PUNCT, ['\''] = CH_PUNCT, ['|'] = CH_PUNCT, ['.'] = CH_DOT,
	['0'] = CH_DIGIT, ['1'] = CH_DIGIT, ['2'] = CH_DIGIT, ['3'] = CH_DIGIT,
	['4'] = CH_DIGIT, ['5'] = CH_DIGIT, ['6'] = CH_DIGIT, ['7'] = CH_DIGIT,
	['8'] = CH_DIGIT, ['9'] = CH_DIGIT,
};

static inline bool is_space(unsigned char c)
{
	return char_class[c] & CH_SPACE;
}

static inline bool is_punct(unsigned char c)
{
	return char_class[c] & CH_PUNCT;
}

static inline bool is_open(unsigned char c)
{
	return char_class[c] & CH_OPEN;
}

static inline bool is_close(unsigned char c)
{
	return char_class[c] & CH_CLOSE;
}

/*
 * s[i] follows a word with no space: when it opens a bracket group that
 * closes within MINER_GROUP_MAX bytes, the index of its closing bracket,
 * else 0. Brackets of all three kinds count towards the nesting.
 */
static size_t attached_group_end(const char *s, size_t i, size_t len)
{
	if (i >= len || !is_open((unsigned char)s[i]))
		return 0;
	size_t lim = len - i > MINER_GROUP_MAX ? i + MINER_GROUP_MAX : len;
	unsigned depth = 0;
	for (size_t j = i; j < lim; j++) {
		unsigned char c = (unsigned char)s[j];
		if (is_open(c))
			depth++;
		else if (is_close(c) && --depth == 0)
			return j;
	}
	return 0;
}

static inline bool dot_run(const char *s, size_t i, size_t len)
{
	return s[i] == '.' && i + 1 < len && s[i + 1] == '.';
}

static struct tok *push_tok(struct tok **v, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	return &(*v)[(*n)++];
}

/*
 * A message made of variables alone (setLightsOn(true), isA2dpOn...) still
 * names its event: its first variable that begins with a letter becomes a
 * word, compared by its stem (the text before a glued bracket group).
 * Returns the number of words (0 or 1).
 */
static size_t promote_stem(const char *s, struct tok *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct tok *t = &v[i];
		unsigned char c = (unsigned char)s[t->start];
		if (t->kind != T_NUM || !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
			continue;
		size_t stem = 0;
		while (stem < t->len && !is_open((unsigned char)s[t->start + stem]))
			stem++;
		t->kind = T_WORD;
		t->h = token_hash(s + t->start, stem);
		return 1;
	}
	return 0;
}

/*
 * Split s into tokens. With `m`, classify them as message tokens (typed,
 * numeric or word); without, leave kind to the caller (template text).
 * Returns the number of tokens; *nwords counts word tokens.
 */
static size_t split_tokens(const struct miner *m, const char *s, size_t len, struct tok **v,
			   size_t *cap, size_t *nwords)
{
	size_t n = 0, i = 0, words = 0;
	bool space = false;
	/* where the placeholders of the last masking start, in the masked text */
	const struct mask_span *sp = NULL;
	size_t nsp = m ? mask_last_spans(m->masker, &sp) : 0, k = 0;
	int64_t shift = 0;
	size_t next_ph = SIZE_MAX, next_ph_len = 0;
	if (k < nsp) {
		next_ph = sp[0].start;
		next_ph_len = m->placeholder_len[sp[0].rule];
	}
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (is_space(c)) {
			space = true;
			i++;
			continue;
		}
		struct tok *t = push_tok(v, &n, cap);
		t->start = (uint32_t)i;
		t->space = space && n > 1;
		space = false;
		if (is_punct(c)) {
			t->len = 1;
			t->kind = T_PUNCT;
			t->h = m ? m->punct_hash[c] : token_hash(s + i, 1);
			i++;
			continue;
		}
		if (dot_run(s, i, len)) {
			/* a leader (status......0) separates, whatever its length */
			size_t st = i;
			while (i < len && s[i] == '.')
				i++;
			t->len = (uint32_t)(i - st);
			t->kind = T_PUNCT;
			t->h = m ? m->dots_hash : token_hash("..", 2);
			continue;
		}
		bool digit = false;
		size_t st = i;
		for (;;) {
			while (i < len) {
				unsigned cc = char_class[(unsigned char)s[i]];
				if ((cc & (CH_SPACE | CH_PUNCT)) || ((cc & CH_DOT) && dot_run(s, i, len)))
					break;
				digit |= (cc & CH_DIGIT) != 0;
				i++;
			}
			/* a bracket group glued to a word is part of it: f(x), a[1] */
			size_t close = i > st ? attached_group_end(s, i, len) : 0;
			if (!close)
				break;
			for (; i <= close; i++)
				digit |= (unsigned char)(s[i] - '0') < 10;
		}
		t->len = (uint32_t)(i - st);
		/* placeholders in this token */
		unsigned nph = 0;
		bool exact = false;
		while (next_ph < i) {
			nph++;
			exact = next_ph == st && next_ph + next_ph_len == i;
			shift += (int64_t)(sp[k].end - sp[k].start) - (int64_t)next_ph_len;
			k++;
			if (k < nsp) {
				next_ph = (size_t)((int64_t)sp[k].start - shift);
				next_ph_len = m->placeholder_len[sp[k].rule];
			} else {
				next_ph = SIZE_MAX;
			}
		}
		if (nph == 1 && exact) {
			t->kind = T_TYPED;
			t->h = token_hash(s + st, t->len);
		} else if (digit || nph) {
			/* digits, or a placeholder inside a word (blk_-<num>): a variable */
			t->kind = T_NUM;
			t->h = 0;
		} else if (t->len == 3 && s[st] == '<' && s[st + 1] == '*' && s[st + 2] == '>') {
			t->kind = T_ANY;
			t->h = 0;
		} else {
			t->h = token_hash(s + st, t->len);
			t->kind = T_WORD;
			words++;
		}
	}
	if (!m) {
		/* a template: its typed placeholders were not words in its
		 * messages, and a stem was promoted as it was for them */
		size_t plain = 0;
		for (size_t q = 0; q < n; q++) {
			const struct tok *t = &(*v)[q];
			plain += t->kind == T_WORD &&
				 !(t->len > 2 && s[t->start] == '<' && s[t->start + t->len - 1] == '>');
		}
		if (plain == 0)
			words += promote_stem(s, *v, n);
	}
	*nwords = words;
	return n;
}

static inline bool tok_is_var(const struct tok *t)
{
	return t->kind == T_NUM || t->kind == T_TYPED || t->kind == T_ANY;
}

static inline bool tok_is(const struct tok *t, const char *s, char c)
{
	return t->kind == T_PUNCT && s[t->start] == c;
}

/*
 * Shape the message's tokens so that one value is one token, whatever its
 * length:
 *  - an empty value is still a value: `key=` followed by nothing, and an
 *    empty (), [], {}, "" or '' get an empty variable token;
 *  - a parenthesis holding only values right after a value annotates it
 *    (`10.0.0.1 (host-1)`, `1190 bytes (1.16 KB)` once masked): one value;
 *  - values separated only by white space form one list value.
 * Word counts are unchanged: only variables are added or joined.
 */
static size_t shape_tokens(const char *s, struct tok **v, size_t n, size_t *cap)
{
	/* empty values: grow into a second array, then swap */
	size_t extra = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tok *t = &(*v)[i];
		if (t->kind != T_PUNCT)
			continue;
		char c = s[t->start];
		const struct tok *nx = i + 1 < n ? &(*v)[i + 1] : NULL;
		if (c == '=' && (!nx || nx->space || (nx->kind == T_PUNCT && s[nx->start] != '(' &&
						       s[nx->start] != '[' && s[nx->start] != '"' &&
						       s[nx->start] != '\'')))
			extra++;
		else if ((c == '(' || c == '[' || c == '{') && nx && nx->kind == T_PUNCT &&
			 s[nx->start] == (c == '(' ? ')' : c == '[' ? ']' : '}'))
			extra++;
	}
	if (extra) {
		struct tok *w = xmalloc((n + extra + 1) * sizeof *w);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			const struct tok *t = &(*v)[i];
			w[k++] = *t;
			if (t->kind != T_PUNCT)
				continue;
			char c = s[t->start];
			const struct tok *nx = i + 1 < n ? &(*v)[i + 1] : NULL;
			bool empty = false;
			if (c == '=' &&
			    (!nx || nx->space ||
			     (nx->kind == T_PUNCT && s[nx->start] != '(' && s[nx->start] != '[' &&
			      s[nx->start] != '"' && s[nx->start] != '\'')))
				empty = true;
			else if ((c == '(' || c == '[' || c == '{') && nx && nx->kind == T_PUNCT &&
				 s[nx->start] == (c == '(' ? ')' : c == '[' ? ']' : '}'))
				empty = true;
			if (empty)
				w[k++] = (struct tok){ .h = 0, .start = t->start + 1, .len = 0,
						       .kind = T_NUM, .space = 0 };
		}
		free(*v);
		*v = w;
		*cap = n + extra + 1;
		n = k;
	}
	/* joins, in place */
	struct tok *t = *v;
	size_t out = 0;
	for (size_t i = 0; i < n;) {
		struct tok cur = t[i++];
		if (!tok_is_var(&cur)) {
			t[out++] = cur;
			continue;
		}
		bool joined = false;
		for (;;) {
			/* value ( values ) */
			if (i < n && tok_is(&t[i], s, '(')) {
				size_t j = i + 1;
				while (j < n && tok_is_var(&t[j]))
					j++;
				if (j < n && j > i + 1 && tok_is(&t[j], s, ')')) {
					cur.len = t[j].start + 1 - cur.start;
					i = j + 1;
					joined = true;
					continue;
				}
			}
			/* value value */
			if (i < n && t[i].space && tok_is_var(&t[i])) {
				cur.len = t[i].start + t[i].len - cur.start;
				i++;
				joined = true;
				continue;
			}
			break;
		}
		if (joined) {
			cur.kind = T_NUM;
			cur.h = 0;
		}
		t[out++] = cur;
	}
	return out;
}

/* ---- log line headers ----------------------------------------------------------------- */

static bool is_level_word(const char *s, size_t n)
{
	static const char *const levels[] = {
		"info",  "information", "warn",  "warning", "error",  "err",	   "debug",
		"trace", "fatal",	"severe", "notice", "critical", "crit", "alert",
		"emerg", "emergency",	"verbose", "fine",	  "finer",  "finest",
	};
	if (n < 3 || n > 11)
		return false;
	char low[12];
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(s[i] | 0x20);
	for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++)
		if (strlen(levels[k]) == n && memcmp(levels[k], low, n) == 0)
			return true;
	return false;
}

static inline bool tok_char(const struct tok *t, const char *s, char c)
{
	return t->kind == T_PUNCT && s[t->start] == c;
}

static inline bool tok_open(const struct tok *t, const char *s)
{
	return t->kind == T_PUNCT && is_open((unsigned char)s[t->start]);
}

/* The closing token of the bracket group opened at v[i], or SIZE_MAX. */
static size_t group_close(const struct tok *v, size_t n, const char *s, size_t i)
{
	unsigned depth = 0;
	for (size_t j = i; j < n; j++) {
		if (v[j].kind != T_PUNCT)
			continue;
		unsigned char c = (unsigned char)s[v[j].start];
		if (is_open(c))
			depth++;
		else if (is_close(c) && --depth == 0)
			return j;
	}
	return SIZE_MAX;
}

static bool tok_level(const struct tok *t, const char *s)
{
	return t->kind == T_WORD && is_level_word(s + t->start, t->len);
}

/* `name:` ending a field: a colon followed by white space or the end. */
static bool field_colon(const struct tok *v, size_t n, const char *s, size_t i)
{
	return i < n && tok_char(&v[i], s, ':') && (i + 1 == n || v[i + 1].space);
}

/* A lone dash between spaces separates fields. */
static bool field_dash(const struct tok *v, size_t n, const char *s, size_t i)
{
	return i < n && v[i].kind == T_WORD && v[i].len == 1 && s[v[i].start] == '-' &&
	       v[i].space && i + 1 < n && v[i + 1].space;
}

/*
 * After a level word at v[e]: a logger or thread in brackets, then perhaps
 * one component word closed by `:` or ` - ` or followed by a bracketed
 * context ([main] org.Foo: ..., [req-1 - -] ..., nova.api [req-1] ...).
 * Returns the last header token.
 */
static size_t after_level(const struct tok *v, size_t n, const char *s, size_t e)
{
	size_t k = e + 1, last = e;
	for (int g = 0; g < 2 && k < n && tok_open(&v[k], s) && v[k].space; g++) {
		size_t j = group_close(v, n, s, k);
		if (j == SIZE_MAX)
			break;
		last = j;
		k = j + 1;
	}
	if (field_colon(v, n, s, k) || field_dash(v, n, s, k))
		return k;
	if (k < n && v[k].kind != T_PUNCT) {
		if (field_colon(v, n, s, k + 1) || field_dash(v, n, s, k + 1))
			return k + 1;
		if (k + 1 < n && tok_open(&v[k + 1], s) && v[k + 1].space) {
			size_t j = group_close(v, n, s, k + 1);
			if (j != SIZE_MAX)
				return j;
		}
	}
	return last;
}

/*
 * The header of a log line as written to a file: time stamp, host, pid,
 * level, component... before the message. Lines of one event carry many
 * headers (other times, threads, levels, optional fields), so the header
 * becomes one variable token whatever its length. Only a line that starts
 * with a value (a time, a number) has one, and it ends at the first of:
 *  - a level word (INFO, [notice]), with the logger/thread/component after
 *    it (see after_level);
 *  - `component:` or ` - ` (syslog `prog[pid]:`, `[time] prog - `);
 *  - the last of a run of `|` separated fields near the start.
 * and it must hold a time stamp or two values, so that a message such as
 * `3 errors: retrying` keeps its words. Returns its token count, 0: none.
 */
static size_t header_len(const struct miner *m)
{
	const struct tok *v = m->tok;
	const char *s = m->masked;
	size_t n = m->ntok, lim = n < MINER_HEADER_SCAN ? n : MINER_HEADER_SCAN;
	size_t values = 0, seen = 0, end = SIZE_MAX, last_ts = SIZE_MAX;
	/* it starts with a value, perhaps bracketed, perhaps after a lone - */
	size_t f = 0;
	if (f < n && v[f].kind == T_WORD && v[f].len == 1 && s[v[f].start] == '-')
		f++;
	if (f >= n)
		return 0;
	if (tok_open(&v[f], s)) {
		size_t j = group_close(v, n, s, f);
		bool val = false;
		for (size_t q = f + 1; q < j && q < n; q++)
			val |= tok_is_var(&v[q]);
		if (j == SIZE_MAX || !val)
			return 0;
	} else if (!tok_is_var(&v[f])) {
		return 0;
	}
	for (size_t i = 0; i < lim; i++) {
		const struct tok *t = &v[i];
		if (t->kind == T_PUNCT) {
			if (tok_open(t, s)) {
				size_t j = group_close(v, n, s, i);
				if (j == SIZE_MAX)
					break;
				if (j == i + 2 && tok_level(&v[i + 1], s)) {
					end = after_level(v, n, s, j);
					break;
				}
				/* a group is one field: its values count once */
				bool val = false;
				for (size_t q = i + 1; q < j; q++) {
					val |= tok_is_var(&v[q]);
					if (v[q].kind == T_TYPED && v[q].h == m->ts_hash)
						last_ts = j;
				}
				values += val;
				seen += 1;
				i = j;
				continue;
			}
			if (field_colon(v, n, s, i) && seen) {
				end = i;
				break;
			}
			if (tok_char(t, s, '|') && seen && seen <= 3) {
				/* a run of |-separated fields */
				end = i;
				for (size_t j = i + 1; j < lim && j <= end + 4; j++)
					if (tok_char(&v[j], s, '|'))
						end = j;
				break;
			}
			continue;
		}
		if (tok_level(t, s) && seen && i + 1 < n) {
			end = after_level(v, n, s, i);
			break;
		}
		if (field_dash(v, n, s, i) && seen && !(i + 1 < n && tok_level(&v[i + 1], s))) {
			end = i;
			break;
		}
		if (tok_is_var(t)) {
			values++;
			if (t->kind == T_TYPED && t->h == m->ts_hash)
				last_ts = i;
		}
		seen++;
	}
	if (end == SIZE_MAX && last_ts != SIZE_MAX) {
		/* no separator: the fields end with the time stamp and the
		 * values right after it (id host comp event TIME flag msg) */
		end = last_ts;
		while (end + 1 < n && v[end + 1].space && tok_is_var(&v[end + 1]))
			end++;
	}
	if (end == SIZE_MAX || end + 1 >= n || !(last_ts != SIZE_MAX || values >= 2))
		return 0;
	return end + 1;
}

/* Fold the header of the message, if any, into one variable token. */
static void collapse_header(struct miner *m)
{
	size_t h = header_len(m);
	if (h == 0)
		return;
	struct tok *v = m->tok;
	size_t words = 0;
	for (size_t i = 0; i < h; i++)
		words += v[i].kind == T_WORD;
	v[0].len = v[h - 1].start + v[h - 1].len - v[0].start;
	v[0].kind = T_NUM;
	v[0].h = 0;
	memmove(&v[1], &v[h], (m->ntok - h) * sizeof *v);
	m->ntok -= h - 1;
	/* shown apart, so that the template re-splits into the same tokens */
	if (m->ntok > 1)
		v[1].space = 1;
	m->nwords -= words;
}

uint64_t miner_bucket_key(const char *name, const char *service, size_t ntokens)
{
	const char *n = name ? name : "", *s = service ? service : "";
	uint64_t h = XXH3_64bits(n, strlen(n) + 1);
	h = XXH3_64bits_withSeed(s, strlen(s) + 1, h);
	uint64_t nt = (uint64_t)ntokens;
	h = XXH3_64bits_withSeed(&nt, sizeof nt, h);
	return nz(h);
}

/* ---- lifecycle ------------------------------------------------------------------ */

struct miner *miner_new(const struct mask_rules *rules, const struct miner_config *cfg)
{
	struct miner *m = xcalloc(1, sizeof *m);
	m->rules = rules;
	m->masker = masker_new(rules);
	size_t nrules = mask_rules_count(rules);
	m->placeholder_len = xcalloc(nrules ? nrules : 1, sizeof *m->placeholder_len);
	for (size_t i = 0; i < nrules; i++)
		m->placeholder_len[i] = strlen(mask_rule_placeholder(rules, i));
	m->ts_hash = token_hash("<ts>", 4);
	for (unsigned c = 0; c < 256; c++) {
		char b = (char)c;
		m->punct_hash[c] = token_hash(&b, 1);
	}
	m->dots_hash = token_hash("..", 2);
	m->max_templates = cfg && cfg->max_templates ? cfg->max_templates
						     : MINER_DEFAULT_MAX_TEMPLATES;
	m->next_id = cfg && cfg->first_id ? cfg->first_id : 1;
	m->next_serial = 1;
	m->next_gen = 1;
	m->cl_free = NIL;
	m->lru_head = m->lru_tail = NIL;
	m->last_slot = NIL;
	map_init(&m->by_bucket);
	map_init(&m->by_id);
	m->cache = xcalloc((size_t)1 << CACHE_BITS, sizeof *m->cache);
	return m;
}

static void cluster_release(struct cluster *c)
{
	xfree(&c->t);
	xfree(&c->text);
	xfree(&c->kinds);
	c->serial = 0;
}

void miner_free(struct miner **mp)
{
	struct miner *m = *mp;
	if (!m)
		return;
	for (size_t i = 0; i < m->ncl; i++)
		if (m->cl[i].serial)
			cluster_release(&m->cl[i]);
	free(m->cl);
	for (size_t i = 0; i < m->nbk; i++)
		if (m->bk[i].used) {
			free(m->bk[i].name);
			free(m->bk[i].service);
			free(m->bk[i].cl);
		}
	free(m->bk);
	free(m->bk_free);
	map_free(&m->by_bucket);
	map_free(&m->by_id);
	free(m->cache);
	free(m->tok);
	free(m->expl);
	free(m->diff);
	free(m->sib);
	free(m->merged);
	free(m->placeholder_len);
	masker_free(&m->masker);
	xfree(mp);
}

void miner_set_hooks(struct miner *m, miner_event_fn on_event, miner_loader_fn loader, void *ctx)
{
	m->on_event = on_event;
	m->loader = loader;
	m->ctx = ctx;
}

size_t miner_live_count(const struct miner *m)
{
	return m->live;
}

uint64_t miner_next_id(const struct miner *m)
{
	return m->next_id;
}

const struct masker *miner_masker(const struct miner *m)
{
	return m->masker;
}

/* ---- buckets ---------------------------------------------------------------------- */

static uint32_t bucket_create(struct miner *m, uint64_t key, const char *name,
			      const char *service, uint32_t ntok)
{
	uint32_t b;
	if (m->nbk_free) {
		b = m->bk_free[--m->nbk_free];
	} else {
		if (m->nbk == m->capbk) {
			m->capbk = m->capbk ? m->capbk * 2 : 64;
			m->bk = xrealloc(m->bk, m->capbk * sizeof *m->bk);
		}
		b = (uint32_t)m->nbk++;
	}
	struct bucket *bk = &m->bk[b];
	memset(bk, 0, sizeof *bk);
	bk->key = key;
	bk->gen = m->next_gen++;
	bk->name = xstrdup(name ? name : "");
	bk->service = xstrdup(service ? service : "");
	bk->ntok = ntok;
	bk->used = true;
	map_put(&m->by_bucket, key, b);
	return b;
}

static void bucket_destroy(struct miner *m, uint32_t b)
{
	struct bucket *bk = &m->bk[b];
	map_del(&m->by_bucket, bk->key);
	xfree(&bk->name);
	xfree(&bk->service);
	xfree(&bk->cl);
	bk->used = false;
	if (m->nbk_free == m->capbk_free) {
		m->capbk_free = m->capbk_free ? m->capbk_free * 2 : 64;
		m->bk_free = xrealloc(m->bk_free, m->capbk_free * sizeof *m->bk_free);
	}
	m->bk_free[m->nbk_free++] = b;
}

static void bucket_insert(struct miner *m, uint32_t b, uint32_t slot)
{
	struct bucket *bk = &m->bk[b];
	if (bk->n == bk->cap) {
		bk->cap = bk->cap ? bk->cap * 2 : 4;
		bk->cl = xrealloc(bk->cl, bk->cap * sizeof *bk->cl);
	}
	uint64_t id = m->cl[slot].id;
	uint32_t i = bk->n;
	while (i > 0 && m->cl[bk->cl[i - 1]].id > id) {
		bk->cl[i] = bk->cl[i - 1];
		i--;
	}
	bk->cl[i] = slot;
	bk->n++;
	bk->gen = m->next_gen++;
}

static void bucket_remove(struct miner *m, uint32_t b, uint32_t slot)
{
	struct bucket *bk = &m->bk[b];
	for (uint32_t i = 0; i < bk->n; i++)
		if (bk->cl[i] == slot) {
			memmove(&bk->cl[i], &bk->cl[i + 1], (bk->n - i - 1) * sizeof bk->cl[0]);
			bk->n--;
			break;
		}
	bk->gen = m->next_gen++;
}

/* ---- clusters ------------------------------------------------------------------------ */

static void lru_unlink(struct miner *m, uint32_t s)
{
	struct cluster *c = &m->cl[s];
	if (c->lru_prev != NIL)
		m->cl[c->lru_prev].lru_next = c->lru_next;
	else
		m->lru_head = c->lru_next;
	if (c->lru_next != NIL)
		m->cl[c->lru_next].lru_prev = c->lru_prev;
	else
		m->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NIL;
}

static void lru_push_front(struct miner *m, uint32_t s)
{
	struct cluster *c = &m->cl[s];
	c->lru_prev = NIL;
	c->lru_next = m->lru_head;
	if (m->lru_head != NIL)
		m->cl[m->lru_head].lru_prev = s;
	m->lru_head = s;
	if (m->lru_tail == NIL)
		m->lru_tail = s;
}

static void lru_touch(struct miner *m, uint32_t s)
{
	if (m->lru_head == s)
		return;
	lru_unlink(m, s);
	lru_push_front(m, s);
}

static uint32_t cluster_alloc(struct miner *m)
{
	uint32_t s;
	if (m->cl_free != NIL) {
		s = m->cl_free;
		m->cl_free = m->cl[s].lru_next;
	} else {
		if (m->ncl == m->capcl) {
			m->capcl = m->capcl ? m->capcl * 2 : 256;
			m->cl = xrealloc(m->cl, m->capcl * sizeof *m->cl);
		}
		s = (uint32_t)m->ncl++;
	}
	memset(&m->cl[s], 0, sizeof m->cl[s]);
	m->cl[s].serial = m->next_serial++;
	m->cl[s].lru_prev = m->cl[s].lru_next = NIL;
	return s;
}

/*
 * Give cluster c the template `t` (n tokens) whose constant tokens' text is
 * in src (at t[i].start). The cluster takes ownership of t; text and kinds
 * are rebuilt and the token offsets moved into the new text.
 */
static void cluster_set_template(struct cluster *c, struct tok *t, uint32_t n, const char *src)
{
	size_t total = 1;
	for (uint32_t i = 0; i < n; i++)
		total += 1 + (t[i].kind >= T_NUM ? 3 : t[i].len);
	char *text = xmalloc(total);
	char *kinds = xmalloc(n + 1);
	size_t at = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].space)
			text[at++] = ' ';
		kinds[i] = KIND_LETTER[t[i].kind];
		if (t[i].kind >= T_NUM) {
			memcpy(text + at, "<*>", 3);
			t[i].start = (uint32_t)at;
			t[i].len = 3;
			t[i].h = 0;
		} else {
			memcpy(text + at, src + t[i].start, t[i].len);
			t[i].start = (uint32_t)at;
		}
		at += t[i].len;
	}
	text[at] = '\0';
	kinds[n] = '\0';
	if (c->t != t)
		free(c->t);
	free(c->text);
	free(c->kinds);
	c->t = t;
	c->text = text;
	c->text_len = at;
	c->kinds = kinds;
	c->ntok = n;
}

static void cluster_describe(const struct miner *m, const struct cluster *c,
			     struct miner_template *t)
{
	const struct bucket *bk = &m->bk[c->bucket];
	t->id = c->id;
	t->bucket = bk->key;
	t->name = bk->name;
	t->service = bk->service;
	t->text = c->text;
	t->kinds = c->kinds;
	t->ntokens = c->ntok;
	t->count = c->count;
}

static void emit(struct miner *m, enum miner_event_kind kind, uint32_t slot, uint64_t from)
{
	if (!m->on_event)
		return;
	struct miner_template t;
	cluster_describe(m, &m->cl[slot], &t);
	struct miner_event ev = { kind, &t, from };
	m->on_event(m->ctx, &ev);
}

/* Forget a cluster: out of its bucket, the id map, the LRU and the slab. */
static void cluster_drop(struct miner *m, uint32_t s)
{
	struct cluster *c = &m->cl[s];
	uint32_t b = c->bucket;
	bucket_remove(m, b, s);
	map_del(&m->by_id, nz(c->id));
	lru_unlink(m, s);
	cluster_release(c);
	c->lru_next = m->cl_free;
	m->cl_free = s;
	m->live--;
	if (m->last_slot == s)
		m->last_slot = NIL;
	if (m->bk[b].n == 0)
		bucket_destroy(m, b);
}

static void evict_over_cap(struct miner *m, uint32_t keep)
{
	while (m->live > m->max_templates && m->lru_tail != NIL) {
		uint32_t s = m->lru_tail;
		if (s == keep) {
			if (m->cl[s].lru_prev == NIL)
				break;
			s = m->cl[s].lru_prev;
		}
		emit(m, MINER_EV_EVICTED, s, 0);
		m->bk[m->cl[s].bucket].had_evictions = true;
		cluster_drop(m, s);
	}
}

static void note_merge(struct miner *m, uint64_t loser)
{
	if (m->nmerged == m->capmerged) {
		m->capmerged = m->capmerged ? m->capmerged * 2 : 8;
		m->merged = xrealloc(m->merged, m->capmerged * sizeof *m->merged);
	}
	m->merged[m->nmerged++] = loser;
}

/* ---- matching ------------------------------------------------------------------------ */

enum agreement { DISAGREE, AGREE, AGREE_NUM };

/* How a template token and a message (or other template) token relate. */
static inline enum agreement agree(const struct tok *t, const struct tok *x)
{
	switch (t->kind) {
	case T_ANY:
		return AGREE;
	case T_NUM:
		return x->kind == T_NUM || x->kind == T_TYPED ? AGREE : DISAGREE;
	case T_TYPED:
		if (x->kind == T_TYPED)
			return x->h == t->h ? AGREE : AGREE_NUM;
		return x->kind == T_NUM ? AGREE_NUM : DISAGREE;
	default:
		return x->kind == t->kind && x->h == t->h ? AGREE : DISAGREE;
	}
}

/* The join of two tokens at one position: the least general token covering both. */
static inline void join_tok(struct tok *t, const struct tok *x)
{
	if (t->kind == T_ANY)
		return;
	if (x->kind == t->kind && x->h == t->h)
		return;
	bool numeric = (t->kind == T_NUM || t->kind == T_TYPED) &&
		       (x->kind == T_NUM || x->kind == T_TYPED);
	t->kind = numeric ? T_NUM : T_ANY;
	t->h = 0;
}

/* Does template g cover template o (same length)? */
static bool covers(const struct cluster *g, const struct cluster *o)
{
	for (uint32_t i = 0; i < g->ntok; i++) {
		const struct tok *a = &g->t[i], *b = &o->t[i];
		if (a->kind == T_ANY)
			continue;
		if (a->kind == T_NUM) {
			if (b->kind != T_NUM && b->kind != T_TYPED)
				return false;
			continue;
		}
		if (a->kind != b->kind || a->h != b->h)
			return false;
	}
	return true;
}

/* Disagreements of the message with cluster c, counting no further than `limit`. */
static uint32_t count_diff(const struct miner *m, const struct cluster *c, uint32_t limit)
{
	uint32_t d = 0;
	for (uint32_t i = 0; i < c->ntok; i++)
		if (agree(&c->t[i], &m->tok[i]) == DISAGREE && ++d > limit)
			return d;
	return d;
}

/* Generalise cluster s to cover the message; true when its template changed. */
static bool absorb_message(struct miner *m, uint32_t s)
{
	struct cluster *c = &m->cl[s];
	bool changed = false;
	for (uint32_t i = 0; i < c->ntok; i++) {
		struct tok *t = &c->t[i];
		if (agree(t, &m->tok[i]) != AGREE) {
			join_tok(t, &m->tok[i]);
			changed = true;
		}
	}
	if (changed)
		cluster_set_template(c, c->t, c->ntok, c->text);
	return changed;
}

/*
 * Fold cluster `lose` into cluster `win` (same bucket): win's template
 * becomes the join of both, counts add up, the loser is reported and gone.
 */
static void merge_into(struct miner *m, uint32_t win, uint32_t lose)
{
	struct cluster *w = &m->cl[win], *l = &m->cl[lose];
	bool changed = false;
	for (uint32_t i = 0; i < w->ntok; i++) {
		struct tok before = w->t[i];
		join_tok(&w->t[i], &l->t[i]);
		changed |= before.kind != w->t[i].kind;
	}
	if (changed)
		cluster_set_template(w, w->t, w->ntok, w->text);
	w->count += l->count;
	uint64_t loser_id = l->id;
	note_merge(m, loser_id);
	cluster_drop(m, lose);
	emit(m, MINER_EV_MERGED, win, loser_id);
}

/*
 * Cluster s just generalised: fold every other template of its bucket that
 * it now covers. The older id survives. Returns the surviving slot.
 */
static uint32_t merge_covered(struct miner *m, uint32_t s)
{
	uint32_t b = m->cl[s].bucket;
	for (uint32_t k = 0; k < m->bk[b].n;) {
		uint32_t o = m->bk[b].cl[k];
		if (o == s || !covers(&m->cl[s], &m->cl[o])) {
			k++;
			continue;
		}
		uint32_t win = m->cl[s].id < m->cl[o].id ? s : o;
		merge_into(m, win, win == s ? o : s);
		s = win;
		k = 0;
	}
	return s;
}

static uint32_t cluster_from_message(struct miner *m, uint32_t b)
{
	uint32_t s = cluster_alloc(m);
	struct cluster *c = &m->cl[s];
	uint32_t n = (uint32_t)m->ntok;
	struct tok *t = xmalloc((n ? n : 1) * sizeof *t);
	memcpy(t, m->tok, n * sizeof *t);
	cluster_set_template(c, t, n, m->masked);
	c->id = m->next_id++;
	c->bucket = b;
	c->count = 1;
	m->live++;
	map_put(&m->by_id, nz(c->id), s);
	bucket_insert(m, b, s);
	lru_push_front(m, s);
	return s;
}

/*
 * The message agrees with no template of bucket b. Returns the slot of the
 * cluster its siblings merged into, or NIL when it should found its own.
 */
static uint32_t merge_siblings(struct miner *m, uint32_t b)
{
	const struct bucket *bk = &m->bk[b];
	uint32_t limit = (uint32_t)((double)m->nwords * MINER_MAX_DIFF);
	if (limit == 0 || bk->n + 1 < MINER_SIBLINGS)
		return NIL;
	/* the nearest template (ties: the older) */
	uint32_t best = NIL, best_d = limit + 1;
	for (uint32_t k = 0; k < bk->n; k++) {
		uint32_t d = count_diff(m, &m->cl[bk->cl[k]], best_d - 1);
		if (d < best_d) {
			best = bk->cl[k];
			best_d = d;
		}
	}
	if (best == NIL)
		return NIL;
	/* its differing positions */
	if (m->capdiff < m->ntok) {
		m->capdiff = m->ntok;
		m->diff = xrealloc(m->diff, m->capdiff * sizeof *m->diff);
	}
	uint32_t nd = 0;
	const struct cluster *c = &m->cl[best];
	for (uint32_t i = 0; i < c->ntok; i++)
		if (agree(&c->t[i], &m->tok[i]) == DISAGREE)
			m->diff[nd++] = i;
	/* the first word names the event (boot / halt, tickTime set to...) */
	if (nd && m->diff[0] == m->first_word)
		return NIL;
	/* siblings: templates agreeing with the message outside those positions */
	if (m->capsib < bk->n) {
		m->capsib = bk->n;
		m->sib = xrealloc(m->sib, m->capsib * sizeof *m->sib);
	}
	uint32_t ns = 0;
	for (uint32_t k = 0; k < bk->n; k++) {
		const struct cluster *o = &m->cl[bk->cl[k]];
		uint32_t j = 0;
		bool ok = true;
		for (uint32_t i = 0; i < o->ntok && ok; i++) {
			if (j < nd && m->diff[j] == i) {
				j++;
				continue;
			}
			ok = agree(&o->t[i], &m->tok[i]) != DISAGREE;
		}
		if (ok)
			m->sib[ns++] = bk->cl[k];
	}
	if (ns + 1 < MINER_SIBLINGS)
		return NIL;
	/* a variable column has many values for its messages; a few values
	 * that each recur (normal / warning / critical) are constants */
	uint64_t total = 1;
	for (uint32_t k = 0; k < ns; k++)
		total += m->cl[m->sib[k]].count;
	if ((double)(ns + 1) < MINER_MIN_VALUE_SHARE * (double)total)
		return NIL;
	/* the oldest sibling survives (the bucket is in id order) */
	uint32_t win = m->sib[0];
	for (uint32_t k = 1; k < ns; k++)
		merge_into(m, win, m->sib[k]);
	return win;
}

/* ---- restore ------------------------------------------------------------------------- */

enum status miner_restore(struct miner *m, const struct miner_template *t)
{
	if (!t || !t->text || !t->kinds || t->id == 0)
		return STATUS_BAD_INPUT;
	if (map_get(&m->by_id, nz(t->id)) != NIL)
		return STATUS_OK;
	struct tok *v = NULL;
	size_t cap = 0, words;
	size_t n = split_tokens(NULL, t->text, strlen(t->text), &v, &cap, &words);
	uint64_t key = miner_bucket_key(t->name, t->service, n);
	bool ok = n == t->ntokens && strlen(t->kinds) == n && (!t->bucket || t->bucket == key);
	for (size_t i = 0; ok && i < n; i++) {
		const char *at = t->kinds[i] ? strchr(KIND_LETTER, t->kinds[i]) : NULL;
		if (!at) {
			ok = false;
			break;
		}
		uint8_t kind = (uint8_t)(at - KIND_LETTER);
		bool var_text = v[i].kind == T_NUM || v[i].kind == T_ANY;
		/* variables are spelt <*>; constants never are */
		if ((kind >= T_NUM) != (v[i].kind == T_ANY) || (kind < T_NUM && var_text) ||
		    (kind == T_PUNCT) != (v[i].kind == T_PUNCT))
			ok = false;
		v[i].kind = kind;
		if (kind >= T_NUM)
			v[i].h = 0;
	}
	if (!ok) {
		free(v);
		return STATUS_BAD_INPUT;
	}

	uint32_t b = map_get(&m->by_bucket, key);
	if (b == NIL)
		b = bucket_create(m, key, t->name, t->service, (uint32_t)n);
	uint32_t s = cluster_alloc(m);
	struct cluster *c = &m->cl[s];
	if (!v)
		v = xmalloc(sizeof *v);
	cluster_set_template(c, v, (uint32_t)n, t->text);
	c->id = t->id;
	c->count = t->count;
	c->bucket = b;
	m->live++;
	map_put(&m->by_id, nz(t->id), s);
	bucket_insert(m, b, s);
	/* a restored template is wanted now: the most recently seen */
	lru_push_front(m, s);
	if (t->id >= m->next_id)
		m->next_id = t->id + 1;
	/* a loader called from miner_add may load a whole bucket past the
	 * cap; miner_add evicts when it is done with the bucket */
	if (!m->in_add)
		evict_over_cap(m, s);
	return STATUS_OK;
}

/* ---- the message path ------------------------------------------------------------------ */

static uint64_t sequence_key(const struct miner *m, uint64_t bkey)
{
	uint64_t h = bkey;
	for (size_t i = 0; i < m->ntok; i++) {
		uint64_t x = m->tok[i].h ^ ((uint64_t)m->tok[i].kind << 56);
		h ^= x + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
		h *= 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 33;
	return nz(h);
}

static uint32_t bucket_ready(struct miner *m, uint64_t bkey, const char *name,
			     const char *service)
{
	uint32_t b = map_get(&m->by_bucket, bkey);
	if (b != NIL)
		return b;
	b = bucket_create(m, bkey, name, service, (uint32_t)m->ntok);
	if (m->loader) {
		m->loader(m->ctx, m, bkey);
		b = map_get(&m->by_bucket, bkey);
		if (b == NIL) /* the loader's restores overflowed the cap */
			b = bucket_create(m, bkey, name, service, (uint32_t)m->ntok);
	}
	return b;
}

/* The first (oldest) template of bucket b the message agrees with, or NIL. */
static uint32_t find_agreeing(struct miner *m, uint32_t b)
{
	const struct bucket *bk = &m->bk[b];
	for (uint32_t k = 0; k < bk->n; k++)
		if (count_diff(m, &m->cl[bk->cl[k]], 0) == 0)
			return bk->cl[k];
	return NIL;
}

void miner_add(struct miner *m, const char *name, const char *service, const char *text,
	       size_t len, struct miner_result *out)
{
	m->in_add = true;
	m->masked = mask_apply(m->masker, text, len, &m->masked_len);
	m->ntok = split_tokens(m, m->masked, m->masked_len, &m->tok, &m->captok, &m->nwords);
	collapse_header(m);
	if (m->nwords == 0)
		m->nwords = promote_stem(m->masked, m->tok, m->ntok);
	m->ntok = shape_tokens(m->masked, &m->tok, m->ntok, &m->captok);
	m->first_word = UINT32_MAX;
	for (size_t i = 0; i < m->ntok; i++)
		if (m->tok[i].kind == T_WORD) {
			m->first_word = (uint32_t)i;
			break;
		}
	m->nmerged = 0;

	uint64_t bkey = miner_bucket_key(name, service, m->ntok);
	uint64_t skey = sequence_key(m, bkey);
	struct cache_entry *ce = &m->cache[skey & (((size_t)1 << CACHE_BITS) - 1)];
	bool is_new = false, changed = false;
	uint32_t s;

	if (ce->key == skey && ce->slot < m->ncl && m->cl[ce->slot].serial == ce->serial &&
	    m->bk[m->cl[ce->slot].bucket].gen == ce->bgen) {
		s = ce->slot;
		m->cl[s].count++;
	} else {
		uint32_t b = bucket_ready(m, bkey, name, service);
		s = find_agreeing(m, b);
		if (s == NIL && m->bk[b].had_evictions && m->loader) {
			m->bk[b].had_evictions = false;
			m->loader(m->ctx, m, bkey);
			b = map_get(&m->by_bucket, bkey);
			if (b == NIL)
				b = bucket_create(m, bkey, name, service, (uint32_t)m->ntok);
			s = find_agreeing(m, b);
		}
		if (s == NIL)
			s = merge_siblings(m, b);
		if (s == NIL) {
			s = cluster_from_message(m, b);
			is_new = true;
			emit(m, MINER_EV_NEW, s, 0);
		} else {
			m->cl[s].count++;
			changed = m->nmerged > 0;
			if (absorb_message(m, s)) {
				changed = true;
				m->bk[m->cl[s].bucket].gen = m->next_gen++;
				s = merge_covered(m, s);
			}
			if (changed)
				emit(m, MINER_EV_CHANGED, s, 0);
		}
		ce->key = skey;
		ce->slot = s;
		ce->serial = m->cl[s].serial;
		ce->bgen = m->bk[m->cl[s].bucket].gen;
	}
	lru_touch(m, s);
	m->last_slot = s;
	m->in_add = false;
	evict_over_cap(m, s);

	const struct cluster *c = &m->cl[s];
	out->id = c->id;
	out->template_text = c->text;
	out->template_len = c->text_len;
	out->is_new = is_new;
	out->changed = changed;
	out->nmerged = m->nmerged;
	out->merged_from = m->merged;
}

/* ---- explanation ------------------------------------------------------------------------- */

size_t miner_explain(struct miner *m, const struct miner_token **tokens)
{
	if (m->ntok > m->capexpl) {
		m->capexpl = m->ntok;
		m->expl = xrealloc(m->expl, m->capexpl * sizeof *m->expl);
	}
	const struct mask_span *sp;
	size_t nsp = mask_last_spans(m->masker, &sp);
	const struct cluster *c = m->last_slot != NIL ? &m->cl[m->last_slot] : NULL;

	/*
	 * Spans and tokens are both in text order, so one walk maps them:
	 * before span k, original offset = masked offset + shift. A
	 * placeholder holds no white space or punctuation, so it lies within
	 * one token.
	 */
	size_t k = 0;
	int64_t shift = 0;
	for (size_t i = 0; i < m->ntok; i++) {
		struct miner_token *e = &m->expl[i];
		int64_t ms = m->tok[i].start, me = ms + m->tok[i].len;
		while (k < nsp) {
			int64_t plen = (int64_t)m->placeholder_len[sp[k].rule];
			int64_t pstart = (int64_t)sp[k].start - shift;
			if (pstart + plen > ms)
				break;
			shift += (int64_t)(sp[k].end - sp[k].start) - plen;
			k++;
		}
		e->rule = -1;
		e->start = (uint32_t)(ms + shift);
		while (k < nsp) {
			int64_t plen = (int64_t)m->placeholder_len[sp[k].rule];
			int64_t pstart = (int64_t)sp[k].start - shift;
			if (pstart >= me)
				break;
			if (e->rule < 0)
				e->rule = (int32_t)sp[k].rule;
			shift += (int64_t)(sp[k].end - sp[k].start) - plen;
			k++;
		}
		e->end = (uint32_t)(me + shift);
		e->wildcard = c && i < c->ntok && c->t[i].kind >= T_NUM;
	}
	*tokens = m->expl;
	return m->ntok;
}

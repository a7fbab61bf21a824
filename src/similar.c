/*
 * similar.c — see similar.h. How the text signal is computed, and why so:
 *
 * FTS5 ranks by BM25 only by scoring every row that matches any query term,
 * and a query of forty ordinary words matches nearly all of a large history
 * (measured: about 0.4 s over 100,000 post-mortems). So BM25 comes from an
 * impact-ordered index of our own, built with FTS5's own tokenizer (the one
 * incidents_fts uses): for every term, the BM25 term-frequency part of each
 * resolved incident that contains it, quantised to 16 bits and packed per
 * term best first. A query shares a budget of QUERY_BUDGET postings among
 * its terms (rarest first: a term with fewer postings than its share is
 * read whole) and adds idf × impact per incident (score-at-a-time): bounded
 * work whatever the size of the history, and exact BM25 for every term read
 * whole — every term of a history of a few thousand incidents. A rebuild
 * keeps at most SIMILAR_KEEP postings per term (the best), since no query
 * reads further; incidents indexed one by one in between go to a table of
 * their own, and those taken out are skipped.
 *
 * The index is a cache of the incidents' text. Triggers queue changed
 * incidents in similar_dirty; similar_refresh() folds them in, one by one
 * when they are few, else by a rebuild (two passes over the text: document
 * frequencies and lengths, then impacts); a query scores queued incidents
 * directly, so it is never wrong, only slower until the next refresh.
 *
 * The other signals are plain indexed look-ups (clusters, templates,
 * labels) and FTS5 phrase queries (identifiers), over the few candidates.
 */
#include "config.h"
#include "similar.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define BM25_K1 1.2
#define BM25_B 0.75
#define IMPACT_MAX 65535u
#define SIMILAR_KEEP 1024    /* postings kept per term by a rebuild */
#define QUERY_BUDGET 16384   /* postings read by one query */
#define QUERY_MIN_DEPTH 64   /* postings read per term, at least */
#define QUERY_MAX_TERMS 1024 /* distinct terms of a query used */
#define TERM_MAX_BYTES 64    /* longer tokens are noise (base64, hashes) */
#define DIRTY_SCAN_MAX 512   /* queued incidents a query scores directly */
#define DOC_MAX_CLUSTERS 32  /* clusters of an incident whose text counts */
#define TEXT_CANDIDATES 30   /* text matches considered, at least */
#define MAX_IDENTS 8         /* identifiers of a text looked up verbatim */
#define MAX_LABEL_WORDS 32   /* words of a text looked up as label values */
#define REC_MAX_CLUSTERS 256 /* clusters followed for recurrence */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Tier and bonus weights of the final score (see similar.h). */
#define TIER_CLUSTER 10.0
#define TIER_TEMPLATE 5.0
#define W_SHARED 0.1   /* per shared cluster or template, up to 10 */
#define W_SERVICE 0.25 /* × Jaccard of the service sets */
#define W_LABEL 0.3    /* × shared labels / 3, up to 1 */
#define W_IDENT 0.1    /* × share of the text's identifiers found */

/* Indexed fields and their BM25F weights (the same FTS5 would apply with
 * bm25(incidents_fts, 1, 1, …)). Equal weights measured best. */
enum field { F_TITLE, F_SUMMARY, F_DETAILS, F_SERVICES, F_ROOT_CAUSE, F_ACTION, F_CLUSTERS, NFIELDS };
static const float field_weight[NFIELDS] = { 1, 1, 1, 1, 1, 1, 1 };

/* Function words: no evidence of a cause, and common enough to be costly. */
static const char *const stop_words[] = {
	"a",     "an",    "and",   "are",  "as",    "at",    "be",    "been", "being", "by",
	"can",   "could", "for",   "from", "had",   "has",   "have",  "he",   "her",   "his",
	"i",     "in",    "is",    "it",   "its",   "may",   "me",    "might", "must", "my",
	"of",    "on",    "or",    "our",  "s",     "shall", "she",   "should", "t",   "that",
	"the",   "their", "them",  "these", "they", "this",  "those", "to",   "us",    "was",
	"we",    "were",  "which", "who",  "whom",  "will",  "with",  "would", "you",  "your",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_stop(const char *tok, size_t n)
{
	char key[8];
	if (n >= sizeof key)
		return false;
	memcpy(key, tok, n);
	key[n] = '\0';
	const char *k = key;
	return bsearch(&k, stop_words, sizeof stop_words / sizeof *stop_words, sizeof *stop_words,
		       cmp_str) != NULL;
}

/* Natural logarithm without libm: x = m·2^e with m in [1, 2), then
 * ln m = 2·atanh((m-1)/(m+1)), a series that converges fast there. */
static double natural_log(double x)
{
	if (!(x > 0))
		return -1e300;
	uint64_t bits;
	memcpy(&bits, &x, sizeof bits);
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ~(0x7ffULL << 52)) | (1023ULL << 52);
	double m;
	memcpy(&m, &bits, sizeof m);
	double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return 2 * sum + e * 0.69314718055994530942;
}

static double idf(double n_docs, double df)
{
	if (df < 1)
		df = 1;
	if (df > n_docs)
		n_docs = df;
	return natural_log(1 + (n_docs - df + 0.5) / (df + 0.5));
}

/* BM25 term-frequency part, in (0, k1 + 1). */
static double tf_part(double tf, double len, double avg_len)
{
	if (avg_len <= 0)
		avg_len = 1;
	return tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * len / avg_len));
}

static unsigned impact_of(double part)
{
	double v = part / (BM25_K1 + 1) * IMPACT_MAX + 0.5;
	if (v < 1)
		return 1;
	return v > IMPACT_MAX ? IMPACT_MAX : (unsigned)v;
}

static double part_of(unsigned impact)
{
	return (double)impact / IMPACT_MAX * (BM25_K1 + 1);
}

/* ---- a map of terms --------------------------------------------------- */

struct term_entry {
	uint32_t off, len; /* bytes in termmap.chars */
	uint32_t hash;
	uint32_t df;    /* documents (rebuild, first pass) */
	uint32_t stamp; /* the document that last saw it */
	float tf;       /* weighted frequency in that document */
	bool stop;      /* a stop word: counted in lengths, never indexed */
};

struct termmap {
	struct buf chars;
	struct term_entry *v;
	size_t n, cap;
	uint64_t *slots; /* hash << 32 | entry index + 1; 0 is empty */
	size_t nslots;   /* a power of two */
};

static void termmap_init(struct termmap *m)
{
	memset(m, 0, sizeof *m);
	m->nslots = 64;
	m->slots = xcalloc(m->nslots, sizeof *m->slots);
}

static void termmap_free(struct termmap *m)
{
	buf_free(&m->chars);
	free(m->v);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

static void termmap_clear(struct termmap *m)
{
	m->chars.len = 0;
	m->n = 0;
	memset(m->slots, 0, m->nslots * sizeof *m->slots);
}

static uint32_t term_hash(const char *s, size_t n)
{
	return (uint32_t)XXH3_64bits(s, n);
}

static const char *term_text(const struct termmap *m, const struct term_entry *t)
{
	return m->chars.data + t->off;
}

/* The slot of s, or of the empty slot where it would go. Hashes live in
 * the slots, so a probe touches an entry only when the hash matches. */
static size_t termmap_slot(const struct termmap *m, const char *s, size_t n, uint32_t h)
{
	size_t mask = m->nslots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint64_t e = m->slots[i];
		if (!e)
			return i;
		if ((uint32_t)(e >> 32) != h)
			continue;
		const struct term_entry *t = &m->v[(uint32_t)e - 1];
		if (t->len == n && memcmp(term_text(m, t), s, n) == 0)
			return i;
	}
}

static int64_t termmap_find(const struct termmap *m, const char *s, size_t n, uint32_t h)
{
	uint64_t e = m->slots[termmap_slot(m, s, n, h)];
	return e ? (int64_t)(uint32_t)e - 1 : -1;
}

static void termmap_grow(struct termmap *m)
{
	size_t nslots = m->nslots * 2;
	uint64_t *slots = xcalloc(nslots, sizeof *slots);
	for (size_t e = 0; e < m->n; e++) {
		size_t i = m->v[e].hash & (nslots - 1);
		while (slots[i])
			i = (i + 1) & (nslots - 1);
		slots[i] = (uint64_t)m->v[e].hash << 32 | (uint32_t)(e + 1);
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
}

static size_t termmap_intern(struct termmap *m, const char *s, size_t n, uint32_t h)
{
	size_t i = termmap_slot(m, s, n, h);
	if (m->slots[i])
		return (uint32_t)m->slots[i] - 1;
	if ((m->n + 1) * 2 > m->nslots) {
		termmap_grow(m);
		i = termmap_slot(m, s, n, h);
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = xrealloc(m->v, m->cap * sizeof *m->v);
	}
	struct term_entry *t = &m->v[m->n];
	memset(t, 0, sizeof *t);
	t->off = (uint32_t)m->chars.len;
	t->len = (uint32_t)n;
	t->hash = h;
	t->stop = is_stop(s, n);
	buf_add(&m->chars, s, n);
	buf_addc(&m->chars, '\0');
	m->slots[i] = (uint64_t)h << 32 | (uint32_t)(m->n + 1);
	return m->n++;
}

/* ---- a map of incident ids to scores ---------------------------------- */

struct acc_entry {
	int64_t id;
	double score;
};

/* Entries are dense (in insertion order, cheap to walk); the slots of the
 * open-addressing table hold their index + 1. */
struct accmap {
	struct acc_entry *v;
	size_t n, vcap;
	uint32_t *slots;
	size_t cap; /* slots: a power of two, at least twice n */
};

static void accmap_init(struct accmap *a, size_t expect)
{
	a->cap = 64;
	while (a->cap < expect)
		a->cap *= 2;
	a->n = 0;
	a->vcap = a->cap / 2;
	a->v = xmalloc(a->vcap * sizeof *a->v);
	a->slots = xcalloc(a->cap, sizeof *a->slots);
}

static void accmap_free(struct accmap *a)
{
	free(a->v);
	free(a->slots);
	memset(a, 0, sizeof *a);
}

static size_t id_slot(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
	return (size_t)(x >> 32) & (cap - 1);
}

static struct acc_entry *accmap_get(struct accmap *a, int64_t id, bool create)
{
	size_t mask = a->cap - 1;
	size_t i = id_slot(id, a->cap);
	for (;; i = (i + 1) & mask) {
		uint32_t s = a->slots[i];
		if (!s)
			break;
		if (a->v[s - 1].id == id)
			return &a->v[s - 1];
	}
	if (!create)
		return NULL;
	if ((a->n + 1) * 2 > a->cap) {
		a->cap *= 2;
		mask = a->cap - 1;
		free(a->slots);
		a->slots = xcalloc(a->cap, sizeof *a->slots);
		for (size_t e = 0; e < a->n; e++) {
			size_t j = id_slot(a->v[e].id, a->cap);
			while (a->slots[j])
				j = (j + 1) & mask;
			a->slots[j] = (uint32_t)e + 1;
		}
		for (i = id_slot(id, a->cap); a->slots[i]; i = (i + 1) & mask)
			;
	}
	if (a->n == a->vcap) {
		a->vcap *= 2;
		a->v = xrealloc(a->v, a->vcap * sizeof *a->v);
	}
	a->v[a->n].id = id;
	a->v[a->n].score = 0;
	a->slots[i] = (uint32_t)++a->n;
	return &a->v[a->n - 1];
}

/* ---- the per-call context: statements and the tokenizer --------------- */

#define CTX_STMTS 48

struct ctx {
	struct store *st;
	sqlite3 *db;
	fts5_tokenizer tk;
	Fts5Tokenizer *tok;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} stmts[CTX_STMTS];
	size_t nstmts;
	bool failed;
};

/* Our statements are prepared per call, not in the store's shared cache:
 * a long ingest process must not run out of cache slots because a query
 * ran once. */
static sqlite3_stmt *stmt(struct ctx *c, const char *sql)
{
	for (size_t i = 0; i < c->nstmts; i++) {
		if (c->stmts[i].sql == sql) {
			sqlite3_reset(c->stmts[i].stmt);
			sqlite3_clear_bindings(c->stmts[i].stmt);
			return c->stmts[i].stmt;
		}
	}
	sqlite3_stmt *s;
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		die(3, "%s: cannot prepare statement: %s\n  %s", store_path(c->st),
		    sqlite3_errmsg(c->db), sql);
	if (c->nstmts == CTX_STMTS)
		die(3, "similar: statement cache full");
	c->stmts[c->nstmts].sql = sql;
	c->stmts[c->nstmts].stmt = s;
	c->nstmts++;
	return s;
}

static bool ctx_open(struct ctx *c, struct store *st, char **err)
{
	memset(c, 0, sizeof *c);
	c->st = st;
	c->db = store_db(st);
	fts5_api *api = NULL;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(c->db, "SELECT fts5(?1)", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
		sqlite3_step(s);
		sqlite3_finalize(s);
	}
	void *ud = NULL;
	const char *args[] = { "remove_diacritics", "2" };
	if (!api || api->iVersion < 2 ||
	    api->xFindTokenizer(api, "unicode61", &ud, &c->tk) != SQLITE_OK ||
	    c->tk.xCreate(ud, args, 2, &c->tok) != SQLITE_OK) {
		*err = xstrdup("SQLite has no FTS5 unicode61 tokenizer");
		return false;
	}
	return true;
}

static void ctx_close(struct ctx *c)
{
	for (size_t i = 0; i < c->nstmts; i++)
		sqlite3_finalize(c->stmts[i].stmt);
	c->nstmts = 0;
	if (c->tok)
		c->tk.xDelete(c->tok);
	c->tok = NULL;
}

/* ---- documents: an incident's indexed text as terms ------------------- */

struct doc_sink {
	struct termmap *map;
	uint32_t stamp;    /* this document; the first sight of a term resets its tf */
	float weight;      /* of the field being read */
	uint64_t length;   /* tokens, stop words included */
	bool count_df;     /* count documents per term */
	bool lookup_only;  /* the map is complete: never add */
	uint32_t *seen;    /* the document's distinct terms */
	size_t nseen, capseen;
};

static int doc_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
	(void)start;
	(void)end;
	struct doc_sink *d = ctx;
	if (tflags & FTS5_TOKEN_COLOCATED)
		return SQLITE_OK;
	d->length++;
	size_t n = (size_t)ntok;
	if (ntok <= 0 || n > TERM_MAX_BYTES)
		return SQLITE_OK;
	uint32_t h = term_hash(tok, n);
	size_t i;
	if (d->lookup_only) {
		int64_t f = termmap_find(d->map, tok, n, h);
		if (f < 0)
			return SQLITE_OK;
		i = (size_t)f;
	} else {
		i = termmap_intern(d->map, tok, n, h);
	}
	struct term_entry *t = &d->map->v[i];
	if (t->stop)
		return SQLITE_OK;
	if (t->stamp != d->stamp) {
		t->stamp = d->stamp;
		t->tf = 0;
		if (d->count_df)
			t->df++;
		if (d->nseen == d->capseen) {
			d->capseen = d->capseen ? d->capseen * 2 : 256;
			d->seen = xrealloc(d->seen, d->capseen * sizeof *d->seen);
		}
		d->seen[d->nseen++] = (uint32_t)i;
	}
	t->tf += d->weight;
	return SQLITE_OK;
}

static void doc_begin(struct doc_sink *d, uint32_t stamp)
{
	d->stamp = stamp;
	d->length = 0;
	d->nseen = 0;
}

static void feed(struct ctx *c, struct doc_sink *d, const char *s, size_t n, float weight)
{
	if (!s || !n)
		return;
	d->weight = weight;
	c->tk.xTokenize(c->tok, d, FTS5_TOKENIZE_DOCUMENT, s, (int)(n > 0x7fffffff ? 0x7fffffff : n),
			doc_token);
}

static void feed_str(struct ctx *c, struct doc_sink *d, const char *s, float weight)
{
	if (s)
		feed(c, d, s, strlen(s), weight);
}

/* A services column: a JSON array of names (tokenized one by one), or, if
 * someone stored anything else, its text. */
static void feed_services(struct ctx *c, struct doc_sink *d, const char *s, float weight)
{
	if (!s || !*s)
		return;
	json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (json_is_string(e))
				feed(c, d, json_string_value(e), json_string_length(e), weight);
		}
	} else {
		feed_str(c, d, s, weight);
	}
	json_decref(v);
}

/* Templates hold placeholders (<*>, <num>, <ip>): they say nothing. */
static void strip_placeholders(struct buf *out, const char *s)
{
	buf_reset(out);
	while (s && *s) {
		if (*s == '<') {
			size_t n = 1;
			while (n <= 16 && s[n] && s[n] != '>' &&
			       (s[n] == '*' || s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') ||
				(s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
				n++;
			if (s[n] == '>' && n > 1) {
				buf_addc(out, ' ');
				s += n + 1;
				continue;
			}
		}
		buf_addc(out, *s++);
	}
	if (!out->data)
		buf_add(out, "", 0);
}

static const char sql_doc_clusters[] =
	"SELECT name, template FROM clusters WHERE id IN "
	"(SELECT cluster_id FROM incident_clusters WHERE incident_id = ?1 "
	" UNION SELECT cluster_id FROM cluster_history WHERE incident_id = ?1) "
	"ORDER BY id LIMIT " STR(DOC_MAX_CLUSTERS);

static void feed_clusters(struct ctx *c, struct doc_sink *d, int64_t id)
{
	sqlite3_stmt *s = stmt(c, sql_doc_clusters);
	sqlite3_bind_int64(s, 1, id);
	struct buf b = { 0 };
	while (sqlite3_step(s) == SQLITE_ROW) {
		feed_str(c, d, (const char *)sqlite3_column_text(s, 0), field_weight[F_CLUSTERS]);
		strip_placeholders(&b, (const char *)sqlite3_column_text(s, 1));
		feed(c, d, b.data, b.len, field_weight[F_CLUSTERS]);
	}
	sqlite3_reset(s);
	buf_free(&b);
}

/* Feed the text columns of a row: col..col+5 are title, summary, details,
 * services, root_cause, action_taken. */
static void feed_row(struct ctx *c, struct doc_sink *d, sqlite3_stmt *s, int col, int64_t id,
		     bool imported)
{
	for (int f = F_TITLE; f <= F_ACTION; f++) {
		const char *text = (const char *)sqlite3_column_text(s, col + f);
		if (f == F_SERVICES)
			feed_services(c, d, text, field_weight[f]);
		else
			feed(c, d, text, (size_t)sqlite3_column_bytes(s, col + f), field_weight[f]);
	}
	if (!imported)
		feed_clusters(c, d, id);
}

static const char sql_doc[] = "SELECT title, summary, details, services, root_cause, "
			      "action_taken, imported, state FROM incidents WHERE id = ?";

/* The incident's terms into d (which must be begun). Returns false when
 * there is no such incident; *resolved says whether it is resolved. */
static bool feed_incident(struct ctx *c, struct doc_sink *d, int64_t id, bool *resolved)
{
	sqlite3_stmt *s = stmt(c, sql_doc);
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return false;
	}
	const char *state = (const char *)sqlite3_column_text(s, 7);
	if (resolved)
		*resolved = state && strcmp(state, "resolved") == 0;
	/* feed_row may step other statements, never this one */
	feed_row(c, d, s, 0, id, sqlite3_column_int(s, 6) != 0);
	sqlite3_reset(s);
	return true;
}

/* ---- the index: one incident in or out -------------------------------- */

static void put_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addc(b, (char)(unsigned char)(v | 0x80));
		v >>= 7;
	}
	buf_addc(b, (char)(unsigned char)v);
}

static bool get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		unsigned char byte = *(*p)++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

struct stats {
	int64_t docs, length, since_rebuild;
};

static bool read_stats(struct ctx *c, struct stats *out)
{
	sqlite3_stmt *s = stmt(c, "SELECT docs, length, since_rebuild FROM similar_stats WHERE id = 1");
	memset(out, 0, sizeof *out);
	bool ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok) {
		out->docs = sqlite3_column_int64(s, 0);
		out->length = sqlite3_column_int64(s, 1);
		out->since_rebuild = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	return ok;
}

static bool step_done(struct ctx *c, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		c->failed = true;
	return !c->failed;
}

static bool index_remove(struct ctx *c, int64_t id)
{
	sqlite3_stmt *s = stmt(c, "SELECT length, rebuilt, terms FROM similar_docs "
				  "WHERE incident_id = ?");
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return true;
	}
	int64_t length = sqlite3_column_int64(s, 0);
	bool rebuilt = sqlite3_column_int(s, 1) != 0;
	size_t n = (size_t)sqlite3_column_bytes(s, 2);
	unsigned char *blob = xmalloc(n ? n : 1);
	if (n)
		memcpy(blob, sqlite3_column_blob(s, 2), n);
	sqlite3_reset(s);
	if (rebuilt) {
		/* its packed postings stay until the next rebuild, skipped */
		sqlite3_stmt *g = stmt(c, "INSERT OR IGNORE INTO similar_gone VALUES (?)");
		sqlite3_bind_int64(g, 1, id);
		if (!step_done(c, g)) {
			free(blob);
			return false;
		}
	}

	sqlite3_stmt *del = stmt(c, "DELETE FROM similar_postings WHERE term_id = ? AND impact = ? "
				    "AND incident_id = ?");
	sqlite3_stmt *df = stmt(c, "UPDATE similar_terms SET df = df - 1 WHERE id = ?");
	const unsigned char *p = blob, *end = blob + n;
	uint64_t term, impact;
	while (p < end && get_varint(&p, end, &term) && get_varint(&p, end, &impact)) {
		sqlite3_bind_int64(del, 1, (int64_t)term);
		sqlite3_bind_int64(del, 2, (int64_t)impact);
		sqlite3_bind_int64(del, 3, id);
		sqlite3_bind_int64(df, 1, (int64_t)term);
		if ((!rebuilt && !step_done(c, del)) || !step_done(c, df))
			break;
	}
	free(blob);
	sqlite3_stmt *d = stmt(c, "DELETE FROM similar_docs WHERE incident_id = ?");
	sqlite3_bind_int64(d, 1, id);
	sqlite3_stmt *u = stmt(c, "UPDATE similar_stats SET docs = docs - 1, length = length - ? "
				  "WHERE id = 1");
	sqlite3_bind_int64(u, 1, length);
	return step_done(c, d) && step_done(c, u);
}

static bool index_add(struct ctx *c, int64_t id)
{
	struct termmap m;
	termmap_init(&m);
	struct doc_sink d = { .map = &m };
	doc_begin(&d, 1);
	bool resolved = false;
	bool ok = true;
	if (!feed_incident(c, &d, id, &resolved) || !resolved)
		goto out;
	struct stats stats;
	read_stats(c, &stats);
	double avg = (double)(stats.length + (int64_t)d.length) / (double)(stats.docs + 1);
	sqlite3_stmt *term = stmt(c, "INSERT INTO similar_terms (term, df) VALUES (?, 1) "
				     "ON CONFLICT (term) DO UPDATE SET df = df + 1 RETURNING id");
	sqlite3_stmt *post = stmt(c, "INSERT OR IGNORE INTO similar_postings (term_id, impact, "
				     "incident_id) VALUES (?, ?, ?)");
	struct buf blob = { 0 };
	for (size_t k = 0; k < d.nseen && ok; k++) {
		const struct term_entry *t = &m.v[d.seen[k]];
		sqlite3_bind_text(term, 1, term_text(&m, t), (int)t->len, SQLITE_STATIC);
		if (sqlite3_step(term) != SQLITE_ROW) {
			sqlite3_reset(term);
			c->failed = true;
			ok = false;
			break;
		}
		int64_t tid = sqlite3_column_int64(term, 0);
		sqlite3_reset(term);
		unsigned impact = impact_of(tf_part(t->tf, (double)d.length, avg));
		sqlite3_bind_int64(post, 1, tid);
		sqlite3_bind_int64(post, 2, impact);
		sqlite3_bind_int64(post, 3, id);
		ok = step_done(c, post);
		put_varint(&blob, (uint64_t)tid);
		put_varint(&blob, impact);
	}
	if (ok) {
		sqlite3_stmt *s = stmt(c, "INSERT INTO similar_docs (incident_id, length, rebuilt, "
					  "terms) VALUES (?, ?, 0, ?)");
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (int64_t)d.length);
		sqlite3_bind_blob(s, 3, blob.data ? blob.data : "", (int)blob.len, SQLITE_STATIC);
		sqlite3_stmt *u = stmt(c, "UPDATE similar_stats SET docs = docs + 1, length = length + ?, "
					  "since_rebuild = since_rebuild + 1 WHERE id = 1");
		sqlite3_bind_int64(u, 1, (int64_t)d.length);
		ok = step_done(c, s) && step_done(c, u);
	}
	buf_free(&blob);
out:
	free(d.seen);
	termmap_free(&m);
	return ok;
}

/* ---- the index: rebuild ----------------------------------------------- */

struct posting {
	uint32_t doc;
	uint16_t impact;
};

static bool posting_less(struct posting a, struct posting b)
{
	return a.impact != b.impact ? a.impact < b.impact : a.doc < b.doc;
}

static void heap_down(struct posting *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && posting_less(h[l], h[m]))
			m = l;
		if (r < n && posting_less(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		struct posting t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int cmp_posting(const void *a, const void *b)
{
	const struct posting *x = a, *y = b;
	return posting_less(*x, *y) ? -1 : posting_less(*y, *x) ? 1 : 0;
}

static const char sql_resolved_docs[] =
	"SELECT id, title, summary, details, services, root_cause, action_taken, imported "
	"FROM incidents WHERE state = 'resolved' ORDER BY id";

static bool rebuild(struct ctx *c)
{
	static const char *const wipe[] = {
		"DELETE FROM similar_postings", "DELETE FROM similar_terms",
		"DELETE FROM similar_docs",	"DELETE FROM similar_dirty",
		"DELETE FROM similar_gone",
	};
	for (size_t i = 0; i < sizeof wipe / sizeof *wipe; i++)
		if (sqlite3_exec(c->db, wipe[i], NULL, NULL, NULL) != SQLITE_OK)
			return false;

	struct termmap dict;
	termmap_init(&dict);
	struct doc_sink d = { .map = &dict, .count_df = true };
	int64_t *ids = NULL;
	uint32_t *lens = NULL;
	size_t ndocs = 0, cap = 0;
	uint64_t total = 0;

	/* pass 1: document frequencies and lengths */
	sqlite3_stmt *s = stmt(c, sql_resolved_docs);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (ndocs == cap) {
			cap = cap ? cap * 2 : 1024;
			ids = xrealloc(ids, cap * sizeof *ids);
			lens = xrealloc(lens, cap * sizeof *lens);
		}
		int64_t id = sqlite3_column_int64(s, 0);
		doc_begin(&d, (uint32_t)ndocs + 1);
		feed_row(c, &d, s, 1, id, sqlite3_column_int(s, 7) != 0);
		ids[ndocs] = id;
		lens[ndocs] = d.length > UINT32_MAX ? UINT32_MAX : (uint32_t)d.length;
		total += d.length;
		ndocs++;
	}
	sqlite3_reset(s);
	bool ok = rc == SQLITE_DONE;
	double avg = ndocs ? (double)total / (double)ndocs : 1;

	/* each term gets room for its best SIMILAR_KEEP postings */
	size_t nterms = dict.n;
	uint64_t *seg = xmalloc((nterms + 1) * sizeof *seg);
	uint32_t *fill = xcalloc(nterms ? nterms : 1, sizeof *fill);
	seg[0] = 0;
	for (size_t t = 0; t < nterms; t++) {
		uint32_t keep = dict.v[t].df < SIMILAR_KEEP ? dict.v[t].df : SIMILAR_KEEP;
		seg[t + 1] = seg[t] + keep;
	}
	struct posting *post = xmalloc((seg[nterms] ? seg[nterms] : 1) * sizeof *post);

	/* pass 2: impacts, each incident's own row */
	d.count_df = false;
	d.lookup_only = true;
	sqlite3_stmt *ins = stmt(c, "INSERT INTO similar_docs (incident_id, length, rebuilt, terms) "
				    "VALUES (?, ?, 1, ?)");
	struct buf blob = { 0 };
	size_t doc = 0;
	while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW && doc < ndocs) {
		int64_t id = sqlite3_column_int64(s, 0);
		if (id != ids[doc]) {
			ok = false; /* cannot happen inside our transaction */
			break;
		}
		doc_begin(&d, (uint32_t)(ndocs + doc) + 1);
		feed_row(c, &d, s, 1, id, sqlite3_column_int(s, 7) != 0);
		buf_reset(&blob);
		for (size_t k = 0; k < d.nseen; k++) {
			uint32_t t = d.seen[k];
			unsigned impact = impact_of(tf_part(dict.v[t].tf, lens[doc], avg));
			struct posting p = { (uint32_t)doc, (uint16_t)impact };
			struct posting *h = post + seg[t];
			uint32_t room = (uint32_t)(seg[t + 1] - seg[t]);
			if (fill[t] < room) {
				h[fill[t]++] = p;
				if (fill[t] == room && dict.v[t].df > room)
					for (size_t i = room / 2; i-- > 0;)
						heap_down(h, room, i);
			} else if (room && posting_less(h[0], p)) {
				h[0] = p;
				heap_down(h, room, 0);
			}
			put_varint(&blob, (uint64_t)t + 1);
			put_varint(&blob, impact);
		}
		sqlite3_bind_int64(ins, 1, id);
		sqlite3_bind_int64(ins, 2, lens[doc]);
		sqlite3_bind_blob(ins, 3, blob.data ? blob.data : "", (int)blob.len, SQLITE_STATIC);
		ok = step_done(c, ins);
		doc++;
	}
	sqlite3_reset(s);
	ok = ok && doc == ndocs;

	/* terms, each with its postings packed best first */
	sqlite3_stmt *ti = stmt(c, "INSERT INTO similar_terms (id, term, df, postings) "
				   "VALUES (?, ?, ?, ?)");
	for (size_t t = 0; ok && t < nterms; t++) {
		if (!dict.v[t].df)
			continue; /* a stop word */
		struct posting *h = post + seg[t];
		qsort(h, fill[t], sizeof *h, cmp_posting);
		buf_reset(&blob);
		for (uint32_t i = fill[t]; i-- > 0;) {
			put_varint(&blob, (uint64_t)ids[h[i].doc]);
			buf_addc(&blob, (char)(unsigned char)(h[i].impact >> 8));
			buf_addc(&blob, (char)(unsigned char)(h[i].impact & 0xff));
		}
		sqlite3_bind_int64(ti, 1, (int64_t)t + 1);
		sqlite3_bind_text(ti, 2, term_text(&dict, &dict.v[t]), (int)dict.v[t].len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(ti, 3, dict.v[t].df);
		sqlite3_bind_blob(ti, 4, blob.data ? blob.data : "", (int)blob.len, SQLITE_STATIC);
		ok = step_done(c, ti);
	}
	buf_free(&blob);
	if (ok) {
		sqlite3_stmt *u = stmt(c, "UPDATE similar_stats SET docs = ?, length = ?, "
					  "since_rebuild = 0 WHERE id = 1");
		sqlite3_bind_int64(u, 1, (int64_t)ndocs);
		sqlite3_bind_int64(u, 2, (int64_t)total);
		ok = step_done(c, u);
	}
	free(post);
	free(fill);
	free(seg);
	free(ids);
	free(lens);
	free(d.seen);
	termmap_free(&dict);
	return ok;
}

int64_t similar_pending(struct store *st)
{
	return store_int(st, "SELECT count(*) FROM similar_dirty", 0);
}

enum status similar_refresh(struct store *st, bool full, char **err)
{
	struct ctx c;
	if (!ctx_open(&c, st, err))
		return STATUS_STORE;
	bool own = sqlite3_get_autocommit(c.db) != 0;
	if (own && store_begin(st) != STATUS_OK) {
		*err = xasprintf("cannot start a transaction: %s", store_errmsg(st));
		ctx_close(&c);
		return STATUS_STORE;
	}
	struct stats stats;
	bool ok = read_stats(&c, &stats);
	int64_t pending = similar_pending(st);
	int64_t gone = store_int(st, "SELECT count(*) FROM similar_gone", 0);
	/* one by one costs a statement per term, never prunes and leaves stale
	 * packed postings behind; a rebuild costs the whole history: rebuild
	 * once the changes are a fair share of it */
	int64_t changes = stats.since_rebuild + gone + pending;
	if (ok && (full || pending * 4 > stats.docs || changes > stats.docs / 2 + 64)) {
		if (full || changes)
			ok = rebuild(&c);
	} else if (ok && pending) {
		sqlite3_stmt *s = stmt(&c, "SELECT incident_id FROM similar_dirty ORDER BY incident_id");
		int64_t *ids = xmalloc((size_t)pending * sizeof *ids);
		size_t n = 0;
		while (sqlite3_step(s) == SQLITE_ROW && n < (size_t)pending)
			ids[n++] = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		sqlite3_stmt *del = stmt(&c, "DELETE FROM similar_dirty WHERE incident_id = ?");
		for (size_t i = 0; ok && i < n; i++) {
			ok = index_remove(&c, ids[i]) && index_add(&c, ids[i]);
			sqlite3_bind_int64(del, 1, ids[i]);
			ok = ok && step_done(&c, del);
		}
		free(ids);
	}
	if (!ok)
		*err = xasprintf("cannot update the similarity index: %s", store_errmsg(st));
	ctx_close(&c);
	if (own) {
		if (ok && store_commit(st) != STATUS_OK) {
			*err = xasprintf("cannot commit the similarity index: %s", store_errmsg(st));
			ok = false;
		}
		if (!ok)
			store_rollback(st);
	}
	return ok ? STATUS_OK : STATUS_STORE;
}

/* ---- queries ---------------------------------------------------------- */

struct qterm {
	int64_t id; /* in similar_terms; 0 when not indexed */
	int64_t df;
	double idf;
	size_t map_index;
	size_t depth; /* postings to read */
};

struct cand {
	int64_t id;
	double text;
	unsigned clusters, templates, labels, idents;
	uint32_t template_stamp;
	double services;
	/* the row */
	bool valid;
	char *external_id, *title, *root_cause, *mitigation;
	bool has_resolved_at;
	int64_t resolved_at;
	double score;
	unsigned reasons;
};

struct query {
	struct ctx c;
	const struct similar_opts *o;
	size_t limit;
	int64_t self; /* the incident asked about, 0 for a text */
	int64_t *exclude;
	size_t nexclude, capexclude;
	struct termmap terms;
	struct doc_sink sink;
	struct qterm *q;
	size_t nq;
	struct cand *cands;
	size_t ncands, capcands;
	struct accmap cand_index; /* incident id → index + 1 into cands */
	unsigned nidents;
};

static void exclude_add(struct query *q, int64_t id)
{
	for (size_t i = 0; i < q->nexclude; i++)
		if (q->exclude[i] == id)
			return;
	if (q->nexclude == q->capexclude) {
		q->capexclude = q->capexclude ? q->capexclude * 2 : 16;
		q->exclude = xrealloc(q->exclude, q->capexclude * sizeof *q->exclude);
	}
	q->exclude[q->nexclude++] = id;
}

static bool excluded(const struct query *q, int64_t id)
{
	for (size_t i = 0; i < q->nexclude; i++)
		if (q->exclude[i] == id)
			return true;
	return false;
}

static struct cand *cand_get(struct query *q, int64_t id)
{
	struct acc_entry *e = accmap_get(&q->cand_index, id, true);
	if (e->score > 0)
		return &q->cands[(size_t)e->score - 1];
	if (q->ncands == q->capcands) {
		q->capcands = q->capcands ? q->capcands * 2 : 64;
		q->cands = xrealloc(q->cands, q->capcands * sizeof *q->cands);
	}
	struct cand *k = &q->cands[q->ncands++];
	memset(k, 0, sizeof *k);
	k->id = id;
	e->score = (double)q->ncands;
	return k;
}

/* The query's terms: the distinct terms of what was fed into q->sink,
 * with their ids and idf. */
static void resolve_terms(struct query *q, double n_docs)
{
	size_t n = q->sink.nseen < QUERY_MAX_TERMS ? q->sink.nseen : QUERY_MAX_TERMS;
	q->q = xcalloc(n ? n : 1, sizeof *q->q);
	sqlite3_stmt *s = stmt(&q->c, "SELECT id, df FROM similar_terms WHERE term = ?");
	for (size_t k = 0; k < n; k++) {
		const struct term_entry *t = &q->terms.v[q->sink.seen[k]];
		struct qterm *qt = &q->q[q->nq++];
		qt->map_index = q->sink.seen[k];
		sqlite3_bind_text(s, 1, term_text(&q->terms, t), (int)t->len, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			qt->id = sqlite3_column_int64(s, 0);
			qt->df = sqlite3_column_int64(s, 1);
		}
		sqlite3_reset(s);
		qt->idf = idf(n_docs, (double)qt->df);
	}
}

struct top {
	int64_t id;
	double score;
};

static bool top_less(struct top a, struct top b)
{
	return a.score != b.score ? a.score < b.score : a.id < b.id;
}

static void top_down(struct top *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && top_less(h[l], h[m]))
			m = l;
		if (r < n && top_less(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		struct top t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int cmp_qterm_df(const void *a, const void *b)
{
	const struct qterm *x = *(const struct qterm *const *)a, *y = *(const struct qterm *const *)b;
	return x->df < y->df ? -1 : x->df > y->df;
}

/* Share QUERY_BUDGET postings among the terms, rarest first: a term with
 * fewer postings than its share is read whole (exact), and what it leaves
 * goes to the others; no term gets less than QUERY_MIN_DEPTH. */
static size_t plan_depths(struct query *q)
{
	struct qterm **by_df = xmalloc((q->nq ? q->nq : 1) * sizeof *by_df);
	size_t m = 0;
	for (size_t k = 0; k < q->nq; k++)
		if (q->q[k].id && q->q[k].df > 0)
			by_df[m++] = &q->q[k];
	qsort(by_df, m, sizeof *by_df, cmp_qterm_df);
	size_t left = QUERY_BUDGET, total = 0;
	for (size_t i = 0; i < m; i++) {
		size_t share = left / (m - i);
		if (share < QUERY_MIN_DEPTH)
			share = QUERY_MIN_DEPTH;
		size_t have = by_df[i]->df < SIMILAR_KEEP ? (size_t)by_df[i]->df : SIMILAR_KEEP;
		size_t take = have < share ? have : share;
		by_df[i]->depth = take;
		left = left > take ? left - take : 0;
		total += take;
	}
	free(by_df);
	return total;
}

/* BM25 over the index (and the queued incidents, scored directly); the
 * best candidates join q->cands. */
static void text_candidates(struct query *q, const struct stats *stats)
{
	if (!q->nq)
		return;
	size_t postings = plan_depths(q);
	struct accmap acc;
	accmap_init(&acc, postings + DIRTY_SCAN_MAX);

	/* taken out since the last rebuild: their packed postings are stale */
	struct accmap gone;
	accmap_init(&gone, 16);
	sqlite3_stmt *g = stmt(&q->c, "SELECT incident_id FROM similar_gone");
	while (sqlite3_step(g) == SQLITE_ROW)
		accmap_get(&gone, sqlite3_column_int64(g, 0), true);
	sqlite3_reset(g);

	sqlite3_stmt *packed = stmt(&q->c, "SELECT postings FROM similar_terms WHERE id = ?");
	sqlite3_stmt *added = stmt(&q->c, "SELECT incident_id, impact FROM similar_postings "
					  "WHERE term_id = ? ORDER BY impact DESC LIMIT ?");
	for (size_t k = 0; k < q->nq; k++) {
		const struct qterm *t = &q->q[k];
		if (!t->id || !t->depth)
			continue;
		sqlite3_bind_int64(packed, 1, t->id);
		if (sqlite3_step(packed) == SQLITE_ROW) {
			const unsigned char *p = sqlite3_column_blob(packed, 0);
			const unsigned char *end = p + sqlite3_column_bytes(packed, 0);
			uint64_t id;
			for (size_t i = 0; i < t->depth && p && get_varint(&p, end, &id) && end - p >= 2;
			     i++) {
				unsigned impact = (unsigned)p[0] << 8 | p[1];
				p += 2;
				if (gone.n && accmap_get(&gone, (int64_t)id, false))
					continue;
				accmap_get(&acc, (int64_t)id, true)->score += t->idf * part_of(impact);
			}
		}
		sqlite3_reset(packed);
		sqlite3_bind_int64(added, 1, t->id);
		sqlite3_bind_int64(added, 2, (int64_t)t->depth);
		while (sqlite3_step(added) == SQLITE_ROW) {
			struct acc_entry *e = accmap_get(&acc, sqlite3_column_int64(added, 0), true);
			e->score += t->idf * part_of((unsigned)sqlite3_column_int(added, 1));
		}
		sqlite3_reset(added);
	}
	accmap_free(&gone);

	/* queued incidents: whatever the index says of them is stale */
	sqlite3_stmt *dq = stmt(&q->c, "SELECT incident_id FROM similar_dirty ORDER BY incident_id "
				       "DESC LIMIT " STR(DIRTY_SCAN_MAX));
	double avg = stats->docs ? (double)stats->length / (double)stats->docs : 0;
	struct termmap m;
	termmap_init(&m);
	struct doc_sink d = { .map = &m };
	uint32_t stamp = 1;
	while (sqlite3_step(dq) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(dq, 0);
		struct acc_entry *e = accmap_get(&acc, id, false);
		if (e)
			e->score = 0;
		termmap_clear(&m);
		doc_begin(&d, stamp++);
		bool resolved = false;
		if (!feed_incident(&q->c, &d, id, &resolved) || !resolved)
			continue;
		double len_avg = avg > 0 ? avg : (double)d.length;
		double sc = 0;
		for (size_t k = 0; k < q->nq; k++) {
			const struct term_entry *t = &q->terms.v[q->q[k].map_index];
			int64_t f = termmap_find(&m, term_text(&q->terms, t), t->len, t->hash);
			if (f >= 0)
				sc += q->q[k].idf * tf_part(m.v[f].tf, (double)d.length, len_avg);
		}
		if (sc > 0)
			accmap_get(&acc, id, true)->score = sc;
	}
	sqlite3_reset(dq);
	free(d.seen);
	termmap_free(&m);

	/* the best ones, by a bounded min-heap */
	size_t want = q->limit * 4 > TEXT_CANDIDATES ? q->limit * 4 : TEXT_CANDIDATES;
	struct top *h = xmalloc(want * sizeof *h);
	size_t n = 0;
	for (size_t i = 0; i < acc.n; i++) {
		const struct acc_entry *e = &acc.v[i];
		if (!e->id || e->score <= 0 || excluded(q, e->id))
			continue;
		struct top t = { e->id, e->score };
		if (n < want) {
			h[n++] = t;
			if (n == want)
				for (size_t j = want / 2; j-- > 0;)
					top_down(h, n, j);
		} else if (top_less(h[0], t)) {
			h[0] = t;
			top_down(h, n, 0);
		}
	}
	for (size_t i = 0; i < n; i++)
		cand_get(q, h[i].id)->text = h[i].score;
	free(h);
	accmap_free(&acc);
}

/* ---- recurrence: clusters and templates in common --------------------- */

struct idset {
	int64_t *v;
	size_t n, cap;
};

static bool idset_add(struct idset *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return false;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = id;
	return true;
}

static const char sql_cluster_incidents[] =
	"SELECT incident_id FROM incident_clusters WHERE cluster_id = ?1 "
	"UNION SELECT incident_id FROM cluster_history WHERE cluster_id = ?1 LIMIT 1000";

static void recurrence_candidates(struct query *q)
{
	struct idset mine = { 0 }, family = { 0 };
	sqlite3_stmt *s = stmt(&q->c, "SELECT cluster_id FROM incident_clusters WHERE incident_id = ?1 "
				      "UNION SELECT cluster_id FROM cluster_history "
				      "WHERE incident_id = ?1 LIMIT 256");
	sqlite3_bind_int64(s, 1, q->self);
	while (sqlite3_step(s) == SQLITE_ROW)
		idset_add(&mine, sqlite3_column_int64(s, 0));
	sqlite3_reset(s);

	/* a cluster and those merged into it, or it into, are one */
	for (size_t i = 0; i < mine.n; i++)
		idset_add(&family, mine.v[i]);
	sqlite3_stmt *up = stmt(&q->c, "SELECT merged_into FROM clusters WHERE id = ? "
				       "AND merged_into IS NOT NULL");
	sqlite3_stmt *down = stmt(&q->c, "SELECT id FROM clusters WHERE merged_into = ? LIMIT 64");
	for (size_t i = 0; i < family.n && family.n < REC_MAX_CLUSTERS; i++) {
		sqlite3_bind_int64(up, 1, family.v[i]);
		if (sqlite3_step(up) == SQLITE_ROW)
			idset_add(&family, sqlite3_column_int64(up, 0));
		sqlite3_reset(up);
		sqlite3_bind_int64(down, 1, family.v[i]);
		while (sqlite3_step(down) == SQLITE_ROW)
			idset_add(&family, sqlite3_column_int64(down, 0));
		sqlite3_reset(down);
	}
	sqlite3_stmt *ci = stmt(&q->c, sql_cluster_incidents);
	for (size_t i = 0; i < family.n; i++) {
		sqlite3_bind_int64(ci, 1, family.v[i]);
		while (sqlite3_step(ci) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(ci, 0);
			if (!excluded(q, id))
				cand_get(q, id)->clusters++;
		}
		sqlite3_reset(ci);
	}

	/* templates: other clusters (another service, a renamed alert) with
	 * the same template; a template of nothing but placeholders says
	 * nothing */
	sqlite3_stmt *tpl = stmt(&q->c, "SELECT template FROM clusters WHERE id = ?");
	sqlite3_stmt *same = stmt(&q->c, "SELECT id FROM clusters WHERE template = ? LIMIT 256");
	struct buf b = { 0 };
	uint32_t stamp = 0;
	for (size_t i = 0; i < mine.n; i++) {
		sqlite3_bind_int64(tpl, 1, mine.v[i]);
		if (sqlite3_step(tpl) != SQLITE_ROW) {
			sqlite3_reset(tpl);
			continue;
		}
		char *t = xstrdup((const char *)sqlite3_column_text(tpl, 0));
		sqlite3_reset(tpl);
		strip_placeholders(&b, t);
		bool words = false;
		for (const char *p = b.data; *p && !words; p++)
			words = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		if (!words) {
			free(t);
			continue;
		}
		stamp++;
		sqlite3_bind_text(same, 1, t, -1, SQLITE_STATIC);
		struct idset others = { 0 };
		while (sqlite3_step(same) == SQLITE_ROW) {
			int64_t cl = sqlite3_column_int64(same, 0);
			bool in_family = false;
			for (size_t j = 0; j < family.n && !in_family; j++)
				in_family = family.v[j] == cl;
			if (!in_family)
				idset_add(&others, cl);
		}
		sqlite3_reset(same);
		free(t);
		for (size_t j = 0; j < others.n; j++) {
			sqlite3_bind_int64(ci, 1, others.v[j]);
			while (sqlite3_step(ci) == SQLITE_ROW) {
				int64_t id = sqlite3_column_int64(ci, 0);
				if (excluded(q, id))
					continue;
				struct cand *k = cand_get(q, id);
				if (k->template_stamp != stamp) {
					k->template_stamp = stamp;
					k->templates++;
				}
			}
			sqlite3_reset(ci);
		}
		free(others.v);
	}
	buf_free(&b);
	free(mine.v);
	free(family.v);
}

/* ---- labels and identifiers ------------------------------------------- */

static const char sql_label_incidents[] =
	"SELECT incident_id FROM incident_labels WHERE key = ? AND value = ? LIMIT 1000";

static void label_candidates(struct query *q)
{
	sqlite3_stmt *mine = stmt(&q->c, "SELECT key, value FROM incident_labels "
					 "WHERE incident_id = ? LIMIT 64");
	sqlite3_bind_int64(mine, 1, q->self);
	size_t n = 0, cap = 0;
	char **kv = NULL;
	while (sqlite3_step(mine) == SQLITE_ROW) {
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			kv = xrealloc(kv, cap * sizeof *kv);
		}
		kv[n++] = xstrdup((const char *)sqlite3_column_text(mine, 0));
		kv[n++] = xstrdup((const char *)sqlite3_column_text(mine, 1));
	}
	sqlite3_reset(mine);
	sqlite3_stmt *s = stmt(&q->c, sql_label_incidents);
	for (size_t i = 0; i + 1 < n; i += 2) {
		sqlite3_bind_text(s, 1, kv[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, kv[i + 1], -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(s, 0);
			if (!excluded(q, id))
				cand_get(q, id)->labels++;
		}
		sqlite3_reset(s);
	}
	for (size_t i = 0; i < n; i++)
		free(kv[i]);
	free(kv);
}

/* Words of a text, trimmed of the punctuation around them. */
static size_t next_word(const char **p, const char **start)
{
	static const char trim[] = " \t\r\n\f\v,;!?()[]{}\"'`<>";
	const char *s = *p;
	while (*s && strchr(trim, *s))
		s++;
	const char *e = s;
	while (*e && !strchr(" \t\r\n\f\v", *e))
		e++;
	*p = e;
	while (e > s && strchr(trim, e[-1]))
		e--;
	while (e > s && (e[-1] == '.' || e[-1] == ':'))
		e--;
	*start = s;
	return (size_t)(e - s);
}

struct count_sink {
	int n;
};

static int count_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
	(void)tok;
	(void)ntok;
	(void)start;
	(void)end;
	struct count_sink *c = ctx;
	if (!(tflags & FTS5_TOKEN_COLOCATED))
		c->n++;
	return SQLITE_OK;
}

/* For a text: words that look like ids (f-1042, vm-3f2a, us-east-1) are
 * looked up as identifying label values, and those of several tokens as
 * FTS5 phrases, each quoted as an FTS5 string (never as query syntax). */
static void text_id_candidates(struct query *q, const char *text)
{
	sqlite3_stmt *lab = stmt(&q->c, sql_label_incidents);
	sqlite3_stmt *fts = stmt(&q->c, "SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ? "
					"LIMIT 256");
	struct buf phrase = { 0 };
	const char *p = text;
	unsigned words = 0;
	char *seen[MAX_LABEL_WORDS];
	size_t nseen = 0;
	while (*p && words < MAX_LABEL_WORDS) {
		const char *w;
		size_t n = next_word(&p, &w);
		if (n < 2 || n > 128)
			continue;
		bool digit = false, alpha = false, sep = false;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)w[i];
			digit |= ch >= '0' && ch <= '9';
			alpha |= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch >= 0x80;
			sep |= ch == '-' || ch == '_' || ch == '.' || ch == ':' || ch == '/' || ch == '@';
		}
		if (!digit && !sep)
			continue;
		char *word = xstrndup(w, n);
		bool dup = false;
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = strcmp(seen[i], word) == 0;
		if (dup) {
			free(word);
			continue;
		}
		seen[nseen++] = word;
		words++;
		for (size_t k = 0; k < q->o->nlabel_keys; k++) {
			sqlite3_bind_text(lab, 1, q->o->label_keys[k], -1, SQLITE_STATIC);
			sqlite3_bind_text(lab, 2, word, -1, SQLITE_STATIC);
			while (sqlite3_step(lab) == SQLITE_ROW) {
				int64_t id = sqlite3_column_int64(lab, 0);
				if (!excluded(q, id))
					cand_get(q, id)->labels++;
			}
			sqlite3_reset(lab);
		}
		if (!digit || !alpha || q->nidents >= MAX_IDENTS)
			continue;
		struct count_sink cs = { 0 };
		q->c.tk.xTokenize(q->c.tok, &cs, FTS5_TOKENIZE_QUERY, word, (int)n, count_token);
		if (cs.n < 2)
			continue; /* one token: BM25 has it already */
		buf_reset(&phrase);
		buf_addc(&phrase, '"');
		for (const char *c = word; *c; c++) {
			if (*c == '"')
				buf_addc(&phrase, '"');
			buf_addc(&phrase, *c);
		}
		buf_addc(&phrase, '"');
		q->nidents++;
		sqlite3_bind_text(fts, 1, phrase.data, (int)phrase.len, SQLITE_STATIC);
		while (sqlite3_step(fts) == SQLITE_ROW) {
			int64_t id = sqlite3_column_int64(fts, 0);
			if (!excluded(q, id))
				cand_get(q, id)->idents++;
		}
		sqlite3_reset(fts);
	}
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	buf_free(&phrase);
}

/* ---- services --------------------------------------------------------- */

static void service_set(const char *json, struct termmap *out)
{
	json_t *v = json ? json_loads(json, 0, NULL) : NULL;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) || !json_string_length(e))
			continue;
		char *low = xstrdup(json_string_value(e));
		for (char *c = low; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		termmap_intern(out, low, strlen(low), term_hash(low, strlen(low)));
		free(low);
	}
	json_decref(v);
}

static double jaccard(const struct termmap *a, const struct termmap *b)
{
	if (!a->n || !b->n)
		return 0;
	size_t common = 0;
	for (size_t i = 0; i < b->n; i++)
		if (termmap_find(a, term_text(b, &b->v[i]), b->v[i].len, b->v[i].hash) >= 0)
			common++;
	return (double)common / (double)(a->n + b->n - common);
}

/* ---- putting it together ---------------------------------------------- */

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->valid != y->valid)
		return x->valid ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	int64_t rx = x->has_resolved_at ? x->resolved_at : INT64_MIN;
	int64_t ry = y->has_resolved_at ? y->resolved_at : INT64_MIN;
	if (rx != ry)
		return rx > ry ? -1 : 1;
	return x->id > y->id ? -1 : x->id < y->id ? 1 : 0;
}

static char *col_dup(sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	return t ? xstrdup(t) : NULL;
}

/* Everything but services, which needs the incident's row. */
static double base_score(const struct query *q, struct cand *k, double best_text)
{
	double sc = 0;
	k->reasons = 0;
	if (k->clusters) {
		sc += TIER_CLUSTER + W_SHARED * (k->clusters < 10 ? k->clusters : 10);
		k->reasons |= SIMILAR_CLUSTER;
	} else if (k->templates) {
		sc += TIER_TEMPLATE + W_SHARED * (k->templates < 10 ? k->templates : 10);
		k->reasons |= SIMILAR_TEMPLATE;
	}
	if (k->text > 0 && best_text > 0) {
		sc += k->text / best_text;
		k->reasons |= SIMILAR_TEXT;
	}
	if (k->labels) {
		sc += W_LABEL * (k->labels < 3 ? k->labels : 3) / 3.0;
		k->reasons |= SIMILAR_LABEL;
	}
	if (k->idents && q->nidents) {
		sc += W_IDENT * (double)k->idents / q->nidents;
		k->reasons |= SIMILAR_IDENT;
	}
	return sc;
}

/* Read the candidate's row: is it (still) a resolved incident, and what
 * to show of it. */
static void fetch_row(struct query *q, struct cand *k, const struct termmap *self_services,
		      struct termmap *svc)
{
	sqlite3_stmt *s = stmt(&q->c, "SELECT state, merged_into, external_id, title, root_cause, "
				      "action_taken, resolved_at, services FROM incidents WHERE id = ?");
	sqlite3_bind_int64(s, 1, k->id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(s, 0);
		k->valid = state && strcmp(state, "resolved") == 0 &&
			   sqlite3_column_type(s, 1) == SQLITE_NULL;
	}
	if (k->valid) {
		k->external_id = col_dup(s, 2);
		k->title = col_dup(s, 3);
		k->root_cause = col_dup(s, 4);
		k->mitigation = col_dup(s, 5);
		k->has_resolved_at = sqlite3_column_type(s, 6) != SQLITE_NULL;
		k->resolved_at = sqlite3_column_int64(s, 6);
		if (self_services && self_services->n) {
			termmap_clear(svc);
			service_set((const char *)sqlite3_column_text(s, 7), svc);
			k->services = jaccard(self_services, svc);
			if (k->services > 0) {
				k->score += W_SERVICE * k->services;
				k->reasons |= SIMILAR_SERVICE;
			}
		}
	}
	sqlite3_reset(s);
}

static int cmp_score_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x > y ? -1 : x < y;
}

/* Score the candidates and keep the best q->limit. Rows are read best
 * first, and only until no unread candidate can still make the list: an
 * incident row is large (its details), and reading fifty of them cost more
 * than the ranking. */
static void finish(struct query *q, const struct termmap *self_services, struct similar_list *out)
{
	double best_text = 0;
	for (size_t i = 0; i < q->ncands; i++)
		if (!excluded(q, q->cands[i].id) && q->cands[i].text > best_text)
			best_text = q->cands[i].text;
	for (size_t i = 0; i < q->ncands; i++) {
		struct cand *k = &q->cands[i];
		k->valid = !excluded(q, k->id); /* for the sort: excluded ones last */
		k->score = k->valid ? base_score(q, k, best_text) : 0;
	}
	if (q->ncands)
		qsort(q->cands, q->ncands, sizeof *q->cands, cmp_cand);

	double most_services = self_services && self_services->n ? W_SERVICE : 0;
	double *kept = xmalloc(q->limit * sizeof *kept); /* best scores so far */
	size_t nkept = 0;
	struct termmap svc;
	termmap_init(&svc);
	size_t i = 0;
	for (; i < q->ncands && q->cands[i].valid; i++) {
		struct cand *k = &q->cands[i];
		if (nkept >= q->limit && k->score + most_services < kept[q->limit - 1])
			break;
		k->valid = false;
		fetch_row(q, k, self_services, &svc);
		if (!k->valid)
			continue;
		if (nkept < q->limit)
			kept[nkept++] = k->score;
		else if (k->score > kept[q->limit - 1])
			kept[q->limit - 1] = k->score;
		qsort(kept, nkept, sizeof *kept, cmp_score_desc);
	}
	for (; i < q->ncands; i++)
		q->cands[i].valid = false; /* not read: cannot make the list */
	termmap_free(&svc);
	free(kept);

	if (q->ncands)
		qsort(q->cands, q->ncands, sizeof *q->cands, cmp_cand);
	out->n = 0;
	out->v = xcalloc(q->limit ? q->limit : 1, sizeof *out->v);
	for (size_t j = 0; j < q->ncands && out->n < q->limit; j++) {
		struct cand *k = &q->cands[j];
		if (!k->valid)
			break;
		struct similar_hit *h = &out->v[out->n++];
		h->id = k->id;
		h->score = k->score;
		h->reasons = k->reasons;
		h->external_id = k->external_id;
		h->title = k->title ? k->title : xstrdup("");
		h->root_cause = k->root_cause;
		h->mitigation = k->mitigation;
		h->has_resolved_at = k->has_resolved_at;
		h->resolved_at = k->resolved_at;
		k->external_id = k->title = k->root_cause = k->mitigation = NULL;
	}
}

static bool query_open(struct query *q, struct store *st, const struct similar_opts *o,
		       char **err)
{
	static const struct similar_opts none = { 0 };
	memset(q, 0, sizeof *q);
	if (!ctx_open(&q->c, st, err))
		return false;
	q->o = o ? o : &none;
	q->limit = q->o->limit ? q->o->limit : SIMILAR_DEFAULT_LIMIT;
	for (size_t i = 0; i < q->o->nexclude; i++)
		exclude_add(q, q->o->exclude[i]);
	termmap_init(&q->terms);
	q->sink.map = &q->terms;
	doc_begin(&q->sink, 1);
	accmap_init(&q->cand_index, 256);
	return true;
}

static void query_close(struct query *q)
{
	for (size_t i = 0; i < q->ncands; i++) {
		free(q->cands[i].external_id);
		free(q->cands[i].title);
		free(q->cands[i].root_cause);
		free(q->cands[i].mitigation);
	}
	free(q->cands);
	accmap_free(&q->cand_index);
	free(q->q);
	free(q->sink.seen);
	free(q->exclude);
	termmap_free(&q->terms);
	ctx_close(&q->c);
}

/* Reads run in one transaction, so that every look-up sees the same
 * database. */
static bool read_begin(struct query *q, bool *own)
{
	*own = sqlite3_get_autocommit(q->c.db) != 0;
	return !*own || sqlite3_exec(q->c.db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

static void read_end(struct query *q, bool own)
{
	if (own)
		sqlite3_exec(q->c.db, "COMMIT", NULL, NULL, NULL);
}

enum status similar_to_text(struct store *st, const char *text, const struct similar_opts *o,
			    struct similar_list *out, char **err)
{
	memset(out, 0, sizeof *out);
	struct query q;
	if (!query_open(&q, st, o, err))
		return STATUS_STORE;
	bool own;
	if (!read_begin(&q, &own)) {
		*err = xasprintf("cannot read the database: %s", store_errmsg(st));
		query_close(&q);
		return STATUS_STORE;
	}
	struct stats stats;
	read_stats(&q.c, &stats);
	q.sink.weight = 1;
	if (text)
		q.c.tk.xTokenize(q.c.tok, &q.sink, FTS5_TOKENIZE_QUERY, text,
				 (int)(strlen(text) > 0x7fffffff ? 0x7fffffff : strlen(text)),
				 doc_token);
	resolve_terms(&q, (double)stats.docs);
	text_candidates(&q, &stats);
	if (text)
		text_id_candidates(&q, text);
	finish(&q, NULL, out);
	read_end(&q, own);
	query_close(&q);
	return STATUS_OK;
}

enum status similar_to_incident(struct store *st, int64_t id, const struct similar_opts *o,
				struct similar_list *out, char **err)
{
	memset(out, 0, sizeof *out);
	struct query q;
	if (!query_open(&q, st, o, err))
		return STATUS_STORE;
	bool own;
	if (!read_begin(&q, &own)) {
		*err = xasprintf("cannot read the database: %s", store_errmsg(st));
		query_close(&q);
		return STATUS_STORE;
	}
	q.self = id;
	if (!feed_incident(&q.c, &q.sink, id, NULL)) {
		read_end(&q, own);
		query_close(&q);
		*err = xasprintf("no incident %lld", (long long)id);
		return STATUS_NOT_FOUND;
	}
	/* never itself, nor what it was merged into, nor what was merged into it */
	exclude_add(&q, id);
	sqlite3_stmt *up = stmt(&q.c, "SELECT merged_into FROM incidents WHERE id = ? "
				      "AND merged_into IS NOT NULL");
	int64_t cur = id;
	for (int hops = 0; hops < 100; hops++) {
		sqlite3_bind_int64(up, 1, cur);
		bool more = sqlite3_step(up) == SQLITE_ROW;
		if (more)
			cur = sqlite3_column_int64(up, 0);
		sqlite3_reset(up);
		if (!more)
			break;
		exclude_add(&q, cur);
	}

	struct stats stats;
	read_stats(&q.c, &stats);
	resolve_terms(&q, (double)stats.docs);
	text_candidates(&q, &stats);
	recurrence_candidates(&q);
	label_candidates(&q);

	struct termmap mine;
	termmap_init(&mine);
	sqlite3_stmt *sv = stmt(&q.c, "SELECT services FROM incidents WHERE id = ?");
	sqlite3_bind_int64(sv, 1, id);
	if (sqlite3_step(sv) == SQLITE_ROW)
		service_set((const char *)sqlite3_column_text(sv, 0), &mine);
	sqlite3_reset(sv);
	finish(&q, &mine, out);
	termmap_free(&mine);
	read_end(&q, own);
	query_close(&q);
	return STATUS_OK;
}

void similar_list_clear(struct similar_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].external_id);
		free(l->v[i].title);
		free(l->v[i].root_cause);
		free(l->v[i].mitigation);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *similar_reason_word(unsigned bit)
{
	static const char *const words[] = {
#define SIMILAR_WORD(name, word, text) word,
		SIMILAR_REASONS(SIMILAR_WORD)
#undef SIMILAR_WORD
	};
	return bit < sizeof words / sizeof *words ? words[bit] : "?";
}

/*
 * demo.c — the demo feeder (see demo.h).
 *
 * The scenario format. A scenario is a list of blocks; each block is a
 * header line and the payload lines below it, up to the next header:
 *
 *     # a comment (a '#' in the first column, anywhere in the file)
 *     @ 12.5 alertmanager          one payload, delivered 12.5 s in
 *     { "version": "4", ... }
 *     @ 20..80 log x300            300 lines spread evenly over 20..80 s
 *     ${now} WARN [${pick:api-1|api-2}] pool wait ${int:800..4999}ms
 *
 * FORMAT is alertmanager (webhook payload), alertmanager-api (the array
 * GET /api/v2/alerts returns), pagerduty, grafana, json (one generic
 * object, or NDJSON when the first line is a complete object), log (plain
 * lines) or raw (written verbatim and never checked: the way to include a
 * deliberately broken payload). Every other payload is checked when the
 * scenario is loaded: JSON must parse and be detected as the format its
 * header declares, log lines must not look like JSON.
 *
 * A repeated block ("FROM..TO FORMAT xN", log or json only) makes N lines;
 * line i is the block's line (i mod number of lines), so a block of two
 * lines alternates them. Lines due in the same whole second go into one
 * file, delivered with the last of them, as a log shipper that flushes
 * once a second would.
 *
 * Placeholders, filled in when the replay starts:
 *
 *     ${T}, ${T+S}, ${T-S}      RFC 3339 time of the start plus/minus S s
 *     ${now}, ${now+S}, ${now-S} the same, relative to the line's own time
 *     ${int:A..B}               a pseudo-random integer from A to B
 *     ${hex:N}                  N pseudo-random hex digits (1..64)
 *     ${uuid}                   a pseudo-random version 4 UUID
 *     ${pick:a|b|c}             one of the alternatives
 *     ${seq}                    the line's number in its repeated block (1…)
 *     $${                       a literal "${"
 *
 * At a speed other than 1 every offset, in payloads as in delivery, is
 * divided by the speed, so a fast replay tells the same story in less time.
 * The pseudo-random numbers come from a fixed seed: every replay of one
 * scenario writes the same ids.
 */
#include "config.h"
#include "demo.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"

#ifndef SITREP_PKGDATADIR
#define SITREP_PKGDATADIR "/usr/local/share/sitrep"
#endif

#define DEMO_MAX_AT 86400.0     /* a scenario lasts at most a day */
#define DEMO_MAX_REPEAT 100000  /* lines in one repeated block */
#define DEMO_MAX_FILES 9999     /* names keep their order up to here */
#define DEMO_SEED 0x5173e9dc0ffee123ULL

/* ---- the data directory ------------------------------------------------ */

char *demo_data_dir(void)
{
	const char *env = getenv("SITREP_DATADIR");
	if (env && *env)
		return xstrdup(env);
#ifdef SITREP_SRCDATADIR
	struct stat sb;
	if (stat(SITREP_SRCDATADIR, &sb) == 0 && S_ISDIR(sb.st_mode))
		return xstrdup(SITREP_SRCDATADIR);
#endif
	return xstrdup(SITREP_PKGDATADIR "/data");
}

char *demo_data_file(const char *name)
{
	char *dir = demo_data_dir();
	char *path = xasprintf("%s/demo/%s", dir, name);
	free(dir);
	return path;
}

/* ---- the scenario ------------------------------------------------------- */

enum payload_kind { PAY_JSON_DOC, PAY_LINES, PAY_RAW };

static const struct demo_format {
	const char *name;
	enum format_id detect; /* what format_detect must say; FMT_LOG: log lines */
	enum payload_kind kind;
} demo_formats[] = {
	{ "alertmanager", FMT_AM_WEBHOOK, PAY_JSON_DOC },
	{ "alertmanager-api", FMT_AM_API, PAY_JSON_DOC },
	{ "pagerduty", FMT_PAGERDUTY, PAY_JSON_DOC },
	{ "grafana", FMT_GRAFANA, PAY_JSON_DOC },
	{ "json", FMT_JSON, PAY_JSON_DOC }, /* or NDJSON: decided per block */
	{ "log", FMT_LOG, PAY_LINES },
	{ "raw", FMT_AUTO, PAY_RAW },
};

struct block {
	int line; /* of the header */
	const struct demo_format *fmt;
	double from, to;
	unsigned count; /* 0: one payload; else lines in a repeated block */
	bool ndjson;    /* json block of one object a line */
	size_t records; /* of a single payload, found when checked */
	char **lines;
	int *linenos;
	size_t nlines;
};

struct scenario {
	char *path;
	struct block *v;
	size_t n;
};

static void scenario_free(struct scenario *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		for (size_t k = 0; k < sc->v[i].nlines; k++)
			free(sc->v[i].lines[k]);
		free(sc->v[i].lines);
		free(sc->v[i].linenos);
	}
	xfree(&sc->v);
	xfree(&sc->path);
	sc->n = 0;
}

static bool scen_fail(char **err, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool scen_fail(char **err, const char *path, int line, const char *fmt, ...)
{
	struct buf b = { 0 };
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_printf(&b, "%s:%d: ", path, line);
	buf_grow(&b, (size_t)(n > 0 ? n : 0) + 1);
	va_start(ap, fmt);
	vsnprintf(b.data + b.len, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
	va_end(ap);
	b.len += (size_t)(n > 0 ? n : 0);
	free(*err);
	*err = buf_steal(&b);
	return false;
}

/* ---- placeholders -------------------------------------------------------- */

/* xorshift64*: small, fast and the same everywhere */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

struct expand_ctx {
	int64_t start_ms;
	double speed;
	double line_at; /* the line's own offset, s */
	unsigned seq;
	uint64_t *rng;
};

/* A non-negative decimal number of seconds. */
static bool parse_seconds(const char *s, size_t n, double *out)
{
	char tmp[32];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (tmp[0] < '0' || tmp[0] > '9')
		return false;
	char *end;
	double v = strtod(tmp, &end);
	if (*end || !(v >= 0) || v > 1e7)
		return false;
	*out = v;
	return true;
}

static bool parse_ll(const char *s, size_t n, long long *out)
{
	char tmp[32];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (*end || errno)
		return false;
	*out = v;
	return true;
}

static void add_time(struct buf *out, const struct expand_ctx *x, double offset_s)
{
	char t[32];
	format_time_rfc3339(x->start_ms + (int64_t)llround(offset_s * 1000.0 / x->speed), t);
	buf_adds(out, t);
}

static bool prefix(const char *s, size_t n, const char *p, size_t *plen)
{
	*plen = strlen(p);
	return n >= *plen && memcmp(s, p, *plen) == 0;
}

/* One placeholder's body (between "${" and "}"). */
static bool expand_one(struct buf *out, const char *s, size_t n, const struct expand_ctx *x,
		       char **why)
{
	size_t pl;
	bool is_now = prefix(s, n, "now", &pl);
	if (is_now || (n >= 1 && s[0] == 'T')) {
		/* ${T…} counts from the start, ${now…} from the line's own time */
		double base = is_now ? x->line_at : 0.0, d = 0;
		pl = is_now ? pl : 1;
		if (n > pl) {
			if ((s[pl] != '+' && s[pl] != '-') || !parse_seconds(s + pl + 1, n - pl - 1, &d))
				goto bad;
			if (s[pl] == '-')
				d = -d;
		}
		add_time(out, x, base + d);
		return true;
	}
	if (prefix(s, n, "int:", &pl)) {
		const char *dots = NULL;
		for (size_t i = pl; i + 1 < n; i++)
			if (s[i] == '.' && s[i + 1] == '.') {
				dots = s + i;
				break;
			}
		long long lo, hi;
		if (!dots || !parse_ll(s + pl, (size_t)(dots - s) - pl, &lo) ||
		    !parse_ll(dots + 2, n - (size_t)(dots + 2 - s), &hi) || lo > hi)
			goto bad;
		uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
		uint64_t r = rng_next(x->rng);
		buf_printf(out, "%lld", (long long)((uint64_t)lo + (span ? r % span : r)));
		return true;
	}
	if (prefix(s, n, "hex:", &pl)) {
		long long digits;
		if (!parse_ll(s + pl, n - pl, &digits) || digits < 1 || digits > 64)
			goto bad;
		for (long long i = 0; i < digits; i++)
			buf_addc(out, "0123456789abcdef"[rng_next(x->rng) >> 60]);
		return true;
	}
	if (n == 4 && memcmp(s, "uuid", 4) == 0) {
		uint64_t a = rng_next(x->rng), b = rng_next(x->rng);
		a = (a & ~0xf000ULL) | 0x4000ULL;                       /* version 4 */
		b = (b & ~(3ULL << 62)) | (2ULL << 62);                 /* variant 10 */
		buf_printf(out, "%08llx-%04llx-%04llx-%04llx-%012llx",
			   (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
			   (unsigned long long)(a & 0xffff), (unsigned long long)(b >> 48),
			   (unsigned long long)(b & 0xffffffffffffULL));
		return true;
	}
	if (prefix(s, n, "pick:", &pl)) {
		size_t alts = 1;
		for (size_t i = pl; i < n; i++)
			alts += s[i] == '|';
		size_t want = (size_t)(rng_next(x->rng) % alts), at = 0;
		const char *p = s + pl, *end = s + n;
		while (at < want) {
			p = (const char *)memchr(p, '|', (size_t)(end - p)) + 1;
			at++;
		}
		const char *q = memchr(p, '|', (size_t)(end - p));
		buf_add(out, p, (size_t)((q ? q : end) - p));
		return true;
	}
	if (n == 3 && memcmp(s, "seq", 3) == 0) {
		buf_printf(out, "%u", x->seq);
		return true;
	}
bad:
	free(*why);
	*why = xasprintf("bad placeholder ${%.*s} (see the list at the top of the scenario)",
			 (int)n, s);
	return false;
}

/* Fill in a line's placeholders, appending to out. */
static bool expand_line(struct buf *out, const char *line, const struct expand_ctx *x,
			char **why)
{
	const char *p = line;
	for (;;) {
		const char *d = strchr(p, '$');
		if (!d) {
			buf_adds(out, p);
			return true;
		}
		buf_add(out, p, (size_t)(d - p));
		if (d[1] == '$' && d[2] == '{') {
			buf_adds(out, "${");
			p = d + 3;
		} else if (d[1] == '{') {
			const char *close = strchr(d + 2, '}');
			if (!close) {
				free(*why);
				*why = xstrdup("unterminated placeholder (\"${\" without \"}\")");
				return false;
			}
			if (!expand_one(out, d + 2, (size_t)(close - d - 2), x, why))
				return false;
			p = close + 1;
		} else {
			buf_addc(out, '$');
			p = d + 1;
		}
	}
}

/* ---- loading and checking -------------------------------------------------- */

static bool looks_like_json_line(const char *s)
{
	return s[0] == '{' || s[0] == '[';
}

static bool all_blank(const char *s)
{
	return strspn(s, " \t") == strlen(s);
}

static size_t json_records(enum format_id f, json_t *root)
{
	if (f == FMT_AM_WEBHOOK || f == FMT_GRAFANA)
		return json_array_size(json_object_get(root, "alerts"));
	if (f == FMT_AM_API)
		return json_array_size(root);
	return 1;
}

/* One JSON text: parses, and has the declared shape. lines[] maps the
 * document's lines back to the scenario's for messages. */
static bool check_json(const char *path, const struct block *b, const char *text,
		       const int *linenos, size_t nlines, size_t *records, char **err)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	if (!root) {
		int l = je.line >= 1 && (size_t)je.line <= nlines ? linenos[je.line - 1] : b->line;
		return scen_fail(err, path, l, "%s payload is not valid JSON: %s", b->fmt->name,
				 je.text);
	}
	enum format_id got = format_detect(root);
	bool ok = got == b->fmt->detect;
	if (ok) {
		struct alert_list al = { 0 };
		char *why = NULL;
		ok = format_parse_json(got, root, &al, &why);
		if (!ok)
			scen_fail(err, path, linenos[0], "%s", why);
		else
			*records = json_records(got, root);
		free(why);
		alert_list_clear(&al);
		free(al.v); /* clear keeps the array for reuse */
	} else {
		scen_fail(err, path, linenos[0], "payload declared %s reads as %s", b->fmt->name,
			  got == FMT_AUTO ? "no format sitrep knows" : format_name(got));
	}
	json_decref(root);
	return ok;
}

static bool check_block(const char *path, struct block *b, char **err)
{
	uint64_t rng = DEMO_SEED;
	struct expand_ctx x = { .start_ms = 1700000000000LL, .speed = 1.0, .line_at = b->from,
				.seq = 1, .rng = &rng };
	struct buf all = { 0 };
	char *why = NULL;
	bool ok = true;

	/* expand every line: placeholders are checked even in raw payloads */
	char **exp = xcalloc(b->nlines, sizeof *exp);
	for (size_t i = 0; i < b->nlines && ok; i++) {
		struct buf one = { 0 };
		if (!expand_line(&one, b->lines[i], &x, &why))
			ok = scen_fail(err, path, b->linenos[i], "%s", why);
		exp[i] = buf_steal(&one);
	}
	if (ok && b->fmt->kind == PAY_JSON_DOC) {
		/* NDJSON when the first line alone is JSON: ingest decides so too */
		json_t *probe = json_loads(exp[0], JSON_DECODE_ANY, NULL);
		b->ndjson = probe != NULL;
		json_decref(probe);
		if (b->count && !b->ndjson)
			ok = scen_fail(err, path, b->linenos[0],
				       "a repeated json block takes one JSON object a line");
		if (ok && b->ndjson) {
			/* one record a line, each of the declared format */
			b->records = 0;
			for (size_t i = 0; i < b->nlines && ok; i++) {
				size_t r = 0;
				ok = check_json(path, b, exp[i], &b->linenos[i], 1, &r, err);
				b->records += r;
			}
			if (b->count)
				b->records = b->nlines;
		} else if (ok) {
			for (size_t i = 0; i < b->nlines; i++) {
				buf_adds(&all, exp[i]);
				buf_addc(&all, '\n');
			}
			ok = check_json(path, b, all.data, b->linenos, b->nlines, &b->records, err);
		}
	} else if (ok && b->fmt->kind == PAY_LINES) {
		for (size_t i = 0; i < b->nlines && ok; i++)
			if (looks_like_json_line(exp[i]))
				ok = scen_fail(err, path, b->linenos[i],
					       "a log line must not start with '{' or '[' "
					       "(ingest would read the file as JSON)");
		b->records = b->nlines;
	} else if (ok) {
		b->records = 1;
	}
	for (size_t i = 0; i < b->nlines; i++)
		free(exp[i]);
	free(exp);
	buf_free(&all);
	free(why);
	return ok;
}

/* "@ AT FORMAT" or "@ FROM..TO FORMAT xN" */
static bool parse_header(const char *path, int lineno, const char *line, struct block *b,
			 char **err)
{
	char when[64], fmt[32], rep[32], extra[8];
	int n = sscanf(line + 1, " %63s %31s %31s %7s", when, fmt, rep, extra);
	if (n < 2 || n > 3)
		return scen_fail(err, path, lineno,
				 "expected '@ SECONDS FORMAT' or '@ FROM..TO FORMAT xN'");
	memset(b, 0, sizeof *b);
	b->line = lineno;
	for (size_t i = 0; i < sizeof demo_formats / sizeof demo_formats[0]; i++)
		if (strcmp(fmt, demo_formats[i].name) == 0)
			b->fmt = &demo_formats[i];
	if (!b->fmt)
		return scen_fail(err, path, lineno,
				 "unknown format '%s' (alertmanager, alertmanager-api, pagerduty, "
				 "grafana, json, log or raw)", fmt);
	char *dots = strstr(when, "..");
	if (dots) {
		if (!parse_seconds(when, (size_t)(dots - when), &b->from) ||
		    !parse_seconds(dots + 2, strlen(dots + 2), &b->to) || b->to < b->from)
			return scen_fail(err, path, lineno, "bad time range '%s' (FROM..TO seconds)",
					 when);
	} else {
		if (!parse_seconds(when, strlen(when), &b->from))
			return scen_fail(err, path, lineno, "bad time '%s' (seconds from the start)",
					 when);
		b->to = b->from;
	}
	if (b->to > DEMO_MAX_AT)
		return scen_fail(err, path, lineno, "time past %.0f seconds", DEMO_MAX_AT);
	if (n == 3) {
		long long c;
		if (rep[0] != 'x' || !parse_ll(rep + 1, strlen(rep + 1), &c) || c < 1 ||
		    c > DEMO_MAX_REPEAT)
			return scen_fail(err, path, lineno, "bad repeat '%s' (x1 to x%d)", rep,
					 DEMO_MAX_REPEAT);
		if (b->fmt->detect != FMT_LOG && b->fmt->detect != FMT_JSON)
			return scen_fail(err, path, lineno, "only log and json blocks repeat");
		b->count = (unsigned)c;
	} else if (dots) {
		return scen_fail(err, path, lineno, "a time range needs a repeat count (xN)");
	}
	return true;
}

static bool finish_block(const char *path, struct scenario *sc, char **err)
{
	if (!sc->n)
		return true;
	struct block *b = &sc->v[sc->n - 1];
	/* trailing blank lines belong to nobody; line payloads keep none */
	while (b->nlines && all_blank(b->lines[b->nlines - 1]))
		free(b->lines[--b->nlines]);
	if (b->fmt->kind == PAY_LINES || b->count) {
		size_t k = 0;
		for (size_t i = 0; i < b->nlines; i++) {
			if (all_blank(b->lines[i])) {
				free(b->lines[i]);
				continue;
			}
			b->lines[k] = b->lines[i];
			b->linenos[k++] = b->linenos[i];
		}
		b->nlines = k;
	}
	if (!b->nlines)
		return scen_fail(err, path, b->line, "block without a payload");
	return check_block(path, b, err);
}

static bool scenario_load(struct scenario *sc, const char *path, char **err)
{
	memset(sc, 0, sizeof *sc);
	FILE *f = fopen(path, "r");
	if (!f) {
		free(*err);
		*err = xasprintf("%s: cannot read scenario: %s", path, strerror(errno));
		return false;
	}
	sc->path = xstrdup(path);
	char *line = NULL;
	size_t cap = 0, cap_blocks = 0;
	ssize_t len;
	int lineno = 0;
	bool ok = true;
	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		size_t n = (size_t)len;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		size_t bad;
		if (!utf8_valid(line, n, &bad) || memchr(line, '\0', n)) {
			ok = scen_fail(err, path, lineno, "not UTF-8 text");
			break;
		}
		if (line[0] == '#')
			continue;
		if (line[0] == '@') {
			if (!finish_block(path, sc, err)) {
				ok = false;
				break;
			}
			if (sc->n == cap_blocks) {
				cap_blocks = cap_blocks ? cap_blocks * 2 : 32;
				sc->v = xrealloc(sc->v, cap_blocks * sizeof *sc->v);
			}
			ok = parse_header(path, lineno, line, &sc->v[sc->n], err);
			if (ok)
				sc->n++;
			continue;
		}
		if (!sc->n) {
			if (!all_blank(line))
				ok = scen_fail(err, path, lineno,
					       "text before the first block (a block starts with "
					       "'@ SECONDS FORMAT')");
			continue;
		}
		struct block *b = &sc->v[sc->n - 1];
		if (!b->nlines && all_blank(line))
			continue; /* blank lines right after the header */
		b->lines = xrealloc(b->lines, (b->nlines + 1) * sizeof *b->lines);
		b->linenos = xrealloc(b->linenos, (b->nlines + 1) * sizeof *b->linenos);
		b->lines[b->nlines] = xstrndup(line, n);
		b->linenos[b->nlines++] = lineno;
	}
	if (ok && ferror(f)) {
		free(*err);
		*err = xasprintf("%s: cannot read scenario: %s", path, strerror(errno));
		ok = false;
	}
	free(line);
	fclose(f);
	if (ok)
		ok = finish_block(path, sc, err);
	if (ok && !sc->n)
		ok = scen_fail(err, path, lineno > 0 ? lineno : 1, "no blocks in the scenario");
	if (!ok)
		scenario_free(sc);
	return ok;
}

/* ---- expansion into files ------------------------------------------------- */

struct item_list {
	struct demo_item *v;
	size_t *order; /* scenario order, the tie-breaker when sorting */
	size_t n, cap;
};

static struct demo_item *item_add(struct item_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
		l->order = xrealloc(l->order, l->cap * sizeof *l->order);
	}
	l->order[l->n] = l->n;
	struct demo_item *it = &l->v[l->n++];
	memset(it, 0, sizeof *it);
	return it;
}

static void items_free(struct demo_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].text);
	}
	free(v);
}

static const char *item_ext(const struct block *b, const char *text)
{
	switch (b->fmt->kind) {
	case PAY_JSON_DOC:
		return b->count || (b->ndjson && b->nlines > 1) ? "ndjson" : "json";
	case PAY_LINES:
		return "log";
	case PAY_RAW:
		break;
	}
	return looks_like_json_line(text) ? "json" : "log";
}

/* Line i of a repeated block, spread evenly from `from` to exactly `to`. */
static double repeat_time(const struct block *b, unsigned i)
{
	if (b->count < 2 || i == 0)
		return b->from;
	if (i + 1 == b->count)
		return b->to;
	return b->from + (b->to - b->from) * i / (b->count - 1);
}

static bool expand_block(const struct scenario *sc, const struct block *b, struct item_list *l,
			 struct expand_ctx *x, char **err)
{
	char *why = NULL;
	if (!b->count) {
		struct buf text = { 0 };
		x->line_at = b->from;
		x->seq = 1;
		for (size_t i = 0; i < b->nlines; i++) {
			if (!expand_line(&text, b->lines[i], x, &why)) {
				scen_fail(err, sc->path, b->linenos[i], "%s", why);
				free(why);
				buf_free(&text);
				return false;
			}
			buf_addc(&text, '\n');
		}
		struct demo_item *it = item_add(l);
		it->at = b->from;
		it->format = b->fmt->name;
		it->records = b->records;
		it->line = b->line;
		it->text = buf_steal(&text);
		it->name = xstrdup(item_ext(b, it->text)); /* named once sorted */
		return true;
	}
	struct buf text = { 0 };
	size_t in_file = 0;
	for (unsigned i = 0; i < b->count; i++) {
		double t = repeat_time(b, i);
		size_t k = i % b->nlines;
		x->line_at = t;
		x->seq = i + 1;
		if (!expand_line(&text, b->lines[k], x, &why)) {
			scen_fail(err, sc->path, b->linenos[k], "%s", why);
			free(why);
			buf_free(&text);
			return false;
		}
		buf_addc(&text, '\n');
		in_file++;
		double next = i + 1 < b->count ? repeat_time(b, i + 1) : -1;
		if (next < 0 || floor(next) != floor(t)) {
			struct demo_item *it = item_add(l);
			it->at = t;
			it->format = b->fmt->name;
			it->records = in_file;
			it->line = b->line;
			it->text = buf_steal(&text);
			it->name = xstrdup(item_ext(b, it->text));
			in_file = 0;
		}
	}
	return true;
}

static const struct item_list *sort_list; /* qsort has no context argument */

static int cmp_items(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	double ta = sort_list->v[a].at, tb = sort_list->v[b].at;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Every file of the scenario, in delivery order, named. */
static bool scenario_expand(const struct scenario *sc, int64_t start_ms, double speed,
			    struct demo_item **out, size_t *nout, char **err)
{
	static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
	uint64_t rng = DEMO_SEED;
	struct expand_ctx x = { .start_ms = start_ms, .speed = speed, .rng = &rng };
	struct item_list l = { 0 };
	for (size_t i = 0; i < sc->n; i++) {
		if (!expand_block(sc, &sc->v[i], &l, &x, err)) {
			items_free(l.v, l.n);
			free(l.order);
			return false;
		}
	}
	if (l.n > DEMO_MAX_FILES) {
		scen_fail(err, sc->path, 1, "the scenario makes %zu files, more than %d", l.n,
			  DEMO_MAX_FILES);
		items_free(l.v, l.n);
		free(l.order);
		return false;
	}
	pthread_mutex_lock(&sort_mu);
	sort_list = &l;
	qsort(l.order, l.n, sizeof *l.order, cmp_items);
	sort_list = NULL;
	pthread_mutex_unlock(&sort_mu);

	struct demo_item *v = xcalloc(l.n ? l.n : 1, sizeof *v);
	for (size_t i = 0; i < l.n; i++) {
		v[i] = l.v[l.order[i]];
		char *ext = v[i].name;
		v[i].name = xasprintf("%06ld-%04zu.%s", (long)floor(v[i].at), i + 1, ext);
		free(ext);
	}
	free(l.v);
	free(l.order);
	*out = v;
	*nout = l.n;
	return true;
}

enum status demo_check(const char *scenario_path, size_t *files, size_t *records,
		       double *duration, char **err)
{
	struct scenario sc;
	if (!scenario_load(&sc, scenario_path, err))
		return STATUS_BAD_INPUT;
	struct demo_item *v;
	size_t n;
	bool ok = scenario_expand(&sc, now_ms(), 1.0, &v, &n, err);
	scenario_free(&sc);
	if (!ok)
		return STATUS_BAD_INPUT;
	size_t r = 0;
	double last = 0;
	for (size_t i = 0; i < n; i++) {
		r += v[i].records;
		if (v[i].at > last)
			last = v[i].at;
	}
	items_free(v, n);
	if (files)
		*files = n;
	if (records)
		*records = r;
	if (duration)
		*duration = last;
	return STATUS_OK;
}

/* ---- the feeder thread ------------------------------------------------------ */

struct demo {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	bool stop, done;
	size_t written;
	char *error;

	/* set before the thread starts, then read-only */
	struct demo_item *items;
	size_t n;
	char *spool;
	double speed;
	int64_t start_ms;
	struct timespec t0;
};

static struct timespec ts_add(struct timespec t, double seconds)
{
	double whole = floor(seconds);
	t.tv_sec += (time_t)whole;
	t.tv_nsec += (long)((seconds - whole) * 1e9);
	while (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Write as a dotfile (ingest skips those), then rename into place. */
static char *write_item(const char *dir, const struct demo_item *it)
{
	char *tmp = xasprintf("%s/.%s.part", dir, it->name);
	char *dst = xasprintf("%s/%s", dir, it->name);
	char *err = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = xasprintf("%s: %s", tmp, strerror(errno));
	} else {
		bool ok = write_all(fd, it->text, strlen(it->text));
		int e = errno;
		if (close(fd) != 0 && ok) {
			ok = false;
			e = errno;
		}
		if (!ok)
			err = xasprintf("%s: %s", tmp, strerror(e));
		else if (rename(tmp, dst) != 0)
			err = xasprintf("%s: %s", dst, strerror(errno));
		if (err)
			unlink(tmp);
	}
	free(tmp);
	free(dst);
	return err;
}

static void *feeder_main(void *arg)
{
	struct demo *d = arg;
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n && !d->stop; i++) {
		struct timespec due = ts_add(d->t0, d->items[i].at / d->speed);
		while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &due) != ETIMEDOUT)
			;
		if (d->stop)
			break;
		pthread_mutex_unlock(&d->mu);
		char *err = write_item(d->spool, &d->items[i]);
		pthread_mutex_lock(&d->mu);
		if (err) {
			d->error = err;
			break;
		}
		d->written++;
		pthread_cond_broadcast(&d->cv);
	}
	d->done = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static bool prepare_spool(const char *dir, char **err)
{
	struct stat sb;
	if (stat(dir, &sb) != 0) {
		if (errno != ENOENT || mkdir(dir, 0700) != 0) {
			*err = xasprintf("%s: cannot use as spool directory: %s", dir,
					 strerror(errno));
			return false;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		*err = xasprintf("%s: not a directory", dir);
		return false;
	}
	if (access(dir, W_OK) != 0) {
		*err = xasprintf("%s: cannot write there: %s", dir, strerror(errno));
		return false;
	}
	return true;
}

struct demo *demo_start(const char *scenario_path, const char *spool_dir, double speed,
			char **err)
{
	*err = NULL;
	if (!(speed > 0) || speed > DEMO_MAX_SPEED) {
		*err = xasprintf("speed must be above 0 and at most %.0f", DEMO_MAX_SPEED);
		return NULL;
	}
	struct scenario sc;
	if (!scenario_load(&sc, scenario_path, err))
		return NULL;
	if (!prepare_spool(spool_dir, err)) {
		scenario_free(&sc);
		return NULL;
	}

	struct demo *d = xcalloc(1, sizeof *d);
	d->speed = speed;
	d->spool = xstrdup(spool_dir);
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	d->start_ms = now_ms();
	bool ok = scenario_expand(&sc, d->start_ms, speed, &d->items, &d->n, err);
	scenario_free(&sc);
	/* never overwrite a file an earlier replay left for ingest */
	for (size_t i = 0; ok && i < d->n; i++) {
		char *p = xasprintf("%s/%s", spool_dir, d->items[i].name);
		struct stat sb;
		if (lstat(p, &sb) == 0) {
			*err = xasprintf("%s exists: the spool holds an earlier replay that was "
					 "not ingested yet", p);
			ok = false;
		}
		free(p);
	}
	if (!ok) {
		items_free(d->items, d->n);
		free(d->spool);
		free(d);
		return NULL;
	}

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&d->mu, NULL);
	int rc = pthread_create(&d->thread, NULL, feeder_main, d);
	if (rc != 0) {
		*err = xasprintf("cannot start the demo thread: %s", strerror(rc));
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		items_free(d->items, d->n);
		free(d->spool);
		free(d);
		return NULL;
	}
	return d;
}

void demo_stop(struct demo **dp)
{
	struct demo *d = *dp;
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	items_free(d->items, d->n);
	free(d->spool);
	free(d->error);
	free(d);
	*dp = NULL;
}

static void snapshot(struct demo *d, struct demo_progress *out)
{
	out->written = d->written;
	out->total = d->n;
	out->done = d->done;
	out->error = d->error ? xstrdup(d->error) : NULL;
}

void demo_progress(struct demo *d, struct demo_progress *out)
{
	pthread_mutex_lock(&d->mu);
	snapshot(d, out);
	pthread_mutex_unlock(&d->mu);
}

void demo_progress_clear(struct demo_progress *p)
{
	xfree(&p->error);
}

void demo_wait(struct demo *d, size_t seen, int timeout_ms, struct demo_progress *out)
{
	struct timespec due;
	clock_gettime(CLOCK_MONOTONIC, &due);
	due = ts_add(due, timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
	pthread_mutex_lock(&d->mu);
	while (d->written <= seen && !d->done && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&d->cv, &d->mu);
		else if (pthread_cond_timedwait(&d->cv, &d->mu, &due) == ETIMEDOUT)
			break;
	}
	snapshot(d, out);
	pthread_mutex_unlock(&d->mu);
}

const struct demo_item *demo_item(const struct demo *d, size_t i)
{
	return i < d->n ? &d->items[i] : NULL;
}

int64_t demo_start_ms(const struct demo *d)
{
	return d->start_ms;
}

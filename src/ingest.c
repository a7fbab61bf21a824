/*
 * ingest.c — from bytes to committed rows.
 *
 * An input is read in one of three modes, chosen from its first bytes
 * unless --format forces one:
 *
 *   ndjson    the first line is a complete JSON value: every line is a record
 *   document  it starts like JSON but the first line is not a value: the
 *             whole input is one record (a pretty-printed webhook payload)
 *   lines     anything else: every line is a log-line record
 *
 * Each record is checked in order of cost (size, UTF-8, nesting depth,
 * JSON syntax, shape) and either stored whole — its verbatim text in
 * `records` and its alerts through the pipeline — or written to `rejects`
 * with the reason. Records are committed in batches; a batch never spans two
 * inputs, so a spool file is moved only after everything from it committed.
 */
#include "config.h"
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "pipeline.h"

#define REJECT_KEEP (64 * 1024) /* bytes of a rejected record kept */
#define READ_CHUNK (256 * 1024)

struct ingest {
	struct store *st;
	struct pipeline *pipe;
	struct ingest_opts opts;
	struct ingest_counts total; /* over every input */
	struct ingest_counts file;  /* the current input */
	struct alert_list alerts;
	size_t in_batch;
	bool in_txn;
	unsigned complaints;
	struct buf why_text; /* reasons for the current input, for .why files */
};

/* ---- a bounded line reader ------------------------------------------- */

struct reader {
	FILE *f;
	char *buf;
	size_t start, end;
	bool eof;
	struct buf line;
};

static void reader_init(struct reader *r, FILE *f)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->buf = xmalloc(READ_CHUNK);
}

static void reader_free(struct reader *r)
{
	free(r->buf);
	buf_free(&r->line);
}

static bool reader_fill(struct reader *r)
{
	if (r->eof)
		return false;
	size_t n = fread(r->buf, 1, READ_CHUNK, r->f);
	r->start = 0;
	r->end = n;
	if (n == 0)
		r->eof = true;
	return n > 0;
}

/*
 * Next line without its '\n' (and one '\r'). At most `keep` bytes are kept
 * in the line; *size is the line's true length. Returns false at the end of
 * the input. *had_newline says whether the line was terminated.
 */
static bool reader_line(struct reader *r, size_t keep, const char **line, size_t *size,
			bool *had_newline)
{
	buf_reset(&r->line);
	size_t total = 0;
	bool any = false;
	for (;;) {
		if (r->start == r->end && !reader_fill(r))
			break;
		any = true;
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p, '\n', avail);
		size_t take = nl ? (size_t)(nl - p) : avail;
		if (r->line.len < keep) {
			size_t room = keep - r->line.len;
			buf_add(&r->line, p, take < room ? take : room);
		}
		total += take;
		r->start += take + (nl ? 1 : 0);
		if (nl) {
			*had_newline = true;
			goto done;
		}
	}
	if (!any)
		return false;
	*had_newline = false;
done:
	if (total > 0 && total <= keep && r->line.len && r->line.data[r->line.len - 1] == '\r') {
		r->line.data[--r->line.len] = '\0';
		total--;
	}
	if (!r->line.data)
		buf_add(&r->line, "", 0);
	*line = r->line.data;
	*size = total;
	return true;
}

/* Peek: the first non-whitespace byte and the byte after it, skipping
 * whitespace in between; without consuming anything. */
static void reader_peek(struct reader *r, int *first, int *second)
{
	*first = *second = EOF;
	if (r->start == r->end)
		reader_fill(r);
	size_t i = r->start;
	while (i < r->end && strchr(" \t\r\n", r->buf[i]))
		i++;
	if (i >= r->end)
		return;
	*first = (unsigned char)r->buf[i++];
	while (i < r->end && strchr(" \t\r\n", r->buf[i]))
		i++;
	if (i < r->end)
		*second = (unsigned char)r->buf[i];
}

/* ---- batches --------------------------------------------------------- */

struct ingest *ingest_new(struct store *st, const struct mask_rules *rules,
			  const struct ingest_opts *opts)
{
	struct ingest *ing = xcalloc(1, sizeof *ing);
	ing->st = st;
	ing->pipe = pipeline_new(st, rules);
	if (opts)
		ing->opts = *opts;
	if (!ing->opts.batch)
		ing->opts.batch = 5000;
	if (!ing->opts.messages)
		ing->opts.messages = stderr;
	if (!ing->opts.max_messages)
		ing->opts.max_messages = 20;
	return ing;
}

void ingest_free(struct ingest **ingp)
{
	struct ingest *ing = *ingp;
	if (!ing)
		return;
	if (ing->in_txn)
		store_rollback(ing->st);
	pipeline_free(&ing->pipe);
	alert_list_clear(&ing->alerts);
	free(ing->alerts.v);
	buf_free(&ing->why_text);
	xfree(ingp);
}

const struct ingest_counts *ingest_totals(const struct ingest *ing)
{
	return &ing->total;
}

static enum status batch_begin(struct ingest *ing)
{
	if (ing->in_txn)
		return STATUS_OK;
	if (store_begin(ing->st) != STATUS_OK)
		return STATUS_STORE;
	ing->in_txn = true;
	ing->in_batch = 0;
	return STATUS_OK;
}

static enum status batch_commit(struct ingest *ing)
{
	if (!ing->in_txn)
		return STATUS_OK;
	ing->in_txn = false;
	if (pipeline_flush(ing->pipe) != STATUS_OK || store_commit(ing->st) != STATUS_OK) {
		store_rollback(ing->st);
		pipeline_discard(ing->pipe);
		return STATUS_STORE;
	}
	return STATUS_OK;
}

static void complain(struct ingest *ing, const char *origin, const char *location,
		     const char *reason)
{
	/* the reason may quote the bad input (jansson's "near '...'"): escape */
	struct buf line = { 0 };
	escape_text(&line, origin, strlen(origin), false);
	buf_printf(&line, ": %s: ", location);
	escape_text(&line, reason, strlen(reason), false);
	buf_printf(&ing->why_text, "%s\n", line.data);
	if (ing->complaints++ < ing->opts.max_messages)
		fprintf(ing->opts.messages, "sitrep: %s\n", line.data);
	else if (ing->complaints == ing->opts.max_messages + 1)
		fprintf(ing->opts.messages,
			"sitrep: more records rejected; `sitrep rejects` lists them all\n");
	buf_free(&line);
}

static enum status reject(struct ingest *ing, const char *origin, const char *location,
			  const char *reason, const char *text, size_t kept, size_t size)
{
	complain(ing, origin, location, reason);
	if (batch_begin(ing) != STATUS_OK)
		return STATUS_STORE;
	sqlite3_stmt *st = store_stmt(ing->st, "INSERT INTO rejects (received_at, origin, location, "
					       "reason, text, size) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_text(st, 2, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, location, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_blob(st, 5, text, (int)(kept < REJECT_KEEP ? kept : REJECT_KEEP),
				  SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)size);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	ing->file.rejected++;
	return rc == SQLITE_DONE ? STATUS_OK : STATUS_STORE;
}

static int64_t store_record(struct ingest *ing, const char *origin, const char *location,
			    enum format_id f, const char *text, size_t len, int64_t received_at)
{
	sqlite3_stmt *st = store_stmt(ing->st, "INSERT INTO records (origin, location, format, "
					       "received_at, text) VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, location, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, format_name(f), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, received_at);
	sqlite3_bind_text(st, 5, text, (int)len, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(store_db(ing->st)) : -1;
}

/* Depth of JSON nesting, ignoring brackets inside strings. */
static int json_depth(const char *s, size_t n)
{
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

/* Store the alerts parsed from one record, all or nothing for the record. */
static enum status store_alerts(struct ingest *ing, const char *origin, const char *location,
				enum format_id f, const char *text, size_t len)
{
	int64_t received = now_ms();
	int64_t rec = store_record(ing, origin, location, f, text, len, received);
	if (rec < 0)
		return STATUS_STORE;
	enum status st = STATUS_OK;
	for (size_t i = 0; i < ing->alerts.n; i++) {
		const struct alert *a = &ing->alerts.v[i];
		switch (pipeline_add(ing->pipe, a, rec, received)) {
		case PIPE_INSERTED:
			ing->file.accepted++;
			break;
		case PIPE_UPDATED:
			ing->file.updated++;
			break;
		case PIPE_UNMATCHED: {
			char *why = xasprintf("%s %s for unknown dedup_key '%s'", a->source,
					      a->resolved ? "resolve" : "acknowledge", a->dedup_key);
			st = reject(ing, origin, location, why, text, len, len);
			free(why);
			if (st == STATUS_STORE)
				return st;
			break;
		}
		case PIPE_ERROR:
			return STATUS_STORE;
		}
	}
	return STATUS_OK;
}

/* One record: check, parse, store or reject. */
static enum status handle_record(struct ingest *ing, const char *origin, const char *location,
				 const char *text, size_t kept, size_t size, bool json_mode,
				 bool unterminated)
{
	char why[512];
	ing->file.records++;
	if (batch_begin(ing) != STATUS_OK)
		return STATUS_STORE;
	ing->in_batch++;

	if (size > INGEST_MAX_RECORD) {
		snprintf(why, sizeof why, "record of %zu bytes is over the 1 MiB limit", size);
		return reject(ing, origin, location, why, text, kept, size);
	}
	size_t bad_at;
	if (!utf8_valid(text, size, &bad_at)) {
		snprintf(why, sizeof why, "invalid UTF-8 at byte %zu", bad_at + 1);
		return reject(ing, origin, location, why, text, kept, size);
	}
	if (memchr(text, '\0', size)) {
		snprintf(why, sizeof why, "NUL byte at byte %zu",
			 (size_t)((const char *)memchr(text, '\0', size) - text) + 1);
		return reject(ing, origin, location, why, text, kept, size);
	}

	alert_list_clear(&ing->alerts);
	enum format_id f = ing->opts.format;
	if (!json_mode) {
		format_parse_log(text, size, ing->opts.service, alert_list_add(&ing->alerts));
		f = FMT_LOG;
	} else {
		if (json_depth(text, size) > INGEST_MAX_DEPTH) {
			snprintf(why, sizeof why, "JSON nested deeper than %d levels",
				 INGEST_MAX_DEPTH);
			return reject(ing, origin, location, why, text, kept, size);
		}
		json_error_t jerr;
		json_t *root = json_loadb(text, size, 0, &jerr);
		if (!root) {
			snprintf(why, sizeof why, "%s at line %d column %d: %s",
				 unterminated ? "truncated JSON (last line has no newline)"
					      : "malformed JSON",
				 jerr.line, jerr.column, jerr.text);
			return reject(ing, origin, location, why, text, kept, size);
		}
		if (f == FMT_AUTO)
			f = format_detect(root);
		if (f == FMT_AUTO) {
			json_decref(root);
			return reject(ing, origin, location,
				      "JSON of an unknown shape (not an Alertmanager, PagerDuty, "
				      "Grafana or generic alert record)",
				      text, kept, size);
		}
		char *reason = NULL;
		bool ok = format_parse_json(f, root, &ing->alerts, &reason);
		json_decref(root);
		if (!ok) {
			enum status st = reject(ing, origin, location, reason, text, kept, size);
			free(reason);
			return st;
		}
	}
	enum status st = store_alerts(ing, origin, location, f, text, size);
	alert_list_clear(&ing->alerts);
	if (st != STATUS_OK)
		return st;
	if (ing->in_batch >= ing->opts.batch)
		return batch_commit(ing);
	return STATUS_OK;
}

static bool looks_like_json(int first, int second)
{
	if (first == '{')
		return true;
	/* '[' opens an array of objects, or an empty array; "[Sun Dec 04"
	 * and "[10.30 16:49:06]" are log headers */
	return first == '[' && (second == '{' || second == ']' || second == EOF);
}

static bool is_json_format(enum format_id f)
{
	return f != FMT_AUTO && f != FMT_LOG;
}

static void add_counts(struct ingest_counts *to, const struct ingest_counts *from)
{
	to->records += from->records;
	to->accepted += from->accepted;
	to->updated += from->updated;
	to->rejected += from->rejected;
}

static enum status finish_input(struct ingest *ing, const char *origin)
{
	json_t *d = json_pack("{s:s, s:I, s:I, s:I, s:I}", "origin", origin, "records",
			      (json_int_t)ing->file.records, "accepted",
			      (json_int_t)ing->file.accepted, "updated",
			      (json_int_t)ing->file.updated, "rejected",
			      (json_int_t)ing->file.rejected);
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	enum status st = batch_begin(ing);
	if (st == STATUS_OK)
		st = store_audit(ing->st, "ingest", origin, detail ? detail : "{}");
	free(detail);
	if (st == STATUS_OK)
		st = batch_commit(ing);
	return st;
}

enum status ingest_stream(struct ingest *ing, FILE *f, const char *origin)
{
	struct reader r;
	reader_init(&r, f);
	memset(&ing->file, 0, sizeof ing->file);
	buf_reset(&ing->why_text);
	enum status st = STATUS_OK;

	int first, second;
	reader_peek(&r, &first, &second);
	bool json_mode = is_json_format(ing->opts.format) ||
			 (ing->opts.format == FMT_AUTO && looks_like_json(first, second));

	if (first == EOF) {
		/* nothing but whitespace: say so, and remember it */
		size_t n = r.end - r.start;
		st = reject(ing, origin, "line 1", "empty input", r.buf + r.start, n, n);
		goto out;
	}

	const char *line;
	size_t size;
	bool nl;
	unsigned lineno = 0;
	char loc[64];

	if (json_mode && ing->opts.format != FMT_LOG) {
		/* ndjson or one document? decide on the first non-blank line */
		bool got;
		do {
			got = reader_line(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl);
			lineno++;
		} while (got && strspn(line, " \t") == size && size <= INGEST_MAX_RECORD);
		json_error_t jerr;
		json_t *probe = got && size <= INGEST_MAX_RECORD
					? json_loadb(line, size, 0, &jerr)
					: NULL;
		bool ndjson = probe != NULL || (got && size > INGEST_MAX_RECORD) || r.eof;
		json_decref(probe);
		if (ndjson) {
			while (got) {
				if (strspn(line, " \t") != size || size > INGEST_MAX_RECORD) {
					snprintf(loc, sizeof loc, "line %u", lineno);
					st = handle_record(ing, origin, loc, line, r.line.len, size,
							   true, !nl);
					if (st == STATUS_STORE)
						goto out;
				}
				got = reader_line(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl);
				lineno++;
			}
		} else {
			/* document: the first line plus the rest */
			unsigned first_line = lineno;
			struct buf doc = { 0 };
			size_t total = size;
			buf_add(&doc, line, r.line.len);
			if (nl)
				buf_addc(&doc, '\n');
			total += nl;
			while (reader_line(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl)) {
				if (doc.len <= INGEST_MAX_RECORD)
					buf_add(&doc, line, r.line.len);
				if (nl && doc.len <= INGEST_MAX_RECORD)
					buf_addc(&doc, '\n');
				total += size + nl;
			}
			snprintf(loc, sizeof loc, "line %u", first_line);
			st = handle_record(ing, origin, loc, doc.data, doc.len, total, true, false);
			buf_free(&doc);
			if (st == STATUS_STORE)
				goto out;
		}
	} else {
		while (reader_line(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl)) {
			lineno++;
			if (size == 0)
				continue; /* blank lines carry nothing */
			snprintf(loc, sizeof loc, "line %u", lineno);
			st = handle_record(ing, origin, loc, line, r.line.len, size, false, !nl);
			if (st == STATUS_STORE)
				goto out;
		}
	}
	if (ferror(f)) {
		complain(ing, origin, "read", strerror(errno));
		st = STATUS_IO;
	}
out:
	reader_free(&r);
	if (st == STATUS_STORE) {
		fprintf(ing->opts.messages, "sitrep: %s: database error: %s\n",
			store_path(ing->st), store_errmsg(ing->st));
		store_rollback(ing->st);
		pipeline_discard(ing->pipe);
		ing->in_txn = false;
		return st;
	}
	enum status fst = finish_input(ing, origin);
	if (fst != STATUS_OK) {
		fprintf(ing->opts.messages, "sitrep: %s: database error: %s\n",
			store_path(ing->st), store_errmsg(ing->st));
		return fst;
	}
	add_counts(&ing->total, &ing->file);
	if (st == STATUS_OK && ing->file.rejected)
		st = STATUS_BAD_INPUT;
	return st;
}

enum status ingest_path(struct ingest *ing, const char *path)
{
	if (strcmp(path, "-") == 0)
		return ingest_stream(ing, stdin, "-");
	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
		const char *why = !f ? strerror(errno) : "is a directory";
		fprintf(ing->opts.messages, "sitrep: %s: cannot read: %s\n", path, why);
		if (f)
			fclose(f);
		return STATUS_IO;
	}
	enum status st = ingest_stream(ing, f, path);
	fclose(f);
	return st;
}

/* ---- spool ----------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int move_into(const char *dir, const char *sub, const char *name, const char *why)
{
	char *to_dir = xasprintf("%s/%s", dir, sub);
	if (mkdir(to_dir, 0700) != 0 && errno != EEXIST) {
		free(to_dir);
		return -1;
	}
	char *from = xasprintf("%s/%s", dir, name);
	char *to = xasprintf("%s/%s", to_dir, name);
	int rc = rename(from, to);
	if (rc == 0 && why) {
		char *why_path = xasprintf("%s.why", to);
		FILE *w = fopen(why_path, "w");
		if (w) {
			fputs(why, w);
			fclose(w);
		}
		free(why_path);
	}
	free(from);
	free(to);
	free(to_dir);
	return rc;
}

enum status ingest_spool(struct ingest *ing, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(ing->opts.messages, "sitrep: %s: cannot open spool directory: %s\n", dir,
			strerror(errno));
		return STATUS_IO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat sb;
		bool regular = stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
		free(p);
		if (!regular)
			continue; /* done/, failed/ and anything else that is not a file */
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);

	enum status worst = STATUS_OK;
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		enum status st = ingest_path(ing, path);
		bool nothing = st == STATUS_IO ||
			       (ing->file.accepted + ing->file.updated == 0 && ing->file.rejected);
		if (st == STATUS_STORE) {
			free(path);
			worst = STATUS_STORE;
			for (; i < n; i++)
				free(names[i]);
			break;
		}
		const char *why = ing->why_text.len ? ing->why_text.data : "unreadable\n";
		if (move_into(dir, nothing ? "failed" : "done", names[i], nothing ? why : NULL) != 0) {
			fprintf(ing->opts.messages, "sitrep: %s: cannot move to %s/: %s\n", path,
				nothing ? "failed" : "done", strerror(errno));
			if (worst == STATUS_OK)
				worst = STATUS_IO;
		}
		if (st != STATUS_OK && worst == STATUS_OK)
			worst = st;
		free(path);
		free(names[i]);
	}
	free(names);
	return worst;
}

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
 *
 * Two threads share the work of one input. The reader (a thread started
 * per input) reads, checks, parses, masks and fingerprints; the caller's
 * thread, which owns the database connection, only writes. They hand over
 * chunks of finished items through a small bounded queue, so memory stays
 * bounded and the reader never touches SQLite. Items keep input order, so
 * results are the same as with one thread.
 */
#include "config.h"
#include "ingest.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"
#include "linereader.h"
#include "pipeline.h"

#define REJECT_KEEP (64 * 1024) /* bytes of a rejected record kept */

struct ingest {
	struct store *st;
	struct pipeline *pipe;
	struct correlator *corr;
	struct incident_settings default_incidents;
	const struct mask_rules *rules;
	struct ingest_opts opts;
	struct ingest_counts total; /* over every input */
	struct ingest_counts file;  /* the current input */
	size_t in_batch;
	bool in_txn;
	int64_t input_id; /* inputs row of the current input, 0 until written */
	unsigned complaints;
	struct buf why_text; /* reasons for the current input, for .why files */
};

/* ---- items: what the reader hands to the writer ------------------------ */

struct item {
	bool is_reject;
	unsigned line;
	char location[32];
	char *text; /* verbatim record (for a reject: at most REJECT_KEEP bytes) */
	size_t kept, size;
	char *reason; /* reject */
	enum format_id format;
	struct alert_list alerts;
	struct pipeline_prep *preps; /* one per alert */
};

#define CHUNK_ITEMS 256
#define QUEUE_CHUNKS 8

struct chunk {
	struct item items[CHUNK_ITEMS];
	size_t n;
	bool barrier; /* the writer commits after this chunk and says so */
	struct chunk *next;
};

/* Chunks travel reader → writer on the head/tail list and come back on
 * `spent`, so every allocation is made and freed by the reader: glibc's
 * malloc is much slower when one thread frees what another allocated. */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *head, *tail;
	struct chunk *spent;
	size_t depth;
	unsigned barriers_asked, barriers_done;
	bool done, stop;
};

static void item_clear(struct item *it)
{
	free(it->text);
	free(it->reason);
	for (size_t i = 0; i < it->alerts.n; i++)
		pipeline_prep_clear(&it->preps[i]);
	free(it->preps);
	alert_list_clear(&it->alerts);
	free(it->alerts.v);
	memset(it, 0, sizeof *it);
}

static void chunk_free(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++)
		item_clear(&c->items[i]);
	free(c);
}

/* Returns false when the writer asked the reader to stop. */
static bool queue_push(struct queue *q, struct chunk *c)
{
	pthread_mutex_lock(&q->mu);
	while (q->depth >= QUEUE_CHUNKS && !q->stop)
		pthread_cond_wait(&q->cv, &q->mu);
	bool stop = q->stop;
	if (!stop) {
		if (q->tail)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
		q->depth++;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (stop)
		chunk_free(c);
	return !stop;
}

static void queue_give_back(struct queue *q, struct chunk *c)
{
	pthread_mutex_lock(&q->mu);
	c->next = q->spent;
	q->spent = c;
	pthread_mutex_unlock(&q->mu);
}

static struct chunk *queue_take_spent(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	struct chunk *c = q->spent;
	if (c)
		q->spent = c->next;
	pthread_mutex_unlock(&q->mu);
	if (c) {
		for (size_t i = 0; i < c->n; i++)
			item_clear(&c->items[i]);
		c->n = 0;
		c->barrier = false;
		c->next = NULL;
	}
	return c;
}

static struct chunk *queue_pop(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->done)
		pthread_cond_wait(&q->cv, &q->mu);
	struct chunk *c = q->head;
	if (c) {
		q->head = c->next;
		if (!q->head)
			q->tail = NULL;
		q->depth--;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return c;
}

/* ---- the reader -------------------------------------------------------- */

struct reader_job {
	struct queue *q;
	FILE *f;
	const struct ingest_opts *opts;
	struct pipeline_reader *prep;
	struct chunk *cur;
	bool read_error;
	int read_errno;
};

static struct item *next_item(struct reader_job *j)
{
	if (j->cur && j->cur->n == CHUNK_ITEMS) {
		struct chunk *full = j->cur;
		j->cur = NULL;
		if (!queue_push(j->q, full))
			return NULL;
	}
	if (!j->cur)
		j->cur = queue_take_spent(j->q);
	if (!j->cur)
		j->cur = xcalloc(1, sizeof *j->cur);
	struct item *it = &j->cur->items[j->cur->n++];
	return it;
}

/*
 * Wait until the writer has committed everything read so far. The template
 * miner needs this before it reloads a bucket from the store after an
 * eviction: the evicted template may still be in the queue.
 */
static void reader_barrier(void *ctx)
{
	struct reader_job *j = ctx;
	struct queue *q = j->q;
	if (!j->cur)
		j->cur = xcalloc(1, sizeof *j->cur);
	j->cur->barrier = true;
	struct chunk *c = j->cur;
	j->cur = NULL;
	pthread_mutex_lock(&q->mu);
	unsigned want = ++q->barriers_asked;
	pthread_mutex_unlock(&q->mu);
	if (!queue_push(q, c))
		return;
	pthread_mutex_lock(&q->mu);
	while (q->barriers_done < want && !q->stop)
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

static bool emit_reject(struct reader_job *j, unsigned line, const char *reason,
			const char *text, size_t kept, size_t size)
{
	struct item *it = next_item(j);
	if (!it)
		return false;
	it->is_reject = true;
	it->line = line;
	snprintf(it->location, sizeof it->location, "line %u", line);
	it->reason = xstrdup(reason);
	size_t keep = kept < REJECT_KEEP ? kept : REJECT_KEEP;
	it->text = text ? xstrndup(text, keep) : NULL;
	it->kept = text ? keep : 0;
	it->size = size;
	return true;
}

/* One record: check and parse it into an item. Returns false on stop. */
static bool read_record(struct reader_job *j, unsigned line, const char *text,
			size_t kept, size_t size, bool json_mode, bool unterminated)
{
	char why[512];
	if (size > INGEST_MAX_RECORD) {
		snprintf(why, sizeof why, "record of %zu bytes is over the 1 MiB limit", size);
		return emit_reject(j, line, why, text, kept, size);
	}
	size_t bad_at;
	if (!utf8_valid(text, size, &bad_at)) {
		snprintf(why, sizeof why, "invalid UTF-8 at byte %zu", bad_at + 1);
		return emit_reject(j, line, why, text, kept, size);
	}
	const char *nul = memchr(text, '\0', size);
	if (nul) {
		snprintf(why, sizeof why, "NUL byte at byte %zu", (size_t)(nul - text) + 1);
		return emit_reject(j, line, why, text, kept, size);
	}

	struct alert_list alerts = { 0 };
	enum format_id f = j->opts->format;
	if (!json_mode) {
		format_parse_log(text, size, j->opts->service, alert_list_add(&alerts));
		f = FMT_LOG;
	} else {
		if (json_nesting_depth(text, size) > INGEST_MAX_DEPTH) {
			snprintf(why, sizeof why, "JSON nested deeper than %d levels",
				 INGEST_MAX_DEPTH);
			return emit_reject(j, line, why, text, kept, size);
		}
		json_error_t jerr;
		json_t *root = json_loadb(text, size, 0, &jerr);
		if (!root) {
			snprintf(why, sizeof why, "%s at line %d column %d: %s",
				 unterminated ? "truncated JSON (last line has no newline)"
					      : "malformed JSON",
				 jerr.line, jerr.column, jerr.text);
			return emit_reject(j, line, why, text, kept, size);
		}
		if (f == FMT_AUTO)
			f = format_detect(root);
		if (f == FMT_AUTO) {
			json_decref(root);
			return emit_reject(j, line,
					   "JSON of an unknown shape (not an Alertmanager, "
					   "PagerDuty, Grafana or generic alert record)",
					   text, kept, size);
		}
		char *reason = NULL;
		bool ok = format_parse_json(f, root, &alerts, &reason);
		json_decref(root);
		if (!ok) {
			bool more = emit_reject(j, line, reason, text, kept, size);
			free(reason);
			free(alerts.v);
			return more;
		}
	}
	struct item *it = next_item(j);
	if (!it) {
		alert_list_clear(&alerts);
		free(alerts.v);
		return false;
	}
	it->line = line;
	snprintf(it->location, sizeof it->location, "line %u", line);
	it->text = xstrndup(text, size);
	it->kept = it->size = size;
	it->format = f;
	it->alerts = alerts;
	it->preps = xcalloc(alerts.n ? alerts.n : 1, sizeof *it->preps);
	for (size_t i = 0; i < alerts.n; i++)
		pipeline_prepare(j->prep, &alerts.v[i], &it->preps[i]);
	return true;
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

static void read_input(struct reader_job *j)
{
	struct line_reader r;
	line_reader_init(&r, j->f);
	int first, second;
	line_reader_peek(&r, &first, &second);
	bool json_mode = is_json_format(j->opts->format) ||
			 (j->opts->format == FMT_AUTO && looks_like_json(first, second));
	const char *line;
	size_t size;
	bool nl;
	unsigned lineno = 0;

	if (first == EOF) {
		/* nothing but whitespace: say so, and remember it */
		size_t n = r.end - r.start;
		emit_reject(j, 1, "empty input", r.buf + r.start, n, n);
	} else if (json_mode) {
		/* ndjson or one document? decide on the first non-blank line */
		bool got;
		do {
			got = line_reader_next(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl);
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
					if (!read_record(j, lineno, line, r.line.len, size, true,
							 !nl))
						break;
				}
				got = line_reader_next(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl);
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
			while (line_reader_next(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl)) {
				if (doc.len <= INGEST_MAX_RECORD)
					buf_add(&doc, line, r.line.len);
				if (nl && doc.len <= INGEST_MAX_RECORD)
					buf_addc(&doc, '\n');
				total += size + nl;
			}
			read_record(j, first_line, doc.data, doc.len, total, true, false);
			buf_free(&doc);
		}
	} else {
		while (line_reader_next(&r, INGEST_MAX_RECORD + 1, &line, &size, &nl)) {
			lineno++;
			if (size == 0)
				continue; /* blank lines carry nothing */
			if (!read_record(j, lineno, line, r.line.len, size, false, !nl))
				break;
		}
	}
	if (ferror(j->f)) {
		j->read_error = true;
		j->read_errno = errno;
	}
	line_reader_free(&r);
}

static void *reader_main(void *arg)
{
	struct reader_job *j = arg;
	read_input(j);
	if (j->cur && j->cur->n)
		queue_push(j->q, j->cur);
	else
		free(j->cur);
	j->cur = NULL;
	pthread_mutex_lock(&j->q->mu);
	j->q->done = true;
	pthread_cond_broadcast(&j->q->cv);
	pthread_mutex_unlock(&j->q->mu);
	return NULL;
}

/* ---- the writer: batches ----------------------------------------------- */

struct ingest *ingest_new(struct store *st, const struct mask_rules *rules,
			  const struct ingest_opts *opts)
{
	struct ingest *ing = xcalloc(1, sizeof *ing);
	ing->st = st;
	ing->rules = rules;
	ing->pipe = pipeline_new(st, rules);
	if (opts)
		ing->opts = *opts;
	if (!ing->opts.batch)
		ing->opts.batch = 5000;
	if (!ing->opts.messages)
		ing->opts.messages = stderr;
	if (!ing->opts.max_messages)
		ing->opts.max_messages = 20;
	incident_settings_default(&ing->default_incidents);
	if (!ing->opts.incidents)
		ing->opts.incidents = &ing->default_incidents;
	ing->corr = correlator_new(st, ing->opts.incidents);
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
	correlator_free(&ing->corr);
	incident_settings_free(&ing->default_incidents);
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
	if (pipeline_flush(ing->pipe) != STATUS_OK || correlator_flush(ing->corr) != STATUS_OK ||
	    store_commit(ing->st) != STATUS_OK) {
		store_rollback(ing->st);
		pipeline_discard(ing->pipe);
		correlator_discard(ing->corr);
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

static int64_t store_record(struct ingest *ing, const char *origin, const struct item *it)
{
	if (!ing->input_id) {
		sqlite3_stmt *in = store_stmt(ing->st, "INSERT INTO inputs (origin, started_at) "
						       "VALUES (?, ?)");
		sqlite3_bind_text(in, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(in, 2, now_ms());
		int rc = sqlite3_step(in);
		sqlite3_reset(in);
		if (rc != SQLITE_DONE)
			return -1;
		ing->input_id = sqlite3_last_insert_rowid(store_db(ing->st));
	}
	sqlite3_stmt *st = store_stmt(ing->st, "INSERT INTO records (input_id, line, format, text) "
					       "VALUES (?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, ing->input_id);
	sqlite3_bind_int64(st, 2, it->line);
	sqlite3_bind_text(st, 3, format_name(it->format), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, it->text, (int)it->size, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(store_db(ing->st)) : -1;
}

/* Write one item: its record and alerts, or its reject. */
static enum status write_item(struct ingest *ing, const char *origin, const struct item *it)
{
	ing->file.records++;
	if (batch_begin(ing) != STATUS_OK)
		return STATUS_STORE;
	ing->in_batch++;
	if (it->is_reject)
		return reject(ing, origin, it->location, it->reason, it->text, it->kept, it->size);

	int64_t received = now_ms();
	int64_t rec = store_record(ing, origin, it);
	if (rec < 0)
		return STATUS_STORE;
	for (size_t i = 0; i < it->alerts.n; i++) {
		const struct alert *a = &it->alerts.v[i];
		int64_t cluster = 0;
		enum pipeline_result r =
			pipeline_add_prepared(ing->pipe, a, &it->preps[i], rec, received, &cluster);
		if ((r == PIPE_INSERTED || r == PIPE_UPDATED) &&
		    correlate_alert(ing->corr, cluster, a, alert_event_time(a, received)) != STATUS_OK)
			return STATUS_STORE;
		switch (r) {
		case PIPE_INSERTED:
			ing->file.accepted++;
			break;
		case PIPE_UPDATED:
			ing->file.updated++;
			break;
		case PIPE_UNMATCHED: {
			char *why = xasprintf("%s %s for unknown dedup_key '%s'", a->source,
					      a->resolved ? "resolve" : "acknowledge", a->dedup_key);
			enum status st = reject(ing, origin, it->location, why, it->text, it->size,
						it->size);
			free(why);
			if (st != STATUS_OK)
				return st;
			break;
		}
		case PIPE_ERROR:
			return STATUS_STORE;
		}
	}
	if (ing->in_batch >= ing->opts.batch)
		return batch_commit(ing);
	return STATUS_OK;
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
	memset(&ing->file, 0, sizeof ing->file);
	buf_reset(&ing->why_text);
	ing->input_id = 0;

	struct queue q = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct reader_job job = { .q = &q, .f = f, .opts = &ing->opts };
	/* the reader's own connection, for loading stored templates */
	struct store *ro = NULL;
	char *err = NULL;
	if (store_open(&ro, store_path(ing->st), STORE_READ_ONLY | STORE_SMALL_CACHE, &err) !=
	    STATUS_OK) {
		fprintf(ing->opts.messages, "sitrep: %s\n", err);
		free(err);
		return STATUS_STORE;
	}
	job.prep = pipeline_reader_new(ing->rules, ro, reader_barrier, &job);
	pthread_t reader;
	if (pthread_create(&reader, NULL, reader_main, &job) != 0)
		die(3, "cannot start the reader thread");

	enum status st = STATUS_OK;
	struct chunk *c;
	while ((c = queue_pop(&q))) {
		for (size_t i = 0; i < c->n && st == STATUS_OK; i++)
			st = write_item(ing, origin, &c->items[i]);
		bool barrier = c->barrier;
		queue_give_back(&q, c);
		if (barrier && st == STATUS_OK) {
			st = batch_commit(ing);
			pthread_mutex_lock(&q.mu);
			q.barriers_done++;
			pthread_cond_broadcast(&q.cv);
			pthread_mutex_unlock(&q.mu);
		}
		if (st == STATUS_STORE) {
			/* tell the reader to stop, and drain what it already made */
			pthread_mutex_lock(&q.mu);
			q.stop = true;
			pthread_cond_broadcast(&q.cv);
			pthread_mutex_unlock(&q.mu);
			while ((c = queue_pop(&q)))
				chunk_free(c);
			break;
		}
	}
	pthread_join(reader, NULL);
	while ((c = queue_take_spent(&q)))
		free(c);
	pipeline_reader_free(&job.prep);
	store_close(&ro);
	if (st == STATUS_OK && job.read_error) {
		complain(ing, origin, "read", strerror(job.read_errno));
		st = STATUS_IO;
	}

	if (st == STATUS_STORE) {
		fprintf(ing->opts.messages, "sitrep: %s: database error: %s\n",
			store_path(ing->st), store_errmsg(ing->st));
		store_rollback(ing->st);
		pipeline_discard(ing->pipe);
		correlator_discard(ing->corr);
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
	if (n > 1) /* names is NULL when the spool is empty: qsort must not see it */
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

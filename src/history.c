/*
 * history.c — see history.h.
 *
 * A line is checked in order of cost (size, UTF-8, NUL, nesting, JSON
 * syntax, shape, field types) and either written — the incident inserted
 * or updated, its verbatim line in imported_records — or refused into
 * `rejects` with the reason, as ingest does. An update that would change
 * nothing writes nothing, so re-importing the same export is cheap and does
 * not disturb the text indexes.
 */
#include "config.h"
#include "history.h"
#include "linereader.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"
#include "similar.h"

#define REJECT_KEEP (64 * 1024)

/* ---- checks ------------------------------------------------------------ */

bool history_parse_time(const char *s, int64_t *out_ms)
{
	if (!s)
		return false;
	if (parse_time_rfc3339(s, out_ms))
		return true;
	char iso[32];
	int y, m, d, used = 0;
	size_t n = strlen(s);
	if (n == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3 && used == 10) {
		snprintf(iso, sizeof iso, "%.10sT00:00:00Z", s);
		return parse_time_rfc3339(iso, out_ms);
	}
	/* MM/DD/YYYY, as US-written post-mortems (and their exports) date them */
	if (n >= 8 && n <= 10 && sscanf(s, "%2d/%2d/%4d%n", &m, &d, &y, &used) == 3 &&
	    (size_t)used == n && y >= 1000 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
		for (size_t i = 0; i < n; i++)
			if (!(s[i] == '/' || (s[i] >= '0' && s[i] <= '9')))
				return false;
		snprintf(iso, sizeof iso, "%04d-%02d-%02dT00:00:00Z", y, m, d);
		return parse_time_rfc3339(iso, out_ms);
	}
	return false;
}

static const char *const SEVERITIES[] = { "critical", "high", "warning", "info", NULL };

/* One parsed line. Strings point into the JSON document. */
struct entry {
	char id[HISTORY_MAX_ID + 1];
	const char *title, *summary, *details, *root_cause, *mitigation, *severity;
	char *services; /* JSON array text, malloc'd */
	bool has_time;
	int64_t time;
};

/* A string field: missing or null → def; another type → false. */
static bool opt_string(json_t *root, const char *key, const char **out, const char *def,
		       char *why, size_t whylen)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v)) {
		*out = def;
		return true;
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "\"%s\" must be a string", key);
		return false;
	}
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v)) {
		snprintf(why, whylen, "\"%s\" contains a NUL character", key);
		return false;
	}
	return true;
}

static bool parse_entry(json_t *root, struct entry *e, char *why, size_t whylen)
{
	memset(e, 0, sizeof *e);
	if (!json_is_object(root)) {
		snprintf(why, whylen, "not a JSON object (want one incident a line)");
		return false;
	}
	json_t *id = json_object_get(root, "id");
	if (json_is_integer(id)) {
		snprintf(e->id, sizeof e->id, "%lld", (long long)json_integer_value(id));
	} else if (json_is_string(id) && json_string_length(id) > 0 &&
		   json_string_length(id) <= HISTORY_MAX_ID &&
		   strlen(json_string_value(id)) == json_string_length(id)) {
		memcpy(e->id, json_string_value(id), json_string_length(id) + 1);
	} else {
		snprintf(why, whylen, "%s",
			 !id || json_is_null(id) ? "missing \"id\""
			 : json_is_string(id)	 ? "\"id\" is empty, too long or contains NUL"
						 : "\"id\" must be a string or an integer");
		return false;
	}
	if (!json_is_string(json_object_get(root, "title"))) {
		snprintf(why, whylen, "%s",
			 json_object_get(root, "title") ? "\"title\" must be a string"
							: "missing \"title\"");
		return false;
	}
	const char *time = NULL;
	if (!opt_string(root, "title", &e->title, "", why, whylen) ||
	    !opt_string(root, "summary", &e->summary, "", why, whylen) ||
	    !opt_string(root, "details", &e->details, "", why, whylen) ||
	    !opt_string(root, "root_cause", &e->root_cause, NULL, why, whylen) ||
	    !opt_string(root, "mitigation", &e->mitigation, NULL, why, whylen) ||
	    !opt_string(root, "severity", &e->severity, "info", why, whylen) ||
	    !opt_string(root, "time", &time, NULL, why, whylen))
		return false;
	bool known = false;
	for (size_t i = 0; SEVERITIES[i]; i++)
		known = known || strcmp(e->severity, SEVERITIES[i]) == 0;
	if (!known) {
		snprintf(why, whylen, "\"severity\" must be critical, high, warning or info");
		return false;
	}
	/* empty strings are "not recorded" */
	if (e->root_cause && !*e->root_cause)
		e->root_cause = NULL;
	if (e->mitigation && !*e->mitigation)
		e->mitigation = NULL;
	if (time && *time) {
		if (!history_parse_time(time, &e->time)) {
			char shown[64];
			struct buf b = { 0 };
			escape_text(&b, time, strlen(time), false);
			snprintf(shown, sizeof shown, "%s", b.data);
			buf_free(&b);
			snprintf(why, whylen,
				 "\"time\" \"%s\" is not RFC 3339, YYYY-MM-DD or MM/DD/YYYY", shown);
			return false;
		}
		e->has_time = true;
	}
	json_t *svcs = json_object_get(root, "services");
	json_t *clean = json_array();
	if (svcs && !json_is_null(svcs)) {
		if (!json_is_array(svcs)) {
			json_decref(clean);
			snprintf(why, whylen, "\"services\" must be an array of strings");
			return false;
		}
		size_t i;
		json_t *v;
		json_array_foreach(svcs, i, v)
		{
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				json_decref(clean);
				snprintf(why, whylen, "\"services\" must be an array of strings");
				return false;
			}
			json_array_append(clean, v);
		}
	}
	e->services = json_dumps(clean, JSON_COMPACT);
	json_decref(clean);
	if (!e->services)
		snprintf(why, whylen, "\"services\" cannot be encoded");
	return e->services != NULL;
}

/* ---- writing ----------------------------------------------------------- */

struct import {
	struct store *st;
	struct history_opts o;
	const char *origin;
	struct history_counts file;
	bool in_txn;
	size_t in_batch;
	unsigned complaints;
};

static enum status batch_begin(struct import *im)
{
	if (im->in_txn)
		return STATUS_OK;
	if (store_begin(im->st) != STATUS_OK)
		return STATUS_STORE;
	im->in_txn = true;
	im->in_batch = 0;
	return STATUS_OK;
}

static enum status batch_commit(struct import *im)
{
	if (!im->in_txn)
		return STATUS_OK;
	im->in_txn = false;
	if (store_commit(im->st) != STATUS_OK) {
		store_rollback(im->st);
		return STATUS_STORE;
	}
	return STATUS_OK;
}

static void complain(struct import *im, unsigned line, const char *reason)
{
	/* the reason may quote the bad input (jansson's "near '...'") */
	struct buf b = { 0 };
	escape_text(&b, im->origin, strlen(im->origin), false);
	buf_printf(&b, ": line %u: ", line);
	escape_text(&b, reason, strlen(reason), false);
	if (im->complaints++ < im->o.max_messages)
		fprintf(im->o.messages, "sitrep: %s\n", b.data);
	else if (im->complaints == im->o.max_messages + 1)
		fprintf(im->o.messages,
			"sitrep: more lines rejected; `sitrep rejects` lists them all\n");
	buf_free(&b);
}

static enum status reject(struct import *im, unsigned line, const char *reason, const char *text,
			  size_t kept, size_t size)
{
	complain(im, line, reason);
	if (batch_begin(im) != STATUS_OK)
		return STATUS_STORE;
	char location[32];
	snprintf(location, sizeof location, "line %u", line);
	sqlite3_stmt *s = store_stmt(im->st, "INSERT INTO rejects (received_at, origin, location, "
					     "reason, text, size) VALUES (?, ?, ?, ?, ?, ?)");
	sqlite3_bind_int64(s, 1, now_ms());
	sqlite3_bind_text(s, 2, im->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, location, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 5, text, (int)(kept < REJECT_KEEP ? kept : REJECT_KEEP), SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (int64_t)size);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	im->file.rejected++;
	return rc == SQLITE_DONE ? STATUS_OK : STATUS_STORE;
}

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Bind the incident's fields as ?1..?11 (the same in INSERT and UPDATE). */
static void bind_entry(sqlite3_stmt *s, const struct entry *e, int64_t now)
{
	sqlite3_bind_text(s, 1, e->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, e->summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, e->details, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->services, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, e->severity, -1, SQLITE_STATIC);
	if (e->has_time) {
		sqlite3_bind_int64(s, 6, e->time); /* opened (all we know) */
		sqlite3_bind_int64(s, 7, e->time); /* resolved */
	} else {
		sqlite3_bind_null(s, 6); /* kept when updating; now (?11) when new */
		sqlite3_bind_null(s, 7);
	}
	bind_opt(s, 8, e->root_cause);
	bind_opt(s, 9, e->mitigation);
	sqlite3_bind_text(s, 10, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, now);
}

/* Insert or update the incident; *inserted says which. */
static enum status write_entry(struct import *im, const struct entry *e, unsigned line,
			       const char *text, size_t size, bool *inserted)
{
	int64_t now = now_ms();
	sqlite3_stmt *s = store_stmt(im->st, "SELECT id FROM incidents WHERE external_id = ?");
	sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return STATUS_STORE;
	*inserted = id == 0;
	if (*inserted) {
		s = store_stmt(im->st,
			       "INSERT INTO incidents (title, summary, details, services, severity, "
			       "state, opened_at, last_alert_at, resolved_at, resolved_by, root_cause, "
			       "action_taken, external_id, imported) VALUES (?1, ?2, ?3, ?4, ?5, "
			       "'resolved', coalesce(?6, ?11), coalesce(?6, ?11), ?7, 'import', ?8, "
			       "?9, ?10, 1)");
		bind_entry(s, e, now);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return STATUS_STORE;
		id = sqlite3_last_insert_rowid(store_db(im->st));
	} else {
		/* only when something differs: an unchanged line writes nothing;
		 * a human's merge stands */
		s = store_stmt(im->st,
			       "UPDATE incidents SET title = ?1, summary = ?2, details = ?3, "
			       "services = ?4, severity = ?5, "
			       "state = CASE WHEN merged_into IS NULL THEN 'resolved' ELSE state END, "
			       "opened_at = coalesce(?6, opened_at), "
			       "last_alert_at = coalesce(?6, last_alert_at), resolved_at = ?7, "
			       "resolved_by = 'import', root_cause = ?8, action_taken = ?9, "
			       "imported = 1 "
			       "WHERE id = ?12 AND NOT (title IS ?1 AND summary IS ?2 AND "
			       "details IS ?3 AND services IS ?4 AND severity IS ?5 AND "
			       "(state = 'resolved' OR merged_into IS NOT NULL) AND "
			       "(?6 IS NULL OR opened_at IS ?6) AND "
			       "resolved_at IS ?7 AND root_cause IS ?8 AND action_taken IS ?9 AND "
			       "imported = 1)");
		bind_entry(s, e, now);
		sqlite3_bind_int64(s, 12, id);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return STATUS_STORE;
	}
	s = store_stmt(im->st, "INSERT INTO imported_records (incident_id, origin, line, "
			       "imported_at, text) VALUES (?, ?, ?, ?, ?) "
			       "ON CONFLICT (incident_id) DO UPDATE SET origin = excluded.origin, "
			       "line = excluded.line, imported_at = excluded.imported_at, "
			       "text = excluded.text WHERE text IS NOT excluded.text");
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, im->origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, line);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_text(s, 5, text, (int)size, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STATUS_OK : STATUS_STORE;
}

/* One non-blank line. */
static enum status import_line(struct import *im, unsigned line, const char *text, size_t kept,
			       size_t size, bool unterminated)
{
	char why[512];
	im->file.lines++;
	if (size > HISTORY_MAX_LINE) {
		snprintf(why, sizeof why, "line of %zu bytes is over the 1 MiB limit", size);
		return reject(im, line, why, text, kept, size);
	}
	size_t bad_at;
	if (!utf8_valid(text, size, &bad_at)) {
		snprintf(why, sizeof why, "invalid UTF-8 at byte %zu", bad_at + 1);
		return reject(im, line, why, text, kept, size);
	}
	const char *nul = memchr(text, '\0', size);
	if (nul) {
		snprintf(why, sizeof why, "NUL byte at byte %zu", (size_t)(nul - text) + 1);
		return reject(im, line, why, text, kept, size);
	}
	if (json_nesting_depth(text, size) > HISTORY_MAX_DEPTH) {
		snprintf(why, sizeof why, "JSON nested deeper than %d levels", HISTORY_MAX_DEPTH);
		return reject(im, line, why, text, kept, size);
	}
	json_error_t jerr;
	json_t *root = json_loadb(text, size, 0, &jerr);
	if (!root) {
		snprintf(why, sizeof why, "%s at column %d: %s",
			 unterminated ? "truncated JSON (last line has no newline)"
				      : "malformed JSON",
			 jerr.column, jerr.text);
		return reject(im, line, why, text, kept, size);
	}
	struct entry e;
	if (!parse_entry(root, &e, why, sizeof why)) {
		json_decref(root);
		free(e.services);
		return reject(im, line, why, text, kept, size);
	}
	enum status st = batch_begin(im);
	bool inserted = false;
	if (st == STATUS_OK)
		st = write_entry(im, &e, line, text, size, &inserted);
	if (st == STATUS_OK) {
		if (inserted)
			im->file.imported++;
		else
			im->file.updated++;
	}
	json_decref(root);
	free(e.services);
	return st;
}

static void add_counts(struct history_counts *to, const struct history_counts *from)
{
	to->lines += from->lines;
	to->imported += from->imported;
	to->updated += from->updated;
	to->rejected += from->rejected;
}

enum status history_import_stream(struct store *st, FILE *f, const char *origin,
				  const struct history_opts *o, struct history_counts *counts)
{
	struct import im = { .st = st, .origin = origin };
	if (o)
		im.o = *o;
	if (!im.o.batch)
		im.o.batch = 5000;
	if (!im.o.messages)
		im.o.messages = stderr;
	if (!im.o.max_messages)
		im.o.max_messages = 20;

	struct line_reader r;
	line_reader_init(&r, f);
	const char *line;
	enum status s = STATUS_OK;
	unsigned lineno = 0;
	size_t size;
	bool nl;
	while (s == STATUS_OK && line_reader_next(&r, HISTORY_MAX_LINE + 1, &line, &size, &nl)) {
		lineno++;
		if (size <= HISTORY_MAX_LINE && strspn(r.line.data, " \t") == r.line.len)
			continue; /* blank lines carry nothing */
		s = import_line(&im, lineno, r.line.data, r.line.len, size, !nl);
		if (s == STATUS_OK && im.in_txn && ++im.in_batch >= im.o.batch)
			s = batch_commit(&im);
	}
	bool read_error = ferror(f) != 0;
	int read_errno = errno;
	line_reader_free(&r);

	if (s == STATUS_OK) {
		json_t *d = json_pack("{s:s, s:I, s:I, s:I, s:I}", "origin", origin, "lines",
				      (json_int_t)im.file.lines, "imported",
				      (json_int_t)im.file.imported, "updated",
				      (json_int_t)im.file.updated, "rejected",
				      (json_int_t)im.file.rejected);
		char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
		json_decref(d);
		s = batch_begin(&im);
		if (s == STATUS_OK)
			s = store_audit(st, "import", origin, detail ? detail : "{}");
		if (s == STATUS_OK)
			s = batch_commit(&im);
		free(detail);
	}
	if (s != STATUS_OK) {
		fprintf(im.o.messages, "sitrep: %s: database error: %s\n", store_path(st),
			store_errmsg(st));
		if (im.in_txn)
			store_rollback(st);
		return STATUS_STORE;
	}
	add_counts(counts, &im.file);
	if (!im.o.no_refresh) {
		char *err = NULL;
		if (similar_refresh(st, false, &err) != STATUS_OK) {
			/* the import stands; the index catches up at the next refresh */
			fprintf(im.o.messages, "sitrep: %s\n", err);
			free(err);
		}
	}
	if (read_error) {
		fprintf(im.o.messages, "sitrep: %s: read error: %s\n", origin, strerror(read_errno));
		return STATUS_IO;
	}
	return im.file.rejected ? STATUS_BAD_INPUT : STATUS_OK;
}

enum status history_import_path(struct store *st, const char *path,
				const struct history_opts *o, struct history_counts *counts)
{
	if (strcmp(path, "-") == 0)
		return history_import_stream(st, stdin, "-", o, counts);
	FILE *messages = o && o->messages ? o->messages : stderr;
	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
		fprintf(messages, "sitrep: %s: cannot read: %s\n", path,
			!f ? strerror(errno) : "is a directory");
		if (f)
			fclose(f);
		return STATUS_IO;
	}
	enum status s = history_import_stream(st, f, path, o, counts);
	fclose(f);
	return s;
}

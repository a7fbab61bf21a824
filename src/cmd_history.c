/*
 * cmd_history.c — memory at the command line: `sitrep import` loads past
 * incidents as resolved history; `sitrep similar` lists the past incidents
 * most likely to share a cause with an incident or a text. The work is in
 * history.c and similar.c, which the console uses too.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "history.h"
#include "similar.h"

/* ---- import ------------------------------------------------------------ */

int cmd_import(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	if (getopt_long(argc, argv, "+", opts, NULL) != -1)
		return cli_usage_error("import", "%s", "bad option");
	if (argc - optind > 1)
		return cli_usage_error("import", "%s", "takes one FILE (or - for standard input)");
	const char *path = optind < argc ? argv[optind] : "-";
	enum status st = cli_open_store(c);
	if (st != STATUS_OK)
		return status_exit_code(st);
	struct history_opts o = { .batch = c->conf.batch };
	struct history_counts n = { 0 };
	st = history_import_path(c->st, path, &o, &n);
	if (st == STATUS_IO || st == STATUS_STORE)
		return status_exit_code(st);
	if (c->g->json)
		cli_print_json(json_pack("{s:I, s:I, s:I}", "imported", (json_int_t)n.imported,
				     "updated", (json_int_t)n.updated, "rejected",
				     (json_int_t)n.rejected));
	else
		printf("%llu imported, %llu updated, %llu rejected (%llu lines)\n",
		       (unsigned long long)n.imported, (unsigned long long)n.updated,
		       (unsigned long long)n.rejected, (unsigned long long)n.lines);
	return status_exit_code(st);
}

/* ---- similar ----------------------------------------------------------- */

/* An incident number, or the id of an imported incident. A number that is
 * an incident's number means that incident. */
static enum status resolve_id(struct cli_ctx *c, const char *arg, int64_t *out)
{
	const char *digits = arg[0] == '#' ? arg + 1 : arg;
	char *end;
	long long v = strtoll(digits, &end, 10);
	if (*digits && !*end && v > 0) {
		sqlite3_stmt *s = store_stmt(c->st, "SELECT id FROM incidents WHERE id = ?");
		sqlite3_bind_int64(s, 1, v);
		bool found = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_reset(s);
		if (found) {
			*out = v;
			return STATUS_OK;
		}
	}
	sqlite3_stmt *s = store_stmt(c->st, "SELECT id FROM incidents WHERE external_id = ?");
	sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
	bool found = sqlite3_step(s) == SQLITE_ROW;
	if (found)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return found ? STATUS_OK : STATUS_NOT_FOUND;
}

static void print_clipped(const char *s, size_t max)
{
	if (!s)
		return;
	size_t n = strlen(s);
	if (n <= max) {
		cli_print_escaped(s);
		return;
	}
	/* cut on a character boundary */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	char *cut = xstrndup(s, max);
	cli_print_escaped(cut);
	fputs("...", stdout);
	free(cut);
}

static void print_hits(const struct similar_list *l)
{
	if (!l->n) {
		printf("no similar past incidents\n");
		return;
	}
	int width = 2;
	for (size_t i = 0; i < l->n; i++) {
		char num[32];
		size_t w = l->v[i].external_id
				   ? strlen(l->v[i].external_id)
				   : (size_t)snprintf(num, sizeof num, "%lld", (long long)l->v[i].id);
		if (w > (size_t)width)
			width = w < 40 ? (int)w : 40;
	}
	printf("%6s  %-*s  %-10s  %s\n", "SCORE", width, "ID", "RESOLVED", "TITLE");
	for (size_t i = 0; i < l->n; i++) {
		const struct similar_hit *h = &l->v[i];
		char id[32], when[32] = "-";
		if (!h->external_id)
			snprintf(id, sizeof id, "%lld", (long long)h->id);
		if (h->has_resolved_at) {
			format_time_rfc3339(h->resolved_at, when);
			when[10] = '\0';
		}
		printf("%6.2f  ", h->score);
		if (h->external_id) {
			/* an imported id is foreign text */
			print_clipped(h->external_id, 40);
			size_t w = strlen(h->external_id);
			printf("%*s", w < (size_t)width ? (int)(width - (int)w) : 0, "");
		} else {
			printf("%-*s", width, id);
		}
		printf("  %-10s  ", when);
		print_clipped(h->title, 120);
		printf("\n%6s  cause:  ", "");
		if (h->root_cause)
			print_clipped(h->root_cause, 160);
		else
			fputs("(not recorded)", stdout);
		printf("\n%6s  fix:    ", "");
		if (h->mitigation)
			print_clipped(h->mitigation, 160);
		else
			fputs("(not recorded)", stdout);
		printf("\n%6s  why:    ", "");
		bool first = true;
		for (unsigned b = 0; b < 32; b++) {
			if (!(h->reasons & (1u << b)))
				continue;
			printf("%s%s", first ? "" : ", ", similar_reason_word(b));
			first = false;
		}
		fputc('\n', stdout);
	}
}

static json_t *hits_json(const struct similar_list *l)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct similar_hit *h = &l->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", h->external_id ? json_string(h->external_id)
							    : json_integer(h->id));
		/* four decimals: enough to order, stable to compare */
		json_object_set_new(o, "score", json_real((double)(long long)(h->score * 10000 + 0.5) /
							  10000));
		json_object_set_new(o, "title", json_string(h->title));
		json_object_set_new(o, "root_cause",
				    h->root_cause ? json_string(h->root_cause) : json_null());
		json_object_set_new(o, "mitigation",
				    h->mitigation ? json_string(h->mitigation) : json_null());
		if (h->has_resolved_at) {
			char t[32];
			format_time_rfc3339(h->resolved_at, t);
			json_object_set_new(o, "resolved_at", json_string(t));
		} else {
			json_object_set_new(o, "resolved_at", json_null());
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

int cmd_similar(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "text", required_argument, NULL, 't' },
		{ "exclude", required_argument, NULL, 'x' },
		{ 0 },
	};
	long limit = SIMILAR_DEFAULT_LIMIT;
	const char *text = NULL;
	const char **excl = xcalloc((size_t)argc + 1, sizeof *excl);
	size_t nexcl = 0;
	int o, code = 0;
	/* options may follow the ID: no '+', getopt permutes */
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'n' && cli_parse_limit(optarg, &limit) && limit <= 1000)
			continue;
		if (o == 't') {
			text = optarg;
			continue;
		}
		if (o == 'x') {
			excl[nexcl++] = optarg;
			continue;
		}
		free(excl);
		return cli_usage_error("similar", "%s",
				       o == 'n' ? "--limit needs a number from 1 to 1000"
						: "bad option");
	}
	if ((text != NULL) == (optind < argc) || argc - optind > 1) {
		free(excl);
		return cli_usage_error("similar", "%s", "give one incident ID or --text TEXT");
	}
	enum status st = cli_open_store(c);
	if (st != STATUS_OK) {
		free(excl);
		return status_exit_code(st);
	}
	int64_t *ids = xcalloc(nexcl + 1, sizeof *ids);
	for (size_t i = 0; i < nexcl; i++) {
		if (resolve_id(c, excl[i], &ids[i]) != STATUS_OK) {
			fprintf(stderr, "sitrep similar: no incident '%s' to exclude\n", excl[i]);
			code = 1;
			goto out;
		}
	}
	int64_t self = 0;
	if (!text && resolve_id(c, argv[optind], &self) != STATUS_OK) {
		fprintf(stderr, "sitrep similar: no incident '%s'\n", argv[optind]);
		code = 1;
		goto out;
	}

	char *err = NULL;
	/* fold in what changed since the index was last refreshed; a read-only
	 * file still gets correct answers, just slower */
	if (similar_pending(c->st) > 0 && similar_refresh(c->st, false, &err) != STATUS_OK) {
		warnx_("%s", err);
		xfree(&err);
	}
	struct similar_opts so = {
		.limit = (size_t)limit,
		.exclude = ids,
		.nexclude = nexcl,
		.label_keys = c->conf.incidents.label_keys,
		.nlabel_keys = c->conf.incidents.nlabel_keys,
	};
	struct similar_list l = { 0 };
	st = text ? similar_to_text(c->st, text, &so, &l, &err)
		  : similar_to_incident(c->st, self, &so, &l, &err);
	if (st != STATUS_OK) {
		warnx_("%s", err ? err : status_message(st));
		free(err);
		code = status_exit_code(st);
		goto out;
	}
	if (c->g->json)
		cli_print_json(hits_json(&l));
	else
		print_hits(&l);
	similar_list_clear(&l);
out:
	free(ids);
	free(excl);
	return code;
}

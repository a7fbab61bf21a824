/*
 * cmd_demo.c — `sitrep demo`: replay the demo scenario into a spool
 * directory and exit when it is done. The scriptable twin of the console's
 * --demo, for trying sitrep without a terminal UI and for tests: run
 * `sitrep ingest --spool DIR` beside it (or after it) to watch the page
 * unfold. With --history it first imports the demo's past incidents into
 * the database, as --demo does, so that `sitrep similar` has a memory.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "demo.h"
#include "history.h"

static json_t *item_json(const struct demo_item *it)
{
	return json_pack("{s:s, s:f, s:s, s:I}", "name", it->name, "at", it->at, "format",
			 it->format, "records", (json_int_t)it->records);
}

/* Import data/demo/history.ndjson into the database; with --json the
 * counts go to *out. Returns an exit code. */
static int import_history(struct cli_ctx *c, json_t **out)
{
	enum status st = cli_open_store(c);
	if (st != STATUS_OK)
		return status_exit_code(st);
	char *path = demo_data_file("history.ndjson");
	struct history_opts o = { 0 };
	struct history_counts n = { 0 };
	st = history_import_path(c->st, path, &o, &n);
	if (st != STATUS_OK) {
		warnx_("%s: the demo history could not be imported (%s)", path,
		       status_message(st));
		free(path);
		return status_exit_code(st);
	}
	if (c->g->json)
		*out = json_pack("{s:s, s:I, s:I}", "file", path, "imported",
				 (json_int_t)n.imported, "updated", (json_int_t)n.updated);
	else
		printf("imported %llu past incidents (%llu updated) from %s\n",
		       (unsigned long long)n.imported, (unsigned long long)n.updated, path);
	free(path);
	return 0;
}

int cmd_demo(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "speed", required_argument, NULL, 's' },
		{ "scenario", required_argument, NULL, 'S' },
		{ "history", no_argument, NULL, 'H' },
		{ 0 },
	};
	double speed = 1.0;
	const char *scenario = NULL;
	bool history = false;
	int o;
	while ((o = getopt_long(argc, argv, "+s:", opts, NULL)) != -1) {
		switch (o) {
		case 's': {
			char *end;
			speed = strtod(optarg, &end);
			if (*end || end == optarg || !(speed > 0) || speed > DEMO_MAX_SPEED)
				return cli_usage_error("demo", "--speed needs a number above 0, at "
							       "most %.0f", DEMO_MAX_SPEED);
			break;
		}
		case 'S':
			scenario = optarg;
			break;
		case 'H':
			history = true;
			break;
		default:
			return cli_usage_error("demo", "%s", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("demo", "%s",
				       optind < argc ? "takes one SPOOL_DIR" : "needs a SPOOL_DIR");
	const char *spool = argv[optind];

	json_t *hist = NULL;
	if (history) {
		int code = import_history(c, &hist);
		if (code != 0)
			return code;
	}

	char *path = scenario ? xstrdup(scenario) : demo_data_file("scenario");
	char *err = NULL;
	struct demo *d = demo_start(path, spool, speed, &err);
	if (!d) {
		warnx_("%s", err);
		free(err);
		free(path);
		json_decref(hist);
		return status_exit_code(STATUS_BAD_INPUT);
	}

	const struct demo_item *last = NULL;
	struct demo_progress p = { 0 };
	demo_progress(d, &p);
	for (size_t i = 0; i < p.total; i++)
		last = demo_item(d, i);
	double length = last ? last->at : 0;
	if (!c->g->json) {
		printf("replaying %s into %s: %zu files over %.1f s", path, spool, p.total,
		       length / speed);
		if (speed != 1.0)
			printf(" (%.1f s at speed 1)", length);
		printf("\n");
		fflush(stdout);
	}
	demo_progress_clear(&p);

	json_t *files = c->g->json ? json_array() : NULL;
	size_t seen = 0, records = 0;
	for (;;) {
		demo_wait(d, seen, -1, &p);
		for (; seen < p.written; seen++) {
			const struct demo_item *it = demo_item(d, seen);
			records += it->records;
			if (files) {
				json_array_append_new(files, item_json(it));
				continue;
			}
			printf("  %6.1fs  %s  %-16s %zu %s\n", it->at, it->name, it->format,
			       it->records,
			       strcmp(it->format, "log") == 0 || strcmp(it->format, "raw") == 0
				       ? (it->records == 1 ? "line" : "lines")
				       : (it->records == 1 ? "record" : "records"));
			fflush(stdout);
		}
		if (p.done)
			break;
		demo_progress_clear(&p);
	}

	int code = 0;
	if (p.error) {
		warnx_("demo: %s", p.error);
		code = status_exit_code(STATUS_IO);
	}
	if (files) {
		char t[32];
		format_time_rfc3339(demo_start_ms(d), t);
		json_t *doc = json_pack("{s:s, s:s, s:f, s:s, s:f, s:I, s:I, s:o}", "scenario",
					path, "spool", spool, "speed", speed, "started_at", t,
					"duration_s", length, "written", (json_int_t)p.written,
					"records", (json_int_t)records, "files", files);
		if (hist)
			json_object_set_new(doc, "history", hist);
		cli_print_json(doc);
	} else if (!p.error) {
		printf("wrote %zu files (%zu records) to %s\n", p.written, records, spool);
	}
	demo_progress_clear(&p);
	demo_stop(&d);
	free(path);
	return code;
}

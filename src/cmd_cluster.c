/*
 * cmd_cluster.c — `sitrep cluster`: the template miner on its own, with no
 * database, for debugging rules and for benchmarks; and the per-token
 * explanation `sitrep show` prints.
 *
 * Output is one line per input line, in order: the cluster id and its
 * template. Ids are printed as they stand at the end of the input, after
 * every merge: a cluster merged into another is reported under the
 * survivor. Until then each line's id waits in an anonymous temporary file,
 * not in memory, so memory stays bounded by the number of clusters, not by
 * the length of the input.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"
#include "mask.h"
#include "miner.h"

/* cluster id → current template and merge target, in a growable table
 * indexed by id (ids are dense, handed out from 1) */
struct cluster_info {
	char *tmpl;
	uint64_t merged_into;
};

struct cluster_table {
	struct cluster_info *v;
	size_t n;
};

static struct cluster_info *info_at(struct cluster_table *t, uint64_t id)
{
	if (id >= t->n) {
		size_t n = t->n ? t->n : 1024;
		while (n <= id)
			n *= 2;
		t->v = xrealloc(t->v, n * sizeof *t->v);
		memset(t->v + t->n, 0, (n - t->n) * sizeof *t->v);
		t->n = n;
	}
	return &t->v[id];
}

static void set_template(struct cluster_table *t, uint64_t id, const char *text, size_t len)
{
	struct cluster_info *ci = info_at(t, id);
	free(ci->tmpl);
	ci->tmpl = xstrndup(text, len);
}

static void on_event(void *ctx, const struct miner_event *ev)
{
	struct cluster_table *t = ctx;
	set_template(t, ev->tmpl->id, ev->tmpl->text, strlen(ev->tmpl->text));
	if (ev->kind == MINER_EV_MERGED)
		info_at(t, ev->merged_from)->merged_into = ev->tmpl->id;
}

static uint64_t final_id(struct cluster_table *t, uint64_t id)
{
	while (id < t->n && t->v[id].merged_into)
		id = t->v[id].merged_into;
	return id;
}

static bool mine_stream(struct miner *m, FILE *in, FILE *ids, struct cluster_table *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		struct miner_result res;
		miner_add(m, NULL, NULL, line, len, &res);
		if (res.is_new || res.changed || res.nmerged)
			set_template(t, res.id, res.template_text, res.template_len);
		for (size_t k = 0; k < res.nmerged; k++)
			info_at(t, res.merged_from[k])->merged_into = res.id;
		if (fwrite(&res.id, sizeof res.id, 1, ids) != 1) {
			free(line);
			return false;
		}
	}
	free(line);
	return !ferror(in);
}

int cmd_cluster(struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ids", no_argument, NULL, 'i' },
		{ "max-templates", required_argument, NULL, 'm' },
		{ 0 },
	};
	bool ids_only = false;
	long max_templates = 0;
	int o;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'i')
			ids_only = true;
		else if (o == 'm' && cli_parse_limit(optarg, &max_templates))
			;
		else
			return cli_usage_error("cluster", "%s", "bad option");
	}
	char *err = NULL;
	struct mask_rules *rules = NULL;
	enum status st = mask_rules_load(&rules, c->conf.mask_rules, c->conf.mask_rules_set, &err);
	if (st != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		return status_exit_code(st);
	}
	struct miner_config cfg = { .max_templates = (size_t)max_templates };
	struct miner *m = miner_new(rules, &cfg);
	struct cluster_table table = { 0 };
	miner_set_hooks(m, on_event, NULL, &table);
	FILE *ids = tmpfile();
	if (!ids)
		die(1, "cannot create a temporary file: %m");

	int code = 0;
	if (optind == argc) {
		if (!mine_stream(m, stdin, ids, &table)) {
			warnx_("-: read error");
			code = 1;
		}
	}
	for (int i = optind; i < argc && code == 0; i++) {
		FILE *in = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "r");
		if (!in) {
			warnx_("%s: cannot read: %m", argv[i]);
			code = 1;
			break;
		}
		if (!mine_stream(m, in, ids, &table)) {
			warnx_("%s: read error", argv[i]);
			code = 1;
		}
		if (in != stdin)
			fclose(in);
	}

	rewind(ids);
	uint64_t id;
	struct buf out = { 0 };
	bool json = c->g->json;
	if (json && code == 0)
		fputs("{\"lines\": [\n", stdout);
	bool first = true;
	while (code == 0 && fread(&id, sizeof id, 1, ids) == 1) {
		uint64_t f = final_id(&table, id);
		if (json) {
			/* streamed: one small object a line, not one huge tree */
			const char *t = f < table.n && table.v[f].tmpl ? table.v[f].tmpl : "";
			json_t *row = json_pack("{s:I, s:s}", "cluster", (json_int_t)f, "template", t);
			char *d = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
			printf("%s  %s", first ? "" : ",\n", d ? d : "{}");
			free(d);
			json_decref(row);
			first = false;
			continue;
		}
		if (ids_only) {
			printf("%llu\n", (unsigned long long)f);
			continue;
		}
		const char *t = f < table.n && table.v[f].tmpl ? table.v[f].tmpl : "";
		buf_reset(&out);
		escape_text(&out, t, strlen(t), false);
		printf("%llu\t%s\n", (unsigned long long)f, out.data);
	}
	if (json && code == 0)
		fputs("\n]}\n", stdout);
	buf_free(&out);
	fclose(ids);
	for (size_t i = 0; i < table.n; i++)
		free(table.v[i].tmpl);
	free(table.v);
	miner_free(&m);
	mask_rules_free(&rules);
	return code;
}

json_t *cli_explain(const struct mask_rules *rules, int64_t cluster_id, const char *bucket_name,
		    const char *service, const char *tmpl, const char *kinds, int64_t ntokens,
		    int64_t bucket, const char *message, bool *matches)
{
	struct miner *m = miner_new(rules, NULL);
	struct miner_template t = {
		.id = (uint64_t)cluster_id,
		.bucket = (uint64_t)bucket,
		.name = bucket_name,
		.service = service,
		.text = tmpl,
		.kinds = kinds,
		.ntokens = (size_t)ntokens,
	};
	(void)miner_restore(m, &t);
	struct miner_result res;
	miner_add(m, bucket_name, service, message, strlen(message), &res);
	*matches = res.id == (uint64_t)cluster_id;
	const struct miner_token *tok;
	size_t n = miner_explain(m, &tok);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "text", json_stringn(message + tok[i].start,
							    tok[i].end - tok[i].start));
		json_object_set_new(o, "masked", tok[i].rule >= 0
							 ? json_string(mask_rule_name(rules,
										      (size_t)tok[i].rule))
							 : json_null());
		json_object_set_new(o, "wildcard", json_boolean(tok[i].wildcard));
		json_array_append_new(arr, o);
	}
	miner_free(&m);
	return arr;
}

/*
 * bench_similar DB QUERIES.ndjson... — the latency of the ranking call
 * (similar_to_text, default limit) in-process, one call per query line
 * ({"text": ...}) on an existing database: wall-clock p50, p95 and max, and
 * CPU time (which a busy machine does not inflate). Each file is run twice:
 * first with this process's SQLite cache cold, then warm, as in a console
 * that has been open for a while. Process start-up, which dominates
 * `sitrep similar` on its own, is left out; tests/bench/similar.sh times the
 * whole command separately.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "similar.h"
#include "store.h"

static double now_ms_of(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct texts {
	char **v;
	size_t n;
};

static bool load(const char *path, struct texts *out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return false;
	}
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	while (getline(&line, &lcap, f) > 0) {
		json_t *q = json_loads(line, 0, NULL);
		const char *text = json_string_value(json_object_get(q, "text"));
		if (text) {
			if (out->n == cap) {
				cap = cap ? cap * 2 : 256;
				out->v = realloc(out->v, cap * sizeof *out->v);
			}
			out->v[out->n++] = strdup(text);
		}
		json_decref(q);
	}
	free(line);
	fclose(f);
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_similar DB QUERIES.ndjson...\n");
		return 2;
	}
	struct store *st = NULL;
	char *err = NULL;
	if (store_open(&st, argv[1], 0, &err) != STATUS_OK) {
		fprintf(stderr, "bench_similar: %s\n", err);
		free(err);
		return 1;
	}
	int64_t docs = store_int(st, "SELECT docs FROM similar_stats", 0);
	for (int a = 2; a < argc; a++) {
		struct texts q = { 0 };
		if (!load(argv[a], &q))
			return 1;
		if (!q.n)
			continue;
		double *wall = malloc(q.n * sizeof *wall), *cpu = malloc(q.n * sizeof *cpu);
		for (int pass = 1; pass <= 2; pass++) {
			for (size_t i = 0; i < q.n; i++) {
				struct similar_list l;
				double c0 = now_ms_of(CLOCK_THREAD_CPUTIME_ID);
				double t0 = now_ms_of(CLOCK_MONOTONIC);
				enum status s = similar_to_text(st, q.v[i], NULL, &l, &err);
				wall[i] = now_ms_of(CLOCK_MONOTONIC) - t0;
				cpu[i] = now_ms_of(CLOCK_THREAD_CPUTIME_ID) - c0;
				if (s != STATUS_OK) {
					fprintf(stderr, "bench_similar: %s\n", err);
					return 1;
				}
				similar_list_clear(&l);
			}
			qsort(wall, q.n, sizeof *wall, cmp_double);
			qsort(cpu, q.n, sizeof *cpu, cmp_double);
			size_t p95 = (size_t)((double)q.n * 0.95);
			printf("  similar_to_text in-process, %s queries, %s cache (%zu over %lld "
			       "incidents):\n    wall p50 %.2f ms  p95 %.2f ms  max %.2f ms   "
			       "CPU p50 %.2f ms  p95 %.2f ms   (floor: p95 < 10 ms)\n",
			       strstr(argv[a], "details") ? "with-details" : "live",
			       pass == 1 ? "cold" : "warm", q.n, (long long)docs, wall[q.n / 2],
			       wall[p95], wall[q.n - 1], cpu[q.n / 2], cpu[p95]);
		}
		for (size_t i = 0; i < q.n; i++)
			free(q.v[i]);
		free(q.v);
		free(wall);
		free(cpu);
	}
	store_close(&st);
	return 0;
}

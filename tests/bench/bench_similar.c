/*
 * bench_similar DB QUERIES.ndjson... — the latency of the ranking call
 * (similar_to_text, default limit) in-process, one call per query line
 * ({"text": ...}), on an existing database: p50, p95 and max per file.
 * Process start-up, which dominates `sitrep similar` on a small history,
 * is left out; tests/bench/similar.sh times the whole command separately.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "similar.h"
#include "store.h"

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
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
		FILE *f = fopen(argv[a], "r");
		if (!f) {
			perror(argv[a]);
			return 1;
		}
		double *t = NULL;
		size_t n = 0, cap = 0;
		char *line = NULL;
		size_t lcap = 0;
		while (getline(&line, &lcap, f) > 0) {
			json_t *q = json_loads(line, 0, NULL);
			const char *text = json_string_value(json_object_get(q, "text"));
			if (!text) {
				json_decref(q);
				continue;
			}
			struct similar_list l;
			double t0 = now_sec();
			enum status s = similar_to_text(st, text, NULL, &l, &err);
			double t1 = now_sec();
			json_decref(q);
			if (s != STATUS_OK) {
				fprintf(stderr, "bench_similar: %s\n", err);
				return 1;
			}
			similar_list_clear(&l);
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				t = realloc(t, cap * sizeof *t);
			}
			t[n++] = (t1 - t0) * 1000;
		}
		free(line);
		fclose(f);
		if (!n)
			continue;
		qsort(t, n, sizeof *t, cmp_double);
		const char *name = strrchr(argv[a], '/');
		name = name ? name + 1 : argv[a];
		printf("  similar_to_text (in-process, %lld incidents, %s of %s): p50 %.2f ms  "
		       "p95 %.2f ms  max %.2f ms  (%zu queries; floor p95 < 10 ms)\n",
		       (long long)docs, strstr(argv[a], "details") ? "with-details" : "live", name,
		       t[n / 2], t[(size_t)((double)n * 0.95)], t[n - 1], n);
		free(t);
	}
	store_close(&st);
	return 0;
}

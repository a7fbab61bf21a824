/*
 * bench_mask.c — masking + fingerprint throughput on one core.
 *
 *     bench_mask [--miner] FILE MIN_LINES
 *
 * Reads FILE (lines), repeats it until at least MIN_LINES lines were
 * processed, and prints "lines seconds lines_per_second" for the whole
 * run, then the same three figures for the first pass over FILE alone:
 * the repeated figure is what `make bench` asks for, the first pass shows
 * what repetition (warm caches, the miner's cache of masked sequences)
 * adds to it. With --miner, each line goes through the template miner
 * (masking included), as `sitrep cluster` does, instead of masking and
 * fingerprinting.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mask.h"
#include "miner.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	bool mine = argc == 4 && strcmp(argv[1], "--miner") == 0;
	if (argc != 3 && !mine) {
		fprintf(stderr, "usage: bench_mask [--miner] FILE MIN_LINES\n");
		return 2;
	}
	const char *path = argv[argc - 2];
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	struct buf all = { 0 };
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&all, tmp, n);
	fclose(f);
	long min_lines = atol(argv[argc - 1]);

	struct mask_rules *rules;
	char *err = NULL;
	if (mask_rules_load(&rules, NULL, false, &err) != STATUS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct masker *m = masker_new(rules);
	struct miner *mn = mine ? miner_new(rules, NULL) : NULL;
	long lines = 0, first_lines = 0;
	unsigned long long sink = 0;
	double t0 = now_s(), t_first = 0;
	while (lines < min_lines) {
		const char *p = all.data, *end = all.data + all.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (mn) {
				struct miner_result res;
				miner_add(mn, NULL, NULL, p, len, &res);
				sink += res.id;
			} else {
				size_t mlen;
				const char *masked = mask_apply(m, p, len, &mlen);
				char fp[17];
				fingerprint_hex("log", "", masked, mlen, fp);
				sink += (unsigned char)fp[0];
			}
			lines++;
			p += len + 1;
		}
		if (!first_lines) {
			first_lines = lines;
			t_first = now_s() - t0;
		}
	}
	double dt = now_s() - t0;
	printf("%ld %.3f %.0f %ld %.3f %.0f\n", lines, dt, (double)lines / dt, first_lines, t_first,
	       (double)first_lines / t_first);
	miner_free(&mn);
	masker_free(&m);
	mask_rules_free(&rules);
	buf_free(&all);
	return sink == 0; /* keep the work observable */
}

/*
 * bench_mask.c — masking + fingerprint throughput on one core.
 *
 *     bench_mask FILE MIN_LINES
 *
 * Reads FILE (lines), repeats it until at least MIN_LINES lines were
 * processed, and prints "lines seconds lines_per_second".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mask.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_mask FILE MIN_LINES\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	struct buf all = { 0 };
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&all, tmp, n);
	fclose(f);
	long min_lines = atol(argv[2]);

	struct mask_rules *rules;
	char *err = NULL;
	if (mask_rules_load(&rules, NULL, false, &err) != STATUS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct masker *m = masker_new(rules);
	long lines = 0;
	unsigned long long sink = 0;
	double t0 = now_s();
	while (lines < min_lines) {
		const char *p = all.data, *end = all.data + all.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			size_t mlen;
			const char *masked = mask_apply(m, p, len, &mlen);
			char fp[17];
			fingerprint_hex("log", "", masked, mlen, fp);
			sink += (unsigned char)fp[0];
			lines++;
			p += len + 1;
		}
	}
	double dt = now_s() - t0;
	printf("%ld %.3f %.0f\n", lines, dt, (double)lines / dt);
	masker_free(&m);
	mask_rules_free(&rules);
	buf_free(&all);
	return sink == 0; /* keep the work observable */
}

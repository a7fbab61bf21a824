/*
 * bench_insert.c — the raw SQLite insert rate that `sitrep ingest` is
 * measured against: the same alert rows, the same schema and indexes (the
 * store's own migrations), the same batch size and pragmas, one prepared
 * statement, no parsing, no masking, no clustering.
 *
 *     bench_insert DB N BATCH [records]
 *
 * With "records", each alert row also gets the record row ingest must keep
 * (the verbatim input line), inserted first by a second statement: the
 * least any ingest that keeps its input can write.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: bench_insert DB N BATCH [records]\n");
		return 2;
	}
	long n = atol(argv[2]), batch = atol(argv[3]);
	bool with_records = argc == 5 && strcmp(argv[4], "records") == 0;
	struct store *st;
	char *err = NULL;
	if (store_open(&st, argv[1], 0, &err) != STATUS_OK) {
		fprintf(stderr, "%s\n", err);
		return 3;
	}
	sqlite3 *db = store_db(st);
	sqlite3_exec(db,
		     "INSERT INTO inputs (origin, started_at) VALUES ('bench', 0);"
		     "INSERT INTO records (input_id, line, format, text) VALUES (1, 1, 'json', '{}');"
		     "INSERT INTO clusters (bucket, name, template, kinds, ntokens, severity, "
		     "first_seen, last_seen) VALUES (1, 'n', 't', 'w', 1, 'high', 0, 0);",
		     NULL, NULL, NULL);
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db,
			   "INSERT INTO alerts (record_id, source, dedup_key, status, severity, "
			   "name, service, message, masked, fingerprint, labels, starts_at, "
			   "received_at, updated_at, cluster_id) VALUES (1, 'json', ?1, 'firing', "
			   "'high', ?2, ?3, ?4, ?5, '0123456789abcdef', ?6, ?7, ?7, ?7, 1)",
			   -1, &ins, NULL);
	sqlite3_stmt *rec;
	sqlite3_prepare_v2(db, "INSERT INTO records (input_id, line, format, text) VALUES (1, ?1, "
			       "'json', ?2)",
			   -1, &rec, NULL);
	char key[32], name[32], svc[32], msg[128], masked[128], labels[64], line[512];
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (i % batch == 0)
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		/* the same rows bench ingest generates */
		snprintf(key, sizeof key, "k%ld", i);
		snprintf(name, sizeof name, "Load%ld", i % 37);
		snprintf(svc, sizeof svc, "svc%ld", i % 5);
		snprintf(msg, sizeof msg, "request %ld failed after %ldms", i, i % 997);
		snprintf(masked, sizeof masked, "request <num> failed after <dur>");
		snprintf(labels, sizeof labels, "{\"firm\":\"f-%ld\"}", i % 1000);
		if (with_records) {
			int len = snprintf(line, sizeof line,
					   "{\"name\":\"%s\",\"service\":\"%s\",\"message\":\"%s\","
					   "\"labels\":{\"firm\":\"f-%ld\"},\"dedup_key\":\"%s\"}",
					   name, svc, msg, i % 1000, key);
			sqlite3_bind_int64(rec, 1, i + 1);
			sqlite3_bind_text(rec, 2, line, len, SQLITE_STATIC);
			if (sqlite3_step(rec) != SQLITE_DONE) {
				fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
				return 3;
			}
			sqlite3_reset(rec);
		}
		sqlite3_bind_text(ins, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, svc, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, msg, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 5, masked, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 6, labels, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 7, 1700000000000LL + i);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
			return 3;
		}
		sqlite3_reset(ins);
		if (i % batch == batch - 1 || i == n - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	double dt = now_s() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(rec);
	store_close(&st);
	printf("%.0f\n", (double)n / dt);
	return 0;
}

/*
 * ingest_loop.c — see ingest_loop.h.
 *
 * The thread sleeps on a condition variable with a timeout of one poll
 * interval; ingest_loop_kick() and ingest_loop_stop() wake it early. Each
 * pass: renew (or take) the lease; if held, ingest every spool directory
 * and every new complete line of every tailed file; record each source's
 * health in `sources`; wake the UI when anything was stored.
 */
#include "config.h"
#include "ingest_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest.h"

struct ingest_loop {
	struct ingest_loop_opts o;
	char *db_path;
	char holder[160];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kicked;
	atomic_uint_fast64_t records;
	atomic_bool leader;
	atomic_bool idle;
	struct store *st;
	FILE *devnull;
};

bool lease_acquire(struct store *st, const char *name, const char *holder, int64_t now,
		   int64_t ttl_ms)
{
	sqlite3_stmt *s = store_stmt(st, "INSERT INTO leases (name, holder, expires_at) "
					 "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
					 "holder = excluded.holder, expires_at = excluded.expires_at "
					 "WHERE leases.holder = excluded.holder OR leases.expires_at < ?4");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, holder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now + ttl_ms);
	sqlite3_bind_int64(s, 4, now);
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE && sqlite3_changes(store_db(st)) == 1;
}

void lease_release(struct store *st, const char *name, const char *holder)
{
	sqlite3_stmt *s = store_stmt(st, "DELETE FROM leases WHERE name = ? AND holder = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, holder, -1, SQLITE_STATIC);
	sqlite3_step(s);
	sqlite3_reset(s);
}

static void source_health(struct store *st, const char *name, const char *kind, const char *error,
			  uint64_t records)
{
	int64_t now = now_ms();
	sqlite3_stmt *s = store_stmt(
		st, "INSERT INTO sources (name, kind, last_ok, last_error, last_error_at, records) "
		    "VALUES (?1, ?2, CASE WHEN ?3 IS NULL THEN ?4 END, ?3, CASE WHEN ?3 IS NOT NULL "
		    "THEN ?4 END, ?5) ON CONFLICT (name) DO UPDATE SET "
		    "last_ok = CASE WHEN ?3 IS NULL THEN ?4 ELSE last_ok END, "
		    "last_error = coalesce(?3, last_error), "
		    "last_error_at = CASE WHEN ?3 IS NOT NULL THEN ?4 ELSE last_error_at END, "
		    "records = records + ?5");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, (int64_t)records);
	sqlite3_step(s);
	sqlite3_reset(s);
}

static struct ingest *new_ingest(struct ingest_loop *l)
{
	struct ingest_opts io = {
		.service = l->o.conf->log_service,
		.batch = l->o.conf->batch,
		.messages = l->devnull, /* complaints are in rejects; no terminal here */
		.incidents = &l->o.conf->incidents,
	};
	return ingest_new(l->st, l->o.rules, &io);
}

static uint64_t stored(const struct ingest_counts *c)
{
	return c->accepted + c->updated + c->rejected;
}

/* New complete lines of a tailed file, from the cursor kept in `sources`. */
static uint64_t tail_file(struct ingest_loop *l, const char *path)
{
	char *name = xasprintf("file:%s", path);
	int64_t cursor = 0, inode = 0;
	sqlite3_stmt *s = store_stmt(l->st, "SELECT cursor, coalesce(inode, 0) FROM sources "
					    "WHERE name = ?");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		cursor = sqlite3_column_int64(s, 0);
		inode = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);

	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) != 0) {
		char *why = xasprintf("%s: %s", path, strerror(errno));
		source_health(l->st, name, "file", why, 0);
		free(why);
		if (f)
			fclose(f);
		free(name);
		return 0;
	}
	/* rotated or truncated: start over */
	if ((int64_t)sb.st_ino != inode || sb.st_size < cursor)
		cursor = 0;
	uint64_t n = 0;
	if (sb.st_size > cursor && fseeko(f, cursor, SEEK_SET) == 0) {
		size_t want = (size_t)(sb.st_size - cursor);
		if (want > 64 * 1024 * 1024)
			want = 64 * 1024 * 1024; /* the rest next pass */
		char *data = xmalloc(want);
		size_t got = fread(data, 1, want, f);
		/* only complete lines: a line being written waits for its end */
		size_t end = got;
		while (end > 0 && data[end - 1] != '\n')
			end--;
		if (end > 0) {
			FILE *mem = fmemopen(data, end, "r");
			if (mem) {
				struct ingest *ing = new_ingest(l);
				enum status st = ingest_stream(ing, mem, path);
				fclose(mem);
				n = stored(ingest_totals(ing));
				ingest_free(&ing);
				if (st != STATUS_STORE)
					cursor += (int64_t)end;
			}
		}
		free(data);
	}
	fclose(f);
	s = store_stmt(l->st, "INSERT INTO sources (name, kind, cursor, inode) VALUES (?1, 'file', "
			      "?2, ?3) ON CONFLICT (name) DO UPDATE SET cursor = ?2, inode = ?3");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, cursor);
	sqlite3_bind_int64(s, 3, (int64_t)sb.st_ino);
	sqlite3_step(s);
	sqlite3_reset(s);
	source_health(l->st, name, "file", NULL, n);
	free(name);
	return n;
}

static uint64_t read_spool(struct ingest_loop *l, const char *dir)
{
	char *name = xasprintf("spool:%s", dir);
	struct ingest *ing = new_ingest(l);
	enum status st = ingest_spool(ing, dir);
	uint64_t n = stored(ingest_totals(ing));
	ingest_free(&ing);
	char *why = NULL;
	if (st == STATUS_IO)
		why = xasprintf("%s: cannot read the spool directory", dir);
	else if (st == STATUS_STORE)
		why = xasprintf("%s: database error", dir);
	source_health(l->st, name, "spool", why, n);
	free(why);
	free(name);
	return n;
}

static void wake_ui(struct ingest_loop *l)
{
	if (l->o.wake_fd >= 0) {
		char b = 1;
		/* non-blocking pipe: a full pipe already means "wake up" */
		(void)!write(l->o.wake_fd, &b, 1);
	}
}

static void *loop_main(void *arg)
{
	struct ingest_loop *l = arg;
	bool was_leader = false;
	for (;;) {
		atomic_store(&l->idle, false);
		uint64_t n = 0;
		bool leader = lease_acquire(l->st, "ingest", l->holder, now_ms(), LEASE_MS);
		atomic_store(&l->leader, leader);
		if (leader != was_leader)
			wake_ui(l); /* the status line shows who ingests */
		was_leader = leader;
		if (leader) {
			for (size_t i = 0; i < l->o.conf->nspools; i++)
				n += read_spool(l, l->o.conf->spools[i]);
			for (size_t i = 0; i < l->o.conf->nfiles; i++)
				n += tail_file(l, l->o.conf->files[i]);
		}
		incidents_tick(l->st, &l->o.conf->incidents, now_ms());
		if (n) {
			atomic_fetch_add(&l->records, n);
			wake_ui(l);
		}

		pthread_mutex_lock(&l->mu);
		if (!l->stop && !l->kicked && !n)
			atomic_store(&l->idle, true);
		if (!l->stop && !l->kicked) {
			/* something was stored: look again soon, more may be coming */
			int64_t wait_ms = n ? 200 : l->o.conf->poll_ms;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			while (!l->stop && !l->kicked &&
			       pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
				;
		}
		bool stop = l->stop;
		l->kicked = false;
		pthread_mutex_unlock(&l->mu);
		if (stop)
			break;
	}
	lease_release(l->st, "ingest", l->holder);
	return NULL;
}

enum status ingest_loop_start(struct ingest_loop **out, const struct ingest_loop_opts *o,
			      char **err)
{
	struct ingest_loop *l = xcalloc(1, sizeof *l);
	l->o = *o;
	l->db_path = xstrdup(o->db_path);
	if (o->holder) {
		snprintf(l->holder, sizeof l->holder, "%s", o->holder);
	} else {
		char host[64] = "localhost";
		gethostname(host, sizeof host - 1);
		snprintf(l->holder, sizeof l->holder, "%s:%ld:%lld", host, (long)getpid(),
			 (long long)now_ms());
	}
	if (store_open(&l->st, l->db_path, 0, err) != STATUS_OK) {
		free(l->db_path);
		free(l);
		return STATUS_STORE;
	}
	l->devnull = fopen("/dev/null", "w");
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
		*err = xasprintf("cannot start the ingest thread");
		store_close(&l->st);
		fclose(l->devnull);
		free(l->db_path);
		free(l);
		return STATUS_IO;
	}
	*out = l;
	return STATUS_OK;
}

void ingest_loop_kick(struct ingest_loop *l)
{
	pthread_mutex_lock(&l->mu);
	l->kicked = true;
	atomic_store(&l->idle, false); /* not idle until a pass after this one */
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void ingest_loop_stop(struct ingest_loop **lp)
{
	struct ingest_loop *l = *lp;
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	store_close(&l->st);
	if (l->devnull)
		fclose(l->devnull);
	free(l->db_path);
	xfree(lp);
}

uint64_t ingest_loop_records(const struct ingest_loop *l)
{
	return atomic_load(&l->records);
}

bool ingest_loop_leader(const struct ingest_loop *l)
{
	return atomic_load(&l->leader);
}

bool ingest_loop_idle(const struct ingest_loop *l)
{
	return atomic_load(&l->idle);
}

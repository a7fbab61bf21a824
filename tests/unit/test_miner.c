/* test_miner.c — generalisation, merging, identity, eviction, determinism,
 * persistence through the hooks, and explanations. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miner.h"

static struct mask_rules *rules;

static int setup(void **state)
{
	(void)state;
	char *err = NULL;
	if (mask_rules_load(&rules, NULL, false, &err) != STATUS_OK) {
		free(err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mask_rules_free(&rules);
	return 0;
}

static uint64_t add(struct miner *m, const char *name, const char *msg, struct miner_result *r)
{
	struct miner_result tmp;
	if (!r)
		r = &tmp;
	miner_add(m, name, "svc", msg, strlen(msg), r);
	return r->id;
}

/* ---- a fake store fed by the event hook ------------------------------------------------ */

struct row {
	uint64_t id, bucket, count;
	char *name, *service, *text, *kinds;
	size_t ntokens;
	bool live;   /* still a cluster (not merged away) */
	bool in_mem; /* the miner holds it */
};

struct store {
	struct row rows[256];
	size_t n;
	uint64_t merged_from[64], merged_into[64];
	size_t nmerged, nevicted, nloads;
};

static struct row *store_find(struct store *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i].id == id)
			return &s->rows[i];
	return NULL;
}

/* store_find for rows that must exist: a missing one fails the test */
static struct row *store_get(struct store *s, uint64_t id)
{
	struct row *r = store_find(s, id);
	if (!r) {
		print_error("no row for cluster %llu\n", (unsigned long long)id);
		abort();
	}
	return r;
}

static void row_set(struct row *r, const struct miner_template *t)
{
	free(r->name);
	free(r->service);
	free(r->text);
	free(r->kinds);
	r->id = t->id;
	r->bucket = t->bucket;
	r->count = t->count;
	r->name = strdup(t->name);
	r->service = strdup(t->service);
	r->text = strdup(t->text);
	r->kinds = strdup(t->kinds);
	r->ntokens = t->ntokens;
}

static void on_event(void *ctx, const struct miner_event *ev)
{
	struct store *s = ctx;
	struct row *r = store_find(s, ev->tmpl->id);
	if (!r) {
		assert_true(s->n < 256);
		r = &s->rows[s->n++];
		memset(r, 0, sizeof *r);
		r->live = true;
	}
	row_set(r, ev->tmpl);
	r->in_mem = ev->kind != MINER_EV_EVICTED;
	if (ev->kind == MINER_EV_EVICTED)
		s->nevicted++;
	if (ev->kind == MINER_EV_MERGED) {
		struct row *l = store_get(s, ev->merged_from); /* every loser was reported before */
		l->live = false;
		l->in_mem = false;
		s->merged_from[s->nmerged] = ev->merged_from;
		s->merged_into[s->nmerged++] = ev->tmpl->id;
	}
}

static void loader(void *ctx, struct miner *m, uint64_t bucket)
{
	struct store *s = ctx;
	s->nloads++;
	for (size_t i = 0; i < s->n; i++) {
		struct row *r = &s->rows[i];
		if (!r->live || r->bucket != bucket)
			continue;
		struct miner_template t = { r->id, r->bucket, r->name, r->service, r->text,
					    r->kinds, r->ntokens, r->count };
		assert_int_equal(miner_restore(m, &t), STATUS_OK);
		r->in_mem = true;
	}
}

static void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->rows[i].name);
		free(s->rows[i].service);
		free(s->rows[i].text);
		free(s->rows[i].kinds);
	}
}

static uint64_t max_id(const struct store *s)
{
	uint64_t mx = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i].id > mx)
			mx = s->rows[i].id;
	return mx;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_numbers_generalise(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_result r;
	uint64_t a = add(m, NULL, "retry 5 of job-17 took 30ms", &r);
	assert_true(r.is_new);
	assert_string_equal(r.template_text, "retry <num> of <*> took <dur>");
	uint64_t b = add(m, NULL, "retry 6 of job-18 took 2s", &r);
	assert_int_equal(a, b);
	assert_false(r.is_new);
	assert_false(r.changed);
	/* a typed placeholder meeting another type becomes a variable */
	uint64_t c = add(m, NULL, "retry 7 of job-19 took 10.0.0.1", &r);
	assert_int_equal(a, c);
	assert_true(r.changed);
	assert_string_equal(r.template_text, "retry <num> of <*> took <*>");
	miner_free(&m);
}

static void test_words_need_many_values(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_result r;
	/* two values: constants, two clusters */
	uint64_t f = add(m, NULL, "Failed password for root", &r);
	uint64_t a = add(m, NULL, "Accepted password for root", &r);
	assert_int_not_equal(f, a);
	/* a third user name makes that position a variable: the siblings
	 * merge into the oldest, which takes the general template */
	uint64_t u1 = add(m, NULL, "session opened for alice", &r);
	uint64_t u2 = add(m, NULL, "session opened for bob", &r);
	assert_int_not_equal(u1, u2);
	uint64_t u3 = add(m, NULL, "session opened for carol", &r);
	assert_int_equal(u3, u1);
	assert_int_equal(r.nmerged, 1);
	assert_int_equal(r.merged_from[0], u2);
	assert_true(r.changed);
	assert_string_equal(r.template_text, "session opened for <*>");
	assert_int_equal(add(m, NULL, "session opened for dave", &r), u1);
	assert_int_equal(add(m, NULL, "session opened for bob", &r), u1);
	/* the unrelated pair is untouched */
	assert_int_equal(add(m, NULL, "Failed password for root", &r), f);
	miner_free(&m);
}

static void test_identity(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	uint64_t a = add(m, "DiskFull", "disk 90 percent full", NULL);
	uint64_t b = add(m, "DiskAlmostFull", "disk 90 percent full", NULL);
	struct miner_result r;
	miner_add(m, "DiskFull", "other", "disk 90 percent full", 20, &r);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, r.id);
	assert_int_not_equal(b, r.id);
	/* never merged through the sibling rule either */
	const char *names[] = { "n1", "n2", "n3", "n4" };
	uint64_t ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = add(m, names[i], "backup of x finished", NULL);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_int_not_equal(ids[i], ids[j]);
	assert_int_not_equal(miner_bucket_key("a", "b", 3), miner_bucket_key("a", "b", 4));
	assert_int_not_equal(miner_bucket_key("ab", "", 3), miner_bucket_key("a", "b", 3));
	miner_free(&m);
}

static void test_empty_and_annotated_values(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_result r;
	uint64_t a = add(m, NULL, "connection from 10.1.2.3 () at 12:00:01", &r);
	uint64_t b = add(m, NULL, "connection from 10.1.2.4 (host-4) at 12:00:02", &r);
	assert_int_equal(a, b);
	assert_string_equal(r.template_text, "connection from <*> at <ts>");
	uint64_t c = add(m, NULL, "login user= tty=3", &r);
	uint64_t d = add(m, NULL, "login user=x9 tty=4", &r);
	assert_int_equal(c, d);
	miner_free(&m);
}

static void test_eviction(void **state)
{
	(void)state;
	struct store s = { 0 };
	struct miner_config cfg = { .max_templates = 2 };
	struct miner *m = miner_new(rules, &cfg);
	miner_set_hooks(m, on_event, NULL, &s);
	uint64_t a = add(m, NULL, "alpha happened", NULL);
	uint64_t b = add(m, NULL, "beta event happened", NULL);
	add(m, NULL, "alpha happened", NULL); /* a is now the most recent */
	uint64_t c = add(m, NULL, "gamma event has happened", NULL);
	assert_int_equal(miner_live_count(m), 2);
	assert_int_equal(s.nevicted, 1);
	assert_false(store_get(&s, b)->in_mem);
	assert_true(store_get(&s, a)->in_mem);
	/* without a loader an evicted structure starts a new cluster */
	uint64_t b2 = add(m, NULL, "beta event happened", NULL);
	assert_true(b2 > c);
	/* memory stays flat: many structures, never more than the cap */
	char line[64];
	for (int i = 0; i < 200; i++) {
		snprintf(line, sizeof line, "w%c%c only once %c", 'a' + i % 26, 'a' + i / 26 % 26,
			 'a' + i % 7);
		add(m, NULL, line, NULL);
		assert_true(miner_live_count(m) <= 2);
	}
	miner_free(&m);
	store_free(&s);
}

static void test_eviction_loader(void **state)
{
	(void)state;
	struct store s = { 0 };
	struct miner_config cfg = { .max_templates = 2 };
	struct miner *m = miner_new(rules, &cfg);
	miner_set_hooks(m, on_event, loader, &s);
	uint64_t a = add(m, NULL, "alpha happened", NULL);
	add(m, NULL, "beta event happened", NULL);
	add(m, NULL, "gamma event has happened", NULL);
	assert_false(store_get(&s, a)->in_mem);
	/* the loader brings it back under its old id */
	assert_int_equal(add(m, NULL, "alpha happened", NULL), a);
	assert_true(miner_live_count(m) <= 2);
	miner_free(&m);
	store_free(&s);
}

static const char *const STREAM[] = {
	"session opened for alice by uid 0",
	"Failed password for root from 10.0.0.1 port 22 ssh2",
	"session opened for bob by uid 0",
	"disk /dev/sda1 is 91% full",
	"session opened for carol by uid 1000",
	"Failed password for admin from 10.0.0.2 port 2222 ssh2",
	"connection reset by peer",
	"Failed password for guest from 10.0.0.3 port 22 ssh2",
	"Accepted password for root from 10.0.0.1 port 22 ssh2",
	"session opened for dave by uid 0",
	"backup finished in 31s",
	"backup finished in 2m",
};
#define NSTREAM (sizeof STREAM / sizeof STREAM[0])

static void test_determinism(void **state)
{
	(void)state;
	uint64_t ids[2][NSTREAM];
	char *tmpl[2][NSTREAM];
	for (int run = 0; run < 2; run++) {
		struct miner *m = miner_new(rules, NULL);
		for (size_t i = 0; i < NSTREAM; i++) {
			struct miner_result r;
			ids[run][i] = add(m, NULL, STREAM[i], &r);
			tmpl[run][i] = strdup(r.template_text);
		}
		miner_free(&m);
	}
	for (size_t i = 0; i < NSTREAM; i++) {
		assert_int_equal(ids[0][i], ids[1][i]);
		assert_string_equal(tmpl[0][i], tmpl[1][i]);
		free(tmpl[0][i]);
		free(tmpl[1][i]);
	}
}

static void test_restart(void **state)
{
	(void)state;
	/* the uninterrupted run: the stream twice */
	struct miner *whole = miner_new(rules, NULL);
	for (size_t i = 0; i < NSTREAM; i++)
		add(whole, NULL, STREAM[i], NULL);
	uint64_t want[NSTREAM];
	char *want_t[NSTREAM];
	for (size_t i = 0; i < NSTREAM; i++) {
		struct miner_result r;
		want[i] = add(whole, NULL, STREAM[i], &r);
		want_t[i] = strdup(r.template_text);
	}

	/* the interrupted one: the stream, a restart, the stream again */
	struct store s = { 0 };
	struct miner *m = miner_new(rules, NULL);
	miner_set_hooks(m, on_event, loader, &s);
	for (size_t i = 0; i < NSTREAM; i++)
		add(m, NULL, STREAM[i], NULL);
	miner_free(&m);
	assert_true(s.nmerged >= 1);

	struct miner_config cfg = { .first_id = max_id(&s) + 1 };
	m = miner_new(rules, &cfg);
	miner_set_hooks(m, on_event, loader, &s);
	for (size_t i = 0; i < NSTREAM; i++) {
		struct miner_result r;
		uint64_t got = add(m, NULL, STREAM[i], &r);
		assert_int_equal(got, want[i]);
		assert_string_equal(r.template_text, want_t[i]);
		free(want_t[i]);
	}
	assert_true(s.nloads > 0);
	/* a new structure after the restart gets a fresh id */
	struct miner_result r;
	add(m, NULL, "a brand new kind of message", &r);
	assert_true(r.is_new);
	assert_true(r.id > max_id(&s) - 1);
	assert_int_equal(r.id, miner_next_id(m) - 1);
	miner_free(&m);
	miner_free(&whole);
	store_free(&s);
}

static void test_restore_rejects(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_template bad = { 7, 0, "", "", "a b c", "ww", 3, 1 };
	assert_int_equal(miner_restore(m, &bad), STATUS_BAD_INPUT); /* kinds too short */
	struct miner_template bad2 = { 7, 0, "", "", "a <*> c", "www", 3, 1 };
	assert_int_equal(miner_restore(m, &bad2), STATUS_BAD_INPUT); /* <*> as a word */
	struct miner_template bad3 = { 7, 12345, "", "", "a <*> c", "w*w", 3, 1 };
	assert_int_equal(miner_restore(m, &bad3), STATUS_BAD_INPUT); /* wrong bucket */
	struct miner_template good = { 7, 0, "", "", "a <*> c", "w*w", 3, 1 };
	assert_int_equal(miner_restore(m, &good), STATUS_OK);
	assert_int_equal(miner_next_id(m), 8);
	struct miner_result r;
	assert_int_not_equal(add(m, "", "a anything c", &r), 7); /* service "svc": another bucket */
	miner_add(m, "", "", "a anything c", 12, &r);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.template_text, "a <*> c");
	miner_free(&m);
}

static void test_explain(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	const char *msg = "disk node7 at 10.0.0.1 is full";
	add(m, NULL, msg, NULL);
	const struct miner_token *t;
	size_t n = miner_explain(m, &t);
	assert_int_equal(n, 6);
	const char *want[] = { "disk", "node7", "at", "10.0.0.1", "is", "full" };
	for (size_t i = 0; i < n; i++) {
		size_t len = t[i].end - t[i].start;
		assert_int_equal(len, strlen(want[i]));
		assert_memory_equal(msg + t[i].start, want[i], len);
	}
	assert_int_equal(t[3].rule >= 0, 1);
	assert_string_equal(mask_rule_name(rules, (size_t)t[3].rule), "ipv4");
	assert_int_equal(t[1].rule, -1);
	assert_true(t[1].wildcard);  /* holds a digit */
	assert_false(t[3].wildcard); /* typed <ip>, constant in the template */
	assert_false(t[0].wildcard);
	miner_free(&m);
}

static void test_restart_after_eviction_everything(void **state)
{
	(void)state;
	/* with a cap of 1 every bucket goes to the store and comes back */
	struct store s = { 0 };
	struct miner_config cfg = { .max_templates = 1 };
	struct miner *m = miner_new(rules, &cfg);
	miner_set_hooks(m, on_event, loader, &s);
	uint64_t first[NSTREAM];
	for (size_t i = 0; i < NSTREAM; i++)
		first[i] = add(m, NULL, STREAM[i], NULL);
	for (size_t i = 0; i < NSTREAM; i++) {
		uint64_t again = add(m, NULL, STREAM[i], NULL);
		/* the same id, or the survivor it was merged into */
		uint64_t want = first[i];
		for (size_t k = 0; k < s.nmerged; k++)
			if (s.merged_from[k] == want)
				want = s.merged_into[k], k = (size_t)-1;
		assert_int_equal(again, want);
		assert_true(miner_live_count(m) <= 1);
	}
	miner_free(&m);
	store_free(&s);
}

/* Raw log lines: the header (time, level, thread, component) is one
 * variable whatever its length; a message without one keeps its words. */
static void test_headers(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_result r;
	uint64_t a = add(m, NULL,
			 "2015-10-18 18:01:47,978 INFO [main] org.x.Client: Address change detected", &r);
	uint64_t b = add(m, NULL,
			 "2015-10-18 18:06:02,841 WARN [RMCommunicator Allocator] org.x.Client: "
			 "Address change detected",
			 &r);
	uint64_t c = add(m, NULL, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: Address change detected",
			 &r);
	uint64_t d = add(m, NULL, "[10.30 16:49:06] chrome.exe *64 - Address change detected", &r);
	uint64_t e = add(m, NULL, "134681 node-246 unix.hw state 1077804742 1 Address change detected",
			 &r);
	assert_int_equal(a, b);
	assert_int_equal(a, c);
	assert_int_equal(a, d);
	assert_int_equal(a, e);
	assert_string_equal(r.template_text, "<*> Address change detected");
	/* a level word that is the whole message is the message */
	uint64_t w = add(m, NULL, "2556843 gige5 gige temperature 1072878243 1 warning", &r);
	uint64_t n = add(m, NULL, "2556844 gige6 gige temperature 1072878244 1 normal", &r);
	assert_int_not_equal(w, n);
	/* no header: `key:` inside a message is not a separator */
	uint64_t i1 = add(m, NULL, "instruction address: 0x00004ed8", &r);
	uint64_t i2 = add(m, NULL, "data address: 0x00000002", &r);
	assert_int_not_equal(i1, i2);
	miner_free(&m);
}

/* A bracket group glued to a word is one token (LOCAL(0) is one value);
 * a message of values alone is named by its stem; leaders separate. */
static void test_token_shapes(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	struct miner_result r;
	uint64_t a = add(m, NULL, "synchronized to 10.100.20.250, stratum 3", &r);
	uint64_t b = add(m, NULL, "synchronized to LOCAL(0), stratum 10", &r);
	assert_int_equal(a, b);
	uint64_t t = add(m, NULL, "setLightsOn(true)", &r);
	uint64_t f = add(m, NULL, "setLightsOn(false)", &r);
	uint64_t o = add(m, NULL, "setDataSource(166, 0, 5764)", &r);
	assert_int_equal(t, f);
	assert_int_not_equal(t, o);
	uint64_t x = add(m, NULL, "interrupt caused by icbi.........0", &r);
	uint64_t y = add(m, NULL, "interrupt caused by dcbf.........0", &r);
	assert_int_not_equal(x, y);
	miner_free(&m);
}

/* The first word names the event: boot / wait / halt stay apart however
 * many there are, while a later word position still generalises. */
static void test_first_word(void **state)
{
	(void)state;
	struct miner *m = miner_new(rules, NULL);
	const char *ev[] = { "boot (command 1)", "wait (command 2)", "halt (command 3)",
			     "risBoot (command 4)" };
	uint64_t ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = add(m, NULL, ev[i], NULL);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_int_not_equal(ids[i], ids[j]);
	assert_int_equal(add(m, NULL, "boot (command 9)", NULL), ids[0]);
	miner_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_generalise),
		cmocka_unit_test(test_words_need_many_values),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_empty_and_annotated_values),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_eviction_loader),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_restore_rejects),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_restart_after_eviction_everything),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_token_shapes),
		cmocka_unit_test(test_first_word),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

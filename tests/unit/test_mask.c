/* test_mask.c — every built-in rule, the rules-file syntax, spans, fingerprints. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin_data.h"
#include "mask.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int setup_builtin(void **state)
{
	struct mask_rules *rules = NULL;
	char *err = NULL;
	if (mask_rules_load(&rules, NULL, false, &err) != STATUS_OK) {
		fprintf(stderr, "%s\n", err ? err : "?");
		free(err);
		return -1;
	}
	*state = rules;
	return 0;
}

static int teardown_builtin(void **state)
{
	struct mask_rules *rules = *state;
	mask_rules_free(&rules);
	return 0;
}

/* Mask `in` with the built-in rules and compare with `want`. */
static void check_mask(const struct mask_rules *rules, const char *in, const char *want)
{
	struct masker *m = masker_new(rules);
	size_t n = 0;
	const char *out = mask_apply(m, in, strlen(in), &n);
	if (strcmp(out, want) != 0)
		fail_msg("mask(\"%s\")\n   got \"%s\"\n  want \"%s\"", in, out, want);
	assert_int_equal(n, strlen(want));
	masker_free(&m);
}

/* ---- one test per rule: what it takes and what it leaves ----------------------------- */

static void test_url(void **state)
{
	check_mask(*state, "GET https://api.example.com/v1/items?id=7 failed",
		   "GET <url> failed");
	check_mask(*state, "see (ftp://x.org/a)", "see (<url>)");
	check_mask(*state, "no scheme here: example/path", "no scheme here: example/path");
}

static void test_email(void **state)
{
	check_mask(*state, "mail to alice.b+ops@example.co.uk bounced", "mail to <email> bounced");
	check_mask(*state, "user@localhost is not an email", "user@localhost is not an email");
}

static void test_uuid(void **state)
{
	check_mask(*state, "job 123e4567-e89b-12d3-a456-426614174000 done", "job <uuid> done");
	check_mask(*state, "not 123e4567-e89b-12d3-a456 uuid", "not <hex>-e89b-12d3-a456 uuid");
}

static void test_timestamps(void **state)
{
	check_mask(*state, "at 2024-05-01T10:00:00.123Z ok", "at <ts> ok");
	check_mask(*state, "at 2024-05-01 10:00:00,5+02:00 ok", "at <ts> ok");
	check_mask(*state, "day 2024-05-01 ok", "day <ts> ok");
	check_mask(*state, "Jan  2 15:04:05 host sshd", "<ts> host sshd");
	check_mask(*state, "[Sun Dec 04 04:47:44 2005] notice", "[<ts>] notice");
	check_mask(*state, "took until 15:04:05.250 then", "took until <ts> then");
	check_mask(*state, "lifetime 00:02 end", "lifetime <ts> end");
	check_mask(*state, "epoch 1117838570 and 1117838570123", "epoch <ts> and <ts>");
	/* negatives: a 9-digit number and a version are not times */
	check_mask(*state, "id 117838570", "id <num>");
	check_mask(*state, "Jan is a month", "Jan is a month");
}

static void test_mac(void **state)
{
	check_mask(*state, "link 00:1a:2B:3c:4d:5e up", "link <mac> up");
	check_mask(*state, "short 00:1a:2b", "short <num>:1a:2b");
}

static void test_ip(void **state)
{
	check_mask(*state, "from 10.251.73.220:50010 to 8.8.8.8", "from <ip> to <ip>");
	check_mask(*state, "v6 fe80::1 and 2001:db8:0:0:0:0:2:1 and ::1", "v6 <ip> and <ip> and <ip>");
	check_mask(*state, "version 1.2.3.4.5", "version 1.2.3.4.5");
}

static void test_host(void **state)
{
	check_mask(*state, "connect db-1.example.com:5432 now", "connect <host> now");
	check_mask(*state, "for ns.example.com [1.2.3.4]", "for <host> [<ip>]");
	check_mask(*state, "from a.cuhk.edu.hk ok", "from <host> ok");
	check_mask(*state, "class org.apache.Foo loaded", "class org.apache.Foo loaded");
}

static void test_hex(void **state)
{
	check_mask(*state, "flags=0x1F addr 0xdeadbeef", "flags=<hex> addr <hex>");
	check_mask(*state, "commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "commit <hex>");
	/* all letters, or too short: not a hex id */
	check_mask(*state, "word deadbeefcafe and 9f4e", "word deadbeefcafe and 9f4e");
}

static void test_path(void **state)
{
	check_mask(*state, "open /var/log/app-2/out.log failed", "open <path> failed");
	check_mask(*state, "open /etc/httpd/conf ok", "open /etc/httpd/conf ok");
}

static void test_duration_size(void **state)
{
	check_mask(*state, "took 250ms and 1.5s and 3 sec", "took <dur> and <dur> and <dur>");
	check_mask(*state, "lifetime <1 sec", "lifetime <dur>");
	check_mask(*state, "sent 1190 bytes (1.16 KB) and 4GiB", "sent <size> (<size>) and <size>");
	check_mask(*state, "5 sheep", "<num> sheep");
}

static void test_quoted(void **state)
{
	check_mask(*state, "key \"a b\\\" c\" and 'x y'", "key <quoted> and <quoted>");
	check_mask(*state, "unbalanced \"quote", "unbalanced \"quote");
}

static void test_bool_num(void **state)
{
	check_mask(*state, "enabled=true mode=null", "enabled=<bool> mode=<bool>");
	check_mask(*state, "trueish falsehood", "trueish falsehood");
	check_mask(*state, "count -12 ratio 3.5e-3 x", "count <num> ratio <num> x");
	check_mask(*state, "node7 v2 blk_12", "node7 v2 blk_12");
}

/* ---- spans ----------------------------------------------------------------------------- */

static void test_spans(void **state)
{
	const struct mask_rules *rules = *state;
	struct masker *m = masker_new(rules);
	const char *in = "at 10.0.0.1 took 5ms";
	mask_apply(m, in, strlen(in), NULL);
	const struct mask_span *sp;
	size_t n = mask_last_spans(m, &sp);
	assert_int_equal(n, 2);
	assert_int_equal(sp[0].start, 3);
	assert_int_equal(sp[0].end, 11);
	assert_string_equal(mask_rule_name(rules, sp[0].rule), "ipv4");
	assert_int_equal(sp[1].start, 17);
	assert_int_equal(sp[1].end, 20);
	assert_string_equal(mask_rule_name(rules, sp[1].rule), "duration");
	/* a second call resets */
	mask_apply(m, "plain", 5, NULL);
	assert_int_equal(mask_last_spans(m, &sp), 0);
	masker_free(&m);
}

/* Priority: an earlier rule's claim wins over a later overlapping match. */
static void test_priority(void **state)
{
	(void)state;
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_from_text(&rules, "a <A> x\\d+\nb <B> \\d+y\n", "t", &err),
			 STATUS_OK);
	struct masker *m = masker_new(rules);
	assert_string_equal(mask_apply(m, "x12y 34y", 8, NULL), "<A>y <B>");
	masker_free(&m);
	mask_rules_free(&rules);
}

/* ---- the rules-file syntax ------------------------------------------------------------- */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/sitrep-test-mask-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_user_file(void **state)
{
	(void)state;
	char *path = write_temp("# mine\n"
				"ticket <ticket> \\bTCK-\\d+\\b\n"
				"num <n> \\d+\n"
				"disable email\n");
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_load(&rules, path, true, &err), STATUS_OK);
	/* the new rule is tried first, num is replaced in place, email is gone */
	assert_string_equal(mask_rule_name(rules, 0), "ticket");
	bool has_email = false;
	for (size_t i = 0; i < mask_rules_count(rules); i++)
		has_email |= strcmp(mask_rule_name(rules, i), "email") == 0;
	assert_false(has_email);
	struct masker *m = masker_new(rules);
	assert_string_equal(mask_apply(m, "TCK-42 a@b.xyz 7", 16, NULL), "<ticket> a@b.xyz <n>");
	masker_free(&m);
	mask_rules_free(&rules);
	unlink(path);
	free(path);
}

static void expect_error(const char *text, const char *needle)
{
	char *path = write_temp(text);
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_load(&rules, path, true, &err), STATUS_CONFIG);
	assert_null(rules);
	assert_non_null(err);
	char where[256];
	snprintf(where, sizeof where, "%s:%s", path, needle);
	if (!strstr(err, where))
		fail_msg("error '%s' does not name '%s'", err, where);
	free(err);
	unlink(path);
	free(path);
}

static void test_user_file_errors(void **state)
{
	(void)state;
	expect_error("# c\n\nbad rule\n", "3:");                 /* no pattern */
	expect_error("ok <x> x\nBAD <y> y\n", "2:");              /* bad name */
	expect_error("broken <x> (unclosed\n", "1: bad pattern"); /* pcre2 error */
	expect_error("disable nosuchrule\n", "1: no rule named");
	expect_error("disable\n", "1:");
	/* a missing file: an error only when required */
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_load(&rules, "/nonexistent/sitrep.rules", false, &err),
			 STATUS_OK);
	mask_rules_free(&rules);
	assert_int_equal(mask_rules_load(&rules, "/nonexistent/sitrep.rules", true, &err),
			 STATUS_CONFIG);
	assert_non_null(strstr(err, "/nonexistent/sitrep.rules"));
	free(err);
}

/* The prefilter must never skip a rule that matches: spot-check a rule whose
 * only literal is required, against text with and without it. */
static void test_prefilter_exact(void **state)
{
	(void)state;
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_from_text(&rules, "k <K> (?i)key=Q\nw <W> [xy]z\n", "t", &err),
			 STATUS_OK);
	struct masker *m = masker_new(rules);
	assert_string_equal(mask_apply(m, "KEY=q yz", 8, NULL), "<K> <W>");
	assert_string_equal(mask_apply(m, "kex=q az", 8, NULL), "kex=q az");
	masker_free(&m);
	mask_rules_free(&rules);
}

/* Rules that cannot match white space run word by word; they must find
 * what a scan of the whole line finds, lookarounds at word edges included,
 * and a rule that can match white space still spans words. */
static void test_word_by_word(void **state)
{
	(void)state;
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_from_text(&rules,
					      "pair <P> \\d+ (?:KB|MB)\\b\n"
					      "num <N> (?<![\\w.])\\d+(?!\\w|\\.\\d)\n"
					      "dot <D> [a-z]+\\.(?![^\\s])\n",
					      "t", &err),
			 STATUS_OK);
	struct masker *m = masker_new(rules);
	assert_string_equal(mask_apply(m, "12 KB 7 x.3 4.5 a9 8", 20, NULL),
			    "<P> <N> x.3 4.5 a9 <N>");
	/* the lookahead sees the space after the word, not the end */
	assert_string_equal(mask_apply(m, "end. now", 8, NULL), "<D> now");
	assert_string_equal(mask_apply(m, "end.x now", 9, NULL), "end.x now");
	const struct mask_span *sp;
	assert_int_equal(mask_last_spans(m, &sp), 0);
	assert_string_equal(mask_apply(m, "go 12 KB", 8, NULL), "go <P>");
	assert_int_equal(mask_last_spans(m, &sp), 1);
	assert_int_equal(sp[0].start, 3);
	assert_int_equal(sp[0].end, 8);
	masker_free(&m);
	mask_rules_free(&rules);
}

/*
 * The prefilters (byte classes, the walk after each candidate place, the
 * search starting at the start of a candidate's run) must give exactly the
 * spans of the plain algorithm: every rule, in order, searching the whole
 * line left to right, dropping a match that overlaps a claimed byte. Compare
 * with that algorithm, written out here with pcre2, on generated lines, for
 * the built-in rules and for rules made to catch edge cases: matches that
 * are dropped but swallow a later start, counts, trailing assertions,
 * alternations, and patterns the analysis does not understand.
 */
struct ref_rule {
	pcre2_code *code;
};

static size_t ref_rules(const char *text, struct ref_rule *out, size_t max)
{
	size_t n = 0;
	const char *p = text;
	while (*p && n < max) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char *line = strndup(p, l);
		p = eol ? eol + 1 : p + l;
		char name[64], ph[64];
		int off = 0;
		if (line[0] != '#' && sscanf(line, "%63s %63s %n", name, ph, &off) >= 2 && off > 0 &&
		    strcmp(name, "disable") != 0) {
			int ec;
			PCRE2_SIZE eo;
			out[n].code = pcre2_compile((PCRE2_SPTR)(line + off), PCRE2_ZERO_TERMINATED, 0,
						    &ec, &eo, NULL);
			assert_non_null(out[n].code);
			n++;
		}
		free(line);
	}
	return n;
}

/* The plain algorithm; spans as "start,end,rule;" in start order. */
static void ref_mask(struct ref_rule *r, size_t nr, const char *t, size_t len, char *out,
		     size_t outsz)
{
	unsigned char claimed[512] = { 0 };
	unsigned rule_at[512];
	size_t end_at[512];
	pcre2_match_data *md = pcre2_match_data_create(16, NULL);
	for (size_t k = 0; k < nr; k++) {
		size_t off = 0;
		while (off < len) {
			if (pcre2_match(r[k].code, (PCRE2_SPTR)t, len, off, 0, md, NULL) < 0)
				break;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			size_t s = ov[0], e = ov[1];
			if (e <= s) {
				off = s + 1;
				continue;
			}
			off = e;
			bool free_run = true;
			for (size_t q = s; q < e; q++)
				free_run = free_run && !claimed[q];
			if (!free_run)
				continue;
			memset(claimed + s, 2, e - s);
			claimed[s] = 1;
			rule_at[s] = (unsigned)k;
			end_at[s] = e;
		}
	}
	pcre2_match_data_free(md);
	size_t o = 0;
	out[0] = '\0';
	for (size_t q = 0; q < len; q++)
		if (claimed[q] == 1)
			o += (size_t)snprintf(out + o, outsz - o, "%zu,%zu,%u;", q, end_at[q],
					      rule_at[q]);
}

static void test_prefilter_vs_plain(void **state)
{
	(void)state;
	static const char extra[] =
		"q <Q> Q\n"
		"chain <C> \\d[\\d:Q]*\n"
		"three <T> (?<![\\w.])\\d+(?:\\.\\d+){2}(?![\\w.])\n"
		"word <W> \\b(?:ab|abc|x\\d)\\b\n"
		"both <B> (?=[a-f\\d]*[a-f])[a-f\\d]{4,}\n"
		"icase <I> (?i)zed\\d\n"
		"back <K> (\\w)\\1z\n"
		"sp <S> \\d+ ?(?:k|kb)\\b\n"
		"qs <Q2> '[^'\\n]{0,8}'\n";
	static const char *const pieces[] = {
		" ",	  "  ",	   "\t",       ":",	 "::",	   ".",	      "-",	 "_",
		"/",	  "'",	   "\"",       "=",	 "Q",	   "1",	      "12",	 "123",
		"1:Q:2",  "10.0.0.1", "1.2.3", "1.2",	 "2024-05-01", "12:34", "12:34:56", "0x1f",
		"deadbeef12", "abc", "ab",     "x1",	 "ZED7",   "zed9",    "aaz",	 "true",
		"null",	  "5ms",   "3 kb",     "3 k",	 "4GiB",   "a.com",   "h.local:80", "/p/1",
		"f00d",	  "Jan  2 15:04:05", "u@x.org", "fe80::1", "00:11:22:33:44:55", "e5",
		"http://a/b", "'x y'", "\"q\"", "-7",	 "+3.5e2", "9.9.9.9:9", "abcdef"
	};
	const size_t npieces = sizeof pieces / sizeof pieces[0];

	char *all = malloc(strlen(builtin_mask_rules) + sizeof extra + 1);
	strcpy(all, extra);
	strcat(all, builtin_mask_rules);
	struct mask_rules *rules = NULL;
	char *err = NULL;
	assert_int_equal(mask_rules_from_text(&rules, all, "t", &err), STATUS_OK);
	struct ref_rule ref[64];
	size_t nref = ref_rules(all, ref, 64);
	assert_int_equal(nref, mask_rules_count(rules));
	struct masker *m = masker_new(rules);

	uint64_t seed = 0x5eed;
	char line[400], want[4096], got[4096];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0;
		int n = 1 + (int)((seed >> 33) % 12);
		for (int k = 0; k < n; k++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			const char *piece = pieces[(seed >> 33) % npieces];
			size_t pl = strlen(piece);
			if (len + pl >= sizeof line - 1)
				break;
			memcpy(line + len, piece, pl);
			len += pl;
		}
		line[len] = '\0';
		ref_mask(ref, nref, line, len, want, sizeof want);
		mask_apply(m, line, len, NULL);
		const struct mask_span *sp;
		size_t ns = mask_last_spans(m, &sp), o = 0;
		got[0] = '\0';
		for (size_t i = 0; i < ns; i++)
			o += (size_t)snprintf(got + o, sizeof got - o, "%u,%u,%u;", sp[i].start,
					      sp[i].end, sp[i].rule);
		if (strcmp(want, got) != 0)
			fail_msg("\"%s\"\n  plain   %s\n  masker  %s", line, want, got);
	}
	for (size_t i = 0; i < nref; i++)
		pcre2_code_free(ref[i].code);
	masker_free(&m);
	mask_rules_free(&rules);
	free(all);
}

/* ---- fingerprints ---------------------------------------------------------------------- */

static void test_fingerprint(void **state)
{
	(void)state;
	char a[17], b[17], c[17], d[17];
	fingerprint_hex("disk", "db", "full <num>", 10, a);
	fingerprint_hex("disk", "db", "full <num>", 10, b);
	fingerprint_hex("dis", "kdb", "full <num>", 10, c);
	fingerprint_hex(NULL, NULL, "full <num>", 10, d);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_int_equal(strlen(a), 16);
	/* stable across releases: a stored fingerprint must keep its meaning */
	char e[17];
	fingerprint_hex("", "", "", 0, e);
	fingerprint_hex(NULL, NULL, "", 0, d);
	assert_string_equal(d, e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_duration_size),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_bool_num),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_user_file),
		cmocka_unit_test(test_user_file_errors),
		cmocka_unit_test(test_prefilter_exact),
		cmocka_unit_test(test_word_by_word),
		cmocka_unit_test(test_prefilter_vs_plain),
		cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, setup_builtin, teardown_builtin);
}

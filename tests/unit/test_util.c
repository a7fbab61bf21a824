/* test_util.c — time parsing, durations, UTF-8 validation, buffers, escaping. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "util.h"

static void test_rfc3339(void **state)
{
	int64_t ms;
	assert_true(parse_time_rfc3339("1970-01-01T00:00:00Z", &ms));
	assert_int_equal(ms, 0);
	assert_true(parse_time_rfc3339("2024-05-01T10:00:00.123Z", &ms));
	assert_int_equal(ms, 1714557600123LL);
	assert_true(parse_time_rfc3339("2024-05-01T12:00:00+02:00", &ms));
	assert_int_equal(ms, 1714557600000LL);
	assert_true(parse_time_rfc3339("2024-05-01 10:00:00.5", &ms));
	assert_int_equal(ms, 1714557600500LL);
	assert_true(parse_time_rfc3339("2024-02-29T00:00:00.123456789-0130", &ms));
	assert_false(parse_time_rfc3339("2024-13-01T00:00:00Z", &ms));
	assert_false(parse_time_rfc3339("2024-05-01", &ms));
	assert_false(parse_time_rfc3339("2024-05-01T10:00:00Zjunk", &ms));
	assert_false(parse_time_rfc3339("yesterday", &ms));
	assert_false(parse_time_rfc3339(NULL, &ms));
	char out[32];
	format_time_rfc3339(1714557600123LL, out);
	assert_string_equal(out, "2024-05-01T10:00:00.123Z");
}

static void test_duration(void **state)
{
	int64_t s;
	assert_true(parse_duration("90s", &s));
	assert_int_equal(s, 90);
	assert_true(parse_duration("1h30m", &s));
	assert_int_equal(s, 5400);
	assert_true(parse_duration("2d", &s));
	assert_int_equal(s, 172800);
	assert_false(parse_duration("", &s));
	assert_false(parse_duration("10", &s));
	assert_false(parse_duration("5x", &s));
	assert_false(parse_duration("m", &s));
}

static void test_utf8(void **state)
{
	size_t at;
	assert_true(utf8_valid("plain ascii", 11, NULL));
	assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5", 14, NULL));
	assert_false(utf8_valid("ab\xff", 3, &at));
	assert_int_equal(at, 2);
	assert_false(utf8_valid("\xc0\xaf", 2, &at)); /* overlong '/' */
	assert_int_equal(at, 0);
	assert_false(utf8_valid("x\xed\xa0\x80", 4, &at)); /* surrogate */
	assert_int_equal(at, 1);
	assert_false(utf8_valid("x\xe2\x82", 3, &at)); /* truncated */
	assert_int_equal(at, 1);
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4, &at)); /* > U+10FFFF */
}

static void test_buf(void **state)
{
	struct buf b = { 0 };
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_memory_equal(b.data, "0,1,2,", 6);
	char *s = buf_steal(&b);
	assert_null(b.data);
	free(s);
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

static char *esc(const char *s, size_t n)
{
	struct buf b = { 0 };
	escape_text(&b, s, n, false);
	return buf_steal(&b);
}

static void test_escape(void **state)
{
	char *e;
	e = esc("plain", 5);
	assert_string_equal(e, "plain");
	free(e);
	/* cursor movement, clear screen, title change, bell */
	e = esc("\x1b[2J\x1b]0;pwned\x07x", 15);
	assert_string_equal(e, "\\e[2J\\e]0;pwned\\x07x");
	free(e);
	/* C1 CSI as UTF-8 (U+009B) and a right-to-left override */
	e = esc("a\xc2\x9b" "31m \xe2\x80\xae" "cba", 13);
	assert_string_equal(e, "a<U+009B>31m <U+202E>cba");
	free(e);
	/* invalid UTF-8 shown as bytes, valid wide characters kept */
	e = esc("\xff\xfe \xe6\x97\xa5\xe6\x9c\xac", 9);
	assert_string_equal(e, "\\xff\\xfe \xe6\x97\xa5\xe6\x9c\xac");
	free(e);
	e = esc("a\nb\tc\rd\x7f", 8);
	assert_string_equal(e, "a\\nb\\tc\\rd\\x7f");
	free(e);
	assert_true(strchr(e = esc("\x1b", 1), 0x1b) == NULL);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339), cmocka_unit_test(test_duration),
		cmocka_unit_test(test_utf8),    cmocka_unit_test(test_buf),
		cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

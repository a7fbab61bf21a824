/*
 * util.h — the error vocabulary, allocation wrappers and a growable buffer.
 *
 * Every fallible function returns a `status`. The status list is one X-macro
 * so that names, messages and exit codes stay in one place. Allocation never
 * fails from the caller's point of view: the wrappers abort with a message,
 * because there is nothing sensible an on-call console can do half-allocated.
 */
#ifndef SITREP_UTIL_H
#define SITREP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* name, message, process exit code */
#define STATUS_LIST(_)                                          \
	_(OK,        "ok",                             0)       \
	_(BAD_INPUT, "some input was rejected",        1)       \
	_(USAGE,     "usage error",                    2)       \
	_(STORE,     "database error",                 3)       \
	_(IO,        "input/output error",             1)       \
	_(NOT_FOUND, "not found",                      1)       \
	_(CONFIG,    "configuration error",            2)

enum status {
#define STATUS_ENUM(name, msg, code) STATUS_##name,
	STATUS_LIST(STATUS_ENUM)
#undef STATUS_ENUM
};

const char *status_message(enum status st);
int status_exit_code(enum status st);

/* Print "sitrep: <fmt>\n" on stderr. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, then exit(code). Only for start-up. */
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* free(*p) and set *p = NULL */
void xfree(void *pp);

/* A growable byte buffer; always NUL-terminated once anything was added. */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hand the buffer's string to the caller (never NULL) and reset the buffer. */
char *buf_steal(struct buf *b);

/* Milliseconds since the Unix epoch, wall clock. */
int64_t now_ms(void);
/* Parse RFC 3339 / ISO-8601 ("2024-05-01T10:00:00.123Z", "+02:00", space
 * instead of T) into ms since the epoch. Returns false on anything else. */
bool parse_time_rfc3339(const char *s, int64_t *out_ms);
/* Format ms since the epoch as RFC 3339 UTC with milliseconds into out[32]. */
void format_time_rfc3339(int64_t ms, char out[32]);
/* How long ago then_ms was, in one unit: "42s", "5m", "3h", "2d". */
void format_age(int64_t then_ms, char out[16]);
/* Parse "90s", "15m", "2h", "1d", "1h30m" into seconds. */
bool parse_duration(const char *s, int64_t *out_seconds);

/* True when [s, s+n) is valid UTF-8 (no overlongs, no surrogates). On
 * failure *bad_at, if given, is the offset of the first bad byte. */
bool utf8_valid(const char *s, size_t n, size_t *bad_at);

/* The user's login name and SSH origin ("local" when not over SSH). */
const char *user_login(void);
const char *user_origin(void);

#endif

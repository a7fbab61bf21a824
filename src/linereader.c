/* linereader.c — see linereader.h. */
#include "config.h"
#include "linereader.h"

#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (256 * 1024)

void line_reader_init(struct line_reader *r, FILE *f)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->buf = xmalloc(READ_CHUNK);
}

void line_reader_free(struct line_reader *r)
{
	free(r->buf);
	buf_free(&r->line);
}

static bool fill(struct line_reader *r)
{
	if (r->eof)
		return false;
	size_t n = fread(r->buf, 1, READ_CHUNK, r->f);
	r->start = 0;
	r->end = n;
	if (n == 0)
		r->eof = true;
	return n > 0;
}

/*
 * Next line without its '\n' (and one '\r'). At most `keep` bytes are kept
 * in the line; *size is the line's true length. Returns false at the end of
 * the input. *had_newline says whether the line was terminated.
 */
bool line_reader_next(struct line_reader *r, size_t keep, const char **line, size_t *size,
			bool *had_newline)
{
	buf_reset(&r->line);
	size_t total = 0;
	bool any = false;
	for (;;) {
		if (r->start == r->end && !fill(r))
			break;
		any = true;
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p, '\n', avail);
		size_t take = nl ? (size_t)(nl - p) : avail;
		if (r->line.len < keep) {
			size_t room = keep - r->line.len;
			buf_add(&r->line, p, take < room ? take : room);
		}
		total += take;
		r->start += take + (nl ? 1 : 0);
		if (nl) {
			*had_newline = true;
			goto done;
		}
	}
	if (!any)
		return false;
	*had_newline = false;
done:
	if (total > 0 && total <= keep && r->line.len && r->line.data[r->line.len - 1] == '\r') {
		r->line.data[--r->line.len] = '\0';
		total--;
	}
	if (!r->line.data)
		buf_add(&r->line, "", 0);
	*line = r->line.data;
	*size = total;
	return true;
}

/* Peek: the first non-whitespace byte and the byte after it, skipping
 * whitespace in between; without consuming anything. */
void line_reader_peek(struct line_reader *r, int *first, int *second)
{
	*first = *second = EOF;
	if (r->start == r->end)
		fill(r);
	size_t i = r->start;
	while (i < r->end && strchr(" \t\r\n", r->buf[i]))
		i++;
	if (i >= r->end)
		return;
	*first = (unsigned char)r->buf[i++];
	while (i < r->end && strchr(" \t\r\n", r->buf[i]))
		i++;
	if (i < r->end)
		*second = (unsigned char)r->buf[i];
}

int json_nesting_depth(const char *s, size_t n)
{
	int depth = 0, max = 0;
	bool in_str = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return max;
}

/*
 * linereader.h — read lines of any length without holding more than a
 * bound of each: what ingest and import read their input with. A line over
 * the bound is still measured (its true size is reported) so the caller can
 * refuse it by size, but only `keep` bytes of it are kept.
 */
#ifndef SITREP_LINEREADER_H
#define SITREP_LINEREADER_H

#include <stdio.h>

#include "util.h"

struct line_reader {
	FILE *f;
	char *buf;
	size_t start, end;
	bool eof;
	struct buf line; /* the current line (at most `keep` bytes), NUL-terminated */
};

void line_reader_init(struct line_reader *r, FILE *f);
void line_reader_free(struct line_reader *r);
/* The next line without its '\n' (and one trailing '\r'). *line is
 * r->line.data; *size the line's true length; *had_newline whether it was
 * terminated. False at the end of the input. */
bool line_reader_next(struct line_reader *r, size_t keep, const char **line, size_t *size,
		      bool *had_newline);
/* The first two non-blank bytes ahead (EOF when none), consuming nothing. */
void line_reader_peek(struct line_reader *r, int *first, int *second);

/* How deep JSON text nests its objects and arrays (brackets inside strings
 * do not count): checked before parsing, so a hostile record cannot make
 * the parser recurse far. */
int json_nesting_depth(const char *s, size_t n);

#endif

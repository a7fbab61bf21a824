/*
 * escape.h — make hostile text safe for a terminal.
 *
 * Alert text may carry escape sequences meant to move the cursor, clear the
 * screen or retitle the terminal, bidi overrides that reorder what is shown,
 * and invalid UTF-8. escape_text() returns text in which all of these are
 * spelled out visibly (\e, \x07, <U+202E>, \xff) and everything else is
 * kept. Both the CLI and the console draw alert text only through it.
 */
#ifndef SITREP_ESCAPE_H
#define SITREP_ESCAPE_H

#include "util.h"

/* Append the escaped form of [s, s+n) to out. Newlines and tabs are escaped
 * too unless keep_newlines (then '\n' stays and '\t' becomes spaces). */
void escape_text(struct buf *out, const char *s, size_t n, bool keep_newlines);

#endif

/*
 * draw.c — safe text drawing and the theme.
 *
 * draw_text() is the only way alert text reaches the screen: it first runs
 * escape_text() (control characters, escape sequences, bidi overrides and
 * invalid UTF-8 become visible \e, \x07, <U+202E>, \xff), then decodes the
 * result and lays it out by display width, so wide characters take two
 * columns and nothing can move the cursor, clear the screen or retitle the
 * terminal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "escape.h"
#include "ui.h"

enum { PAIR_CRIT = 1, PAIR_HIGH, PAIR_WARN, PAIR_INFO, PAIR_TITLE, PAIR_FOCUS, PAIR_STATUS,
       PAIR_ERROR };

void draw_init_colors(struct console *c)
{
	const char *no = getenv("NO_COLOR");
	c->color = has_colors() && !(no && *no);
	if (!c->color)
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_CRIT, COLOR_RED, -1);
	init_pair(PAIR_HIGH, COLOR_YELLOW, -1);
	init_pair(PAIR_WARN, COLOR_CYAN, -1);
	init_pair(PAIR_INFO, -1, -1);
	init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_WHITE);
	init_pair(PAIR_FOCUS, COLOR_BLACK, COLOR_CYAN);
	init_pair(PAIR_STATUS, COLOR_WHITE, COLOR_BLUE);
	init_pair(PAIR_ERROR, COLOR_WHITE, COLOR_RED);
}

attr_t severity_attr_n(const struct console *c, int sev)
{
	/* monochrome: critical bold, the rest plain */
	if (!c->color)
		return sev >= 3 ? A_BOLD : A_NORMAL;
	switch (sev) {
	case 3:
		return COLOR_PAIR(PAIR_CRIT) | A_BOLD;
	case 2:
		return COLOR_PAIR(PAIR_HIGH);
	case 1:
		return COLOR_PAIR(PAIR_WARN);
	default:
		return A_NORMAL;
	}
}

attr_t severity_attr(const struct console *c, const char *severity)
{
	int s = 0;
	if (!severity)
		return A_NORMAL;
	if (strcmp(severity, "critical") == 0)
		s = 3;
	else if (strcmp(severity, "high") == 0)
		s = 2;
	else if (strcmp(severity, "warning") == 0)
		s = 1;
	return severity_attr_n(c, s);
}

int draw_text(WINDOW *w, int y, int x, int width, const char *text, attr_t attr)
{
	if (width <= 0 || !text)
		return 0;
	struct buf safe = { 0 };
	escape_text(&safe, text, strlen(text), false);
	const char *p = safe.data;
	size_t left = safe.len;
	mbstate_t ps = { 0 };
	int used = 0;
	wchar_t out[512];
	int nout = 0;
	wmove(w, y, x);
	while (left > 0 && used < width) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, p, left, &ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			/* cannot happen after escape_text; stop rather than guess */
			break;
		}
		int cw = wcwidth(wc);
		if (cw < 0)
			cw = 1, wc = L'?';
		if (used + cw > width)
			break;
		out[nout++] = wc;
		used += cw;
		p += n;
		left -= n;
		if (nout == (int)(sizeof out / sizeof out[0]) - 1) {
			wattr_set(w, attr, PAIR_NUMBER(attr), NULL);
			waddnwstr(w, out, nout);
			nout = 0;
		}
	}
	wattr_set(w, attr, PAIR_NUMBER(attr), NULL);
	if (nout)
		waddnwstr(w, out, nout);
	wattr_set(w, A_NORMAL, 0, NULL);
	buf_free(&safe);
	return used;
}

void draw_line(WINDOW *w, int y, int x, int width, const char *text, attr_t attr)
{
	int used = draw_text(w, y, x, width, text, attr);
	wattr_set(w, attr, PAIR_NUMBER(attr), NULL);
	for (int i = used; i < width; i++)
		mvwaddch(w, y, x + i, ' ');
	wattr_set(w, A_NORMAL, 0, NULL);
}

void draw_title(const struct console *c, WINDOW *w, int y, int x, int width, const char *title,
		bool focused)
{
	attr_t a = c->color ? COLOR_PAIR(focused ? PAIR_FOCUS : PAIR_TITLE)
			    : (focused ? A_REVERSE | A_BOLD : A_REVERSE);
	draw_line(w, y, x, width, title, a);
}

void draw_sparkline(const struct console *c, WINDOW *w, int y, int x, const int64_t *v, int n)
{
	static const wchar_t bars[] = L" \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588";
	static const char ascii[] = " .:-=+*#%@";
	int64_t max = 0;
	for (int i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (int i = 0; i < n; i++) {
		int level = max ? (int)((v[i] * 8 + max - 1) / max) : 0; /* 0..8 */
		if (v[i] && !level)
			level = 1;
		if (c->utf8) {
			wchar_t s[2] = { bars[level], 0 };
			mvwaddnwstr(w, y, x + i, s, 1);
		} else {
			mvwaddch(w, y, x + i, (chtype)ascii[level]);
		}
	}
}

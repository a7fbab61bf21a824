/* report.c — the report pane (what the store knows of the selected
 * incident), and the full-screen views it opens: an alert or cluster in
 * full, and the links picker. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui.h"

void report_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused)
{
	char title[64];
	if (c->report_for)
		snprintf(title, sizeof title, " Report #%lld", (long long)c->report_for);
	else
		snprintf(title, sizeof title, " Report");
	draw_title(c, w, y, x, wd, title, focused);
	int rows = h - 1;
	struct scroll *s = &c->scroll[PANE_REPORT];
	s->n = c->report.n;
	scroll_clamp(s, (size_t)(rows > 0 ? rows : 1));
	for (int i = 0; i < rows; i++) {
		size_t k = s->top + (size_t)i;
		if (k >= c->report.n) {
			draw_line(w, y + 1 + i, x, wd,
				  i == 0 && !c->report_for ? "  No incident selected." : "",
				  A_NORMAL);
			continue;
		}
		const struct report_line *l = &c->report.v[k];
		attr_t a = A_NORMAL;
		if (l->kind == REPORT_HEADING)
			a = A_BOLD | A_UNDERLINE;
		else if (l->severity >= 0)
			a = severity_attr_n(c, l->severity);
		if (l->kind == REPORT_NOTE)
			a |= A_BOLD;
		if (focused && k == s->sel)
			a |= A_REVERSE;
		draw_line(w, y + 1 + i, x, wd, l->text, a);
	}
}

void text_draw(struct console *c, WINDOW *w)
{
	draw_title(c, w, 0, 0, c->cols, c->text_title, true);
	int rows = c->rows - 2;
	/* split the body into lines once per draw; bodies are small */
	const char *p = c->text.data ? c->text.data : "";
	size_t nlines = 0;
	for (const char *q = p; *q; q++)
		nlines += *q == '\n';
	struct scroll *s = &c->text_scroll;
	s->n = nlines + 1;
	scroll_clamp(s, (size_t)rows);
	size_t line = 0;
	int row = 0;
	while (*p && row < rows) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (line >= s->top) {
			char *one = xstrndup(p, n);
			draw_line(w, 1 + row, 0, c->cols, one,
				  line == s->sel ? A_REVERSE : A_NORMAL);
			free(one);
			row++;
		}
		line++;
		p += n + (e ? 1 : 0);
	}
	for (; row < rows; row++)
		draw_line(w, 1 + row, 0, c->cols, "", A_NORMAL);
}

void links_draw(struct console *c, WINDOW *w)
{
	draw_title(c, w, 0, 0, c->cols, " Links: Enter copies to the clipboard (OSC 52), Esc goes back",
		   true);
	int rows = c->rows - 2;
	struct scroll *s = &c->links_scroll;
	s->n = c->links.n;
	scroll_clamp(s, (size_t)(rows > 0 ? rows : 1));
	for (int i = 0; i < rows; i++) {
		size_t k = s->top + (size_t)i;
		if (k >= c->links.n) {
			draw_line(w, 1 + i, 0, c->cols,
				  i == 0 && !c->links.n ? "  This incident's alerts carry no links."
							 : "",
				  A_NORMAL);
			continue;
		}
		char line[1024];
		snprintf(line, sizeof line, "  %-16s %s", c->links.v[k].label, c->links.v[k].url);
		draw_line(w, 1 + i, 0, c->cols, line, k == s->sel ? A_REVERSE : A_NORMAL);
	}
}

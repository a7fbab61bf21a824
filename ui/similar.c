/* similar.c — the similar-past-incidents pane and the customer-message
 * pane. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui.h"

void similar_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused)
{
	draw_title(c, w, y, x, wd, " Similar past incidents", focused);
	int rows = h - 1;
	int row = 0;
	struct scroll *s = &c->scroll[PANE_SIMILAR];
	s->n = c->similar.n;
	scroll_clamp(s, (size_t)(rows / 2 > 0 ? rows / 2 : 1));
	if (!c->similar.n && rows > 0) {
		draw_line(w, y + 1, x, wd,
			  c->report_for ? "  Nothing like it in the history." : "", A_NORMAL);
		row = 1;
	}
	for (size_t k = s->top; k < c->similar.n && row + 1 < rows + 1; k++) {
		const struct similar_hit *hit = &c->similar.v[k];
		char when[32] = "";
		if (hit->has_resolved_at) {
			char t[32];
			format_time_rfc3339(hit->resolved_at, t);
			snprintf(when, sizeof when, "%.10s", t);
		}
		char reasons[64] = "";
		for (unsigned b = 0; b < 8; b++) {
			if (!(hit->reasons & (1u << b)))
				continue;
			size_t used = strlen(reasons);
			snprintf(reasons + used, sizeof reasons - used, "%s%s", used ? "," : "",
				 similar_reason_word(b));
		}
		char line[1024];
		snprintf(line, sizeof line, "%zu. %s  (%s%s%s) [%s]", k + 1, hit->title,
			 hit->external_id ? hit->external_id : "", hit->external_id ? " " : "",
			 when, reasons);
		attr_t a = A_BOLD;
		if (focused && k == s->sel)
			a |= A_REVERSE;
		draw_line(w, y + 1 + row++, x, wd, line, a);
		if (row >= rows)
			break;
		snprintf(line, sizeof line, "   cause: %s -- fix: %s",
			 hit->root_cause ? hit->root_cause : "not recorded",
			 hit->mitigation ? hit->mitigation : "not recorded");
		draw_line(w, y + 1 + row++, x, wd, line, A_NORMAL);
	}
	for (; row < rows; row++)
		draw_line(w, y + 1 + row, x, wd, "", A_NORMAL);
}

void message_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused)
{
	draw_title(c, w, y, x, wd, " Customer message", focused);
	for (int row = 0; row < h - 1; row++)
		draw_line(w, y + 1 + row, x, wd,
			  row == 0 ? "  No draft: customer outreach is not configured." : "",
			  A_DIM);
}

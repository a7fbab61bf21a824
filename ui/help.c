/* help.c — the `?` screen, generated from the action table and the
 * bindings in effect. */
#include "config.h"

#include <stdio.h>

#include "keymap.h"
#include "ui.h"

void help_draw(struct console *c, WINDOW *w)
{
	draw_title(c, w, 0, 0, c->cols, " Keys (from your bindings); Esc or q to go back", true);
	int rows = c->rows - 2;
	struct scroll *s = &c->help_scroll;
	s->n = ACT_COUNT - 1;
	scroll_clamp(s, (size_t)(rows > 0 ? rows : 1));
	for (int i = 0; i < rows; i++) {
		size_t a = s->top + (size_t)i + 1;
		if (a >= ACT_COUNT) {
			draw_line(w, 1 + i, 0, c->cols, "", A_NORMAL);
			continue;
		}
		char keys[96], line[512];
		keymap_keys_for(c->keys, (enum action)a, keys, sizeof keys);
		const struct action_info *info = action_info((enum action)a);
		snprintf(line, sizeof line, "  %-12s %-14s %s", *keys ? keys : "-", info->name,
			 info->help);
		draw_line(w, 1 + i, 0, c->cols, line, A_NORMAL);
	}
}

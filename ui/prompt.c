/* prompt.c — the one-line editor at the bottom: labels, typed text, the
 * usual keys (Left/Right, Home/End, C-a/C-e, Backspace, C-u, Esc). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "ui.h"

void prompt_start(struct console *c, const char *label, const char *initial, prompt_done_fn done)
{
	struct prompt *p = &c->prompt;
	memset(p, 0, sizeof *p);
	snprintf(p->label, sizeof p->label, "%s", label);
	if (initial) {
		size_t n = mbstowcs(p->buf, initial, sizeof p->buf / sizeof p->buf[0] - 1);
		p->len = p->cur = n == (size_t)-1 ? 0 : n;
	}
	p->done = done;
	p->active = true;
	c->mode = MODE_PROMPT;
}

int prompt_key(struct console *c, wint_t ch, bool is_key)
{
	struct prompt *p = &c->prompt;
	size_t cap = sizeof p->buf / sizeof p->buf[0] - 1;
	if ((!is_key && ch == 27) || (!is_key && ch == 7)) { /* Esc, C-g */
		p->active = false;
		c->mode = MODE_NORMAL;
		console_message(c, false, "cancelled");
		return UI_REDRAW;
	}
	if ((!is_key && (ch == '\n' || ch == '\r')) || (is_key && ch == KEY_ENTER)) {
		p->buf[p->len] = 0;
		char text[2048];
		size_t n = wcstombs(text, p->buf, sizeof text - 1);
		text[n == (size_t)-1 ? 0 : n] = '\0';
		p->active = false;
		c->mode = MODE_NORMAL;
		return p->done(c, text) | UI_REDRAW;
	}
	if ((is_key && ch == KEY_BACKSPACE) || (!is_key && (ch == 127 || ch == 8))) {
		if (p->cur > 0) {
			memmove(&p->buf[p->cur - 1], &p->buf[p->cur], (p->len - p->cur) * sizeof(wchar_t));
			p->cur--;
			p->len--;
		}
	} else if (is_key && ch == KEY_DC) {
		if (p->cur < p->len) {
			memmove(&p->buf[p->cur], &p->buf[p->cur + 1],
				(p->len - p->cur - 1) * sizeof(wchar_t));
			p->len--;
		}
	} else if (is_key && ch == KEY_LEFT) {
		if (p->cur)
			p->cur--;
	} else if (is_key && ch == KEY_RIGHT) {
		if (p->cur < p->len)
			p->cur++;
	} else if ((is_key && ch == KEY_HOME) || (!is_key && ch == 1)) {
		p->cur = 0;
	} else if ((is_key && ch == KEY_END) || (!is_key && ch == 5)) {
		p->cur = p->len;
	} else if (!is_key && ch == 21) { /* C-u */
		p->len = p->cur = 0;
	} else if (!is_key && ch >= 32 && p->len < cap) {
		memmove(&p->buf[p->cur + 1], &p->buf[p->cur], (p->len - p->cur) * sizeof(wchar_t));
		p->buf[p->cur++] = (wchar_t)ch;
		p->len++;
	}
	return UI_REDRAW;
}

void prompt_draw(struct console *c, WINDOW *w, int y)
{
	struct prompt *p = &c->prompt;
	p->buf[p->len] = 0;
	char text[2048];
	size_t n = wcstombs(text, p->buf, sizeof text - 1);
	text[n == (size_t)-1 ? 0 : n] = '\0';
	int used = draw_text(w, y, 0, c->cols, p->label, A_BOLD);
	draw_line(w, y, used, c->cols - used, text, A_NORMAL);
	/* the cursor after the typed text */
	int col = used;
	for (size_t i = 0; i < p->cur; i++) {
		int cw = wcwidth(p->buf[i]);
		col += cw > 0 ? cw : 1;
	}
	if (col < c->cols)
		wmove(w, y, col);
}

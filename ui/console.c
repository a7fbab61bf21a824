/*
 * console.c — the console's event loop, layout and actions.
 *
 * The loop poll()s three things: the terminal, the ingest loop's wake pipe
 * and a half-second timer. Key presses become actions through the keymap;
 * handlers return UI_* flags; the loop re-reads the model when asked
 * (UI_REQUERY) and draws once per turn. Signal handlers only set flags.
 * Another process's changes (a second engineer's ack) show up through
 * PRAGMA data_version, checked on the timer.
 *
 * SITREP_SCRIPT=FILE runs the console headless for tests, tig-style: keys
 * and commands come from FILE, one per line (a key name such as j, Enter or
 * C-f; "type TEXT" to type into a prompt; ":COMMAND" for the command line,
 * including ":wait", which waits for ingest to go idle, and
 * ":save-display FILE", which writes the screen as text).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "console.h"
#include "demo.h"
#include "incident.h"
#include "ingest_loop.h"
#include "keymap.h"
#include "ui.h"

static volatile sig_atomic_t got_winch, got_quit;

static void on_winch(int sig)
{
	(void)sig;
	got_winch = 1;
}

static void on_quit(int sig)
{
	(void)sig;
	got_quit = 1;
}

/* ---- scrolling, written once ------------------------------------------- */

void scroll_clamp(struct scroll *s, size_t height)
{
	if (height == 0)
		height = 1;
	if (s->n == 0) {
		s->sel = s->top = 0;
		return;
	}
	if (s->sel >= s->n)
		s->sel = s->n - 1;
	if (s->sel < s->top)
		s->top = s->sel;
	if (s->sel >= s->top + height)
		s->top = s->sel - height + 1;
	if (s->top + height > s->n)
		s->top = s->n > height ? s->n - height : 0;
}

bool scroll_move(struct scroll *s, enum action a, size_t height)
{
	size_t old = s->sel;
	if (s->n == 0)
		return false;
	switch (a) {
	case ACT_MOVE_DOWN:
		if (s->sel + 1 < s->n)
			s->sel++;
		break;
	case ACT_MOVE_UP:
		if (s->sel)
			s->sel--;
		break;
	case ACT_MOVE_FIRST:
		s->sel = 0;
		break;
	case ACT_MOVE_LAST:
		s->sel = s->n - 1;
		break;
	case ACT_PAGE_DOWN:
		s->sel = s->sel + height < s->n ? s->sel + height : s->n - 1;
		break;
	case ACT_PAGE_UP:
		s->sel = s->sel > height ? s->sel - height : 0;
		break;
	default:
		return false;
	}
	scroll_clamp(s, height);
	return s->sel != old;
}

/* ---- messages ---------------------------------------------------------- */

void console_message(struct console *c, bool error, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->status, sizeof c->status, fmt, ap);
	va_end(ap);
	c->status_error = error;
	c->status_at = now_ms();
}

const struct queue_row *console_selected(const struct console *c)
{
	const struct scroll *s = &c->scroll[PANE_QUEUE];
	if (s->sel < c->queue.n)
		return &c->queue.v[s->sel];
	return NULL;
}

static void mark_seen(struct console *c, const struct queue_row *r)
{
	for (size_t i = 0; i < c->nseen; i++) {
		if (c->seen[i].id == r->id) {
			c->seen[i].last_alert_at = r->last_alert_at;
			return;
		}
	}
	c->seen = xrealloc(c->seen, (c->nseen + 1) * sizeof *c->seen);
	c->seen[c->nseen++] = (struct seen){ r->id, r->last_alert_at };
}

/* ---- the model --------------------------------------------------------- */

static void load_detail(struct console *c, int64_t id)
{
	model_report_clear(&c->report);
	c->report_for = id;
	if (!id) {
		similar_list_clear(&c->similar);
		c->similar_for = 0;
		return;
	}
	model_report(c->st, id, &c->report);
	/* the history changes slowly: ask again for another incident, or
	 * every ten seconds while ingest adds clusters to this one */
	if (c->similar_for == id && now_ms() - c->similar_at < 10000)
		return;
	similar_list_clear(&c->similar);
	c->similar_for = id;
	c->similar_at = now_ms();
	struct similar_opts so = {
		.limit = SIMILAR_DEFAULT_LIMIT,
		.label_keys = c->conf->incidents.label_keys,
		.nlabel_keys = c->conf->incidents.nlabel_keys,
	};
	char *err = NULL;
	if (similar_to_incident(c->st, id, &so, &c->similar, &err) != STATUS_OK) {
		console_message(c, true, "similar: %s", err ? err : "failed");
		free(err);
	}
}

int console_reload(struct console *c)
{
	int64_t keep = c->selected_id;
	size_t keep_index = c->scroll[PANE_QUEUE].sel;
	model_queue_clear(&c->queue);
	c->filter.state = c->state_filter;
	c->filter.severity = c->severity_filter;
	c->filter.service = c->service_filter;
	model_queue(c->st, &c->filter, now_ms(), &c->queue);
	c->data_version = model_data_version(c->st);
	c->queue_loaded_at = now_ms();
	if (c->first_load) {
		for (size_t i = 0; i < c->queue.n; i++)
			mark_seen(c, &c->queue.v[i]);
		c->first_load = false;
	}
	/* keep the selection on the incident being read, wherever it moved */
	struct scroll *s = &c->scroll[PANE_QUEUE];
	s->n = c->queue.n;
	bool found = false;
	for (size_t i = 0; keep && i < c->queue.n; i++) {
		if (c->queue.v[i].id == keep) {
			s->sel = i;
			found = true;
			break;
		}
	}
	if (!found)
		s->sel = keep_index < c->queue.n ? keep_index : (c->queue.n ? c->queue.n - 1 : 0);
	const struct queue_row *r = console_selected(c);
	c->selected_id = r ? r->id : 0;
	if (r)
		mark_seen(c, r);
	/* the report follows the selection; re-read it on every change, since
	 * new alerts and joins are what the engineer is watching for */
	size_t report_sel = c->scroll[PANE_REPORT].sel;
	bool same = c->report_for == c->selected_id;
	load_detail(c, c->selected_id);
	if (same)
		c->scroll[PANE_REPORT].sel = report_sel;
	else
		memset(&c->scroll[PANE_REPORT], 0, sizeof c->scroll[PANE_REPORT]);
	return UI_REDRAW;
}

/* ---- layout ------------------------------------------------------------ */

struct rect {
	int y, x, h, w;
};

static void layout(const struct console *c, struct rect r[PANE_COUNT])
{
	int body = c->rows - 1; /* the status line is the last */
	memset(r, 0, sizeof(struct rect) * PANE_COUNT);
	if (c->maximized) {
		r[c->focus] = (struct rect){ 0, 0, body, c->cols };
		return;
	}
	int qh = body / 3;
	if (qh < 6)
		qh = 6;
	int rest = body - qh;
	r[PANE_QUEUE] = (struct rect){ 0, 0, qh, c->cols };
	if (c->cols >= 120) {
		int lw = c->cols * 3 / 5;
		int sh = rest * 2 / 3;
		r[PANE_REPORT] = (struct rect){ qh, 0, rest, lw };
		r[PANE_SIMILAR] = (struct rect){ qh, lw + 1, sh, c->cols - lw - 1 };
		r[PANE_MESSAGE] = (struct rect){ qh + sh, lw + 1, rest - sh, c->cols - lw - 1 };
	} else {
		int mh = 2, sh = rest >= 24 ? 7 : rest >= 12 ? 4 : 3;
		int rh = rest - sh - mh;
		if (rh < 3) {
			rh = rest - mh;
			sh = 0;
		}
		r[PANE_REPORT] = (struct rect){ qh, 0, rh, c->cols };
		r[PANE_SIMILAR] = (struct rect){ qh + rh, 0, sh, c->cols };
		r[PANE_MESSAGE] = (struct rect){ qh + rh + sh, 0, mh, c->cols };
	}
}

static size_t pane_height(const struct console *c, enum pane_id p)
{
	struct rect r[PANE_COUNT];
	layout(c, r);
	int h = r[p].h - (p == PANE_QUEUE ? 2 : 1);
	if (p == PANE_SIMILAR)
		h /= 2;
	return h > 0 ? (size_t)h : 1;
}

static void draw_status(struct console *c)
{
	char line[1024];
	size_t used = 0;
#define ADD(...) used += (size_t)snprintf(line + used, used < sizeof line ? sizeof line - used : 0, __VA_ARGS__)
	ADD(" %s", c->demo ? "DEMO " : "");
	const char *base = strrchr(c->db_path, '/');
	ADD("%s", base ? base + 1 : c->db_path);
	if (c->read_only) {
		ADD("  READ-ONLY");
	} else if (c->loop) {
		ADD("  ingest %s %.0f/s", ingest_loop_leader(c->loop) ? "on" : "standby",
		    c->ingest_rate);
	}
	for (size_t i = 0; i < c->sources.n && used < sizeof line; i++) {
		const char *n = strchr(c->sources.v[i].name, ':');
		const char *slash = n ? strrchr(n, '/') : NULL;
		ADD("  %s:%s", slash ? slash + 1 : c->sources.v[i].name, c->sources.v[i].state);
	}
	ADD("  %s@%s", user_login(), user_origin());
	if (c->nmarks)
		ADD("  %zu marked", c->nmarks);
	if (c->status[0] && now_ms() - c->status_at < 15000)
		ADD("  | %s", c->status);
	else
		ADD("  | ? help  q quit");
#undef ADD
	attr_t a = c->status_error ? A_REVERSE | A_BOLD : A_REVERSE;
	draw_line(stdscr, c->rows - 1, 0, c->cols, line, a);
}

static void draw(struct console *c)
{
	getmaxyx(stdscr, c->rows, c->cols);
	werase(stdscr);
	if (c->rows < 10 || c->cols < 40) {
		draw_line(stdscr, 0, 0, c->cols, "sitrep: the terminal is too small", A_BOLD);
	} else if (c->mode == MODE_HELP) {
		help_draw(c, stdscr);
	} else if (c->mode == MODE_TEXT) {
		text_draw(c, stdscr);
	} else if (c->mode == MODE_LINKS) {
		links_draw(c, stdscr);
	} else {
		struct rect r[PANE_COUNT];
		layout(c, r);
		if (r[PANE_QUEUE].h)
			queue_draw(c, stdscr, r[0].y, r[0].x, r[0].h, r[0].w, c->focus == PANE_QUEUE);
		if (r[PANE_REPORT].h)
			report_draw(c, stdscr, r[1].y, r[1].x, r[1].h, r[1].w,
				    c->focus == PANE_REPORT);
		if (r[PANE_SIMILAR].h)
			similar_draw(c, stdscr, r[2].y, r[2].x, r[2].h, r[2].w,
				     c->focus == PANE_SIMILAR);
		if (r[PANE_MESSAGE].h)
			message_draw(c, stdscr, r[3].y, r[3].x, r[3].h, r[3].w,
				     c->focus == PANE_MESSAGE);
	}
	if (c->mode == MODE_PROMPT) {
		prompt_draw(c, stdscr, c->rows - 1);
		curs_set(1);
	} else {
		curs_set(0);
		draw_status(c);
	}
	wnoutrefresh(stdscr);
	doupdate();
}

/* ---- actions ----------------------------------------------------------- */

static int after_change(struct console *c, enum status st, char *err, const char *done)
{
	if (st != STATUS_OK) {
		console_message(c, true, "%s", err ? err : status_message(st));
		free(err);
		return UI_REDRAW;
	}
	console_message(c, false, "%s", done);
	return UI_REQUERY;
}

static int done_note(struct console *c, const char *text)
{
	if (!*text)
		return UI_REDRAW;
	char *err = NULL;
	enum status st = incident_note(c->st, c->selected_id, text, &err);
	return after_change(c, st, err, "note added");
}

static int done_snooze(struct console *c, const char *text)
{
	int64_t secs;
	if (!parse_duration(text, &secs) || secs <= 0) {
		console_message(c, true, "'%s' is not a duration (try 30m, 2h, 1d)", text);
		return UI_REDRAW;
	}
	char *err = NULL;
	enum status st = incident_snooze(c->st, c->selected_id, now_ms() + secs * 1000, &err);
	char msg[64];
	snprintf(msg, sizeof msg, "snoozed for %s", text);
	return after_change(c, st, err, msg);
}

static void resolve_clear(struct console *c)
{
	xfree(&c->resolve_cause);
	xfree(&c->resolve_action);
	c->resolve_id = 0;
}

static int done_worked(struct console *c, const char *text)
{
	int worked = -1;
	if (text[0] == 'y' || text[0] == 'Y')
		worked = 1;
	else if (text[0] == 'n' || text[0] == 'N')
		worked = 0;
	char *err = NULL;
	enum status st = incident_resolve(c->st, c->resolve_id, c->resolve_cause,
					  c->resolve_action, worked, &err);
	resolve_clear(c);
	return after_change(c, st, err, "resolved");
}

static int done_action(struct console *c, const char *text)
{
	if (!*text) {
		console_message(c, true, "resolve needs the action taken; nothing was changed");
		resolve_clear(c);
		return UI_REDRAW;
	}
	c->resolve_action = xstrdup(text);
	prompt_start(c, "Did it work? [y/n, Enter: not sure] ", NULL, done_worked);
	return UI_REDRAW;
}

static int done_cause(struct console *c, const char *text)
{
	if (!*text) {
		console_message(c, true, "resolve needs a root cause; nothing was changed");
		resolve_clear(c);
		return UI_REDRAW;
	}
	c->resolve_cause = xstrdup(text);
	prompt_start(c, "Action taken: ", NULL, done_action);
	return UI_REDRAW;
}

static bool title_matches(const struct queue_row *r, const char *pat)
{
	return strcasestr(r->title, pat) || strcasestr(r->services, pat);
}

static int search_step(struct console *c, int dir)
{
	if (!c->search[0] || !c->queue.n) {
		console_message(c, true, "no search: press / first");
		return UI_REDRAW;
	}
	struct scroll *s = &c->scroll[PANE_QUEUE];
	size_t n = c->queue.n;
	for (size_t k = 1; k <= n; k++) {
		size_t i = dir > 0 ? (s->sel + k) % n : (s->sel + n - k % n) % n;
		if (title_matches(&c->queue.v[i], c->search)) {
			s->sel = i;
			c->selected_id = c->queue.v[i].id;
			mark_seen(c, &c->queue.v[i]);
			load_detail(c, c->selected_id);
			console_message(c, false, "/%s", c->search);
			return UI_REDRAW;
		}
	}
	console_message(c, true, "no incident matches '%s'", c->search);
	return UI_REDRAW;
}

static int done_search(struct console *c, const char *text)
{
	if (!*text)
		return UI_REDRAW;
	snprintf(c->search, sizeof c->search, "%s", text);
	/* the current line counts as a match too */
	struct scroll *s = &c->scroll[PANE_QUEUE];
	if (s->sel < c->queue.n && title_matches(&c->queue.v[s->sel], text)) {
		console_message(c, false, "/%s", text);
		return UI_REDRAW;
	}
	return search_step(c, 1);
}

static int done_command(struct console *c, const char *text)
{
	return console_command(c, text);
}

static int done_quit(struct console *c, const char *text)
{
	return text[0] == 'y' || text[0] == 'Y' ? UI_QUIT : UI_REDRAW;
}

static bool toggle_mark(struct console *c, int64_t id)
{
	for (size_t i = 0; i < c->nmarks; i++) {
		if (c->marks[i] == id) {
			c->marks[i] = c->marks[--c->nmarks];
			return false;
		}
	}
	c->marks = xrealloc(c->marks, (c->nmarks + 1) * sizeof *c->marks);
	c->marks[c->nmarks++] = id;
	return true;
}

/* OSC 52: the terminal (even across SSH) puts text on the local clipboard. */
static void osc52_copy(const char *text)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(text);
	struct buf b = { 0 };
	buf_adds(&b, "\033]52;c;");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)text[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)text[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)text[i + 2];
		buf_addc(&b, b64[(v >> 18) & 63]);
		buf_addc(&b, b64[(v >> 12) & 63]);
		buf_addc(&b, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		buf_addc(&b, i + 2 < n ? b64[v & 63] : '=');
	}
	buf_adds(&b, "\a");
	if (!getenv("SITREP_SCRIPT")) {
		fputs(b.data, stdout);
		fflush(stdout);
	}
	buf_free(&b);
}

static const struct report_line *report_selected(const struct console *c)
{
	const struct scroll *s = &c->scroll[PANE_REPORT];
	return s->sel < c->report.n ? &c->report.v[s->sel] : NULL;
}

static int open_selected(struct console *c)
{
	if (c->mode == MODE_LINKS) {
		if (c->links_scroll.sel < c->links.n) {
			osc52_copy(c->links.v[c->links_scroll.sel].url);
			console_message(c, false, "copied %s to the clipboard (OSC 52)",
					c->links.v[c->links_scroll.sel].label);
			c->mode = MODE_NORMAL;
		}
		return UI_REDRAW;
	}
	if (c->focus == PANE_QUEUE) {
		c->focus = PANE_REPORT;
		return UI_REDRAW;
	}
	if (c->focus == PANE_REPORT) {
		const struct report_line *l = report_selected(c);
		if (!l || !l->ref || (l->kind != REPORT_ALERT && l->kind != REPORT_CLUSTER)) {
			console_message(c, false, "select an alert or cluster line (j/k), then Enter");
			return UI_REDRAW;
		}
		buf_reset(&c->text);
		enum status st = l->kind == REPORT_ALERT ? model_alert_detail(c->st, l->ref, &c->text)
							 : model_cluster_detail(c->st, l->ref, &c->text);
		if (st != STATUS_OK) {
			console_message(c, true, "it is gone");
			return UI_REDRAW;
		}
		snprintf(c->text_title, sizeof c->text_title, " %s %lld (Esc: back)",
			 l->kind == REPORT_ALERT ? "Alert" : "Cluster", (long long)l->ref);
		memset(&c->text_scroll, 0, sizeof c->text_scroll);
		c->mode = MODE_TEXT;
		return UI_REDRAW;
	}
	if (c->focus == PANE_SIMILAR && c->scroll[PANE_SIMILAR].sel < c->similar.n) {
		const struct similar_hit *h = &c->similar.v[c->scroll[PANE_SIMILAR].sel];
		struct report r;
		if (model_report(c->st, h->id, &r) != STATUS_OK)
			return UI_REDRAW;
		buf_reset(&c->text);
		for (size_t i = 0; i < r.n; i++)
			buf_printf(&c->text, "%s\n", r.v[i].text);
		model_report_clear(&r);
		snprintf(c->text_title, sizeof c->text_title, " Past incident %s (Esc: back)",
			 h->external_id ? h->external_id : "");
		memset(&c->text_scroll, 0, sizeof c->text_scroll);
		c->mode = MODE_TEXT;
	}
	return UI_REDRAW;
}

int console_action(struct console *c, enum action a)
{
	const struct action_info *info = action_info(a);
	const struct queue_row *sel = console_selected(c);
	if ((info->flags & NEEDS_INCIDENT) && !sel) {
		console_message(c, true, "%s: no incident selected", info->name);
		return UI_REDRAW;
	}
	if ((info->flags & WRITES) && c->read_only) {
		console_message(c, true, "read-only: %s would write to the database", info->name);
		return UI_REDRAW;
	}
	/* full-screen views take movement and back for themselves */
	if (c->mode == MODE_HELP || c->mode == MODE_TEXT || c->mode == MODE_LINKS) {
		struct scroll *s = c->mode == MODE_HELP	  ? &c->help_scroll
				   : c->mode == MODE_TEXT ? &c->text_scroll
							  : &c->links_scroll;
		if (scroll_move(s, a, (size_t)(c->rows > 3 ? c->rows - 2 : 1)))
			return UI_REDRAW;
		if (a == ACT_BACK || a == ACT_QUIT || (a == ACT_HELP && c->mode == MODE_HELP)) {
			c->mode = MODE_NORMAL;
			return UI_REDRAW;
		}
		if (a == ACT_OPEN)
			return open_selected(c);
		return UI_REDRAW;
	}
	char *err = NULL;
	switch (a) {
	case ACT_MOVE_DOWN:
	case ACT_MOVE_UP:
	case ACT_MOVE_FIRST:
	case ACT_MOVE_LAST:
	case ACT_PAGE_DOWN:
	case ACT_PAGE_UP:
		if (!scroll_move(&c->scroll[c->focus], a, pane_height(c, c->focus)))
			return UI_REDRAW;
		if (c->focus == PANE_QUEUE) {
			sel = console_selected(c);
			c->selected_id = sel ? sel->id : 0;
			if (sel)
				mark_seen(c, sel);
			load_detail(c, c->selected_id);
			memset(&c->scroll[PANE_REPORT], 0, sizeof c->scroll[PANE_REPORT]);
		}
		return UI_REDRAW;
	case ACT_OPEN:
		return open_selected(c);
	case ACT_FOCUS_NEXT:
		c->focus = (c->focus + 1) % PANE_COUNT;
		return UI_REDRAW;
	case ACT_FOCUS_PREV:
		c->focus = (c->focus + PANE_COUNT - 1) % PANE_COUNT;
		return UI_REDRAW;
	case ACT_MAXIMIZE:
		c->maximized = !c->maximized;
		return UI_REDRAW;
	case ACT_ACK: {
		enum status st = incident_ack(c->st, sel->id, &err);
		return after_change(c, st, err, "acknowledged");
	}
	case ACT_RESOLVE:
		resolve_clear(c);
		c->resolve_id = sel->id;
		prompt_start(c, "Root cause: ", NULL, done_cause);
		return UI_REDRAW;
	case ACT_SNOOZE:
		prompt_start(c, "Snooze for (30m, 2h, 1d): ", NULL, done_snooze);
		return UI_REDRAW;
	case ACT_MARK:
		console_message(c, false, "#%lld %s", (long long)sel->id,
				toggle_mark(c, sel->id) ? "marked" : "unmarked");
		return UI_REDRAW;
	case ACT_MERGE: {
		int64_t *others = xcalloc(c->nmarks ? c->nmarks : 1, sizeof *others);
		size_t n = 0;
		for (size_t i = 0; i < c->nmarks; i++)
			if (c->marks[i] != sel->id)
				others[n++] = c->marks[i];
		if (!n) {
			free(others);
			console_message(c, true, "mark incidents with Space, then m on the one to keep");
			return UI_REDRAW;
		}
		enum status st = incident_merge(c->st, sel->id, others, n, &err);
		free(others);
		if (st == STATUS_OK)
			c->nmarks = 0;
		char msg[64];
		snprintf(msg, sizeof msg, "merged %zu incident(s) into #%lld", n,
			 (long long)sel->id);
		return after_change(c, st, err, msg);
	}
	case ACT_SPLIT: {
		const struct report_line *l = report_selected(c);
		if (c->focus != PANE_REPORT || !l || l->kind != REPORT_CLUSTER || !l->ref) {
			console_message(c, true, "select a cluster in the report (Tab, j/k), then S");
			return UI_REDRAW;
		}
		int64_t nid;
		enum status st = incident_split(c->st, sel->id, l->ref, &nid, &err);
		char msg[96];
		snprintf(msg, sizeof msg, "cluster %lld split into #%lld", (long long)l->ref,
			 (long long)nid);
		return after_change(c, st, err, msg);
	}
	case ACT_COMMENT:
		prompt_start(c, "Note: ", NULL, done_note);
		return UI_REDRAW;
	case ACT_LINKS: {
		model_links_clear(&c->links);
		const struct report_line *l = report_selected(c);
		if (c->focus == PANE_REPORT && l && l->kind == REPORT_ALERT)
			model_alert_links(c->st, l->ref, &c->links);
		else
			model_incident_links(c->st, sel->id, &c->links);
		memset(&c->links_scroll, 0, sizeof c->links_scroll);
		c->mode = MODE_LINKS;
		return UI_REDRAW;
	}
	case ACT_SEARCH:
		prompt_start(c, "/", NULL, done_search);
		return UI_REDRAW;
	case ACT_SEARCH_NEXT:
		return search_step(c, 1);
	case ACT_SEARCH_PREV:
		return search_step(c, -1);
	case ACT_FILTER_STATE: {
		const char *next = strcmp(c->state_filter, "active") == 0 ? "all"
				   : strcmp(c->state_filter, "all") == 0  ? "resolved"
									  : "active";
		snprintf(c->state_filter, sizeof c->state_filter, "%s", next);
		console_message(c, false, "showing %s incidents", next);
		return UI_REQUERY;
	}
	case ACT_COMMAND:
		prompt_start(c, ":", NULL, done_command);
		return UI_REDRAW;
	case ACT_HELP:
		memset(&c->help_scroll, 0, sizeof c->help_scroll);
		c->mode = MODE_HELP;
		return UI_REDRAW;
	case ACT_BACK:
		if (c->maximized) {
			c->maximized = false;
			return UI_REDRAW;
		}
		c->focus = PANE_QUEUE;
		return UI_REDRAW;
	case ACT_REDRAW:
		clearok(curscr, TRUE);
		return UI_REQUERY;
	case ACT_QUIT:
		if (c->nmarks) {
			char label[96];
			snprintf(label, sizeof label, "%zu incident(s) marked; quit anyway? [y/N] ",
				 c->nmarks);
			prompt_start(c, label, NULL, done_quit);
			return UI_REDRAW;
		}
		return UI_QUIT;
	case ACT_NONE:
	case ACT_COUNT:
		break;
	}
	return UI_REDRAW;
}

/* Write the screen as text, one line per row, trailing blanks dropped. */
static bool save_display(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	int rows, cols;
	getmaxyx(stdscr, rows, cols);
	wchar_t *w = xcalloc((size_t)cols + 1, sizeof *w);
	char *mb = xmalloc((size_t)cols * MB_CUR_MAX + 1);
	for (int y = 0; y < rows; y++) {
		int n = mvwinnwstr(stdscr, y, 0, w, cols);
		if (n < 0)
			n = 0;
		w[n] = 0;
		size_t len = wcstombs(mb, w, (size_t)cols * MB_CUR_MAX);
		if (len == (size_t)-1)
			len = 0;
		while (len && mb[len - 1] == ' ')
			len--;
		fwrite(mb, 1, len, f);
		fputc('\n', f);
	}
	free(w);
	free(mb);
	return fclose(f) == 0;
}

int console_command(struct console *c, const char *line)
{
	while (*line == ' ')
		line++;
	char word[64];
	size_t n = strcspn(line, " ");
	snprintf(word, sizeof word, "%.*s", (int)(n < 63 ? n : 63), line);
	const char *arg = line + n;
	while (*arg == ' ')
		arg++;
	if (!word[0])
		return UI_REDRAW;
	if (strcmp(word, "state") == 0) {
		static const char *const ok[] = { "active", "open", "acknowledged", "snoozed",
						  "resolved", "merged", "all", NULL };
		for (size_t i = 0; ok[i]; i++) {
			if (strcmp(arg, ok[i]) == 0) {
				snprintf(c->state_filter, sizeof c->state_filter, "%s", arg);
				return UI_REQUERY;
			}
		}
		console_message(c, true, "state is one of active open acknowledged snoozed resolved merged all");
		return UI_REDRAW;
	}
	if (strcmp(word, "severity") == 0 || strcmp(word, "service") == 0) {
		char **slot = word[1] == 'e' && word[2] == 'v' ? &c->severity_filter : &c->service_filter;
		xfree(slot);
		if (*arg && strcmp(arg, "all") != 0) {
			enum severity s;
			if (slot == &c->severity_filter && !severity_from_word(arg, &s)) {
				console_message(c, true, "severity is one of critical high warning info all");
				return UI_REDRAW;
			}
			*slot = xstrdup(arg);
		}
		return UI_REQUERY;
	}
	if (strcmp(word, "filter") == 0 && strcmp(arg, "clear") == 0) {
		xfree(&c->severity_filter);
		xfree(&c->service_filter);
		snprintf(c->state_filter, sizeof c->state_filter, "active");
		return UI_REQUERY;
	}
	if (strcmp(word, "save-display") == 0) {
		draw(c);
		if (!*arg || !save_display(arg))
			console_message(c, true, "cannot write the display to '%s'", arg);
		return UI_REDRAW;
	}
	enum action a = action_by_name(word);
	if (a != ACT_NONE)
		return console_action(c, a);
	console_message(c, true, "unknown command '%s' (? lists the actions)", word);
	return UI_REDRAW;
}

/* ---- the loop ---------------------------------------------------------- */

static int handle_key(struct console *c, wint_t ch, bool is_key)
{
	if (c->mode == MODE_PROMPT)
		return prompt_key(c, ch, is_key);
	if (is_key && ch == KEY_RESIZE)
		return UI_REDRAW;
	enum action a = keymap_lookup(c->keys, ch, is_key);
	if (a == ACT_NONE) {
		if (c->mode == MODE_NORMAL) {
			char name[16];
			if (is_key)
				snprintf(name, sizeof name, "key %d", (int)ch);
			else if (ch < 32)
				snprintf(name, sizeof name, "C-%c", (char)('a' + ch - 1));
			else
				snprintf(name, sizeof name, "%lc", (wint_t)ch);
			console_message(c, false, "%s is not bound (? for help)", name);
		}
		return UI_REDRAW;
	}
	return console_action(c, a);
}

static void update_ingest_rate(struct console *c)
{
	if (!c->loop)
		return;
	int64_t now = now_ms();
	if (now - c->ingest_rate_at < 2000)
		return;
	uint64_t n = ingest_loop_records(c->loop);
	if (c->ingest_rate_at)
		c->ingest_rate = (double)(n - c->ingest_seen) * 1000.0 / (double)(now - c->ingest_rate_at);
	c->ingest_seen = n;
	c->ingest_rate_at = now;
	model_sources_clear(&c->sources);
	model_sources(c->st, &c->sources);
}

static int drain(int fd)
{
	char b[256];
	int got = 0;
	while (read(fd, b, sizeof b) > 0)
		got = 1;
	return got;
}

/* Headless: run the script's lines, then stop. */
static int run_script(struct console *c, FILE *script, int wake_fd)
{
	char line[4096];
	int flags = UI_REQUERY;
	while (fgets(line, sizeof line, script)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (strcmp(line, ":wait") == 0) {
			/* until the demo (if any) has fed everything, ingest has
			 * nothing left and its last wake-up is read */
			struct timespec pause = { 0, 20 * 1000000 };
			struct timespec start;
			clock_gettime(CLOCK_MONOTONIC, &start);
			for (;;) {
				/* real time here: the clock may be pinned for the screen */
				struct timespec t;
				clock_gettime(CLOCK_MONOTONIC, &t);
				if (t.tv_sec - start.tv_sec > 30)
					break;
				bool fed = true;
				if (c->demo_feed) {
					struct demo_progress dp;
					demo_progress(c->demo_feed, &dp);
					fed = dp.done;
					demo_progress_clear(&dp);
				}
				if (!fed) {
					nanosleep(&pause, NULL);
					continue;
				}
				if (c->loop)
					ingest_loop_kick(c->loop);
				nanosleep(&pause, NULL);
				bool idle = !c->loop || ingest_loop_idle(c->loop);
				bool woke = wake_fd >= 0 && drain(wake_fd);
				if (woke)
					console_reload(c);
				if (idle && !woke)
					break;
				nanosleep(&pause, NULL);
			}
			flags |= UI_REQUERY;
		} else if (line[0] == ':') {
			flags |= console_command(c, line + 1);
		} else if (strncmp(line, "type ", 5) == 0) {
			wchar_t w[1024];
			size_t n = mbstowcs(w, line + 5, 1023);
			for (size_t i = 0; n != (size_t)-1 && i < n; i++)
				flags |= handle_key(c, (wint_t)w[i], false);
		} else {
			wint_t ch;
			bool is_key;
			if (!keymap_parse_key(line, &ch, &is_key)) {
				fprintf(stderr, "sitrep: script: unknown key '%s'\n", line);
				return 2;
			}
			flags |= handle_key(c, ch, is_key);
		}
		if (flags & UI_QUIT)
			return 0;
		if (flags & UI_REQUERY)
			console_reload(c);
		draw(c);
		flags = 0;
	}
	return 0;
}

static void console_free(struct console *c)
{
	model_queue_clear(&c->queue);
	model_report_clear(&c->report);
	similar_list_clear(&c->similar);
	model_links_clear(&c->links);
	model_sources_clear(&c->sources);
	buf_free(&c->text);
	free(c->seen);
	free(c->marks);
	free(c->severity_filter);
	free(c->service_filter);
	resolve_clear(c);
	keymap_free(&c->keys);
}

int console_main(const struct console_opts *o)
{
	setlocale(LC_ALL, "");
	struct console con = { 0 };
	struct console *c = &con;
	c->db_path = o->db_path;
	c->conf = o->conf;
	c->read_only = o->read_only;
	c->demo = o->demo;
	c->demo_feed = o->demo_feed;
	c->first_load = true;
	snprintf(c->state_filter, sizeof c->state_filter, "active");
	const char *cs = nl_langinfo(CODESET);
	c->utf8 = cs && strcasecmp(cs, "UTF-8") == 0;

	char *err = NULL;
	if (keymap_load(&c->keys, c->conf, &err) != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		return 2;
	}
	/* the console's connection reads small, indexed answers: a small
	 * page cache keeps its memory low on a big file */
	if (store_open(&c->st, c->db_path,
		       (c->read_only ? STORE_READ_ONLY : 0) | STORE_SMALL_CACHE, &err) != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		console_free(c);
		return 3;
	}

	int pipefd[2] = { -1, -1 };
	if (!c->read_only && o->rules) {
		if (pipe(pipefd) != 0)
			die(3, "pipe: %m");
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
		fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
		fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
		struct ingest_loop_opts lo = {
			.db_path = c->db_path,
			.conf = c->conf,
			.rules = o->rules,
			.wake_fd = pipefd[1],
		};
		if (ingest_loop_start(&c->loop, &lo, &err) != STATUS_OK) {
			warnx_("%s", err);
			free(err);
			store_close(&c->st);
			console_free(c);
			return 3;
		}
	}

	const char *script_path = getenv("SITREP_SCRIPT");
	FILE *script = NULL;
	SCREEN *screen;
	FILE *tty_out = stdout, *tty_in = stdin, *null_out = NULL, *null_in = NULL;
	if (script_path && *script_path) {
		script = fopen(script_path, "r");
		if (!script)
			die(2, "%s: %m", script_path);
		null_out = fopen("/dev/null", "w");
		null_in = fopen("/dev/null", "r");
		tty_out = null_out;
		tty_in = null_in;
	}
	const char *term = getenv("TERM");
	screen = newterm(term && *term ? term : "xterm", tty_out, tty_in);
	if (!screen)
		die(2, "cannot start the terminal (TERM=%s)", term ? term : "");
	set_term(screen);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	draw_init_colors(c);

	struct sigaction sa = { 0 };
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_quit;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (c->read_only)
		console_message(c, false, "read-only review of %s", c->db_path);
	else if (o->demo_note)
		console_message(c, false, "%s", o->demo_note);
	console_reload(c);
	update_ingest_rate(c);
	draw(c);

	int rc = 0;
	if (script) {
		rc = run_script(c, script, pipefd[0]);
		fclose(script);
	} else {
		/* SITREP_LATENCY_LOG=FILE: key-to-redraw times in microseconds,
		 * for `make bench` */
		const char *lat_path = getenv("SITREP_LATENCY_LOG");
		FILE *lat = lat_path && *lat_path ? fopen(lat_path, "a") : NULL;
		for (;;) {
			struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
						 { .fd = pipefd[0], .events = POLLIN } };
			int ready = poll(fds, pipefd[0] >= 0 ? 2 : 1, 500);
			int flags = 0;
			if (ready < 0 && errno != EINTR)
				break;
			if (got_quit)
				break;
			if (got_winch) {
				got_winch = 0;
				endwin();
				refresh();
				flags |= UI_REDRAW;
			}
			struct timespec k0 = { 0, 0 };
			if (ready > 0 && (fds[0].revents & POLLIN)) {
				clock_gettime(CLOCK_MONOTONIC, &k0);
				wint_t ch;
				int kind;
				while ((kind = wget_wch(stdscr, &ch)) != ERR) {
					flags |= handle_key(c, ch, kind == KEY_CODE_YES);
					if (flags & UI_QUIT)
						break;
				}
			}
			if (ready > 0 && (fds[0].revents & (POLLHUP | POLLERR)))
				break;
			if (flags & UI_QUIT)
				break;
			if (pipefd[0] >= 0 && drain(pipefd[0]))
				flags |= UI_REQUERY;
			/* other processes' changes, and time passing (ages) */
			if (now_ms() - c->queue_loaded_at >= 1000) {
				if (model_data_version(c->st) != c->data_version ||
				    now_ms() - c->queue_loaded_at >= 30000)
					flags |= UI_REQUERY;
				else
					flags |= UI_REDRAW;
			}
			if (flags & UI_REQUERY)
				console_reload(c);
			update_ingest_rate(c);
			if (flags)
				draw(c);
			if (lat && k0.tv_sec) {
				struct timespec k1;
				clock_gettime(CLOCK_MONOTONIC, &k1);
				fprintf(lat, "%lld\n",
					(long long)((k1.tv_sec - k0.tv_sec) * 1000000LL +
						    (k1.tv_nsec - k0.tv_nsec) / 1000));
				fflush(lat);
			}
		}
		if (lat)
			fclose(lat);
	}
	endwin();
	delscreen(screen);
	if (null_out)
		fclose(null_out);
	if (null_in)
		fclose(null_in);
	ingest_loop_stop(&c->loop);
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	store_close(&c->st);
	console_free(c);
	return rc;
}

/* queue.c — the live incident queue pane. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui.h"

static const char *short_state(const char *s)
{
	if (strcmp(s, "acknowledged") == 0)
		return "ack";
	if (strcmp(s, "snoozed") == 0)
		return "snz";
	if (strcmp(s, "resolved") == 0)
		return "res";
	if (strcmp(s, "merged") == 0)
		return "mrg";
	return s;
}

static const char *short_sev(const char *s)
{
	if (strcmp(s, "critical") == 0)
		return "CRIT";
	if (strcmp(s, "high") == 0)
		return "HIGH";
	if (strcmp(s, "warning") == 0)
		return "WARN";
	return "info";
}

static bool is_marked(const struct console *c, int64_t id)
{
	for (size_t i = 0; i < c->nmarks; i++)
		if (c->marks[i] == id)
			return true;
	return false;
}

/* Changed since the user last had it selected (new incidents included). */
static bool is_unseen(const struct console *c, const struct queue_row *r)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i].id == r->id)
			return r->last_alert_at > c->seen[i].last_alert_at;
	return true; /* appeared since the console started */
}

void queue_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused)
{
	char title[160];
	snprintf(title, sizeof title, " Incidents: %s%s%s%s%s  (%zu)%s", c->state_filter,
		 c->severity_filter ? ", severity>=" : "",
		 c->severity_filter ? c->severity_filter : "", c->service_filter ? ", service " : "",
		 c->service_filter ? c->service_filter : "", c->queue.n,
		 c->nmarks ? "  [marked]" : "");
	draw_title(c, w, y, x, wd, title, focused);
	int rows = h - 2;
	if (rows < 1)
		return;
	draw_line(w, y + 1, x, wd, "     ID SEV  STATE  AGE ALERTS  LAST HOUR    TITLE", A_BOLD);
	struct scroll *s = &c->scroll[PANE_QUEUE];
	s->n = c->queue.n;
	scroll_clamp(s, (size_t)rows);
	for (int i = 0; i < rows; i++) {
		size_t k = s->top + (size_t)i;
		int row = y + 2 + i;
		if (k >= c->queue.n) {
			draw_line(w, row, x, wd, "", A_NORMAL);
			continue;
		}
		struct queue_row *q = &c->queue.v[k];
		if (!q->spark_loaded)
			model_spark(c->st, q, now_ms());
		bool sel = k == s->sel;
		bool unseen = is_unseen(c, q);
		attr_t base = sel ? (focused ? A_REVERSE : A_REVERSE | A_DIM) : A_NORMAL;
		if (unseen)
			base |= A_BOLD;
		char a[16], head[64];
		format_age(q->opened_at, a);
		snprintf(head, sizeof head, "%c%c%5lld ", is_marked(c, q->id) ? '>' : ' ',
			 unseen ? '+' : ' ', (long long)q->id);
		int col = x;
		draw_line(w, row, col, 8, head, base);
		col += 8;
		draw_line(w, row, col, 5, short_sev(q->severity),
			  sel ? base : severity_attr(c, q->severity) | base);
		col += 5;
		snprintf(head, sizeof head, "%-5s %4s %6lld ", short_state(q->state), a,
			 (long long)q->alerts);
		draw_line(w, row, col, 18, head, base);
		col += 18;
		if (col + SPARK_BUCKETS + 1 < x + wd) {
			draw_sparkline(c, w, row, col, q->spark, SPARK_BUCKETS);
			draw_line(w, row, col + SPARK_BUCKETS, 1, "", base);
			col += SPARK_BUCKETS + 1;
		}
		char t[512];
		snprintf(t, sizeof t, "%s%s", q->title,
			 q->recurrences ? "  (recurred)" : "");
		draw_line(w, row, col, x + wd - col, t, base);
	}
}

/*
 * ui.h — the console's shared state, for the files of ui/ only.
 *
 * One thread draws. It poll()s the terminal, the ingest loop's wake pipe
 * and a timer; key handlers change state and say what changed (a mask of
 * UI_* flags), and the loop redraws once per turn. The model is read from
 * the store through src/model.h; actions go through src/incident.h.
 */
#ifndef SITREP_UI_UI_H
#define SITREP_UI_UI_H

#include <curses.h>

#include "actions.h"
#include "conf.h"
#include "model.h"
#include "similar.h"
#include "store.h"

/* What a handler changed. */
enum {
	UI_REDRAW = 1 << 0,  /* draw again */
	UI_REQUERY = 1 << 1, /* read the queue and the selected incident again */
	UI_QUIT = 1 << 2,
};

enum pane_id { PANE_QUEUE, PANE_REPORT, PANE_SIMILAR, PANE_MESSAGE, PANE_COUNT };

/* A scrollable list with a selection: written once, used by every pane. */
struct scroll {
	size_t sel, top, n;
};
void scroll_clamp(struct scroll *s, size_t height);
bool scroll_move(struct scroll *s, enum action a, size_t height);

enum mode {
	MODE_NORMAL,
	MODE_PROMPT, /* the bottom line edits text */
	MODE_HELP,   /* full screen: keys */
	MODE_TEXT,   /* full screen: an alert, a cluster */
	MODE_LINKS,  /* full screen: links to pick from */
};

struct console;
typedef int (*prompt_done_fn)(struct console *c, const char *text);

struct prompt {
	char label[96];
	wchar_t buf[512];
	size_t len, cur;
	prompt_done_fn done;
	bool active;
};

struct keymap;

struct console {
	struct store *st;
	const char *db_path;
	struct conf *conf;
	struct keymap *keys;
	bool read_only, color, utf8;
	int rows, cols;

	/* model */
	struct queue queue;
	struct report report;
	struct similar_list similar;
	struct queue_filter filter;
	char state_filter[16];
	char *severity_filter, *service_filter;
	int64_t selected_id;      /* stays on the incident while the queue reorders */
	int64_t report_for;       /* incident the report was read for */
	int64_t similar_for;      /* … and the similar incidents, when */
	int64_t similar_at;
	int64_t data_version;
	int64_t queue_loaded_at;

	/* "seen": last_alert_at per incident when the user last had it selected */
	struct seen {
		int64_t id, last_alert_at;
	} *seen;
	size_t nseen;
	bool first_load;

	int64_t *marks;
	size_t nmarks;

	/* panes */
	struct scroll scroll[PANE_COUNT];
	enum pane_id focus;
	bool maximized;

	enum mode mode;
	struct prompt prompt;
	struct buf text;          /* MODE_TEXT body */
	char text_title[128];
	struct scroll text_scroll;
	struct links links;       /* MODE_LINKS */
	struct scroll links_scroll;
	struct scroll help_scroll;

	char search[256];
	char status[512];         /* a message for the status line */
	bool status_error;
	int64_t status_at;

	/* multi-step resolve */
	char *resolve_cause, *resolve_action;
	int64_t resolve_id;

	/* the ingest loop, for the status line */
	struct ingest_loop *loop;
	uint64_t ingest_seen;
	int64_t ingest_rate_at;
	double ingest_rate;
	struct sources_health sources;
	bool demo;
	const char *demo_note;
	struct demo *demo_feed;
};

/* console.c */
void console_message(struct console *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int console_action(struct console *c, enum action a);
int console_command(struct console *c, const char *line);
int console_reload(struct console *c);
const struct queue_row *console_selected(const struct console *c);

/* draw.c: every piece of alert text reaches the screen through here */
void draw_init_colors(struct console *c);
/* Draw at (y, x) at most `width` columns of text, escaped; returns the
 * columns used. */
int draw_text(WINDOW *w, int y, int x, int width, const char *text, attr_t attr);
/* The same, padding the rest of `width` with blanks. */
void draw_line(WINDOW *w, int y, int x, int width, const char *text, attr_t attr);
attr_t severity_attr(const struct console *c, const char *severity);
attr_t severity_attr_n(const struct console *c, int severity);
void draw_sparkline(const struct console *c, WINDOW *w, int y, int x, const int64_t *v, int n);
/* Pane frame: a title bar, highlighted when focused. */
void draw_title(const struct console *c, WINDOW *w, int y, int x, int width, const char *title,
		bool focused);

/* panes */
void queue_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused);
void report_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused);
void similar_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused);
void message_draw(struct console *c, WINDOW *w, int y, int x, int h, int wd, bool focused);
void help_draw(struct console *c, WINDOW *w);
void text_draw(struct console *c, WINDOW *w);
void links_draw(struct console *c, WINDOW *w);

/* prompt.c */
void prompt_start(struct console *c, const char *label, const char *initial, prompt_done_fn done);
int prompt_key(struct console *c, wint_t ch, bool is_key);
void prompt_draw(struct console *c, WINDOW *w, int y);

#endif

/*
 * console.h — the one entry point from main() into the ncurses console.
 */
#ifndef SITREP_UI_CONSOLE_H
#define SITREP_UI_CONSOLE_H

#include "conf.h"
#include "mask.h"

struct demo;

struct console_opts {
	const char *db_path;
	struct conf *conf;
	const struct mask_rules *rules; /* NULL: no ingest thread */
	bool read_only;
	bool demo;
	const char *demo_note;          /* first status-line message */
	struct demo *demo_feed;         /* the replay, for ":wait" in scripts */
};

/* Run the console until the user quits; returns the exit code. */
int console_main(const struct console_opts *o);

#endif

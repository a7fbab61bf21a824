/* keymap.h — key bindings (see keymap.c for key names). */
#ifndef SITREP_UI_KEYMAP_H
#define SITREP_UI_KEYMAP_H

#include <curses.h>
#include <wchar.h>

#include "actions.h"
#include "conf.h"

struct keymap;

/* The built-in bindings, then the user's [bind] lines (errors name the
 * file and line). */
enum status keymap_load(struct keymap **out, const struct conf *conf, char **err);
void keymap_free(struct keymap **km);
/* ch from wget_wch: a character, or a KEY_* code when is_key. */
enum action keymap_lookup(const struct keymap *km, wint_t ch, bool is_key);
enum action keymap_lookup_name(const struct keymap *km, const char *name);
/* A key name ("j", "C-f", "Enter") as wget_wch would return it. */
bool keymap_parse_key(const char *name, wint_t *ch, bool *is_key);
/* "j Down": every key bound to a. */
void keymap_keys_for(const struct keymap *km, enum action a, char *out, size_t size);

#endif

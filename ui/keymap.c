/*
 * keymap.c — keys to actions.
 *
 * The default bindings are configuration text in the same language a user
 * writes ([bind] KEY = ACTION), compiled in and read by the same parser, so
 * what `?` shows, what `sitrep keys` prints and what a user can change are
 * one thing. Key names: a character (j, G, /, ?), C-x for control keys, and
 * Up Down Left Right PgUp PgDn Home End Enter Tab BTab Space Esc Backspace
 * Delete F1..F12, plus Colon, Equals, Semicolon, Hash and LBracket for the
 * characters the configuration syntax itself uses.
 */
#include "config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "cli.h"
#include "keymap.h"

static const char default_bindings[] =
	"[bind]\n"
	"j = move-down\n"
	"Down = move-down\n"
	"k = move-up\n"
	"Up = move-up\n"
	"g = move-first\n"
	"Home = move-first\n"
	"G = move-last\n"
	"End = move-last\n"
	"PgDn = page-down\n"
	"C-f = page-down\n"
	"PgUp = page-up\n"
	"C-b = page-up\n"
	"Enter = open\n"
	"Tab = focus-next\n"
	"BTab = focus-prev\n"
	"z = maximize\n"
	"a = ack\n"
	"r = resolve\n"
	"s = snooze\n"
	"Space = mark\n"
	"m = merge\n"
	"S = split\n"
	"c = comment\n"
	"o = links\n"
	"/ = search\n"
	"n = search-next\n"
	"N = search-prev\n"
	"f = filter-state\n"
	"Colon = command\n"
	"? = help\n"
	"F1 = help\n"
	"Esc = back\n"
	"C-l = redraw\n"
	"q = quit\n";

static const struct action_info actions[] = {
	{ "none", 0, "" },
#define ACTION_ROW(id, name, flags, help) { name, flags, help },
	ACTION_LIST(ACTION_ROW)
#undef ACTION_ROW
};

const struct action_info *action_info(enum action a)
{
	return &actions[a];
}

enum action action_by_name(const char *name)
{
	for (int i = 1; i < ACT_COUNT; i++)
		if (strcmp(actions[i].name, name) == 0)
			return (enum action)i;
	return ACT_NONE;
}

#define SPECIAL 0x40000000u /* marks a curses KEY_* code */

static const struct {
	const char *name;
	unsigned code;
} named[] = {
	{ "Up", SPECIAL | KEY_UP },	    { "Down", SPECIAL | KEY_DOWN },
	{ "Left", SPECIAL | KEY_LEFT },	    { "Right", SPECIAL | KEY_RIGHT },
	{ "PgUp", SPECIAL | KEY_PPAGE },    { "PgDn", SPECIAL | KEY_NPAGE },
	{ "Home", SPECIAL | KEY_HOME },	    { "End", SPECIAL | KEY_END },
	{ "BTab", SPECIAL | KEY_BTAB },	    { "Backspace", SPECIAL | KEY_BACKSPACE },
	{ "Delete", SPECIAL | KEY_DC },	    { "Enter", '\n' },
	{ "Tab", '\t' },		    { "Space", ' ' },
	{ "Esc", 27 },			    { "Colon", ':' },
	{ "Equals", '=' },		    { "Semicolon", ';' },
	{ "Hash", '#' },		    { "LBracket", '[' },
};

struct keymap {
	struct binding {
		unsigned code;
		enum action action;
	} *v;
	size_t n;
};

/* "C-f" → 6, "Up" → SPECIAL|KEY_UP, "é" → its code point; 0 when unknown. */
static unsigned key_code(const char *name)
{
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (strcmp(named[i].name, name) == 0)
			return named[i].code;
	if (name[0] == 'C' && name[1] == '-' && name[2] && !name[3]) {
		char ch = name[2];
		if (ch >= 'a' && ch <= 'z')
			return (unsigned)(ch - 'a' + 1);
		if (ch >= 'A' && ch <= 'Z')
			return (unsigned)(ch - 'A' + 1);
		return 0;
	}
	if (name[0] == 'F' && name[1] >= '1' && name[1] <= '9') {
		int n = atoi(name + 1);
		if (n >= 1 && n <= 12)
			return SPECIAL | (unsigned)KEY_F(n);
	}
	mbstate_t ps = { 0 };
	wchar_t wc;
	size_t len = strlen(name);
	size_t got = mbrtowc(&wc, name, len, &ps);
	if (got == len && wc > 32 && wc != 127)
		return (unsigned)wc;
	return 0;
}

static void keyname_of(unsigned code, char out[32])
{
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (named[i].code == code) {
			snprintf(out, 32, "%s", named[i].name);
			return;
		}
	}
	if (code & SPECIAL) {
		int k = (int)(code & ~SPECIAL);
		if (k >= KEY_F(1) && k <= KEY_F(12))
			snprintf(out, 32, "F%d", k - KEY_F(0));
		else
			snprintf(out, 32, "key-%d", k);
	} else if (code < 32) {
		snprintf(out, 32, "C-%c", (char)('a' + code - 1));
	} else {
		mbstate_t ps = { 0 };
		char mb[8] = { 0 };
		size_t n = wcrtomb(mb, (wchar_t)code, &ps);
		snprintf(out, 32, "%s", n == (size_t)-1 ? "?" : mb);
	}
}

static void bind(struct keymap *km, unsigned code, enum action a)
{
	for (size_t i = 0; i < km->n; i++) {
		if (km->v[i].code == code) {
			km->v[i].action = a;
			return;
		}
	}
	km->v = xrealloc(km->v, (km->n + 1) * sizeof *km->v);
	km->v[km->n++] = (struct binding){ code, a };
}

struct parse_ctx {
	struct keymap *km;
	const char *origin;
	char *err;
};

static bool bind_line(struct keymap *km, const char *key, const char *action, const char *origin,
		      int line, char **err)
{
	unsigned code = key_code(key);
	if (!code) {
		*err = xasprintf("%s:%d: unknown key '%s'", origin, line, key);
		return false;
	}
	enum action a = strcmp(action, "none") == 0 ? ACT_NONE : action_by_name(action);
	if (a == ACT_NONE && strcmp(action, "none") != 0) {
		*err = xasprintf("%s:%d: unknown action '%s' (see sitrep keys)", origin, line,
				 action);
		return false;
	}
	bind(km, code, a);
	return true;
}

static int on_default(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	if (p->err)
		return 0;
	return bind_line(p->km, name, value, p->origin, 0, &p->err);
}

enum status keymap_load(struct keymap **out, const struct conf *conf, char **err)
{
	struct keymap *km = xcalloc(1, sizeof *km);
	struct parse_ctx p = { km, "built-in bindings", NULL };
	if (ini_parse_string(default_bindings, on_default, &p) != 0 || p.err) {
		*err = p.err ? p.err : xstrdup("built-in bindings do not parse");
		keymap_free(&km);
		return STATUS_CONFIG;
	}
	for (size_t i = 0; conf && i < conf->nbinds; i++) {
		if (!bind_line(km, conf->binds[i].key, conf->binds[i].action,
			       conf->path ? conf->path : "config", conf->binds[i].line, err)) {
			keymap_free(&km);
			return STATUS_CONFIG;
		}
	}
	*out = km;
	return STATUS_OK;
}

void keymap_free(struct keymap **kmp)
{
	if (!*kmp)
		return;
	free((*kmp)->v);
	xfree(kmp);
}

enum action keymap_lookup(const struct keymap *km, wint_t ch, bool is_key)
{
	unsigned code = is_key ? SPECIAL | (unsigned)ch : (unsigned)ch;
	if (!is_key && ch == '\r')
		code = '\n';
	if (is_key && ch == KEY_ENTER)
		code = '\n';
	for (size_t i = 0; i < km->n; i++)
		if (km->v[i].code == code)
			return km->v[i].action;
	return ACT_NONE;
}

enum action keymap_lookup_name(const struct keymap *km, const char *name)
{
	unsigned code = key_code(name);
	for (size_t i = 0; code && i < km->n; i++)
		if (km->v[i].code == code)
			return km->v[i].action;
	return ACT_NONE;
}

bool keymap_parse_key(const char *name, wint_t *ch, bool *is_key)
{
	unsigned code = key_code(name);
	if (!code)
		return false;
	*is_key = code & SPECIAL;
	*ch = (wint_t)(code & ~SPECIAL);
	return true;
}

void keymap_keys_for(const struct keymap *km, enum action a, char *out, size_t size)
{
	out[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; i < km->n; i++) {
		if (km->v[i].action != a)
			continue;
		char name[32];
		keyname_of(km->v[i].code, name);
		int w = snprintf(out + used, size - used, "%s%s", used ? " " : "", name);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
}

/* `sitrep keys`: the bindings in effect, from the same table as `?`. */
int cmd_keys(struct cli_ctx *c, int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error("keys", "unexpected argument '%s'", argv[1]);
	struct keymap *km;
	char *err = NULL;
	if (keymap_load(&km, &c->conf, &err) != STATUS_OK) {
		warnx_("%s", err);
		free(err);
		return 2;
	}
	json_t *arr = c->g->json ? json_array() : NULL;
	for (int a = 1; a < ACT_COUNT; a++) {
		char keys[128];
		keymap_keys_for(km, (enum action)a, keys, sizeof keys);
		if (arr) {
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "action",
							     actions[a].name, "keys", keys, "help",
							     actions[a].help));
		} else {
			printf("%-14s %-14s %s\n", actions[a].name, *keys ? keys : "-",
			       actions[a].help);
		}
	}
	if (arr)
		cli_print_json(json_pack("{s:o}", "actions", arr));
	keymap_free(&km);
	return 0;
}

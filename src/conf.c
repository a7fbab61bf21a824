/* conf.c — see conf.h. */
#include "config.h"
#include "conf.h"
#include "services.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *conf_default_path(const char *name)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg)
		return xasprintf("%s/sitrep/%s", xdg, name);
	const char *home = getenv("HOME");
	return xasprintf("%s/.config/sitrep/%s", home && *home ? home : ".", name);
}

struct parse_state {
	struct conf *c;
	char *err;
	int lineno;
};

static char *expand_home(const char *v)
{
	if (v[0] == '~' && v[1] == '/') {
		const char *home = getenv("HOME");
		return xasprintf("%s%s", home ? home : "", v + 1);
	}
	return xstrdup(v);
}

static int on_entry(void *user, const char *section, const char *name, const char *value,
		    int lineno)
{
	struct parse_state *ps = user;
	struct conf *c = ps->c;
	if (strcmp(section, "mask") == 0 && strcmp(name, "rules") == 0) {
		free(c->mask_rules);
		c->mask_rules = expand_home(value);
		c->mask_rules_set = true;
	} else if (strcmp(section, "ingest") == 0 && strcmp(name, "batch") == 0) {
		char *end;
		long v = strtol(value, &end, 10);
		if (*end || v < 1 || v > 1000000) {
			ps->err = xasprintf("%s:%d: ingest.batch must be a number from 1 to 1000000",
					    c->path, lineno);
			return 0;
		}
		c->batch = (unsigned)v;
	} else if (strcmp(section, "ingest") == 0 && strcmp(name, "service") == 0) {
		free(c->log_service);
		c->log_service = xstrdup(value);
	} else if (strcmp(section, "correlate") == 0 && strcmp(name, "services") == 0) {
		free(c->services);
		c->services = expand_home(value);
		c->services_set = true;
	} else if (strcmp(section, "correlate") == 0 && strcmp(name, "labels") == 0) {
		incident_settings_set_labels(&c->incidents, value);
	} else if ((strcmp(section, "correlate") == 0 &&
		    (strcmp(name, "window") == 0 || strcmp(name, "reopen-window") == 0)) ||
		   (strcmp(section, "registry") == 0 &&
		    (strcmp(name, "quiet") == 0 || strcmp(name, "expire") == 0))) {
		int64_t secs;
		if (!parse_duration(value, &secs) || secs <= 0) {
			ps->err = xasprintf("%s:%d: %s.%s must be a duration such as 10m, 24h or 3d",
					    c->path, lineno, section, name);
			return 0;
		}
		int64_t ms = secs * 1000;
		if (strcmp(name, "window") == 0)
			c->incidents.window_ms = ms;
		else if (strcmp(name, "reopen-window") == 0)
			c->incidents.reopen_ms = ms;
		else if (strcmp(name, "quiet") == 0)
			c->incidents.known_quiet_ms = ms;
		else
			c->incidents.known_expire_ms = ms;
	} else if (strcmp(section, "sources") == 0 &&
		   (strcmp(name, "spool") == 0 || strcmp(name, "file") == 0)) {
		char ***v = name[0] == 's' ? &c->spools : &c->files;
		size_t *n = name[0] == 's' ? &c->nspools : &c->nfiles;
		*v = xrealloc(*v, (*n + 1) * sizeof **v);
		(*v)[(*n)++] = expand_home(value);
	} else if (strcmp(section, "sources") == 0 && strcmp(name, "poll") == 0) {
		int64_t secs;
		if (!parse_duration(value, &secs) || secs < 1 || secs > 3600) {
			ps->err = xasprintf("%s:%d: sources.poll must be a duration from 1s to 1h",
					    c->path, lineno);
			return 0;
		}
		c->poll_ms = secs * 1000;
	} else if (strcmp(section, "bind") == 0) {
		c->binds = xrealloc(c->binds, (c->nbinds + 1) * sizeof *c->binds);
		c->binds[c->nbinds++] = (struct conf_bind){ xstrdup(name), xstrdup(value), lineno };
	} else if (strcmp(section, "snooze") == 0 && strcmp(name, "wake-rate") == 0) {
		char *end;
		double v = strtod(value, &end);
		if (*end || v < 1.0 || v > 1000.0) {
			ps->err = xasprintf("%s:%d: snooze.wake-rate must be a number from 1 to 1000",
					    c->path, lineno);
			return 0;
		}
		c->incidents.wake_rate = v;
	} else {
		ps->err = xasprintf("%s:%d: unknown setting '%s.%s'", c->path, lineno, section,
				    name);
		return 0;
	}
	return 1;
}

/* inih calls this with the line number as its fifth argument when built
 * with INI_HANDLER_LINENO; Debian's build does not, so track lines by
 * parsing through ini_parse_stream with our own reader. */
struct line_reader {
	FILE *f;
	int *lineno;
};

static char *read_line(char *str, int num, void *stream)
{
	struct line_reader *lr = stream;
	char *r = fgets(str, num, lr->f);
	if (r)
		(*lr->lineno)++;
	return r;
}

static int on_entry_nolineno(void *user, const char *section, const char *name,
			     const char *value)
{
	struct parse_state *ps = user;
	if (ps->err)
		return 0; /* report the first error only */
	return on_entry(user, section, name, value, ps->lineno);
}

static enum status load_graph(struct conf *c, char **err)
{
	enum status st = services_load(&c->graph, c->services, c->services_set, err);
	if (st != STATUS_OK) {
		conf_free(c);
		return st;
	}
	c->incidents.graph = c->graph;
	return STATUS_OK;
}

enum status conf_load(struct conf *c, const char *cli_path, char **err)
{
	memset(c, 0, sizeof *c);
	c->batch = 5000;
	c->poll_ms = 2000;
	incident_settings_default(&c->incidents);
	char *path = cli_path ? xstrdup(cli_path) : conf_default_path("config");
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT && !cli_path) {
			free(path);
			c->mask_rules = conf_default_path("mask.rules");
			c->services = conf_default_path("services");
			return load_graph(c, err);
		}
		*err = xasprintf("%s: cannot read configuration: %s", path, strerror(errno));
		free(path);
		conf_free(c);
		return STATUS_CONFIG;
	}
	c->path = path;
	struct parse_state ps = { c, NULL, 0 };
	struct line_reader lr = { f, &ps.lineno };
	int rc = ini_parse_stream(read_line, &lr, on_entry_nolineno, &ps);
	fclose(f);
	if (ps.err) {
		*err = ps.err;
		conf_free(c);
		return STATUS_CONFIG;
	}
	if (rc != 0) {
		*err = xasprintf("%s:%d: syntax error (expected [section] or key = value)",
				 c->path, rc);
		conf_free(c);
		return STATUS_CONFIG;
	}
	if (!c->mask_rules)
		c->mask_rules = conf_default_path("mask.rules");
	if (!c->services)
		c->services = conf_default_path("services");
	return load_graph(c, err);
}

void conf_free(struct conf *c)
{
	xfree(&c->path);
	xfree(&c->mask_rules);
	xfree(&c->log_service);
	xfree(&c->services);
	incident_settings_free(&c->incidents);
	services_free(&c->graph);
	c->incidents.graph = NULL;
	for (size_t i = 0; i < c->nspools; i++)
		free(c->spools[i]);
	xfree(&c->spools);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	xfree(&c->files);
	c->nspools = c->nfiles = 0;
	for (size_t i = 0; i < c->nbinds; i++) {
		free(c->binds[i].key);
		free(c->binds[i].action);
	}
	xfree(&c->binds);
	c->nbinds = 0;
}

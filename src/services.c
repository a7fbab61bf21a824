/* services.c — see services.h. Graphs are small (tens to hundreds of
 * services); reachability is a depth-first search over an edge list. */
#include "config.h"
#include "services.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct service_graph {
	char **names;
	size_t n, cap;
	struct edge {
		size_t from, to; /* from depends on to */
	} *edges;
	size_t nedges, capedges;
};

static size_t lookup(const struct service_graph *g, const char *s, size_t len)
{
	for (size_t i = 0; i < g->n; i++)
		if (strlen(g->names[i]) == len && memcmp(g->names[i], s, len) == 0)
			return i;
	return (size_t)-1;
}

static size_t name_index(struct service_graph *g, const char *s, size_t len)
{
	size_t i = lookup(g, s, len);
	if (i != (size_t)-1)
		return i;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->names = xrealloc(g->names, g->cap * sizeof *g->names);
	}
	g->names[g->n] = xstrndup(s, len);
	return g->n++;
}

static size_t find(const struct service_graph *g, const char *s)
{
	return lookup(g, s, strlen(s));
}

static void add_edge(struct service_graph *g, size_t from, size_t to)
{
	for (size_t i = 0; i < g->nedges; i++)
		if (g->edges[i].from == from && g->edges[i].to == to)
			return;
	if (g->nedges == g->capedges) {
		g->capedges = g->capedges ? g->capedges * 2 : 16;
		g->edges = xrealloc(g->edges, g->capedges * sizeof *g->edges);
	}
	g->edges[g->nedges++] = (struct edge){ from, to };
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '/' || c == ':';
}

/* Next name in *p (skipping blanks); false when there is none. */
static bool next_name(const char **p, const char **s, size_t *len)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
	*s = *p;
	while (name_char(**p))
		(*p)++;
	*len = (size_t)(*p - *s);
	return *len > 0;
}

enum status services_from_text(struct service_graph **out, const char *text, const char *origin,
			       char **err)
{
	struct service_graph *g = xcalloc(1, sizeof *g);
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char *line = xstrndup(p, n);
		p += n + (eol ? 1 : 0);
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		const char *q = line, *s;
		size_t len;
		while (*q == ' ' || *q == '\t' || *q == '\r')
			q++;
		if (!*q) {
			free(line);
			continue;
		}
		if (!next_name(&q, &s, &len))
			goto bad;
		size_t from = name_index(g, s, len);
		while (*q == ' ' || *q == '\t')
			q++;
		if (q[0] != '-' || q[1] != '>')
			goto bad;
		q += 2;
		for (;;) {
			if (!next_name(&q, &s, &len))
				goto bad;
			size_t to = name_index(g, s, len);
			if (to == from) {
				*err = xasprintf("%s:%d: a service cannot depend on itself", origin,
						 lineno);
				free(line);
				services_free(&g);
				return STATUS_CONFIG;
			}
			add_edge(g, from, to);
			while (*q == ' ' || *q == '\t' || *q == '\r')
				q++;
			if (*q == ',') {
				q++;
				continue;
			}
			if (*q)
				goto bad;
			break;
		}
		free(line);
		continue;
bad:
		*err = xasprintf("%s:%d: expected 'SERVICE -> SERVICE[, SERVICE...]'", origin, lineno);
		free(line);
		services_free(&g);
		return STATUS_CONFIG;
	}
	*out = g;
	return STATUS_OK;
}

enum status services_load(struct service_graph **out, const char *path, bool required, char **err)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f) {
		if (!path || (errno == ENOENT && !required))
			return services_from_text(out, "", "", err);
		*err = xasprintf("%s: %s", path, strerror(errno));
		return STATUS_CONFIG;
	}
	struct buf b = { 0 };
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	enum status st = services_from_text(out, b.data ? b.data : "", path, err);
	buf_free(&b);
	return st;
}

void services_free(struct service_graph **gp)
{
	struct service_graph *g = *gp;
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free(g->names[i]);
	free(g->names);
	free(g->edges);
	xfree(gp);
}

size_t services_count(const struct service_graph *g)
{
	return g ? g->n : 0;
}

static bool reaches(const struct service_graph *g, size_t from, size_t to, unsigned char *seen)
{
	if (from == to)
		return true;
	seen[from] = 1;
	for (size_t i = 0; i < g->nedges; i++)
		if (g->edges[i].from == from && !seen[g->edges[i].to] &&
		    reaches(g, g->edges[i].to, to, seen))
			return true;
	return false;
}

bool services_upstream(const struct service_graph *g, const char *up, const char *down)
{
	if (!g || !up || !down || !*up || !*down || strcmp(up, down) == 0)
		return false;
	size_t u = find(g, up), d = find(g, down);
	if (u == (size_t)-1 || d == (size_t)-1)
		return false;
	unsigned char *seen = xcalloc(g->n, 1);
	bool r = reaches(g, d, u, seen);
	free(seen);
	return r;
}

bool services_linked(const struct service_graph *g, const char *a, const char *b)
{
	return services_upstream(g, a, b) || services_upstream(g, b, a);
}

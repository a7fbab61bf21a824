/*
 * services.h — the service dependency graph, from a plain file:
 *
 *     # comment
 *     api -> ledger-db          (api depends on ledger-db)
 *     checkout -> api, payments (several at once)
 *
 * An upstream service is one the other depends on, directly or through
 * others. Correlation joins clusters of linked services (one upstream of
 * the other) and names the most upstream one the probable origin.
 */
#ifndef SITREP_SERVICES_H
#define SITREP_SERVICES_H

#include "util.h"

struct service_graph;

/* Load path. A missing file is an empty graph unless required. Errors name
 * the file and line. */
enum status services_load(struct service_graph **out, const char *path, bool required, char **err);
enum status services_from_text(struct service_graph **out, const char *text, const char *origin,
			       char **err);
void services_free(struct service_graph **g);
size_t services_count(const struct service_graph *g);

/* True when `up` is upstream of `down` (down depends on it, transitively). */
bool services_upstream(const struct service_graph *g, const char *up, const char *down);
/* True when one of a, b is upstream of the other. */
bool services_linked(const struct service_graph *g, const char *a, const char *b);

#endif

/*
 * conf.h — the configuration file.
 *
 * git-config-style sections (parsed by libinih, Debian's well-kept INI
 * parser, instead of a hand-written one):
 *
 *     [mask]
 *     rules = ~/.config/sitrep/mask.rules
 *     [ingest]
 *     batch = 5000
 *     service = web
 *     [correlate]
 *     window = 10m
 *     reopen-window = 24h
 *     labels = firm, user, product
 *     services = ~/.config/sitrep/services
 *     [snooze]
 *     wake-rate = 3
 *     [registry]
 *     quiet = 1h
 *     expire = 3d
 *     [sources]
 *     spool = /var/spool/sitrep
 *     file = /var/log/app/error.log
 *     poll = 2s
 *     [bind]
 *     x = ack
 *
 * Unknown sections or keys are errors that name the file and line, so a
 * typo never silently does nothing.
 */
#ifndef SITREP_CONF_H
#define SITREP_CONF_H

#include "incident.h"
#include "util.h"

struct conf {
	char *path;          /* the file read, or NULL when none */
	char *mask_rules;    /* user mask rules file */
	bool mask_rules_set; /* named explicitly: must exist */
	unsigned batch;      /* records per ingest transaction */
	char *log_service;   /* service for plain log lines */
	char *services;      /* the service dependency graph file */
	bool services_set;   /* named explicitly: must exist */
	struct incident_settings incidents;
	struct service_graph *graph; /* owned; incidents.graph points at it */

	/* the console's ingest thread: [sources] spool = DIR, file = PATH
	 * (each may repeat), poll = 2s */
	char **spools;
	size_t nspools;
	char **files;
	size_t nfiles;
	int64_t poll_ms;

	/* [bind] KEY = ACTION, in file order, checked by the console */
	struct conf_bind {
		char *key, *action;
		int line;
	} *binds;
	size_t nbinds;
};

/* $XDG_CONFIG_HOME/sitrep/<name> (or ~/.config/sitrep/<name>), malloc'd. */
char *conf_default_path(const char *name);

/* Load cli_path (must exist) or the default path (may be missing), and the
 * service graph it names (or the default one, when present). */
enum status conf_load(struct conf *c, const char *cli_path, char **err);
void conf_free(struct conf *c);

#endif

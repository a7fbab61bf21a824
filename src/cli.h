/*
 * cli.h — the scriptable subcommands. One table (COMMAND_LIST) gives each
 * command its name, synopsis and summary; `sitrep --help`, `sitrep CMD
 * --help` and the man page's list come from it.
 */
#ifndef SITREP_CLI_H
#define SITREP_CLI_H

#include <stdio.h>

#include "util.h"

struct cli_globals {
	const char *db_path;     /* --db */
	const char *config_path; /* --config */
	bool json;               /* --json */
};

/* Run argv[0] as a command; returns the process exit code. */
int cli_run(const struct cli_globals *g, int argc, char **argv);
void cli_usage(FILE *out);
/* Print the command table as roff (for checking man/sitrep.1). */
void cli_print_commands(FILE *out);

#endif

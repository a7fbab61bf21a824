/*
 * main.c — global options, then hand over to a subcommand.
 *
 * Global options (--db, --config, --json) may stand before or after the
 * command name, as in `sitrep --json list` and `sitrep list --json`; they
 * are taken out of argv wherever they are (up to a "--") and the rest goes
 * to the command.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *take_value(int *i, int argc, char **argv, const char *opt)
{
	const char *arg = argv[*i];
	size_t n = strlen(opt);
	if (arg[n] == '=')
		return arg + n + 1;
	if (*i + 1 >= argc)
		die(2, "option %s needs a value (try 'sitrep --help')", opt);
	return argv[++*i];
}

static bool is_opt(const char *arg, const char *opt)
{
	size_t n = strlen(opt);
	return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

int main(int argc, char **argv)
{
	struct cli_globals g = { 0 };
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0;
	bool help = false, version = false, ended = false;

	if (!rest)
		die(3, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (ended) {
			rest[nrest++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			ended = true;
			rest[nrest++] = argv[i];
		} else if (is_opt(a, "--db")) {
			g.db_path = take_value(&i, argc, argv, "--db");
		} else if (is_opt(a, "--config")) {
			g.config_path = take_value(&i, argc, argv, "--config");
		} else if (strcmp(a, "--json") == 0) {
			g.json = true;
		} else if (strcmp(a, "--read-only") == 0) {
			g.read_only = true;
		} else if (strcmp(a, "--demo") == 0 && nrest == 0) {
			g.demo = true;
		} else if (strcmp(a, "--version") == 0 && nrest == 0) {
			version = true;
		} else if ((strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) && nrest == 0) {
			help = true;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	int code;
	if (version) {
		printf("sitrep %s\n", PACKAGE_VERSION);
		code = 0;
	} else if (help) {
		cli_usage(stdout);
		code = 0;
	} else if (nrest == 0) {
		code = cli_console(&g);
	} else {
		code = cli_run(&g, nrest, rest);
	}
	free(rest);
	return code;
}

/* SPDX-License-Identifier: MIT */
/*
 * The kiln subcommands. Each takes the arguments after its name
 * (argv[0] is the command name) and returns the process exit code:
 * 0 ok, 1 regression found (diff), 2 usage error, 3+ runtime error.
 */
#ifndef KILN_COMMANDS_H
#define KILN_COMMANDS_H

#define EXIT_USAGE 2
#define EXIT_RUNTIME 3

int cmd_record(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

#endif

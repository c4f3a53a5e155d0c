// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln server' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_server(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'server' is not built yet\n");
	return EXIT_RUNTIME;
}

// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln query' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_query(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'query' is not built yet\n");
	return EXIT_RUNTIME;
}

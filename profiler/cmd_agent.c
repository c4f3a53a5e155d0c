// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln agent' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_agent(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'agent' is not built yet\n");
	return EXIT_RUNTIME;
}

// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln diff' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_diff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'diff' is not built yet\n");
	return EXIT_RUNTIME;
}

// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln export' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'export' is not built yet\n");
	return EXIT_RUNTIME;
}

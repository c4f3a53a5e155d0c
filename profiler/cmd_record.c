// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln record' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_record(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'record' is not built yet\n");
	return EXIT_RUNTIME;
}

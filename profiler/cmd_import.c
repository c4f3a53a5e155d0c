// SPDX-License-Identifier: MIT
/* Placeholder until 'kiln import' is built; says so plainly. */
#include <stdio.h>

#include "commands.h"

int cmd_import(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kiln: 'import' is not built yet\n");
	return EXIT_RUNTIME;
}

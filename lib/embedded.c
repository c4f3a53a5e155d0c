// SPDX-License-Identifier: MIT
#include "lib/embedded.h"

#include <string.h>

const struct embedded_file *embedded__find(const struct embedded_file *table,
					   const char *path)
{
	for (; table->path; table++)
		if (!strcmp(table->path, path))
			return table;
	return NULL;
}

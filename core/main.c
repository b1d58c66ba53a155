/* SPDX-License-Identifier: MIT */
/* taskjet: the command line. */
#include <stdio.h>

int
main(void)
{
	puts("taskjet " PACKAGE_VERSION);
	return 0;
}

/* ctld.c - what every part of the controller shares (see ctld.h). */
#include "ctld.h"

#include <time.h>

struct ctld ctld;

int64_t ctld_now(void)
{
	return (int64_t)time(NULL);
}

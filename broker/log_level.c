/* log_level.c — the names of the log levels. */
#include "log_level.h"
#include <strings.h>

static const char *const names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(int level)
{
    return level >= CR_LOG_DEBUG && level <= CR_LOG_ERROR ? names[level] : "error";
}

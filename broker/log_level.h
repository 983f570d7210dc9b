/* log_level.h — the names of the log levels (CALLRELAY_LOG_LEVEL), in increasing severity. */
#ifndef CR_LOG_LEVEL_H
#define CR_LOG_LEVEL_H

enum { CR_LOG_DEBUG, CR_LOG_INFO, CR_LOG_WARN, CR_LOG_ERROR };

/* "debug", "info", "warn" or "error" (any case) to its level; -1 for anything else. */
int log_level_parse(const char *name);
/* The level's name; "error" for anything out of range. */
const char *log_level_name(int level);

#endif

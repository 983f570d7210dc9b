/* log.h — one JSON object per line on stdout, below the configured level dropped. */
#ifndef CR_LOG_H
#define CR_LOG_H
#include "log_level.h"
#include <stdbool.h>

/* Lines below this level are dropped (CALLRELAY_LOG_LEVEL); CR_LOG_INFO until set. */
void log_set_level(int level);
bool log_enabled(int level);
/* fields: a jansson json_pack format for an object of extra fields ("{s:s,s:i}"), or NULL.
 * level: "debug", "info", "warn" or "error". */
void log_write(const char *level, const char *msg, const char *fields, ...);
#define log_debug(...) log_write("debug", __VA_ARGS__)
#define log_info(...) log_write("info", __VA_ARGS__)
#define log_warn(...) log_write("warn", __VA_ARGS__)
#define log_error(...) log_write("error", __VA_ARGS__)

#endif

/* log.h — one JSON object per line on stdout. */
#ifndef CR_LOG_H
#define CR_LOG_H

/* fields: a jansson json_pack format for an object of extra fields ("{s:s,s:i}"), or NULL. */
void log_write(const char *level, const char *msg, const char *fields, ...);
#define log_info(...) log_write("info", __VA_ARGS__)
#define log_warn(...) log_write("warn", __VA_ARGS__)
#define log_error(...) log_write("error", __VA_ARGS__)

#endif

/* log.c — one JSON object per line on stdout, flushed per line so that a supervisor sees it;
 * lines below the configured level are dropped before anything is formatted. */
#include "log.h"
#include "event.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int threshold = CR_LOG_INFO;

void log_set_level(int level) { threshold = level; }

bool log_enabled(int level) { return level >= threshold; }

void log_write(const char *level, const char *msg, const char *fields, ...)
{
    struct timespec now;
    char ts[40];
    json_t *line = NULL;

    int rank = log_level_parse(level);
    if (!log_enabled(rank < 0 ? CR_LOG_ERROR : rank))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    event_format_ts((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts, sizeof ts);
    if (fields) {
        va_list ap;
        va_start(ap, fields);
        line = json_vpack_ex(NULL, 0, fields, ap);
        va_end(ap);
    }
    if (!line)
        line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level));
    json_object_set_new(line, "msg", json_string(msg));
    json_object_set_new(line, "pid", json_integer(getpid()));
    char *text = json_dumps(line, JSON_COMPACT);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(text);
    }
    json_decref(line);
}

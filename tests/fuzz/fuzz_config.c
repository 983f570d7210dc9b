/* fuzz_config.c — libFuzzer: the small parsers that take text from outside: settings
 * ("name=value", as a config file line or a variable), Redis URLs, CIDRs and client-supplied
 * event ids (websocket "since" and "ack"). Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "config.h"
#include "streamid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), err[512];
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cr_config c;
    if (config_init(&c) == 0) {
        char *eq = strchr(text, '=');
        if (eq) {
            *eq = '\0';
            config_set(&c, text, eq + 1, err, sizeof err);
            *eq = '=';
        }
        config_free(&c);
    }
    cr_redis_target t = {0};
    if (config_parse_redis_url(text, &t, err, sizeof err) == 0)
        redis_target_free(&t);
    streamid id;
    streamid_parse(text, &id);
    char *space = strchr(text, ' ');
    if (space) {
        *space = '\0';
        cidr_contains(text, space + 1);
    }
    cidr_valid(text);
    free(text);
    return 0;
}

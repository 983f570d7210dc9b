/* api_record.h — recordings streamed from the PBX (GET /v1/record, Finaz's gravacao). */
#ifndef CR_API_RECORD_H
#define CR_API_RECORD_H
#include "http.h"
#include <stdbool.h>

void api_record(http_req *r);
/* Streams the recording of the integration's call_id (r->integration set); wav_only: a PBX
 * that has it only in another format gets a 406 that says which. */
void api_record_of_call(http_req *r, const char *call_id, bool wav_only);

#endif

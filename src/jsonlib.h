/* jsonlib.h - jansson, loaded when OAuth2 first reads or writes JSON (a
 * token file, a token endpoint's answer); see dynlib.h. Include this
 * instead of <jansson.h>. json_decref is an inline function of
 * <jansson.h> that calls json_delete, so it is replaced here by one that
 * calls json_delete through the table. */
#ifndef POSTIE_JSONLIB_H
#define POSTIE_JSONLIB_H

#include <jansson.h>
#include "dynlib.h"

#define JSONLIB_NAMES(X) \
	X(json_delete) \
	X(json_dumps) \
	X(json_integer) \
	X(json_integer_value) \
	X(json_loadb) \
	X(json_object) \
	X(json_object_get) \
	X(json_object_set_new) \
	X(json_string) \
	X(json_string_value)

struct jsonlib { JSONLIB_NAMES(DYNLIB_SLOT) };
extern struct jsonlib jsonlib;

#ifndef DYNLIB_TABLES
#define json_delete (*jsonlib.p_json_delete)
#define json_dumps (*jsonlib.p_json_dumps)
#define json_integer (*jsonlib.p_json_integer)
#define json_integer_value (*jsonlib.p_json_integer_value)
#define json_loadb (*jsonlib.p_json_loadb)
#define json_object (*jsonlib.p_json_object)
#define json_object_get (*jsonlib.p_json_object_get)
#define json_object_set_new (*jsonlib.p_json_object_set_new)
#define json_string (*jsonlib.p_json_string)
#define json_string_value (*jsonlib.p_json_string_value)

static inline void jsonlib_decref(json_t *json)
{
	if (json && json->refcount != (size_t)-1 && JSON_INTERNAL_DECREF(json) == 0)
		json_delete(json);
}
#define json_decref jsonlib_decref
#endif

#endif

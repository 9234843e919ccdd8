#ifndef CJANSSON_SHIM_H
#define CJANSSON_SHIM_H

// jansson as it is. Swift calls its functions and its static inline helpers
// (json_incref, json_decref, json_error_code) directly, and reads its flag
// macros as Int32 constants (convert them to size_t where jansson wants one).
#include <jansson.h>

// json_typeof is a function-like macro, which Swift cannot call.
static inline json_type CJansson_typeof(const json_t *json) { return json_typeof(json); }

#endif

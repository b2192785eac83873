/* Text for the core error codes. */
#include "core/err.h"

const char *
ts_strerror(ts_err e)
{
	switch (e) {
#define TS_ERR_TEXT(name, text) case name: return text;
	TS_ERRORS(TS_ERR_TEXT)
#undef TS_ERR_TEXT
	case TS_E__COUNT:
		break;
	}
	return "unknown error";
}

const char *
ts_errname(ts_err e)
{
	switch (e) {
#define TS_ERR_NAME(name, text) case name: return #name;
	TS_ERRORS(TS_ERR_NAME)
#undef TS_ERR_NAME
	case TS_E__COUNT:
		break;
	}
	return "TS_E_UNKNOWN";
}

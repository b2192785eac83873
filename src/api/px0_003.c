/* Contract face: placeholder until implemented. */
#include "api/api_internal.h"

const api_route api_px0_routes[] = {
	{ 0, NULL, NULL, NULL },
};

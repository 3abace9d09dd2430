/* Fuzz the PROXY protocol header parser: whatever the bytes, it answers
 * complete, incomplete or invalid; a complete header claims no fewer
 * bytes than it looked at for v1, and gives a client address of the
 * family it names; incomplete means a longer input might still be one
 * (every byte of it belongs to the header), and cutting an input never
 * turns "invalid" into "complete". */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_proxy_header h, h2;
	int r = gw_proxy_parse(data, size, &h);

	if (r != 1 && r != 0 && r != -EPROTO)
		abort();
	if (r == 1) {
		if (h.version != 1 && h.version != 2)
			abort();
		if (h.version == 1 && (h.length > size || h.length > 107 || h.length < 15))
			abort();
		if (h.version == 2 && h.length < 16)
			abort();
		if (!h.local && h.src.ss_family != AF_INET && h.src.ss_family != AF_INET6)
			abort();
		if (!h.local && h.src.ss_family != h.dst.ss_family)
			abort();
		/* what follows the header does not change it */
		if (h.version == 1 && (gw_proxy_parse(data, h.length, &h2) != 1 ||
				       h2.length != h.length))
			abort();
	}
	if (r == 0 && !gw_proxy_may_start(data, size))
		abort();
	if (size > 0 && r == -EPROTO && gw_proxy_parse(data, size - 1, &h2) == 1 &&
	    h2.length < size)
		abort(); /* a whole header followed by a byte is still that header */
	return 0;
}

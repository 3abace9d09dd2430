/* Fuzz what is read of an object store's XML answers: whatever the
 * bytes, every read stays within them, what comes out fits its buffer
 * and is NUL-terminated, and a list of elements always ends. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "Code", "Message", "UploadId", "Key", "Upload",
					    "IsTruncated", "NextKeyMarker", "Initiated" };
	const char *xml = (const char *)data;
	char out[64];
	size_t i, pos, start, end, steps;
	int64_t ms;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		pos = 0;
		memset(out, 'x', sizeof(out));
		if (s3_xml_text(xml, size, &pos, tags[i], out, sizeof(out)) == 0) {
			if (pos > size || !memchr(out, '\0', sizeof(out)))
				abort();
			(void)s3_xml_time(out, &ms);
		}
		pos = 0;
		steps = 0;
		while (s3_xml_element(xml, size, &pos, tags[i], &start, &end) == 0) {
			if (start > end || end > size || pos > size || ++steps > size + 1)
				abort();
		}
	}
	return 0;
}

# Turn the OpenAPI document into a C array, so the daemon serves the very
# document the tests hold it to: cmake -DIN=... -DOUT=... -P embed.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* generated from openapi/openapi.json by admin/embed.cmake */
#include <stddef.h>
extern const char admin_openapi_json[];
extern const size_t admin_openapi_json_len;
const char admin_openapi_json[] = { ${bytes} 0 };
const size_t admin_openapi_json_len = sizeof(admin_openapi_json) - 1;
")

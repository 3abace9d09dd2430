# Turn the console's files (console/, one level) into a C table, so the
# daemon serves them from memory, offline:
#   cmake -DDIR=... -DOUT=... -P embed_console.cmake
file(GLOB files RELATIVE "${DIR}" "${DIR}/*")
list(SORT files)
set(arrays "")
set(table "")
set(n 0)
foreach(name IN LISTS files)
  if(IS_DIRECTORY "${DIR}/${name}")
    continue()
  endif()
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(name MATCHES "\\.txt$")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "console/${name}: no Content-Type known for this kind of file")
  endif()
  file(READ "${DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "static const unsigned char asset${n}[] = { ${bytes} 0 };\n")
  string(APPEND table "\t{ \"${name}\", \"${type}\", asset${n}, ${len} },\n")
  math(EXPR n "${n} + 1")
endforeach()
file(WRITE "${OUT}" "/* generated from console/ by admin/embed_console.cmake */
#include <stddef.h>
struct admin_asset {
	const char *name;
	const char *type;
	const unsigned char *data;
	size_t len;
};
${arrays}
extern const struct admin_asset admin_assets[];
extern const size_t admin_nassets;
const struct admin_asset admin_assets[] = {
${table}};
const size_t admin_nassets = ${n};
")

/*
 * test/sanitizer/fixups.c: what the sanitizers' runtimes (gcc 12, glibc 2.36)
 * get wrong in a sanitized test run (BILLY_SANITIZE=1, see scripts/lib.sh),
 * and nothing else.  Built twice: fixups.so is preloaded after libasan into
 * the uninstrumented postgres; fixups.o is linked into the sanitized
 * billy-sandbox and billy-mcp-bridge (only 3 matters there).
 *
 * 1. A preloaded libasan initializes itself lazily, on the first malloc().
 * In postgres that malloc() comes from libgpg-error's constructor, inside
 * glibc's bindtextdomain() with gettext's lock held for writing; ASan's
 * initialization looks up the optional symbol swift_demangle and calls
 * dlerror(), whose message goes through gettext, which takes the same lock
 * for reading: the lock's state is corrupted and the next bindtextdomain()
 * (postgres's own, in main) waits forever (the same lock as in llvm-project
 * issue 49223).  Defining swift_demangle makes the look-up succeed, so
 * dlerror() has no message to translate.
 *
 * 2. UBSan initializes itself on its first report and reads UBSAN_OPTIONS
 * from /proc/self/environ: in a backend that memory holds the process title
 * by then (postgres moves its environment away to make room for it), so the
 * options are lost (no abort, no stack).  __ubsan_default_options, the
 * runtime's hook, reads them with getenv(), which still works.
 *
 * 3. gcc links ASan and UBSan as two libraries, each with its own copy of
 * the reporting code.  UBSan applies its log_path through the exported
 * __sanitizer_set_report_path, which resolves to libasan's copy: UBSan's
 * reports went to stderr whatever log_path said.  The constructor sets
 * log_path in libubsan's own copy.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char	   *swift_demangle(const char *mangled, size_t mangled_length,
						   char *output, size_t *output_length, uint32_t flags);
const char *__ubsan_default_options(void);

/*
 * swift_demangle never demangles: the symbolizer prints names as they are.
 */
char *
swift_demangle(const char *mangled, size_t mangled_length,
			   char *output, size_t *output_length, uint32_t flags)
{
	return NULL;
}

/*
 * __ubsan_default_options returns UBSAN_OPTIONS from the environment as it
 * is now.
 */
const char *
__ubsan_default_options(void)
{
	const char *options = getenv("UBSAN_OPTIONS");

	return options ? options : "";
}

/*
 * ubsan_log_path sets libubsan's own report path to the log_path of
 * UBSAN_OPTIONS, if both are there.
 */
__attribute__((constructor)) static void
ubsan_log_path(void)
{
	const char *options = getenv("UBSAN_OPTIONS");
	const char *start;
	char		path[4096];
	size_t		len;
	void	   *ubsan;
	void		(*set_report_path) (const char *);

	if (options == NULL || (start = strstr(options, "log_path=")) == NULL)
		return;
	start += strlen("log_path=");
	len = strcspn(start, ":");
	if (len == 0 || len >= sizeof(path))
		return;
	memcpy(path, start, len);
	path[len] = '\0';
	ubsan = dlopen("libubsan.so.1", RTLD_NOLOAD | RTLD_LAZY);
	if (ubsan == NULL)
		return;
	set_report_path = (void (*) (const char *)) dlsym(ubsan, "__sanitizer_set_report_path");
	if (set_report_path != NULL)
		set_report_path(path);
}

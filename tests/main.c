/* The unit test runner: runs every registered test (or those whose name
 * contains argv[1]) and ends with "N passed, N failed". */
#include <stdarg.h>
#include <stdlib.h>

#include "test.h"

static struct test_case *head, **tail = &head;
/* file scope: they live across setjmp/longjmp */
static unsigned passed, failed;
static struct test_case *current;
jmp_buf test_jmp;
char test_msg[1024];

void test_register(struct test_case *tc)
{
	*tail = tc;
	tail = &tc->next;
}

void test_noop_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx, (void)pkt, (void)len;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	int n = snprintf(test_msg, sizeof test_msg, "%s:%d: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof test_msg)
		vsnprintf(test_msg + n, sizeof test_msg - (size_t)n, fmt, ap);
	va_end(ap);
	longjmp(test_jmp, 1);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	for (current = head; current; current = current->next) {
		if (filter && !strstr(current->name, filter))
			continue;
		if (setjmp(test_jmp) == 0) {
			current->fn();
			passed++;
			if (getenv("TEST_VERBOSE"))
				printf("ok   %s\n", current->name);
		} else {
			failed++;
			printf("FAIL %s\n     %s\n", current->name, test_msg);
			fflush(stdout); /* before a sanitizer's report at exit */
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

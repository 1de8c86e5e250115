/*
 * A small test framework: TEST(name) { ... } registers a test; ASSERT_*
 * macros stop the test with a message on the first failed check. One runner
 * (tests/main.c) runs them all and ends with "N passed, N failed".
 */
#ifndef SYNFIN_TEST_H
#define SYNFIN_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	const char *file;
	void (*fn)(void);
	struct test_case *next;
};
void test_register(struct test_case *tc);
extern jmp_buf test_jmp;
extern char test_msg[1024];
/* ops.output for a stack whose datagrams go nowhere */
void test_noop_output(void *ctx, const uint8_t *pkt, size_t len);
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define TEST(name)                                                        \
	static void test_##name(void);                                    \
	static struct test_case test_case_##name = {#name, __FILE__, test_##name, NULL}; \
	__attribute__((constructor)) static void test_reg_##name(void)    \
	{                                                                 \
		test_register(&test_case_##name);                         \
	}                                                                 \
	static void test_##name(void)

#define ASSERT(c)                                                         \
	do {                                                              \
		if (!(c))                                                 \
			test_fail(__FILE__, __LINE__, "ASSERT(%s)", #c);  \
	} while (0)
#define ASSERT_MSG(c, ...)                                                \
	do {                                                              \
		if (!(c))                                                 \
			test_fail(__FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)
#define ASSERT_EQ(a, b)                                                   \
	do {                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);       \
		if (a_ != b_)                                             \
			test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
	} while (0)
#define ASSERT_NE(a, b)                                                   \
	do {                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);       \
		if (a_ == b_)                                             \
			test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, a_); \
	} while (0)
#define ASSERT_U32(a, b)                                                  \
	do {                                                              \
		uint32_t a_ = (uint32_t)(a), b_ = (uint32_t)(b);          \
		if (a_ != b_)                                             \
			test_fail(__FILE__, __LINE__, "%s == %s: %" PRIu32 " != %" PRIu32, #a, #b, a_, b_); \
	} while (0)
#define ASSERT_STR(a, b)                                                  \
	do {                                                              \
		const char *a_ = (a), *b_ = (b);                          \
		if (strcmp(a_, b_) != 0)                                  \
			test_fail(__FILE__, __LINE__, "%s == %s:\n  got  \"%s\"\n  want \"%s\"", #a, #b, a_, b_); \
	} while (0)

#endif

/*
 * What the compiler is told beyond C11, in one place, for every layer.
 *
 * SF_LIKELY / SF_UNLIKELY mark the side of a branch that segments take
 * as a rule: a datagram that parses, a segment for a connection that
 * exists. Errors, drops and recoveries are unlikely by their nature,
 * whatever the workload. gcc and clang lay the likely side out straight
 * and move the other out of the way (a jump taken costs a fetch break;
 * a hot path that zigzags through cold blocks fills the cache with them).
 *
 * The few steps every segment takes (building and emitting it) are
 * compiled into their caller with SF_HOT_INLINE: a call and the saving
 * of registers around it cost as much as the step itself. The other way
 * round, a path that few calls take goes out of line, so that the
 * function around it saves and restores fewer registers: SF_COLD for the
 * rare (a table that grows, compiled for size), SF_NOINLINE for one that
 * must stay fast when taken (a copy of bulk data).
 *
 * SF_PREFETCH asks for a cache line that a later step will read, where
 * the next step is known ahead (the next ephemeral port, the next record
 * to expire): among a million connections such a line is in memory, not
 * in a cache, and the step would wait for it. It never faults.
 */
#ifndef SYNFIN_BASE_COMPILER_H
#define SYNFIN_BASE_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define SF_LIKELY(x) __builtin_expect(!!(x), 1)
#define SF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SF_HOT_INLINE inline __attribute__((always_inline))
#define SF_COLD __attribute__((noinline, cold))
#define SF_NOINLINE __attribute__((noinline))
#define SF_PREFETCH(p) __builtin_prefetch(p)
#else
#define SF_LIKELY(x) (x)
#define SF_UNLIKELY(x) (x)
#define SF_HOT_INLINE inline
#define SF_COLD
#define SF_NOINLINE
#define SF_PREFETCH(p) ((void)(p))
#endif

#endif

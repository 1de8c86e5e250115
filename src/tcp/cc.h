/*
 * Congestion control behind one small interface, so that an algorithm is
 * one file (cc_newreno.c, cc_cubic.c). The engine decides *when* (new data
 * acknowledged, loss detected, retransmission timeout, idle restart); the
 * algorithm decides *how much* (cwnd and ssthresh, in bytes). Loss recovery
 * itself (fast retransmit, NewReno partial ACKs, SACK-based recovery) is the
 * engine's, in tcp_input.c.
 */
#ifndef SYNFIN_CC_H
#define SYNFIN_CC_H

#include <stdint.h>

#include "synfin/synfin.h"

struct synfin_stack;
struct tcb;

/* Per-connection state of the algorithms, kept in the connection's
 * extension (struct tcb_ext), allocated once data flows. */
struct cc_cubic {
	uint32_t w_max;        /* window before the last reduction, bytes */
	uint32_t w_last_max;   /* for fast convergence (RFC 9438 4.7) */
	uint32_t epoch_ms;     /* start of the current congestion avoidance epoch (0: none) */
	uint32_t k_ms;         /* K of RFC 9438 4.2, milliseconds */
	uint32_t w_est;        /* the Reno-friendly estimate (RFC 9438 4.3), bytes */
	uint32_t cwnd_prior;   /* cwnd when the epoch started, bytes */
	uint32_t ack_bytes;    /* acknowledged bytes not yet turned into growth */
};

struct cc_ops {
	const char *name;
	/* connection established (cwnd already holds the RFC 6928 IW) */
	void (*init)(struct synfin_stack *st, struct tcb *tp);
	/* `acked` new bytes acknowledged outside loss recovery, `rtt_us` the
	 * latest RTT sample or 0 */
	void (*ack)(struct synfin_stack *st, struct tcb *tp, uint32_t acked, uint32_t rtt_us);
	/* loss detected by duplicate ACKs or SACK: set ssthresh and cwnd for
	 * the recovery (RFC 5681 3.2 step 2/3, RFC 6675, RFC 9438 4.6) */
	void (*congestion)(struct synfin_stack *st, struct tcb *tp);
	/* recovery over (RFC 6582 3.2 step 3: full ACK): cwnd back to ssthresh */
	void (*recovered)(struct synfin_stack *st, struct tcb *tp);
	/* retransmission timeout: ssthresh from the flight, cwnd one segment
	 * (RFC 5681 3.1 eq. 4, RFC 9438 4.8) */
	void (*timeout)(struct synfin_stack *st, struct tcb *tp);
	/* sending again after an idle period longer than the RTO (RFC 5681 4.1) */
	void (*idle)(struct synfin_stack *st, struct tcb *tp);
};

extern const struct cc_ops cc_newreno;
extern const struct cc_ops cc_cubic;
const struct cc_ops *cc_get(uint8_t which); /* SYNFIN_CC_*; NULL if unknown */

/* The RFC 6928 initial window for an MSS: min(10*MSS, max(2*MSS, 14600)). */
uint32_t cc_initial_window(uint32_t mss);

#endif

/*
 * Segment text (RFC 9293 3.10.7.4 seventh) and the receive window:
 * in-order and out-of-order delivery, the delayed ACK (RFC 9293 3.8.6.3,
 * RFC 1122 4.2.3.2), window shrinking and the window update after a read
 * (receiver-side silly window avoidance, RFC 9293 3.8.6.2.2).
 */
#include "tcp_harness.h"

TEST(data_in_order_delivered_byte_exact_across_wrap)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* 60 + 80 + 100 bytes from 2^32-100: the second segment crosses 2^32 */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 60);
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 61, .ack = ISS + 1, .len = 80);
	SEND(h, T0 + MS(3), .flags = TH_ACK | TH_PSH, .seq = IRS + 141, .ack = ISS + 1, .len = 100);
	APP_RECV(h, IRS + 1, 240);
	ASSERT_EQ(h_tcb(h)->rcv_nxt, IRS + 241);
	ASSERT_EQ(h_tcb(h)->rcv_nxt, 140);
	h_free(h);
}

TEST(data_delivered_in_small_reads)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 150);
	uint8_t b[7];
	for (uint32_t off = 0; off < 150; off += 7) {
		uint32_t n = 150 - off < 7 ? 150 - off : 7;
		ASSERT_EQ(synfin_recv(h->st, h->fd, b, sizeof b), n);
		for (uint32_t i = 0; i < n; i++)
			ASSERT_EQ(b[i], h_byte(IRS + 1 + off + i));
	}
	ASSERT_EQ(synfin_recv(h->st, h->fd, b, sizeof b), -EAGAIN);
	h_free(h);
}

TEST(data_out_of_order_stored_and_dup_ack_at_once)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* the second 100 bytes first (they straddle 2^32) */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 101, .ack = ISS + 1, .len = 100);
	/* an immediate duplicate ACK for the hole (RFC 5681 4.2, RFC 9293 3.10.7.4) */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[8]){0}, 8), -EAGAIN);
	/* a third segment beyond, also out of order */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 201, .ack = ISS + 1, .len = 50);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	/* filling the hole delivers all 250 bytes and ACKs them at once */
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 251, 0);
	EXPECT_NONE(h);
	APP_RECV(h, IRS + 1, 250);
	h_free(h);
}

TEST(data_partial_hole_fill_acked_at_once)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* [IRS+1, IRS+201) missing, [IRS+201, IRS+301) arrived */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 201, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	/* the first half of the hole: RFC 5681 4.2, a segment that fills
	 * all or part of a gap is acknowledged immediately */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 101, 0);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 101, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 301, 0);
	APP_RECV(h, IRS + 1, 300);
	h_free(h);
}

TEST(data_out_of_order_overlapping_segments)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 51, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 101, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 60);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 201, 0);
	APP_RECV(h, IRS + 1, 200);
	h_free(h);
}

TEST(data_out_of_order_fin_waits_for_the_hole)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_FIN | TH_ACK, .seq = IRS + 101, .ack = ISS + 1, .len = 20);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	/* the hole is filled; the FIN was not kept, the peer sends it again */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 121, 0);
	SEND(h, T0 + MS(3), .flags = TH_FIN | TH_ACK, .seq = IRS + 121, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	APP_RECV(h, IRS + 1, 120);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[1]){0}, 1), 0);
	h_free(h);
}

TEST(delayed_ack_fires_at_exactly_delack)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.delack = MS(33);
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 10);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, T0 + MS(133));
	h_poll(h, T0 + MS(133) - 1);
	EXPECT_NONE(h);
	h_poll(h, T0 + MS(133));
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 11, 0, 65535 - 10);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	ASSERT_EQ(synfin_get_stats(h->st)->delayed_acks, 1);
	h_free(h);
}

TEST(delayed_ack_rides_on_data)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 10);
	EXPECT_NONE(h);
	/* the application answers before the delayed ACK: one segment */
	APP_SEND(h, ISS + 1, 5);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 11, 5);
	EXPECT_NONE(h);
	/* and the delayed ACK is cancelled; only the retransmission timer runs */
	EXPECT_DEADLINE(h, T0 + MS(100) + SEC(1));
	h_free(h);
}

TEST(every_second_full_segment_acked_at_once)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = MSS);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1 + MSS, .ack = ISS + 1, .len = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1 + 2 * MSS, 0);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 1 + 2 * MSS, .ack = ISS + 1, .len = MSS);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(4), .flags = TH_ACK, .seq = IRS + 1 + 3 * MSS, .ack = ISS + 1, .len = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1 + 4 * MSS, 0);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	APP_RECV(h, IRS + 1, 4 * MSS);
	h_free(h);
}

TEST(window_shrinks_unread_and_update_after_read)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 1460);
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1461, .ack = ISS + 1, .len = 1460);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 2921, 0, 4096 - 2920);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 2921, .ack = ISS + 1, .len = 1176);
	STEP_TO(h, T0 + MS(43));
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	/* a small read opens less than a segment: no update (SWS avoidance) */
	APP_READ(h, IRS + 1, 100);
	EXPECT_NONE(h);
	/* reading the rest opens the whole buffer: one window update */
	APP_RECV(h, IRS + 101, 3996);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 4096);
	EXPECT_NONE(h);
	/* and the peer may send again */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS + 4097, .ack = ISS + 1, .len = 1000);
	APP_RECV(h, IRS + 4097, 1000);
	h_free(h);
}

TEST(window_never_shrinks_below_what_was_offered)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	/* 3000 bytes: 1096 left, below a segment but above a quarter of
	 * the buffer; then 1000 more: 96 left, which SWS avoidance would
	 * hide, but the right edge already offered (RCV.NXT + 1096 earlier)
	 * must not move back (RFC 9293 3.8.6.2.2) */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 3000);
	h_poll(h, T0 + MS(41));
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 3001, 0, 1096);
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS + 3001, .ack = ISS + 1, .len = 1000);
	h_poll(h, T0 + MS(90));
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4001, 0, 96);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(send_in_mss_segments_then_nagle)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 3000);
	/* the initial window (RFC 5681/6928, at least 2 segments) takes two
	 * full segments ... */
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, MSS, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1 + MSS, IRS + 1, MSS, &s);
	CHECK_PAYLOAD(&s);
	/* ... and the 80-byte tail waits for the ACK (Nagle, RFC 1122 4.2.3.4) */
	EXPECT_NONE(h);
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1 + 2 * MSS);
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1 + 2 * MSS, IRS + 1, 3000 - 2 * MSS, &s);
	CHECK_PAYLOAD(&s);
	ASSERT(s.flags & TH_PSH);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(send_nodelay_sends_small_tail_at_once)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	int one = 1;
	ASSERT_EQ(synfin_setsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_NODELAY, &one, sizeof one), 0);
	APP_SEND(h, ISS + 1, 3000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1 + MSS, IRS + 1, MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1 + 2 * MSS, IRS + 1, 3000 - 2 * MSS);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(sws_override_timeout_sends_into_a_small_window)
{
	struct synfin_config cfg;
	h_config(&cfg);
	/* retransmissions out of the way: this is about the first sending */
	cfg.rto_initial = cfg.rto_min = SEC(3);
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 5000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1 + MSS, IRS + 1, MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1 + 2 * MSS, IRS + 1, MSS);
	EXPECT_NONE(h); /* 620 bytes held by Nagle */
	/* everything acknowledged, but the peer's buffer is nearly full:
	 * 100 bytes of window, less than a segment and than half the largest
	 * window seen, with 620 bytes to send */
	synfin_time_t t = T0 + MS(50);
	SEND(h, t, .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1 + 3 * MSS, .wnd = 100);
	/* sender SWS avoidance may wait, but not forever: the data is
	 * pushed, so the override timeout (0.1 to 1.0 s, RFC 1122 4.2.3.4,
	 * RFC 9293 3.8.6.2.1 (4)) sends what the window allows */
	h_poll(h, t + SEC(1));
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1 + 3 * MSS, IRS + 1, 100, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_NONE(h);
	/* each time the peer takes 100 bytes and still offers 100, the next
	 * 100 go within the override timeout, until all 620 are through */
	uint32_t next = ISS + 1 + 3 * MSS + 100;
	for (int i = 0; i < 6; i++) {
		t += SEC(1);
		SEND(h, t, .flags = TH_ACK, .seq = IRS + 1, .ack = next, .wnd = 100);
		h_poll(h, t + SEC(1));
		uint32_t n = i < 5 ? 100 : 20;
		EXPECT_SEG_OUT(h, TH_ACK, next, IRS + 1, n, &s);
		CHECK_PAYLOAD(&s);
		EXPECT_NONE(h);
		next += n;
		t += SEC(1);
	}
	ASSERT_EQ(next, ISS + 1 + 5000);
	SEND(h, t + SEC(1), .flags = TH_ACK, .seq = IRS + 1, .ack = next, .wnd = 100);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(urgent_data_delivered_inline)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* 3.10.7.4 sixth: URG is only a hint here; the bytes arrive in line */
	SEND(h, T0 + MS(1), .flags = TH_ACK | TH_URG, .seq = IRS + 1, .ack = ISS + 1, .len = 120);
	APP_RECV(h, IRS + 1, 120);
	h_free(h);
}

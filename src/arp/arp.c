/*
 * ARP (RFC 826) and its cache. Requests for our address are answered;
 * senders are learned by RFC 826's merge rule; next hops are resolved with
 * a broadcast request retransmitted every `retry` until `retries` requests
 * went unanswered (RFC 1122 2.3.2.1: at most one request per second per
 * address with the default), the datagrams waiting for them held in a
 * small pool meanwhile (RFC 1122 2.3.2.2: keep at least the latest).
 */
#include <stdlib.h>
#include <string.h>

#include "arp/arp.h"
#include "wire/bytes.h"

/* ---- the packet ---- */
enum arp_err arp_parse(const uint8_t *p, size_t len, struct arp_pkt *a)
{
	if (len < ARP_PKT_LEN)
		return ARP_TRUNCATED;
	if (get16(p) != ARP_HTYPE_ETHER || p[4] != ETH_ALEN)
		return ARP_BAD_HW;
	if (get16(p + 2) != ETHERTYPE_IPV4 || p[5] != 4)
		return ARP_BAD_PROTO;
	a->op = get16(p + 6);
	if (a->op != ARP_OP_REQUEST && a->op != ARP_OP_REPLY)
		return ARP_BAD_OP;
	memcpy(a->sha, p + 8, ETH_ALEN);
	a->spa = get32(p + 14);
	memcpy(a->tha, p + 18, ETH_ALEN);
	a->tpa = get32(p + 24);
	return ARP_OK;
}

void arp_emit(uint8_t *buf, const struct arp_pkt *a)
{
	put16(buf, ARP_HTYPE_ETHER);
	put16(buf + 2, ETHERTYPE_IPV4);
	buf[4] = ETH_ALEN;
	buf[5] = 4;
	put16(buf + 6, a->op);
	memcpy(buf + 8, a->sha, ETH_ALEN);
	put32(buf + 14, a->spa);
	memcpy(buf + 18, a->tha, ETH_ALEN);
	put32(buf + 24, a->tpa);
}

/* ---- lifecycle ---- */
bool arp_init(struct arp_cache *c, const struct arp_params *p, struct synfin_netif_stats *stats,
	      const struct arp_send *out)
{
	memset(c, 0, sizeof *c);
	c->ip = p->ip;
	memcpy(c->mac, p->mac, ETH_ALEN);
	c->ttl = p->ttl;
	c->retry = p->retry;
	c->retries = p->retries;
	c->next = SYNFIN_TIME_NEVER;
	c->stats = stats;
	c->out = *out;
	c->bufsize = p->max_datagram;
	c->pool = malloc(ARP_POOL * c->bufsize);
	if (!c->pool)
		return false;
	for (unsigned i = 0; i < ARP_POOL; i++)
		c->pool_free[i] = (uint8_t)i;
	c->nfree = ARP_POOL;
	return true;
}

void arp_fini(struct arp_cache *c)
{
	free(c->pool);
	c->pool = NULL;
}

/* ---- held datagrams ---- */
static void pool_put(struct arp_cache *c, uint8_t idx)
{
	c->pool_free[c->nfree++] = idx;
}

/* Remove the oldest held datagram of `e` and return its buffer index. */
static uint8_t q_pop(struct arp_entry *e)
{
	uint8_t idx = e->q[e->qhead];

	e->qhead = (uint8_t)((e->qhead + 1) % ARP_QLEN);
	e->qlen--;
	return idx;
}

static void q_drop_all(struct arp_cache *c, struct arp_entry *e)
{
	while (e->qlen)
		pool_put(c, q_pop(e));
	e->qhead = 0;
}

/* When the entry's queue or the pool is full the oldest datagram of this
 * address makes room: the latest is the one worth sending (a TCP
 * retransmission supersedes what it repeats), as Linux does too. */
static void q_push(struct arp_cache *c, struct arp_entry *e, const uint8_t *dgram, size_t len)
{
	uint8_t idx;

	if (len > c->bufsize) {
		c->stats->arp_queue_drops++;
		return;
	}
	if (e->qlen == ARP_QLEN || (c->nfree == 0 && e->qlen > 0)) {
		pool_put(c, q_pop(e));
		c->stats->arp_queue_drops++;
	}
	if (c->nfree == 0) {
		c->stats->arp_queue_drops++;
		return;
	}
	idx = c->pool_free[--c->nfree];
	memcpy(c->pool + (size_t)idx * c->bufsize, dgram, len);
	c->pool_len[idx] = (uint16_t)len;
	e->q[(e->qhead + e->qlen) % ARP_QLEN] = idx;
	e->qlen++;
}

/* ---- the table ---- */
static struct arp_entry *find(struct arp_cache *c, uint32_t ip)
{
	struct arp_entry *e = &c->e[c->hint];

	if (e->state != ARP_FREE && e->ip == ip)
		return e;
	for (uint32_t i = 0; i < ARP_CACHE_SIZE; i++) {
		e = &c->e[i];
		if (e->state != ARP_FREE && e->ip == ip) {
			c->hint = i;
			return e;
		}
	}
	return NULL;
}

/* The earliest retransmission; recomputed whenever an INCOMPLETE entry
 * goes away, so that the deadline is never one with nothing to do. */
static void recompute_next(struct arp_cache *c)
{
	synfin_time_t next = SYNFIN_TIME_NEVER;

	for (uint32_t i = 0; i < ARP_CACHE_SIZE; i++) {
		if (c->e[i].state == ARP_INCOMPLETE && c->e[i].when < next)
			next = c->e[i].when;
	}
	c->next = next;
}

/* Which entry to give up for a new address: a free one, else one that
 * expired, else the least recently used that is resolved; an address
 * still being resolved goes last, as its datagrams go with it. */
static unsigned victim_rank(const struct arp_entry *e, synfin_time_t now)
{
	if (e->state == ARP_FREE)
		return 0;
	if (e->state == ARP_RESOLVED)
		return now >= e->when ? 1 : 2;
	return 3;
}

static struct arp_entry *alloc_entry(struct arp_cache *c, uint32_t ip, synfin_time_t now)
{
	struct arp_entry *best = &c->e[0];
	unsigned best_rank = victim_rank(best, now);

	for (uint32_t i = 1; i < ARP_CACHE_SIZE && best_rank > 0; i++) {
		struct arp_entry *e = &c->e[i];
		unsigned r = victim_rank(e, now);

		if (r < best_rank || (r == best_rank && e->used < best->used)) {
			best = e;
			best_rank = r;
		}
	}
	bool was_incomplete = best->state == ARP_INCOMPLETE;

	if (was_incomplete) {
		c->stats->arp_queue_drops += best->qlen;
		q_drop_all(c, best);
	}
	memset(best, 0, sizeof *best);
	if (was_incomplete)
		recompute_next(c);
	best->ip = ip;
	best->used = now;
	c->hint = (uint32_t)(best - c->e);
	return best;
}

static void send_arp(struct arp_cache *c, const uint8_t dst[ETH_ALEN], uint16_t op,
		     const uint8_t tha[ETH_ALEN], uint32_t tpa)
{
	static const uint8_t zero[ETH_ALEN];
	uint8_t buf[ARP_PKT_LEN];
	struct arp_pkt a;

	a.op = op;
	memcpy(a.sha, c->mac, ETH_ALEN);
	a.spa = c->ip;
	/* RFC 826 leaves a request's target hardware address open; zero is
	 * what RFC 5227 asks for and what every stack sends. */
	memcpy(a.tha, tha ? tha : zero, ETH_ALEN);
	a.tpa = tpa;
	arp_emit(buf, &a);
	c->out.send(c->out.ctx, dst, ETHERTYPE_ARP, buf, sizeof buf);
}

static void send_request(struct arp_cache *c, struct arp_entry *e, synfin_time_t now)
{
	send_arp(c, eth_broadcast, ARP_OP_REQUEST, NULL, e->ip);
	c->stats->arp_requests_out++;
	e->tries++;
	e->when = now + c->retry;
	if (e->when < c->next)
		c->next = e->when;
}

void arp_announce(struct arp_cache *c)
{
	send_arp(c, eth_broadcast, ARP_OP_REQUEST, NULL, c->ip);
	c->stats->arp_gratuitous_out++;
}

/* The address of `e` is now known: record it, then send what waited. */
static void resolve(struct arp_cache *c, struct arp_entry *e, const uint8_t mac[ETH_ALEN],
		    synfin_time_t now)
{
	bool was_incomplete = e->state == ARP_INCOMPLETE;

	if (e->state != ARP_RESOLVED)
		c->stats->arp_cache_adds++;
	memcpy(e->mac, mac, ETH_ALEN);
	e->state = ARP_RESOLVED;
	e->when = now + c->ttl;
	e->used = now;
	e->tries = 0;
	if (!was_incomplete)
		return;
	recompute_next(c);
	/* One at a time off the queue, so the entry is consistent whatever
	 * the send hook does. */
	while (e->qlen && e->state == ARP_RESOLVED) {
		uint8_t idx = q_pop(e);

		c->out.send(c->out.ctx, e->mac, ETHERTYPE_IPV4, c->pool + (size_t)idx * c->bufsize,
			    c->pool_len[idx]);
		pool_put(c, idx);
	}
	if (!e->qlen)
		e->qhead = 0;
}

/* Addresses we would never send to or learn: unspecified, limited
 * broadcast, multicast and class E. */
static bool ip_unicast(uint32_t ip)
{
	return ip != 0 && (ip >> 28) < 0xe;
}

/*
 * RFC 826, "Packet Reception": update the sender if it is already in the
 * table (whatever the target: that is how a moved address or a gratuitous
 * ARP refreshes everyone); add it only if we are the target; answer a
 * request for our address.
 */
void arp_input(struct arp_cache *c, const uint8_t *pkt, size_t len, synfin_time_t now)
{
	struct arp_pkt a;
	struct arp_entry *e;
	bool merged = false, learnable;

	c->stats->arp_in++;
	if (arp_parse(pkt, len, &a) != ARP_OK || eth_is_group(a.sha) || eth_is_zero(a.sha)) {
		c->stats->arp_bad++;
		return;
	}
	/* Our own address as the sender is our frame come back, or another
	 * host claiming it (RFC 5227 2.4): neither is learned or answered,
	 * as Linux's martian-source check also has it. We keep the address
	 * without defending it. */
	if (a.spa == c->ip)
		return;
	/* Sender address 0 is an RFC 5227 probe: answered, not learned. */
	learnable = ip_unicast(a.spa);
	if (learnable && (e = find(c, a.spa)) != NULL) {
		resolve(c, e, a.sha, now);
		merged = true;
	}
	if (a.tpa != c->ip)
		return;
	if (learnable && !merged) {
		e = alloc_entry(c, a.spa, now);
		resolve(c, e, a.sha, now);
	}
	if (a.op == ARP_OP_REQUEST) {
		/* to the asker directly, not broadcast: it is the only one
		 * waiting, and its hardware address is in the request */
		send_arp(c, a.sha, ARP_OP_REPLY, a.sha, a.spa);
		c->stats->arp_replies_out++;
	}
}

void arp_output(struct arp_cache *c, uint32_t nexthop, const uint8_t *dgram, size_t len,
		synfin_time_t now)
{
	struct arp_entry *e = find(c, nexthop);

	if (e && e->state == ARP_RESOLVED) {
		if (now < e->when) {
			e->used = now;
			c->out.send(c->out.ctx, e->mac, ETHERTYPE_IPV4, dgram, len);
			return;
		}
		/* Expired: ask again before trusting it (the host may have
		 * gone, or its address moved to another card). */
		c->stats->arp_expired++;
		e->state = ARP_INCOMPLETE;
		e->tries = 0;
		e->qhead = e->qlen = 0;
	}
	if (!e) {
		e = alloc_entry(c, nexthop, now);
		e->state = ARP_INCOMPLETE;
	}
	e->used = now;
	q_push(c, e, dgram, len);
	if (e->tries == 0)
		send_request(c, e, now);
}

void arp_poll(struct arp_cache *c, synfin_time_t now)
{
	if (now < c->next)
		return;
	for (uint32_t i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &c->e[i];

		if (e->state != ARP_INCOMPLETE || e->when > now)
			continue;
		if (e->tries >= c->retries) {
			/* Nobody answered: what waited is dropped, and the
			 * next datagram starts over (as Linux's FAILED). */
			c->stats->arp_failed++;
			while (e->qlen) {
				uint8_t idx = q_pop(e);

				if (c->out.unreachable)
					c->out.unreachable(c->out.ctx, c->pool + (size_t)idx * c->bufsize,
							   c->pool_len[idx]);
				pool_put(c, idx);
			}
			e->qhead = 0;
			e->state = ARP_FREE;
			continue;
		}
		send_request(c, e, now);
	}
	recompute_next(c);
}

synfin_time_t arp_next_deadline(const struct arp_cache *c)
{
	return c->next;
}

bool arp_lookup(const struct arp_cache *c, uint32_t ip, synfin_time_t now, uint8_t mac[ETH_ALEN])
{
	for (uint32_t i = 0; i < ARP_CACHE_SIZE; i++) {
		const struct arp_entry *e = &c->e[i];

		if (e->state == ARP_RESOLVED && e->ip == ip && now < e->when) {
			memcpy(mac, e->mac, ETH_ALEN);
			return true;
		}
	}
	return false;
}

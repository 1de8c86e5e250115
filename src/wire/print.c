/*
 * The tcpdump-style line printer shared by the tracer and the tools.
 * It reads datagrams only through ip4_parse() and tcp_parse(), so anything
 * it prints past the addresses has been validated; the option walker still
 * checks every length because it re-reads the raw bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"

/* snprintf-like accumulation: keeps counting after the buffer is full so
 * the caller learns the length it would have needed. */
struct out {
	char *buf;
	size_t cap;
	size_t n;
};

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *dst = NULL;
	size_t room = 0;
	int r;

	if (o->n < o->cap) {
		dst = o->buf + o->n;
		room = o->cap - o->n;
	}
	va_start(ap, fmt);
	r = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
}

static const char *ip_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16 & 0xff),
		 (unsigned)(ip >> 8 & 0xff), (unsigned)(ip & 0xff));
	return buf;
}

void wire_printer_init(struct wire_printer *p)
{
	memset(p, 0, sizeof(*p));
}

static struct wire_flow *flow_find(struct wire_printer *p, uint32_t saddr, uint16_t sport,
				   uint32_t daddr, uint16_t dport)
{
	for (unsigned i = 0; i < WIRE_PRINTER_FLOWS; i++) {
		struct wire_flow *f = &p->flows[i];

		if (f->used && f->saddr == saddr && f->sport == sport && f->daddr == daddr &&
		    f->dport == dport)
			return f;
	}
	return NULL;
}

static struct wire_flow *flow_record(struct wire_printer *p, const struct tcp_seg *s)
{
	struct wire_flow *f = flow_find(p, s->saddr, s->sport, s->daddr, s->dport);

	if (!f) {
		for (unsigned i = 0; i < WIRE_PRINTER_FLOWS && !f; i++)
			if (!p->flows[i].used)
				f = &p->flows[i];
	}
	if (!f) {
		f = &p->flows[p->next % WIRE_PRINTER_FLOWS];
		p->next = (p->next + 1) % WIRE_PRINTER_FLOWS;
	}
	f->saddr = s->saddr;
	f->daddr = s->daddr;
	f->sport = s->sport;
	f->dport = s->dport;
	f->isn = s->seq;
	f->used = true;
	return f;
}

/* Options in wire order, so that a trace shows what was really sent. */
static void print_opts(struct out *o, const uint8_t *opt, size_t n)
{
	size_t i = 0;
	const char *sep = "";

	out_printf(o, " <");
	while (i < n) {
		uint8_t kind = opt[i];
		size_t olen;

		if (kind == TCPOPT_EOL) {
			out_printf(o, "%seol", sep);
			break;
		}
		if (kind == TCPOPT_NOP) {
			out_printf(o, "%snop", sep);
			sep = ",";
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			break;
		if (kind == TCPOPT_MSS && olen == 4) {
			out_printf(o, "%smss %u", sep, (unsigned)get16(opt + i + 2));
		} else if (kind == TCPOPT_WSCALE && olen == 3) {
			out_printf(o, "%swscale %u", sep, (unsigned)opt[i + 2]);
		} else if (kind == TCPOPT_SACK_PERM && olen == 2) {
			out_printf(o, "%ssackOK", sep);
		} else if (kind == TCPOPT_TIMESTAMP && olen == 10) {
			out_printf(o, "%stimestamp %u %u", sep, (unsigned)get32(opt + i + 2),
				   (unsigned)get32(opt + i + 6));
		} else if (kind == TCPOPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
			out_printf(o, "%ssack %u ", sep, (unsigned)((olen - 2) / 8));
			for (size_t b = i + 2; b + 8 <= i + olen; b += 8)
				out_printf(o, "{%u:%u}", (unsigned)get32(opt + b),
					   (unsigned)get32(opt + b + 4));
		} else {
			out_printf(o, "%sopt%u", sep, (unsigned)kind);
		}
		sep = ",";
		i += olen;
	}
	out_printf(o, ">");
}

static void print_tcp(struct out *o, struct wire_printer *p, const struct ip4_view *ip,
		      const struct tcp_seg *s)
{
	char a[16], b[16];
	struct wire_flow *self, *peer;
	uint32_t seq = s->seq, ack = s->ack;
	size_t off = (size_t)(ip->payload[12] >> 4) * 4;

	out_printf(o, " IP %s.%u > %s.%u: ", ip_str(s->saddr, a), (unsigned)s->sport,
		   ip_str(s->daddr, b), (unsigned)s->dport);
	if (s->flags & (TH_SYN | TH_FIN | TH_RST | TH_PSH))
		out_printf(o, "%s%s%s%s", (s->flags & TH_SYN) ? "S" : "",
			   (s->flags & TH_FIN) ? "F" : "", (s->flags & TH_RST) ? "R" : "",
			   (s->flags & TH_PSH) ? "P" : "");
	else
		out_printf(o, ".");

	/* A SYN defines the ISN, so its own sequence number stays absolute
	 * (a retransmitted SYN then prints like the first one); it is
	 * recorded before the ack so a SYN,ACK shows "ack 1". */
	self = flow_find(p, s->saddr, s->sport, s->daddr, s->dport);
	if (self && !(s->flags & TH_SYN))
		seq -= self->isn;
	if (s->flags & TH_SYN)
		self = flow_record(p, s);
	peer = flow_find(p, s->daddr, s->dport, s->saddr, s->sport);

	if (s->len || (s->flags & (TH_SYN | TH_FIN | TH_RST)))
		out_printf(o, " %u:%u(%u)", (unsigned)seq, (unsigned)(uint32_t)(seq + s->len),
			   (unsigned)s->len);
	if (s->flags & TH_ACK) {
		if (self && peer)
			ack -= peer->isn;
		out_printf(o, " ack %u", (unsigned)ack);
	}
	out_printf(o, " win %u", (unsigned)s->wnd);
	if (off > TCP_HDR_MIN && off <= ip->payload_len)
		print_opts(o, ip->payload + TCP_HDR_MIN, off - TCP_HDR_MIN);
}

size_t wire_print(char *buf, size_t cap, struct wire_printer *p, const uint8_t *pkt,
		  size_t len, synfin_time_t t)
{
	struct out o = { buf, cap, 0 };
	struct ip4_view ip;
	struct tcp_seg seg;
	enum wire_err err;
	char a[16], b[16];

	if (cap > 0)
		buf[0] = '\0';
	out_printf(&o, "%llu.%06llu", (unsigned long long)(t / SYNFIN_US_PER_S),
		   (unsigned long long)(t % SYNFIN_US_PER_S));

	err = ip4_parse(pkt, len, &ip);
	if (err != WIRE_OK) {
		/* The addresses are worth showing whenever they can be read
		 * from something that claims to be IPv4. */
		if (len >= IP4_HDR_MIN && pkt[0] >> 4 == 4)
			out_printf(&o, " IP %s > %s: [malformed: %s]", ip_str(get32(pkt + 12), a),
				   ip_str(get32(pkt + 16), b), wire_err_str(err));
		else
			out_printf(&o, " [malformed: %s] len %zu", wire_err_str(err), len);
		return o.n;
	}
	if (ip.proto != IPPROTO_TCP_) {
		out_printf(&o, " IP %s > %s: proto %u len %zu", ip_str(ip.src, a),
			   ip_str(ip.dst, b), (unsigned)ip.proto, ip.payload_len);
		return o.n;
	}
	err = tcp_parse(&ip, &seg);
	if (err != WIRE_OK) {
		out_printf(&o, " IP %s > %s: [malformed: %s]", ip_str(ip.src, a),
			   ip_str(ip.dst, b), wire_err_str(err));
		return o.n;
	}
	print_tcp(&o, p, &ip, &seg);
	return o.n;
}

/* Classic libpcap file writer (the format tcpdump and Wireshark open). */
#ifndef SYNFIN_PCAP_H
#define SYNFIN_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PCAP_LINKTYPE_ETHERNET 1
#define PCAP_LINKTYPE_RAW 101 /* raw IPv4/IPv6, no link header */

struct pcap_writer {
	FILE *f;
	uint32_t snaplen;
	uint64_t written;   /* records */
	int error;          /* errno of the first failed write, 0 if none */
};

/* Create/truncate `path` and write the global header. Returns 0 or -errno. */
int pcap_open(struct pcap_writer *w, const char *path, uint32_t linktype);
/* Append one record stamped `t_us` microseconds (virtual or real). */
void pcap_write(struct pcap_writer *w, uint64_t t_us, const uint8_t *data, size_t len);
/* Flush and close. Returns 0 or the first -errno seen. */
int pcap_close(struct pcap_writer *w);

#endif

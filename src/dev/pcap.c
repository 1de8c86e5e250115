/*
 * Classic libpcap files. Headers are written in the host's byte order: the
 * magic number tells readers which order that was.
 */
#include <errno.h>
#include <string.h>

#include "dev/pcap.h"

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_SNAPLEN 65535u

/* fwrite sets errno on failure on POSIX systems, but a short write alone
 * says nothing, so fall back to EIO. */
static int write_err(void)
{
	return errno ? errno : EIO;
}

static void put_bytes(struct pcap_writer *w, const void *p, size_t n)
{
	if (w->error || n == 0)
		return;
	errno = 0;
	if (fwrite(p, 1, n, w->f) != n)
		w->error = write_err();
}

int pcap_open(struct pcap_writer *w, const char *path, uint32_t linktype)
{
	uint8_t hdr[24];
	uint32_t magic = PCAP_MAGIC, zone = 0, sigfigs = 0, snaplen = PCAP_SNAPLEN;
	uint16_t major = 2, minor = 4;

	memset(w, 0, sizeof(*w));
	w->snaplen = PCAP_SNAPLEN;
	errno = 0;
	w->f = fopen(path, "wb");
	if (!w->f) {
		w->error = write_err();
		return -w->error;
	}

	memcpy(hdr, &magic, 4);
	memcpy(hdr + 4, &major, 2);
	memcpy(hdr + 6, &minor, 2);
	memcpy(hdr + 8, &zone, 4);
	memcpy(hdr + 12, &sigfigs, 4);
	memcpy(hdr + 16, &snaplen, 4);
	memcpy(hdr + 20, &linktype, 4);
	put_bytes(w, hdr, sizeof(hdr));
	if (w->error) {
		fclose(w->f);
		w->f = NULL;
		return -w->error;
	}
	return 0;
}

void pcap_write(struct pcap_writer *w, uint64_t t_us, const uint8_t *data, size_t len)
{
	uint8_t rec[16];
	uint32_t ts_sec, ts_usec, incl, orig;

	/* After a failed write the file is already damaged; keep the first
	 * error and stop rather than append records at a wrong offset. */
	if (!w->f || w->error)
		return;
	ts_sec = (uint32_t)(t_us / 1000000u);
	ts_usec = (uint32_t)(t_us % 1000000u);
	orig = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	incl = orig > w->snaplen ? w->snaplen : orig;
	memcpy(rec, &ts_sec, 4);
	memcpy(rec + 4, &ts_usec, 4);
	memcpy(rec + 8, &incl, 4);
	memcpy(rec + 12, &orig, 4);
	put_bytes(w, rec, sizeof(rec));
	put_bytes(w, data, incl);
	if (!w->error)
		w->written++;
}

int pcap_close(struct pcap_writer *w)
{
	if (w->f) {
		errno = 0;
		if (fflush(w->f) != 0 && !w->error)
			w->error = write_err();
		errno = 0;
		if (fclose(w->f) != 0 && !w->error)
			w->error = write_err();
		w->f = NULL;
	}
	return -w->error;
}

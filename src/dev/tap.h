/*
 * A Linux TAP device: Ethernet frames between the kernel and this process.
 * Linux-only, and kept apart from the sans-IO core; nothing here runs
 * unless a tool asks for a device, so programs that merely link it (the
 * unit tests, the lab) need no device.
 */
#ifndef SYNFIN_DEV_TAP_H
#define SYNFIN_DEV_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAP_NAME_MAX 16 /* IFNAMSIZ, with the terminating NUL */
#define TAP_FRAME_MAX 65536

struct tap_dev {
	int fd; /* -1 when closed */
	char name[TAP_NAME_MAX];
};

/* Attach to the TAP device `name`, creating it when it does not exist and
 * we are allowed to (TUNSETIFF does both), with IFF_TAP|IFF_NO_PI: every
 * read and write is one bare Ethernet frame. The descriptor is
 * non-blocking and close-on-exec. Returns 0, or -errno with a one-line
 * message in `err` saying what failed and how to fix it. */
int tap_open(struct tap_dev *t, const char *name, char *err, size_t errcap);

/* One frame into buf. Returns its length, -EAGAIN when none is waiting,
 * or another -errno. */
long tap_read(struct tap_dev *t, uint8_t *buf, size_t cap);

/* One frame out. Returns 0 or -errno (-EIO while the link is down). */
int tap_write(struct tap_dev *t, const uint8_t *frame, size_t len);

/* Whether the interface is administratively up (IFF_UP). A TAP that is
 * down drops what we write and delivers nothing. */
bool tap_is_up(const struct tap_dev *t);

void tap_close(struct tap_dev *t);

#endif

/*
 * TAP devices through /dev/net/tun. Linux-only. Errors come back as
 * -errno plus a sentence that names the fix, because the usual causes
 * (no tun module, no privilege, a name taken by another interface) are
 * all things the user has to change outside the program.
 */
#define _DEFAULT_SOURCE /* struct ifreq, SIOCGIFFLAGS */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <net/if.h>

#include "dev/tap.h"

static int open_error(char *err, size_t cap, int e)
{
	const char *fix;

	switch (e) {
	case ENOENT:
		fix = "load the tun module or run in a namespace with it";
		break;
	case ENODEV:
	case ENXIO:
		fix = "load the tun module: modprobe tun";
		break;
	case EACCES:
	case EPERM:
		fix = "run as root, or create the device with `ip tuntap add dev NAME mode tap user $USER`";
		break;
	default:
		fix = "is the tun driver available?";
		break;
	}
	snprintf(err, cap, "cannot open /dev/net/tun: %s (%s)", strerror(e), fix);
	return -e;
}

static int setiff_error(char *err, size_t cap, const char *name, int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		snprintf(err, cap,
			 "TUNSETIFF %s: %s (run as root or create the device with "
			 "`ip tuntap add dev %s mode tap user $USER`)",
			 name, strerror(e), name);
		break;
	case EBUSY:
		snprintf(err, cap,
			 "TUNSETIFF %s: %s (another program has %s open; stop it or choose another --tap)",
			 name, strerror(e), name);
		break;
	case EINVAL:
		snprintf(err, cap,
			 "TUNSETIFF %s: %s (%s exists and is not a TAP device; choose another --tap)",
			 name, strerror(e), name);
		break;
	default:
		snprintf(err, cap, "TUNSETIFF %s: %s", name, strerror(e));
		break;
	}
	return -e;
}

int tap_open(struct tap_dev *t, const char *name, char *err, size_t errcap)
{
	struct ifreq ifr;
	size_t n = name ? strlen(name) : 0;

	t->fd = -1;
	t->name[0] = '\0';
	if (n == 0 || n >= TAP_NAME_MAX || strchr(name, '/') || strpbrk(name, " \t\n:")) {
		snprintf(err, errcap,
			 "bad TAP device name '%s' (1 to %d characters, no '/', ':' or spaces)",
			 name ? name : "", TAP_NAME_MAX - 1);
		return -EINVAL;
	}

	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return open_error(err, errcap, errno);

	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, n);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return setiff_error(err, errcap, name, e);
	}
	/* the kernel may have expanded a template such as "tap%d" */
	memcpy(t->name, ifr.ifr_name, sizeof t->name);
	t->name[sizeof t->name - 1] = '\0';
	t->fd = fd;
	return 0;
}

long tap_read(struct tap_dev *t, uint8_t *buf, size_t cap)
{
	for (int tries = 0; tries < 8; tries++) {
		ssize_t r = read(t->fd, buf, cap);
		if (r >= 0)
			return (long)r;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
	return -EINTR;
}

int tap_write(struct tap_dev *t, const uint8_t *frame, size_t len)
{
	for (int tries = 0; tries < 8; tries++) {
		ssize_t r = write(t->fd, frame, len);
		if (r >= 0)
			return (size_t)r == len ? 0 : -EIO;
		if (errno != EINTR)
			return -errno;
	}
	return -EINTR;
}

bool tap_is_up(const struct tap_dev *t)
{
	struct ifreq ifr;
	bool up = false;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return true; /* cannot tell: do not complain */
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name < sizeof t->name ? sizeof ifr.ifr_name : sizeof t->name);
	ifr.ifr_name[sizeof ifr.ifr_name - 1] = '\0';
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) != 0;
	else
		up = true;
	close(s);
	return up;
}

void tap_close(struct tap_dev *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

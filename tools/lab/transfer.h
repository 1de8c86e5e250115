/*
 * synfin-lab transfer: bulk data through one bottleneck link of the
 * simulator (a rate, a drop-tail queue, random or bursty loss), measured:
 * goodput, utilisation, retransmissions, and for the first flow a CSV of
 * the congestion state and an SVG time-sequence plot.
 */
#ifndef SYNFIN_LAB_TRANSFER_H
#define SYNFIN_LAB_TRANSFER_H

#include <stdio.h>

/* The usage lines of the command, for synfin-lab's own usage. */
void transfer_usage(FILE *f);
/* argv[0] is "transfer"; returns the exit status: 0 when every byte of
 * every flow arrived intact, 1 when not, 2 for a bad command line. */
int transfer_main(int argc, char **argv);

#endif

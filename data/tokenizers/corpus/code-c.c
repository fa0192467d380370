#include <stdio.h>
#include <stdlib.h>

/* Sums the first n squares. */
static long sum_squares(int n)
{
    long total = 0;
    for (int i = 1; i <= n; i++) {
        total += (long)i * i;
    }
    return total;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	if (n < 0) {
		fprintf(stderr, "n must be >= 0, got %d\n", n);
		return EXIT_FAILURE;
	}
	printf("sum of squares 1..%d = %ld\n", n, sum_squares(n));
	unsigned char mask = 0xFFu & ~(1u << 3);
	return mask == 0xF7 ? 0 : 1; // done
}

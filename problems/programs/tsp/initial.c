/* Euclidean travelling salesman: read n points from stdin, print a tour (one index per line).
 *
 * Input: n, then n lines "x y" with coordinates in the unit square. Output: a permutation of
 * 0..n-1, the order in which the tour visits the points (it returns to the first one).
 * This first version builds a nearest-neighbour tour and improves it with short 2-opt moves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double dist(const double *x, const double *y, int a, int b) {
    return hypot(x[a] - x[b], y[a] - y[b]);
}

// EVOLVE-BLOCK-START
/* 2-opt only tries moves whose new edge is shorter than this (a neighbour radius). */
#define RADIUS 0.02

/* Nearest neighbour from point 0: always go to the closest point not yet visited. */
static void nearest_neighbour(int n, const double *x, const double *y, int *tour) {
    char *used = calloc(n, 1);
    tour[0] = 0;
    used[0] = 1;
    for (int i = 1; i < n; i++) {
        int last = tour[i - 1], best = -1;
        double best_d = INFINITY;
        for (int j = 0; j < n; j++) {
            if (!used[j] && dist(x, y, last, j) < best_d) {
                best_d = dist(x, y, last, j);
                best = j;
            }
        }
        tour[i] = best;
        used[best] = 1;
    }
    free(used);
}

/* 2-opt: reverse tour[i..j] while that shortens the tour, until no move helps. */
static void two_opt(int n, const double *x, const double *y, int *tour) {
    int improved = 1;
    while (improved) {
        improved = 0;
        for (int i = 1; i < n - 1; i++) {
            for (int j = i + 1; j < n; j++) {
                int a = tour[i - 1], b = tour[i], c = tour[j], d = tour[(j + 1) % n];
                if (dist(x, y, a, c) > RADIUS) continue;
                double delta = dist(x, y, a, c) + dist(x, y, b, d)
                             - dist(x, y, a, b) - dist(x, y, c, d);
                if (delta < -1e-12) {
                    for (int lo = i, hi = j; lo < hi; lo++, hi--) {
                        int t = tour[lo];
                        tour[lo] = tour[hi];
                        tour[hi] = t;
                    }
                    improved = 1;
                }
            }
        }
    }
}

/* Write a tour of the n points into tour[0..n-1] (a permutation of 0..n-1). */
static void solve(int n, const double *x, const double *y, int *tour) {
    nearest_neighbour(n, x, y, tour);
    two_opt(n, x, y, tour);
}
// EVOLVE-BLOCK-END

int main(void) {
    int n;
    if (scanf("%d", &n) != 1 || n <= 0) return 1;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int *tour = malloc(n * sizeof *tour);
    for (int i = 0; i < n; i++) {
        if (scanf("%lf %lf", &x[i], &y[i]) != 2) return 1;
    }
    solve(n, x, y, tour);
    for (int i = 0; i < n; i++) printf("%d\n", tour[i]);
    return 0;
}

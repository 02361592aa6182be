/* A C99 port of Adagrad in four conventions, checked against adagrad_ref's golden files.
 *
 * Input (stdin), one case at a time, every float as the hex of its bit pattern; the
 * update is elementwise, so all the leaves of a case come as one flat vector of n
 * elements (complex: n pairs, real then imaginary):
 *
 *   CASE <tcId> <convention> <dtype> <kind> <steps> <n>
 *   HYPER <eps> <initial_accumulator_value> <weight_decay> <maximize 0|1>
 *   PARAMS <n values>            (complex: 2n)
 *   SUMS <n values>              (the accumulator going in)
 *   QUAD <n values a> <n values w_star>       (closed loops only)
 *   STEP <lr> [<n gradient values>]          (closed loops give no gradient), once per step
 *   END
 *
 * Output, per step: "G", "U", "P" lines (and "D" with the gradient for closed loops),
 * each with the n values. Build with -std=c99 -ffp-contract=off for the exact results;
 * with contraction the compiler may fuse g*g + G into one FMA (one rounding, not two).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPTAX, PYTORCH, KERAS, TF2 } convention_t;

static int is32;       /* float32 (or complex64) */
static int iscomplex;  /* complex64 / complex128 */

static double read_value(void) {
    char buf[32];
    if (scanf("%31s", buf) != 1) { fprintf(stderr, "port: truncated input\n"); exit(2); }
    unsigned long long bits = strtoull(buf, NULL, 16);
    if (is32) { uint32_t b = (uint32_t)bits; float f; memcpy(&f, &b, 4); return (double)f; }
    double d; memcpy(&d, &bits, 8); return d;
}

static void print_value(double v) {
    if (is32) { float f = (float)v; uint32_t b; memcpy(&b, &f, 4); printf(" %08x", (unsigned)b); }
    else { uint64_t b; memcpy(&b, &v, 8); printf(" %016llx", (unsigned long long)b); }
}

static void print_vec(const char *tag, const double *v, int n) {
    printf("%s", tag);
    for (int i = 0; i < n; i++) print_value(v[i]);
    printf("\n");
}

/* Every operation below is written twice, in float and in double, so that each rounds once
 * in the case's dtype (a float expression evaluated in double would round differently). */

#define STEP_REAL(T, SQRT, FMA)                                                                     \
    static void step_real_##T(convention_t c, int n, double *P, double *G, double *U,        \
                              const double *Gr, double lr_, double eps_, double wd_, int mx) {  \
        T lr = (T)lr_, eps = (T)eps_, wd = (T)wd_;                                             \
        for (int i = 0; i < n; i++) {                                                          \
            T p = (T)P[i], g = (T)Gr[i], s = (T)G[i], u;                                       \
            switch (c) {                                                                       \
            case OPTAX: {                                                                      \
                T gg = g * g; s = gg + s;                                                      \
                T inv = (T)1 / SQRT(s + eps);                                                  \
                T sc = s > (T)0 ? inv : (T)0;                                                  \
                u = sc * g; u = (-lr) * u; break; }                                            \
            case PYTORCH: { /* torch's CPU kernels fuse these two: fma, one rounding */        \
                if (mx) g = -g;                                                                \
                if (wd != (T)0) g = FMA(wd, p, g);                                             \
                s = FMA(g, g, s);                                                              \
                T d = SQRT(s); d = d + eps;                                                    \
                u = (-lr) * g; u = u / d; break; }                                             \
            case KERAS: {                                                                      \
                T gg = g * g; s = s + gg;                                                      \
                T d = SQRT(s + eps);                                                           \
                u = lr * g; u = u / d; u = -u; break; }                                        \
            default: {                                                                         \
                T gg = g * g; s = s + gg;                                                      \
                T d = SQRT(s); d = d + eps;                                                    \
                u = g * lr; u = u / d; u = -u; break; }                                        \
            }                                                                                  \
            G[i] = s; U[i] = u; P[i] = p + u;                                                  \
        }                                                                                      \
    }
STEP_REAL(float, sqrtf, fmaf)
STEP_REAL(double, sqrt, fma)

/* optax on complex params, as the reference computes it (a, b: real and imaginary parts):
 *   |g|^2 = re(conj(g) * g) = fma(a, a, b*b), one rounding fewer, as XLA computes it;
 *   G = (|g|^2 + Gre) + i(0 + Gim)
 *   s = 1/sqrt(Gre + eps) - 0i where G > 0 (jax's complex rsqrt gives the imaginary part -0),
 *       s = 0 + 0i where guarded;
 *   u = s * g = (sr*a - si*b) + i(sr*b + si*a);  u = (-lr + 0i) * u (jax converts the real -lr to
 *       the complex dtype), by the same product rule. */
#define STEP_COMPLEX(T, SQRT, FMA)                                                                  \
    static void step_complex_##T(int n, double *P, double *G, double *U, const double *Gr,   \
                                 double lr_, double eps_) {                                    \
        T lr = (T)lr_, eps = (T)eps_;                                                          \
        for (int i = 0; i < n; i++) {                                                          \
            T a = (T)Gr[2 * i], b = (T)Gr[2 * i + 1];                                          \
            T sr = (T)G[2 * i], si = (T)G[2 * i + 1];                                          \
            T bb = b * b, abs2 = FMA(a, a, bb);                                                \
            sr = abs2 + sr; si = (T)0 + si;                                                    \
            int pos = sr > (T)0 || (sr == (T)0 && si > (T)0);                                  \
            T scr = (T)0, sci = (T)0;                                                          \
            if (pos) { T x = sr + eps; T r = SQRT(x); scr = (T)1 / r; sci = -(T)0; }           \
            T ur = scr * a - sci * b, ui = scr * b + sci * a;                                  \
            T mr = -lr, mi = (T)0;                                                             \
            T vr = mr * ur - mi * ui, vi = mr * ui + mi * ur;                                  \
            G[2 * i] = sr; G[2 * i + 1] = si; U[2 * i] = vr; U[2 * i + 1] = vi;                \
            P[2 * i] = (T)((T)P[2 * i] + vr); P[2 * i + 1] = (T)((T)P[2 * i + 1] + vi);        \
        }                                                                                      \
    }
STEP_COMPLEX(float, sqrtf, fmaf)
STEP_COMPLEX(double, sqrt, fma)

int main(void) {
    char word[32];
    while (scanf("%31s", word) == 1) {
        if (strcmp(word, "CASE") != 0) { fprintf(stderr, "port: expected CASE, got %s\n", word); return 2; }
        int tc, steps, n; char conv[32], dtype[16], kind[16];
        if (scanf("%d %31s %15s %15s %d %d", &tc, conv, dtype, kind, &steps, &n) != 6) return 2;
        is32 = strcmp(dtype, "float32") == 0 || strcmp(dtype, "complex64") == 0;
        iscomplex = strncmp(dtype, "complex", 7) == 0;
        convention_t c = !strcmp(conv, "optax") ? OPTAX : !strcmp(conv, "pytorch") ? PYTORCH
                       : !strcmp(conv, "keras") ? KERAS : TF2;
        int m = iscomplex ? 2 * n : n;
        double *P = calloc(m + 1, sizeof *P), *G = calloc(m + 1, sizeof *G), *U = calloc(m + 1, sizeof *U);
        double *g = calloc(m + 1, sizeof *g), *A = calloc(m + 1, sizeof *A), *W = calloc(m + 1, sizeof *W);
        int mx;
        if (scanf("%31s", word) != 1 || strcmp(word, "HYPER")) return 2;
        double eps = read_value(), iav = read_value(), wd = read_value();
        (void)iav;
        if (scanf("%d", &mx) != 1) return 2;
        if (scanf("%31s", word) != 1 || strcmp(word, "PARAMS")) return 2;
        for (int i = 0; i < m; i++) P[i] = read_value();
        if (scanf("%31s", word) != 1 || strcmp(word, "SUMS")) return 2;
        for (int i = 0; i < m; i++) G[i] = read_value();
        int closed = strcmp(kind, "closed_loop") == 0;
        if (closed) {
            if (scanf("%31s", word) != 1 || strcmp(word, "QUAD")) return 2;
            for (int i = 0; i < m; i++) A[i] = read_value();
            for (int i = 0; i < m; i++) W[i] = read_value();
        }
        printf("CASE %d\n", tc);
        for (int t = 0; t < steps; t++) {
            if (scanf("%31s", word) != 1 || strcmp(word, "STEP")) return 2;
            double lr = read_value();
            if (closed) {  /* d = w - w_star, then g = a * d, each rounded to the dtype */
                for (int i = 0; i < m; i++) {
                    if (is32) { float d = (float)P[i] - (float)W[i]; g[i] = (float)A[i] * d; }
                    else { double d = P[i] - W[i]; g[i] = A[i] * d; }
                }
                print_vec("D", g, m);
            } else {
                for (int i = 0; i < m; i++) g[i] = read_value();
            }
            if (iscomplex) {
                if (is32) step_complex_float(n, P, G, U, g, lr, eps); else step_complex_double(n, P, G, U, g, lr, eps);
            } else if (is32) {
                step_real_float(c, n, P, G, U, g, lr, eps, wd, mx);
            } else {
                step_real_double(c, n, P, G, U, g, lr, eps, wd, mx);
            }
            print_vec("G", G, m); print_vec("U", U, m); print_vec("P", P, m);
        }
        if (scanf("%31s", word) != 1 || strcmp(word, "END")) return 2;
        free(P); free(G); free(U); free(g); free(A); free(W);
    }
    return 0;
}

/* Tests of the sampler: greedy decoding, the generator, and that temperature,
 * top-k and top-p draw from the distributions they promise. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sampler.h"

#define MAX_N 64

typedef struct scratch {
    float prob[MAX_N];
    int32_t index[MAX_N];
} scratch;

static int32_t draw(aq_sampler *s, const float *logits, int32_t n, scratch *tmp) {
    assert_true(n <= MAX_N);
    return aq_sampler_sample(s, logits, n, tmp->prob, tmp->index);
}

static void test_defaults_and_uniform(void **state) {
    (void)state;
    aq_sampler s;
    aq_sampler_init(&s, 0);
    assert_true(s.temperature == 0.8f);
    assert_int_equal(s.top_k, 40);
    assert_true(s.top_p == 0.95f);
    /* Values lie in [0, 1) and average one half. */
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = aq_sampler_uniform(&s);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
    }
    /* Standard error of the mean: sqrt(1/12 / 1e5) ~ 0.0009; 5 of them. */
    assert_true(fabs(sum / 100000 - 0.5) < 0.0046);
}

static void test_seed_determinism(void **state) {
    (void)state;
    aq_sampler a, b, c;
    aq_sampler_init(&a, 42);
    aq_sampler_init(&b, 42);
    aq_sampler_init(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        double ua = aq_sampler_uniform(&a), ub = aq_sampler_uniform(&b), uc = aq_sampler_uniform(&c);
        assert_true(ua == ub);
        differ += ua != uc;
    }
    assert_true(differ > 90);

    /* Reseeding restarts the sequence; so do token draws. */
    const float logits[8] = {1.0f, 0.5f, 0.2f, 0.9f, -0.3f, 0.0f, 0.7f, 0.4f};
    scratch tmp;
    int32_t first[50];
    aq_sampler_init(&a, 7);
    a.top_k = 0;
    a.top_p = 1.0f;
    a.temperature = 1.5f;
    for (int i = 0; i < 50; i++) first[i] = draw(&a, logits, 8, &tmp);
    aq_sampler_seed(&a, 7);
    for (int i = 0; i < 50; i++) assert_int_equal(draw(&a, logits, 8, &tmp), first[i]);
    aq_sampler_seed(&a, 8);
    int same = 0;
    for (int i = 0; i < 50; i++) same += draw(&a, logits, 8, &tmp) == first[i];
    assert_true(same < 50);
}

static void test_greedy(void **state) {
    (void)state;
    aq_sampler s;
    aq_sampler_init(&s, 1);
    s.temperature = 0.0f;
    scratch tmp;
    const float logits[6] = {0.1f, 2.0f, -1.0f, 3.5f, 3.5f, 0.0f};
    for (int i = 0; i < 10; i++) assert_int_equal(draw(&s, logits, 6, &tmp), 3); /* lowest index of the tie */
    const float with_nan[4] = {NAN, 1.0f, NAN, -2.0f};
    assert_int_equal(draw(&s, with_nan, 4, &tmp), 1);
    const float all_nan[3] = {NAN, NAN, NAN};
    assert_int_equal(draw(&s, all_nan, 3, &tmp), -1);
    const float neg_inf[3] = {-INFINITY, -INFINITY, -5.0f};
    assert_int_equal(draw(&s, neg_inf, 3, &tmp), 2);
    assert_int_equal(draw(&s, logits, 0, &tmp), -1);
    assert_int_equal(aq_sampler_sample(&s, NULL, 6, tmp.prob, tmp.index), -1);
    assert_int_equal(aq_sampler_sample(&s, logits, 6, NULL, tmp.index), -1);
}

static void test_top_k_one_is_greedy(void **state) {
    (void)state;
    aq_sampler s;
    aq_sampler_init(&s, 5);
    scratch tmp;
    float logits[40];
    for (int i = 0; i < 40; i++) logits[i] = (float)((i * 7919) % 41) * 0.1f;
    logits[17] = logits[23] = 10.0f; /* a tie: 17 wins */
    const float temperatures[] = {0.01f, 0.5f, 1.0f, 2.0f, 100.0f};
    s.top_k = 1;
    for (size_t t = 0; t < sizeof temperatures / sizeof temperatures[0]; t++) {
        s.temperature = temperatures[t];
        for (int i = 0; i < 200; i++) assert_int_equal(draw(&s, logits, 40, &tmp), 17);
    }
    /* A tiny top-p keeps only the most probable token too. */
    s.top_k = 0;
    s.top_p = 1e-6f;
    s.temperature = 5.0f;
    for (int i = 0; i < 200; i++) assert_int_equal(draw(&s, logits, 40, &tmp), 17);
    s.top_p = 0.0f;
    assert_int_equal(draw(&s, logits, 40, &tmp), 17);
}

/* Pearson's chi-square of draws against expected probabilities. */
static double chi_square(const int *counts, const double *expected_p, int n, int draws) {
    double chi2 = 0;
    for (int i = 0; i < n; i++) {
        double e = expected_p[i] * draws;
        if (e == 0) {
            assert_int_equal(counts[i], 0);
            continue;
        }
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi2;
}

static void softmax(const float *logits, int n, double t, double *p) {
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) max = fmax(max, logits[i]);
    for (int i = 0; i < n; i++) sum += p[i] = exp((logits[i] - max) / t);
    for (int i = 0; i < n; i++) p[i] /= sum;
}

/* 20000 draws; with 5 categories (4 degrees of freedom) the chi-square
 * statistic exceeds 18.47 with probability 0.001. The seeds are fixed, so
 * the test is deterministic; the bound only says the match is no fluke. */
static void test_temperature_matches_softmax(void **state) {
    (void)state;
    const float logits[5] = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f};
    const double temperatures[] = {0.5, 1.0, 2.0};
    for (size_t t = 0; t < 3; t++) {
        aq_sampler s;
        aq_sampler_init(&s, 1000 + t);
        s.temperature = (float)temperatures[t];
        s.top_k = 0;
        s.top_p = 1.0f;
        scratch tmp;
        int counts[5] = {0};
        for (int i = 0; i < 20000; i++) {
            int32_t tok = draw(&s, logits, 5, &tmp);
            assert_true(tok >= 0 && tok < 5);
            counts[tok]++;
        }
        double p[5];
        softmax(logits, 5, temperatures[t], p);
        double chi2 = chi_square(counts, p, 5, 20000);
        if (chi2 > 18.47) {
            print_error("T=%g: chi-square %g > 18.47\n", temperatures[t], chi2);
            fail();
        }
    }
}

/* Top-k keeps the k most probable tokens, renormalised. */
static void test_top_k(void **state) {
    (void)state;
    const float logits[8] = {0.3f, 1.2f, -0.5f, 1.0f, 0.8f, 2.0f, -2.0f, 0.1f};
    aq_sampler s;
    aq_sampler_init(&s, 99);
    s.temperature = 1.0f;
    s.top_k = 3; /* tokens 5, 1, 3 */
    s.top_p = 1.0f;
    scratch tmp;
    int counts[8] = {0};
    for (int i = 0; i < 20000; i++) counts[draw(&s, logits, 8, &tmp)]++;
    const float kept[3] = {logits[5], logits[1], logits[3]};
    double p3[3], p[8] = {0};
    softmax(kept, 3, 1.0, p3);
    p[5] = p3[0];
    p[1] = p3[1];
    p[3] = p3[2];
    /* Excluded tokens never appear (chi_square asserts it); 2 degrees of
     * freedom: 13.82 at probability 0.001. */
    assert_true(chi_square(counts, p, 8, 20000) < 13.82);

    /* top_k larger than the vocabulary is no limit. */
    s.top_k = 1000;
    int seen[8] = {0};
    for (int i = 0; i < 20000; i++) seen[draw(&s, logits, 8, &tmp)] = 1;
    for (int i = 0; i < 8; i++) assert_true(seen[i]);
}

/* Top-p keeps the smallest most-probable prefix with mass >= p. */
static void test_top_p(void **state) {
    (void)state;
    /* Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (ordered 2, 0, 4, 1, 3). */
    const float logits[5] = {logf(0.25f), logf(0.0625f), logf(0.5f), logf(0.0625f), logf(0.125f)};
    aq_sampler s;
    aq_sampler_init(&s, 3);
    s.temperature = 1.0f;
    s.top_k = 0;
    scratch tmp;

    /* p = 0.7: 0.5 < 0.7 <= 0.75, so tokens 2 and 0, in ratio 2:1. */
    s.top_p = 0.7f;
    int counts[5] = {0};
    for (int i = 0; i < 20000; i++) counts[draw(&s, logits, 5, &tmp)]++;
    const double p[5] = {1.0 / 3, 0, 2.0 / 3, 0, 0};
    assert_true(chi_square(counts, p, 5, 20000) < 10.83); /* 1 degree of freedom, 0.001 */

    /* p = 0.8: adds token 4 (0.875 >= 0.8), never 1 or 3. */
    s.top_p = 0.8f;
    int seen[5] = {0};
    for (int i = 0; i < 5000; i++) seen[draw(&s, logits, 5, &tmp)]++;
    assert_true(seen[2] > 0 && seen[0] > 0 && seen[4] > 0);
    assert_int_equal(seen[1] + seen[3], 0);

    /* Top-p applies to what top-k kept, renormalised: of 2, 0 (mass 2/3 and
     * 1/3), p = 0.6 keeps token 2 alone. */
    s.top_k = 2;
    s.top_p = 0.6f;
    for (int i = 0; i < 1000; i++) assert_int_equal(draw(&s, logits, 5, &tmp), 2);
}

static void test_nan_and_infinite_logits(void **state) {
    (void)state;
    aq_sampler s;
    aq_sampler_init(&s, 11);
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    scratch tmp;
    const float logits[6] = {NAN, 0.0f, -INFINITY, 0.0f, NAN, -INFINITY};
    int counts[6] = {0};
    for (int i = 0; i < 10000; i++) counts[draw(&s, logits, 6, &tmp)]++;
    assert_int_equal(counts[0] + counts[2] + counts[4] + counts[5], 0);
    assert_true(counts[1] > 4500 && counts[3] > 4500); /* fair coin: sd 50 */

    /* With top-k and top-p on, the same holds. */
    s.top_k = 4;
    s.top_p = 0.9f;
    for (int i = 0; i < 1000; i++) {
        int32_t tok = draw(&s, logits, 6, &tmp);
        assert_true(tok == 1 || tok == 3);
    }

    /* +inf takes all the mass. */
    const float inf_logits[4] = {3.0f, INFINITY, 1e30f, INFINITY};
    s.top_k = 0;
    s.top_p = 1.0f;
    for (int i = 0; i < 1000; i++) {
        int32_t tok = draw(&s, inf_logits, 4, &tmp);
        assert_true(tok == 1 || tok == 3);
    }

    /* Nothing has probability: greedy's answer; all NaN: -1. */
    const float none[3] = {-INFINITY, NAN, -INFINITY};
    assert_int_equal(draw(&s, none, 3, &tmp), 0);
    const float all_nan[2] = {NAN, NAN};
    assert_int_equal(draw(&s, all_nan, 2, &tmp), -1);

    /* A very low temperature is nearly greedy, without overflow or NaN. */
    s.temperature = 1e-30f;
    const float close[3] = {1.0f, 1.0001f, 0.9999f};
    for (int i = 0; i < 100; i++) assert_int_equal(draw(&s, close, 3, &tmp), 1);
}

/* A 32000-token vocabulary with the defaults: only the top 40 can appear. */
static void test_large_vocabulary(void **state) {
    (void)state;
    enum { N = 32000 };
    float *logits = malloc(N * sizeof *logits);
    float *prob = malloc(N * sizeof *prob);
    int32_t *index = malloc(N * sizeof *index);
    assert_true(logits && prob && index);
    aq_sampler s;
    aq_sampler_init(&s, 2024);
    for (int i = 0; i < N; i++) logits[i] = (float)(aq_sampler_uniform(&s) * 10.0);
    /* The 40th largest logit bounds what may be drawn. */
    float *sorted = malloc(N * sizeof *sorted);
    assert_non_null(sorted);
    memcpy(sorted, logits, N * sizeof *sorted);
    for (int k = 0; k < 40; k++) { /* partial selection sort: the 40 largest first */
        int best = k;
        for (int i = k + 1; i < N; i++)
            if (sorted[i] > sorted[best]) best = i;
        float t = sorted[k];
        sorted[k] = sorted[best];
        sorted[best] = t;
    }
    float threshold = sorted[39];
    for (int i = 0; i < 2000; i++) {
        int32_t tok = aq_sampler_sample(&s, logits, N, prob, index);
        assert_true(tok >= 0 && tok < N);
        assert_true(logits[tok] >= threshold);
    }
    free(sorted);
    free(logits);
    free(prob);
    free(index);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_uniform),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_top_k_one_is_greedy),
        cmocka_unit_test(test_temperature_matches_softmax),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_nan_and_infinite_logits),
        cmocka_unit_test(test_large_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* gen.c - the cases of the x86emu check (README.md): every kernel of the x86-64
 * lists that needs a feature beyond AVX2 (AVX-VNNI, AVX-512 VNNI), on the shapes
 * and data of the list-driven tests, as a memory image for driver.c, with each
 * call's reference output.
 *
 * It runs test_kernels.h's own test functions on a stand-in of each such entry:
 * the same tile sizes, packer and type, but its function a recorder that notes the
 * call as a job, computes the output with the family's reference and keeps it as
 * the expected bytes. The tests' buffers are allocated in the image (calloc and
 * free are redirected below), and the image is mapped at its guest address, so
 * the jobs' pointers hold in the guest. Afterwards every output buffer gets back
 * the bytes the test gave it before the call (sentinel NaNs), so the guest's
 * kernel starts from what the native test's kernel would see.
 *
 * Usage: x86emu_gen DIR. Writes DIR/image.bin (the image), DIR/expect.bin (per
 * job: u64 output address, u64 bytes, u64 kernel number, then the expected bytes)
 * and DIR/kernels.tsv (kernel number, name, feature). AQ_X86EMU_FLIP=1 flips one
 * bit of each kernel's first expected output: the run must then fail once per
 * kernel (the check of the check). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "emu.h"
#include "f16.h"
#include "kernels.h"
#include "prng.h"
#include "quant.h"

/* Allocations of the image: 64-byte aligned, never freed (so no two calls share a
 * buffer). The arena's state is the image header. */
static struct emu_image *image(void) { return (struct emu_image *)(uintptr_t)EMU_BASE; }

static void *emu_calloc(size_t count, size_t size) {
    struct emu_image *img = image();
    const uint64_t at = (img->used + 63) & ~(uint64_t)63, bytes = (uint64_t)count * size;
    if (at + bytes > EMU_CAP) {
        fprintf(stderr, "x86emu_gen: the image needs more than %u bytes\n", EMU_CAP);
        return NULL;
    }
    img->used = at + bytes;
    return memset((void *)(uintptr_t)(EMU_BASE + at), 0, bytes);
}

static bool in_image(const void *p, size_t bytes) {
    const uintptr_t a = (uintptr_t)p;
    return a >= EMU_BASE && a + bytes <= EMU_BASE + image()->used;
}

static void emu_free(void *p) {
    if (!in_image(p, 0)) (free)(p);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define calloc(count, size) emu_calloc(count, size)
#define free(p) emu_free(p)
#include "test_kernels.h"
#undef calloc
#undef free
#pragma GCC diagnostic pop

/* One job as gen keeps it: where its output is, the bytes there before the call
 * and the expected bytes after it. */
struct job_rec {
    struct emu_job job;
    uint8_t *out, *before, *expected;
    size_t bytes, kernel;
};

struct gen {
    struct job_rec *jobs;
    size_t n_jobs, cap;
    /* The entry being recorded: its family, list index, feature, kernel number. */
    uint64_t family, index, isa;
    size_t kernel;
    const aq_block_gemm_kernel *block_ref;
    const aq_block_gemm_x8_kernel *block_x8_ref;
    const aq_act_quantize_kernel *actq_ref;
};

static struct gen *gen(void) { return (struct gen *)(uintptr_t)image()->host; }

static void die(const char *what) {
    fprintf(stderr, "x86emu_gen: %s\n", what);
    abort();
}

/* Notes a call whose output is `bytes` at out; the caller then runs the
 * reference into out and calls keep_expected. */
static struct job_rec *add_job(const uint64_t *args, size_t n_args, void *out, size_t bytes) {
    struct gen *g = gen();
    if (!in_image(out, bytes)) die("an output outside the image: a test allocates other than by calloc");
    if (g->n_jobs == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->jobs = realloc(g->jobs, g->cap * sizeof *g->jobs);
        if (!g->jobs) die("out of memory");
    }
    struct job_rec *j = &g->jobs[g->n_jobs++];
    memset(j, 0, sizeof *j);
    j->job.family = g->family;
    j->job.index = g->index;
    j->job.isa = g->isa;
    memcpy(j->job.args, args, n_args * sizeof *args);
    j->out = out;
    j->bytes = bytes;
    j->kernel = g->kernel;
    j->before = malloc(bytes ? bytes : 1);
    if (!j->before) die("out of memory");
    memcpy(j->before, out, bytes);
    return j;
}

static void keep_expected(struct job_rec *j) {
    j->expected = malloc(j->bytes ? j->bytes : 1);
    if (!j->expected) die("out of memory");
    memcpy(j->expected, j->out, j->bytes);
}

/* A pointer argument: it must be in the image, or the guest cannot read it. */
static uint64_t arg_ptr(const void *p, size_t bytes) {
    if (!in_image(p, bytes)) die("an operand outside the image: a test allocates other than by calloc");
    return (uint64_t)(uintptr_t)p;
}

/* A struct the test keeps on its stack: copied into the image (its pointers
 * already point there). */
static const void *struct_in_image(const void *s, size_t bytes) {
    void *copy = emu_calloc(1, bytes);
    if (!copy) die("image full");
    return memcpy(copy, s, bytes);
}

/* A qd8 x qc4w or qc3w call as a job; the expected bytes are the family's reference's. */
static void gemm_record(const aq_qc4w_gemm_kernel *ref, size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                        const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
    const struct aq_qd8 *ga = struct_in_image(a, sizeof *a);
    const struct aq_q4w *gw = struct_in_image(w, sizeof *w);
    const uint64_t args[] = {m,
                             n_begin,
                             n_end,
                             arg_ptr(ga, sizeof *ga),
                             arg_ptr(gw, sizeof *gw),
                             packed ? arg_ptr(packed, 0) : 0, /* NULL: a kernel that reads the plain aq_q4w */
                             (uint64_t)(uintptr_t)out,
                             out_stride};
    struct job_rec *j = add_job(args, COUNT(args), out, m * out_stride * sizeof(float));
    ref->gemm(m, n_begin, n_end, a, w, NULL, out, out_stride);
    keep_expected(j);
}

static void qc4w_record(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                        const void *packed, float *out, size_t out_stride) {
    gemm_record(&aq_qd8_qc4w_gemm_list[aq_qd8_qc4w_gemm_list_size - 1], m, n_begin, n_end, a, w, packed, out,
                out_stride);
}

static void qc3w_record(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                        const void *packed, float *out, size_t out_stride) {
    gemm_record(&aq_qd8_qc3w_gemm_list[aq_qd8_qc3w_gemm_list_size - 1], m, n_begin, n_end, a, w, packed, out,
                out_stride);
}

static void block_gemm_record(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row,
                              const void *a, size_t a_row, float *out, size_t out_stride) {
    const aq_block_gemm_kernel *ref = gen()->block_ref;
    const uint64_t args[] = {
        m, n_begin, n_end, k, arg_ptr(w, 0), w_row, arg_ptr(a, 0), a_row, (uint64_t)(uintptr_t)out, out_stride};
    struct job_rec *j = add_job(args, COUNT(args), out, m * out_stride * sizeof(float));
    ref->fn(m, n_begin, n_end, k, w, w_row, a, a_row, out, out_stride);
    keep_expected(j);
}

/* The same for a block GEMM on repacked rows: w is the packed buffer the test made with the entry's packer. */
static void block_gemm_x8_record(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row,
                                 const void *a, size_t a_row, float *out, size_t out_stride) {
    const aq_block_gemm_x8_kernel *ref = gen()->block_x8_ref;
    const uint64_t args[] = {
        m, n_begin, n_end, k, arg_ptr(w, 0), w_row, arg_ptr(a, 0), a_row, (uint64_t)(uintptr_t)out, out_stride};
    struct job_rec *j = add_job(args, COUNT(args), out, m * out_stride * sizeof(float));
    ref->fn(m, n_begin, n_end, k, w, w_row, a, a_row, out, out_stride);
    keep_expected(j);
}

static void act_quantize_record(const float *x, size_t n, void *blocks) {
    const aq_act_quantize_kernel *ref = gen()->actq_ref;
    const uint64_t args[] = {arg_ptr(x, n * sizeof *x), n, (uint64_t)(uintptr_t)blocks};
    struct job_rec *j = add_job(args, COUNT(args), blocks, aq_act_row_bytes(ref->type, n));
    ref->fn(x, n, blocks);
    keep_expected(j);
}

/* What an attention call reads and writes, in one block of the image: the tile (its
 * running maximum and sum), key 0's scores, then the accumulators the tile points to. */
struct attention_block {
    aq_attn_tile tile;
    float first[AQ_ATTN_QUERIES];
    float acc[];
};

/* Rows the test reuses from call to call, copied: a job must keep the call's own. */
static const float *const *rows_in_image(const float *const *rows, size_t n, size_t hd) {
    const float **copy = emu_calloc(n, sizeof *copy);
    float *data = emu_calloc(n * hd, sizeof *data);
    if (!copy || !data) die("image full");
    for (size_t j = 0; j < n; j++) copy[j] = memcpy(data + j * hd, rows[j], hd * sizeof *data);
    return copy;
}

/* An attention step as a job: the tile's state before the call in a block of its own,
 * the expected bytes the reference's; then the test's tile gets the reference's
 * state, as a kernel would have left it. */
static void attention_record(aq_attn_tile *t, size_t n, const float *const *keys, const float *const *values,
                             const float *bias, float *first_score) {
    const size_t hd = t->head_dim, acc_floats = hd * AQ_ATTN_QUERIES;
    const size_t bytes = sizeof(struct attention_block) + acc_floats * sizeof(float);
    struct attention_block *b = emu_calloc(1, bytes);
    if (!b) die("image full");
    b->tile = *t;
    b->tile.acc = b->acc;
    memcpy(b->acc, t->acc, acc_floats * sizeof(float));
    if (first_score) memcpy(b->first, first_score, sizeof b->first);
    const float *const *gkeys = rows_in_image(keys, n, hd), *const *gvalues = rows_in_image(values, n, hd);
    const float *gbias = struct_in_image(bias, n * AQ_ATTN_QUERIES * sizeof *bias);
    float *gfirst = first_score ? b->first : NULL;
    const uint64_t args[] = {(uint64_t)(uintptr_t)b,
                             n,
                             arg_ptr(gkeys, n * sizeof *gkeys),
                             arg_ptr(gvalues, n * sizeof *gvalues),
                             arg_ptr(gbias, n * AQ_ATTN_QUERIES * sizeof *gbias),
                             (uint64_t)(uintptr_t)gfirst};
    arg_ptr(t->qt, acc_floats * sizeof *t->qt); /* the queries go by the tile's own pointer: checked only */
    struct job_rec *j = add_job(args, COUNT(args), b, bytes);
    aq_f32_attention_ref(&b->tile, n, gkeys, gvalues, gbias, gfirst);
    keep_expected(j);
    memcpy(t->max_score, b->tile.max_score, sizeof t->max_score);
    memcpy(t->denom, b->tile.denom, sizeof t->denom);
    memcpy(t->acc, b->acc, acc_floats * sizeof(float));
    if (first_score) memcpy(first_score, b->first, sizeof b->first);
}

/* Features the emulated CPUs have (run.py picks a Bochs model per feature). AVX2
 * and the reference run natively in test_kernels_x86. */
static bool emulated(aq_cpu_feature f) { return f == AQ_CPU_AVXVNNI || f == AQ_CPU_AVX512VNNI; }
static bool native(aq_cpu_feature f) { return f == AQ_CPU_NONE || f == AQ_CPU_AVX2; }

/* A family gen does not cover must have no entry beyond AVX2. */
static void check_uncovered(const char *name, aq_cpu_feature isa) {
    if (!native(isa)) {
        fprintf(stderr, "x86emu_gen: %s needs %s and its family is not covered: add it to gen.c and driver.c\n", name,
                aq_cpu_feature_name(isa));
        exit(1);
    }
}

/* Starts recording the entry: returns false for an entry that runs natively. */
static bool begin(FILE *tsv, uint64_t family, size_t index, const char *name, aq_cpu_feature isa) {
    struct gen *g = gen();
    if (native(isa)) return false;
    if (!emulated(isa)) {
        fprintf(stderr, "x86emu_gen: %s needs %s, which no emulated CPU model has (run.py)\n", name,
                aq_cpu_feature_name(isa));
        exit(1);
    }
    g->family = family;
    g->index = index;
    g->isa = (uint64_t)isa;
    g->kernel++;
    fprintf(tsv, "%zu\t%s\t%s\t%u\n", g->kernel, name, aq_cpu_feature_name(isa), (unsigned)isa);
    return true;
}

static void record_all(FILE *tsv) {
    struct gen *g = gen();
    for (size_t i = 0; i + 1 < aq_qd8_qc4w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc4w_gemm_list[i];
        if (!begin(tsv, EMU_QD8_QC4W_GEMM, i, e->name, e->isa)) continue;
        aq_qc4w_gemm_kernel stand_in = *e;
        stand_in.gemm = qc4w_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_qc4w_shapes(&state);
        test_qc4w_long_k(&state);
        test_qc4w_extremes(&state);
        test_qc4w_act_groups(&state);
    }
    for (size_t i = 0; i + 1 < aq_qd8_qc3w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc3w_gemm_list[i];
        if (!begin(tsv, EMU_QD8_QC3W_GEMM, i, e->name, e->isa)) continue;
        aq_qc4w_gemm_kernel stand_in = *e;
        stand_in.gemm = qc3w_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_qc3w_shapes(&state);
        test_qc3w_long_k(&state);
        test_qc3w_extremes(&state);
        test_qc3w_act_groups(&state);
    }
    for (size_t i = 0; i < aq_block_gemm_list_size; i++) {
        const aq_block_gemm_kernel *e = &aq_block_gemm_list[i];
        if (!begin(tsv, EMU_BLOCK_GEMM, i, e->name, e->isa)) continue;
        g->block_ref = NULL;
        for (size_t r = 0; r < aq_block_gemm_list_size; r++)
            if (aq_block_gemm_list[r].type == e->type && aq_block_gemm_list[r].isa == AQ_CPU_NONE)
                g->block_ref = &aq_block_gemm_list[r];
        if (!g->block_ref) die("a block GEMM type without its reference");
        aq_block_gemm_kernel stand_in = *e;
        stand_in.fn = block_gemm_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_block_gemm(&state);
    }
    for (size_t i = 0; i < aq_block_gemm_x8_list_size; i++) {
        const aq_block_gemm_x8_kernel *e = &aq_block_gemm_x8_list[i];
        if (!begin(tsv, EMU_BLOCK_GEMM_X8, i, e->name, e->isa)) continue;
        g->block_x8_ref = NULL;
        for (size_t r = 0; r < aq_block_gemm_x8_list_size; r++)
            if (aq_block_gemm_x8_list[r].type == e->type && aq_block_gemm_x8_list[r].isa == AQ_CPU_NONE)
                g->block_x8_ref = &aq_block_gemm_x8_list[r];
        if (!g->block_x8_ref) die("a repacked block GEMM type without its reference");
        aq_block_gemm_x8_kernel stand_in = *e;
        stand_in.fn = block_gemm_x8_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_block_gemm_x8(&state);
    }
    for (size_t i = 0; i < aq_act_quantize_list_size; i++) {
        const aq_act_quantize_kernel *e = &aq_act_quantize_list[i];
        if (!begin(tsv, EMU_ACT_QUANTIZE, i, e->name, e->isa)) continue;
        g->actq_ref = NULL;
        for (size_t r = 0; r < aq_act_quantize_list_size; r++)
            if (aq_act_quantize_list[r].type == e->type && aq_act_quantize_list[r].isa == AQ_CPU_NONE)
                g->actq_ref = &aq_act_quantize_list[r];
        if (!g->actq_ref) die("an activation type without its reference");
        aq_act_quantize_kernel stand_in = *e;
        stand_in.fn = act_quantize_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_act_quantize(&state);
    }
    for (size_t i = 0; i < aq_f32_attention_list_size; i++) {
        const aq_f32_attention_kernel *e = &aq_f32_attention_list[i];
        if (!begin(tsv, EMU_F32_ATTENTION, i, e->name, e->isa)) continue;
        aq_f32_attention_kernel stand_in = *e;
        stand_in.fn = attention_record;
        stand_in.isa = AQ_CPU_NONE;
        void *state = &stand_in;
        test_f32_attention(&state);
    }
    for (size_t i = 0; i < aq_qd8_quantize_list_size; i++)
        check_uncovered(aq_qd8_quantize_list[i].name, aq_qd8_quantize_list[i].isa);
    for (size_t i = 0; i < aq_qd8_quantize_grouped_list_size; i++)
        check_uncovered(aq_qd8_quantize_grouped_list[i].name, aq_qd8_quantize_grouped_list[i].isa);
    for (size_t i = 0; i < aq_qd8_quantize_grouped_asym_list_size; i++)
        check_uncovered(aq_qd8_quantize_grouped_asym_list[i].name, aq_qd8_quantize_grouped_asym_list[i].isa);
    for (size_t i = 0; i < aq_f32_gemm_list_size; i++)
        check_uncovered(aq_f32_gemm_list[i].name, aq_f32_gemm_list[i].isa);
    for (size_t i = 0; i < aq_f32_qc4w_gemm_list_size; i++)
        check_uncovered(aq_f32_qc4w_gemm_list[i].name, aq_f32_qc4w_gemm_list[i].isa);
    for (size_t i = 0; i < aq_q4_0_q8_0_dot_list_size; i++)
        check_uncovered(aq_q4_0_q8_0_dot_list[i].name, aq_q4_0_q8_0_dot_list[i].isa);
    for (size_t i = 0; i < aq_q8_0_q8_0_dot_list_size; i++)
        check_uncovered(aq_q8_0_q8_0_dot_list[i].name, aq_q8_0_q8_0_dot_list[i].isa);
}

static FILE *open_in(const char *dir, const char *name, const char *mode) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "x86emu_gen: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return f;
}

/* Flips bit 0 of an output the kernel writes: a GEMM's token 0, row n_begin (args[1]
 * in both GEMM families); a quantizer's byte 2 (in the first block); an attention
 * step's running maximum of query 0. */
static void flip(struct job_rec *j) {
    const uint64_t family = j->job.family;
    j->expected[family == EMU_ACT_QUANTIZE    ? 2
                : family == EMU_F32_ATTENTION ? offsetof(struct attention_block, tile.max_score)
                                              : 4 * j->job.args[1]] ^= 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: x86emu_gen DIR\n");
        return 2;
    }
    void *base = mmap((void *)(uintptr_t)EMU_BASE, EMU_CAP, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (base != (void *)(uintptr_t)EMU_BASE) {
        fprintf(stderr, "x86emu_gen: cannot map the image at %#x: %s\n", EMU_BASE, strerror(errno));
        return 1;
    }
    struct gen g = {0};
    struct emu_image *img = image();
    img->magic = EMU_MAGIC;
    img->used = sizeof *img;
    img->host = (uint64_t)(uintptr_t)&g;
    FILE *tsv = open_in(argv[1], "kernels.tsv", "w");
    record_all(tsv);
    fclose(tsv);

    struct emu_job *jobs = emu_calloc(g.n_jobs ? g.n_jobs : 1, sizeof *jobs);
    if (!jobs) die("image full");
    const char *flip_env = getenv("AQ_X86EMU_FLIP");
    const bool do_flip = flip_env && strcmp(flip_env, "1") == 0;
    FILE *ex = open_in(argv[1], "expect.bin", "wb");
    size_t flipped_kernel = 0;
    for (size_t i = 0; i < g.n_jobs; i++) {
        struct job_rec *j = &g.jobs[i];
        jobs[i] = j->job;
        memcpy(j->out, j->before, j->bytes);
        if (do_flip && j->kernel != flipped_kernel) flip(j), flipped_kernel = j->kernel;
        const uint64_t h[3] = {(uint64_t)(uintptr_t)j->out, j->bytes, j->kernel};
        if (fwrite(h, sizeof h, 1, ex) != 1 || fwrite(j->expected, 1, j->bytes, ex) != j->bytes) die("write failed");
        (free)(j->before);
        (free)(j->expected);
    }
    if (fclose(ex) != 0) die("write failed");
    img->n_jobs = g.n_jobs;
    img->jobs = (uint64_t)(uintptr_t)jobs;
    img->host = 0;
    FILE *im = open_in(argv[1], "image.bin", "wb");
    if (fwrite(img, 1, img->used, im) != img->used || fclose(im) != 0) die("write failed");
    printf("x86emu_gen: %zu kernels, %zu jobs, image %.1f MB%s\n", g.kernel, g.n_jobs, (double)img->used / 1e6,
           do_flip ? ", one expected bit flipped per kernel" : "");
    (free)(g.jobs);
    return 0;
}

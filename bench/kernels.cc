// aq-bench-kernels: Google Benchmark microbenchmarks of every listed kernel.
//
// The benchmarks walk the kernel lists of lib/kernels/kernels.h (the same lists
// the dispatcher and the tests read: kernels_x86/*.inc or kernels_neon/*.inc,
// then the reference), so every kernel of every family is timed by its name,
// whether or not dispatch would pick it on this CPU; one whose CPU feature is
// missing here is listed on stderr and not registered. Names are
// <family>/<kernel>/<model>_<layer>/<rows>x<k>/m:<tokens>, the family as the
// kernel table names it (qc4w, f32, w4a16, q4_0, q8_0) or, for the block GEMMs
// of llama.cpp's formats, the weight type (q4_0, q4_K, ...), e.g.
// qc4w/aq_qd8_qc4w_gemm_4x8c4__avx2/llama7b_qkvo/4096x4096/m:1 or
// q4_K/aq_q4_k_q8_k_gemm_4x2__avx2/tinyllama_qo/2048x2048/m:64 (the repacked
// ones beside them: q4_0/aq_q4_0x8_q8_0_gemm_4x8__avx2/...); the activation
// quantizers as actq/<kernel>/k:<k>/m:<tokens>; on x86-64 with AVX2, the
// multiply instructions' own rates as peak/vfmadd231ps and peak/vpmaddubsw.
//
// Shapes are the linear layers of LLaMA-7B and TinyLlama-1.1B (rows x k, as
// out = W x with W rows x k; TinyLlama's output head too, the biggest matrix,
// Q6_K in llama.cpp's default Q4_0 / Q4_K_M / Q5_K_M files), with m = 1 token
// (decode: a matrix-vector product, bandwidth-bound), m = 4 (one prefill tile
// of the 4-token kernels) and m = 64 tokens (prefill: compute-bound).
// Counters: GOPS = 2 m rows k / time (multiply and add counted separately)
// and GB/s = weight bytes the kernel reads / time. One thread: the forward
// pass splits rows across threads, so per-thread speed is what matters here.
//
// Defaults keep a full run short (--benchmark_min_time=0.05); pass your own
// --benchmark_min_time or --benchmark_filter (e.g. 'qc4w/.*tinyllama') to change it.
#include <benchmark/benchmark.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

// The C headers use C11's _Static_assert, which C++ spells static_assert.
#define _Static_assert static_assert
extern "C" {
#include "f16.h"
#include "kernels.h"
}
#undef _Static_assert

namespace {

struct Shape {
    const char *model;
    const char *layer;
    size_t rows, k;
};

const Shape kShapes[] = {
    {"llama7b", "qkvo", 4096, 4096},   {"llama7b", "gate_up", 11008, 4096},  {"llama7b", "down", 4096, 11008},
    {"tinyllama", "qo", 2048, 2048},   {"tinyllama", "kv", 256, 2048},       {"tinyllama", "gate_up", 5632, 2048},
    {"tinyllama", "down", 2048, 5632}, {"tinyllama", "output", 32000, 2048},
};
const size_t kTokens[] = {1, 4, 64};

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float &x : v) x = dist(gen);
    return v;
}

// INT4 weights of one shape (group 32, symmetric as the w4a8 scheme makes them,
// or with zero points as `asym` does), quantized once and shared by every kernel.
struct Q4Weights {
    std::vector<uint8_t> q;
    std::vector<uint16_t> scale;
    std::vector<uint8_t> zero;
    aq_q4w w{};
};

const Q4Weights &GetQ4(const Shape &s, bool asym = false) {
    static std::map<std::tuple<size_t, size_t, bool>, std::unique_ptr<Q4Weights>> cache;
    auto &slot = cache[{s.rows, s.k, asym}];
    if (!slot) {
        slot = std::make_unique<Q4Weights>();
        size_t qb, sb, zb;
        aq_q4w_sizes(s.rows, s.k, 32, asym, &qb, &sb, &zb);
        slot->q.resize(qb);
        slot->scale.resize(sb);
        slot->zero.resize(zb);
        slot->w.q = slot->q.data();
        slot->w.scale = slot->scale.data();
        slot->w.zero = asym ? slot->zero.data() : nullptr;
        std::vector<float> f = RandomFloats(s.rows * s.k, 1);
        aq_q4w_quantize_rtn_ref(f.data(), s.rows, s.k, 32, asym, &slot->w);
    }
    return *slot;
}

// 3-bit weights of one shape (the w3a8 scheme's grid, group 32), quantized once.
const Q4Weights &GetQ3(const Shape &s) {
    static std::map<std::pair<size_t, size_t>, std::unique_ptr<Q4Weights>> cache;
    auto &slot = cache[{s.rows, s.k}];
    if (!slot) {
        slot = std::make_unique<Q4Weights>();
        size_t qb, sb, zb;
        aq_q4w_sizes(s.rows, s.k, 32, false, &qb, &sb, &zb);
        slot->q.resize(qb);
        slot->scale.resize(sb);
        slot->w.q = slot->q.data();
        slot->w.scale = slot->scale.data();
        slot->w.zero = nullptr;
        std::vector<float> f = RandomFloats(s.rows * s.k, 1);
        aq_q3w_quantize_rtn_ref(f.data(), s.rows, s.k, 32, &slot->w);
    }
    return *slot;
}

// The kernel's packed copy of the weights (4-bit, or 3-bit for a qc3w kernel), per
// (shape, packing function).
const void *GetPacked(const Shape &s, const aq_qc4w_gemm_kernel &kern, bool three_bit = false, bool asym = false) {
    if (!kern.packed_size) return nullptr;
    static std::map<std::tuple<size_t, size_t, void *, bool>, std::vector<uint8_t>> cache;
    auto key = std::make_tuple(s.rows, s.k, reinterpret_cast<void *>(kern.pack), asym);
    auto it = cache.find(key);
    if (it == cache.end()) {
        const aq_q4w &w = three_bit ? GetQ3(s).w : GetQ4(s, asym).w;
        std::vector<uint8_t> buf(kern.packed_size(&w) + 64);
        kern.pack(&w, buf.data());
        it = cache.emplace(key, std::move(buf)).first;
    }
    return it->second.data();
}

// m tokens of 8-bit activations, dynamically quantized as the forward pass does,
// with their sums of 32 codes, as the forward pass gives them.
struct Activations {
    std::vector<float> f;
    std::vector<int8_t> q;
    std::vector<float> scale;
    std::vector<int32_t> zero;
    std::vector<int32_t> sum32;
    aq_qd8 a{};
    // group 0: 8 bits, one scale per token (w4a8); else 4 bits, asymmetric, one
    // scale per token and group features (ag32,aasym).
    Activations(size_t m, size_t k, size_t group = 0)
        : f(RandomFloats(m * k, 2)), q(m * k), scale(group ? m * (k / group) : m), zero(m), sum32(m * (k / 32)) {
        a.q = q.data();
        a.scale = scale.data();
        a.zero = zero.data();
        a.sum32 = sum32.data();
        if (group)
            aq_qd8_quantize_grouped_asym_ref(f.data(), m, k, k, 4, nullptr, group, &a);
        else
            aq_qd8_quantize_dynamic_ref(f.data(), m, k, k, 8, &a);
        aq_qd8_sum32_ref(&a, 0, m);
    }
};

void SetCounters(benchmark::State &state, size_t m, const Shape &s, double weight_bytes) {
    double ops = 2.0 * static_cast<double>(m) * static_cast<double>(s.rows) * static_cast<double>(s.k);
    state.counters["GOPS"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GB/s"] = benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// qd8 x qc4w: the W4A8 / W4A4 linear layer. kAsymGroups: the format of
// `w4a4,rotate-online,smooth,...,ag32,asym,aasym` instead of w4a8's: zero points in
// the weights, one activation scale per token and 32 features (the group tiles),
// asymmetric 4-bit activation codes.
template <bool kAsymGroups>
void BM_Qc4wGemm(benchmark::State &state, const aq_qc4w_gemm_kernel *kern, Shape s, size_t m) {
    const aq_q4w &w = GetQ4(s, kAsymGroups).w;
    const void *packed = GetPacked(s, *kern, false, kAsymGroups);
    Activations act(m, s.k, kAsymGroups ? 32 : 0);
    std::vector<float> out(m * s.rows);
    for (auto _ : state) {
        kern->gemm(m, 0, s.rows, &act.a, &w, packed, out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    double bytes = kern->packed_size ? static_cast<double>(kern->packed_size(&w))
                                     : static_cast<double>(s.rows * s.k / 2 + s.rows * s.k / 32 * 2);
    SetCounters(state, m, s, bytes);
}

// qd8 x qc3w: the W3A8 linear layer (3.5 bits a weight packed).
void BM_Qc3wGemm(benchmark::State &state, const aq_qc4w_gemm_kernel *kern, Shape s, size_t m) {
    const aq_q4w &w = GetQ3(s).w;
    const void *packed = GetPacked(s, *kern, true);
    Activations act(m, s.k);
    std::vector<float> out(m * s.rows);
    for (auto _ : state) {
        kern->gemm(m, 0, s.rows, &act.a, &w, packed, out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    double bytes = kern->packed_size ? static_cast<double>(kern->packed_size(&w))
                                     : static_cast<double>(s.rows * s.k / 2 + s.rows * s.k / 32 * 2);
    SetCounters(state, m, s, bytes);
}

// FP32 activations x FP32 weights: the unquantized baseline.
void BM_F32Gemm(benchmark::State &state, const aq_f32_gemm_kernel *kern, Shape s, size_t m) {
    std::vector<float> w = RandomFloats(s.rows * s.k, 3), x = RandomFloats(m * s.k, 4), out(m * s.rows);
    for (auto _ : state) {
        kern->fn(m, 0, s.rows, s.k, x.data(), s.k, w.data(), out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    SetCounters(state, m, s, static_cast<double>(s.rows * s.k * sizeof(float)));
}

// FP32 activations x INT4 weights (W4A16), the weights of the qc4w benchmark.
void BM_F32Qc4wGemm(benchmark::State &state, const aq_f32_qc4w_gemm_kernel *kern, Shape s, size_t m) {
    const aq_q4w &w = GetQ4(s).w;
    std::vector<float> x = RandomFloats(m * s.k, 4), out(m * s.rows);
    for (auto _ : state) {
        kern->fn(m, 0, s.rows, x.data(), s.k, &w, out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    SetCounters(state, m, s, static_cast<double>(s.rows * s.k / 2 + s.rows * s.k / 32 * 2));
}

// llama.cpp blocks: one dot product per weight row and token, as the forward
// pass calls them (Q4_0 or Q8_0 weights, Q8_0 activations).
template <typename Block, typename Kernel>
void BM_BlockDot(benchmark::State &state, const Kernel *kern, Shape s, size_t m) {
    const size_t blocks = s.k / AQ_QK8_0;
    std::vector<float> wf = RandomFloats(s.rows * s.k, 5), xf = RandomFloats(m * s.k, 6);
    std::vector<Block> w(s.rows * blocks);
    std::vector<block_q8_0> x(m * blocks);
    if constexpr (std::is_same_v<Block, block_q4_0>) {
        aq_q4_0_quantize_ref(wf.data(), wf.size(), w.data());
    } else {
        aq_q8_0_quantize_ref(wf.data(), wf.size(), w.data());
    }
    aq_q8_0_quantize_ref(xf.data(), xf.size(), x.data());
    std::vector<float> out(m * s.rows);
    for (auto _ : state) {
        for (size_t t = 0; t < m; t++)
            for (size_t r = 0; r < s.rows; r++)
                out[t * s.rows + r] = kern->fn(s.k, w.data() + r * blocks, x.data() + t * blocks);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    SetCounters(state, m, s, static_cast<double>(w.size() * sizeof(Block)));
}

// llama.cpp blocks, matrix times matrix (every weight type of the block GEMM
// list): random weight blocks with finite f16 scales, activations quantized from
// random floats by the reference quantizer of the type's activation format.
size_t HalfFields(uint32_t type, size_t off[2]) {
    switch (type) {
    case AQ_GGML_Q4_1:
    case AQ_GGML_Q5_1:
    case AQ_GGML_Q4_K:
    case AQ_GGML_Q5_K:
        off[0] = 0, off[1] = 2;
        return 2;
    case AQ_GGML_Q2_K:
        off[0] = offsetof(block_q2_K, d), off[1] = offsetof(block_q2_K, dmin);
        return 2;
    case AQ_GGML_Q3_K:
        off[0] = offsetof(block_q3_K, d);
        return 1;
    case AQ_GGML_Q6_K:
        off[0] = offsetof(block_q6_K, d);
        return 1;
    case AQ_GGML_F16:
    case AQ_GGML_BF16:
        return 0;
    default:
        off[0] = 0;
        return 1; /* Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS */
    }
}

// Random weight blocks of a type (finite f16 scales) and m rows of activations
// quantized by the reference quantizer of its activation type: the same data for
// the plain tiles and the repacked ones.
struct BlockOperands {
    size_t w_row, a_row;
    std::vector<uint8_t> w;
    std::vector<uint32_t> a; // 4-byte aligned: Q8_K holds floats
};

BlockOperands MakeBlockOperands(uint32_t type, const Shape &s, size_t m) {
    const aq_block_type *bt = aq_block_type_get(type);
    BlockOperands o;
    o.w_row = s.k / bt->block_elems * bt->block_bytes;
    o.a_row = aq_act_row_bytes(bt->act_type, s.k);
    o.w.resize(s.rows * o.w_row);
    std::mt19937 gen(7);
    for (uint8_t &b : o.w) b = static_cast<uint8_t>(gen());
    size_t off[2];
    const size_t n_off = HalfFields(type, off);
    std::vector<float> d = RandomFloats(s.rows * s.k / bt->block_elems * 2, 8);
    for (size_t b = 0, i = 0; b < s.rows * s.k / bt->block_elems; b++)
        for (size_t j = 0; j < n_off; j++, i++) {
            const uint16_t h = aq_fp32_to_fp16(0.01f * d[i]);
            std::memcpy(o.w.data() + b * bt->block_bytes + off[j], &h, sizeof h);
        }
    std::vector<float> xf = RandomFloats(m * s.k, 6);
    o.a.resize((m * o.a_row + 3) / 4);
    for (size_t t = 0; t < m; t++)
        aq_act_quantize_ref(bt->act_type, xf.data() + t * s.k, s.k,
                            reinterpret_cast<uint8_t *>(o.a.data()) + t * o.a_row);
    return o;
}

void BM_BlockGemm(benchmark::State &state, const aq_block_gemm_kernel *kern, Shape s, size_t m) {
    const BlockOperands o = MakeBlockOperands(kern->type, s, m);
    std::vector<float> out(m * s.rows);
    for (auto _ : state) {
        kern->fn(m, 0, s.rows, s.k, o.w.data(), o.w_row, o.a.data(), o.a_row, out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    SetCounters(state, m, s, static_cast<double>(o.w.size()));
}

// The same product on the weights repacked into groups of 8 rows, as the model
// does at load (the shapes' row counts are multiples of 8); timed without the
// packing, which the model pays once.
void BM_BlockGemmX8(benchmark::State &state, const aq_block_gemm_x8_kernel *kern, Shape s, size_t m) {
    const BlockOperands o = MakeBlockOperands(kern->type, s, m);
    std::vector<uint8_t> packed(o.w.size());
    kern->pack(s.rows, s.k / aq_block_type_get(kern->type)->block_elems, o.w.data(), o.w_row, packed.data());
    std::vector<float> out(m * s.rows);
    for (auto _ : state) {
        kern->fn(m, 0, s.rows, s.k, packed.data(), o.w_row, o.a.data(), o.a_row, out.data(), s.rows);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    SetCounters(state, m, s, static_cast<double>(packed.size()));
}

// The activation quantizers of llama.cpp's formats, per row of k floats.
void BM_ActQuantize(benchmark::State &state, const aq_act_quantize_kernel *kern, size_t m, size_t k) {
    std::vector<float> x = RandomFloats(m * k, 9);
    const size_t row = aq_act_row_bytes(kern->type, k);
    std::vector<uint32_t> out((m * row + 3) / 4);
    for (auto _ : state) {
        for (size_t t = 0; t < m; t++) kern->fn(x.data() + t * k, k, reinterpret_cast<uint8_t *>(out.data()) + t * row);
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(m * k * sizeof(float)) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// The per-token activation quantizer the forward pass runs before each group
// of linear layers (reference C, shared by every variant): is it negligible?
void BM_QuantizeActivations(benchmark::State &state, size_t m, size_t k) {
    Activations act(m, k);
    for (auto _ : state) {
        aq_qd8_quantize_dynamic_ref(act.f.data(), m, k, k, 8, &act.a);
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(m * k * sizeof(float)) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// The group-wise activation quantizers (ag32..ag128, aasym), m rows of k floats at 4 bits.
void BM_QuantizeGrouped(benchmark::State &state, const aq_qd8_quantize_grouped_kernel *kern, size_t m, size_t k,
                        size_t group) {
    std::vector<float> x = RandomFloats(m * k, 12), scale(m * (k / group));
    std::vector<int8_t> q(m * k);
    std::vector<int32_t> zero(m);
    aq_qd8 a{};
    a.q = q.data();
    a.scale = scale.data();
    a.zero = zero.data();
    for (auto _ : state) {
        kern->fn(x.data(), m, k, k, 4, group, &a);
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(m * k * sizeof(float)) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

#if defined(__x86_64__)
// The ceilings of the INT8 and FP32 tiles on this CPU: how many multiply-adds a
// second VPMADDUBSW (32 INT8 ones, u8 x s8 into int16 pairs) and VFMADD231PS (8
// FP32 ones) issue, 10 independent chains each (so that latency does not count),
// in registers. Counter GMAC/s.
constexpr int kPeakChains = 10, kPeakRounds = 100;

__attribute__((target("avx2,fma"))) void BM_PeakFma(benchmark::State &state) {
    __m256 acc[kPeakChains];
    for (int j = 0; j < kPeakChains; j++) acc[j] = _mm256_set1_ps(1.0f + 0.001f * static_cast<float>(j));
    const __m256 w = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (auto _ : state) {
        for (int r = 0; r < kPeakRounds; r++)
            for (int j = 0; j < kPeakChains; j++) acc[j] = _mm256_fmadd_ps(w, acc[j], b);
        for (int j = 0; j < kPeakChains; j++) benchmark::DoNotOptimize(acc[j]);
    }
    state.counters["GMAC/s"] =
        benchmark::Counter(kPeakRounds * kPeakChains * 8 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

__attribute__((target("avx2"))) void BM_PeakMaddubs(benchmark::State &state) {
    __m256i acc[kPeakChains];
    for (int j = 0; j < kPeakChains; j++) acc[j] = _mm256_set1_epi8(static_cast<char>(j + 1));
    const __m256i w = _mm256_set1_epi8(3);
    for (auto _ : state) {
        for (int r = 0; r < kPeakRounds; r++)
            for (int j = 0; j < kPeakChains; j++) acc[j] = _mm256_maddubs_epi16(w, acc[j]);
        for (int j = 0; j < kPeakChains; j++) benchmark::DoNotOptimize(acc[j]);
    }
    state.counters["GMAC/s"] =
        benchmark::Counter(kPeakRounds * kPeakChains * 32 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

// One tile of 8 queries of a head of hd floats against ctx keys, folded in blocks
// of AQ_ATTN_KEYS as attention.c does (no mask): a prompt's tile at that depth.
void BM_Attention(benchmark::State &state, const aq_f32_attention_kernel *kern, size_t hd, size_t ctx) {
    std::vector<float> qt = RandomFloats(hd * AQ_ATTN_QUERIES, 10), acc(hd * AQ_ATTN_QUERIES);
    std::vector<float> kv = RandomFloats(2 * ctx * hd, 11), bias(AQ_ATTN_KEYS * AQ_ATTN_QUERIES, 0.0f);
    std::vector<const float *> keys(ctx), values(ctx);
    for (size_t j = 0; j < ctx; j++) keys[j] = kv.data() + j * hd, values[j] = kv.data() + (ctx + j) * hd;
    for (auto _ : state) {
        aq_attn_tile t = {hd, qt.data(), acc.data(), {}, {}};
        for (size_t i = 0; i < AQ_ATTN_QUERIES; i++) t.max_score[i] = -INFINITY, t.denom[i] = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (size_t j = 0; j < ctx; j += AQ_ATTN_KEYS)
            kern->fn(&t, std::min<size_t>(AQ_ATTN_KEYS, ctx - j), keys.data() + j, values.data() + j, bias.data(),
                     nullptr);
        benchmark::DoNotOptimize(acc.data());
        benchmark::ClobberMemory();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(4.0 * AQ_ATTN_QUERIES * static_cast<double>(ctx * hd) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// Registers fn(kernel, shape, m) for every shape and token count under the
// kernel's name, or says why not.
template <typename Kernel, typename Fn> void RegisterKernel(const char *family, const Kernel &kern, Fn fn) {
    if (!aq_cpu_has(kern.isa)) {
        std::fprintf(stderr, "not on this CPU (no %s): %s\n", aq_cpu_feature_name(kern.isa), kern.name);
        return;
    }
    for (const Shape &s : kShapes) {
        for (size_t m : kTokens) {
            std::string name = std::string(family) + "/" + kern.name + "/" + s.model + "_" + s.layer + "/" +
                               std::to_string(s.rows) + "x" + std::to_string(s.k) + "/m:" + std::to_string(m);
            benchmark::RegisterBenchmark(name.c_str(), fn, &kern, s, m)->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
    }
}

void RegisterAll() {
#if defined(__x86_64__)
    if (aq_cpu_has(AQ_CPU_AVX2)) {
        benchmark::RegisterBenchmark("peak/vfmadd231ps", BM_PeakFma)->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark("peak/vpmaddubsw", BM_PeakMaddubs)->Unit(benchmark::kMicrosecond);
    }
#endif
    for (size_t i = 0; i < aq_qd8_qc4w_gemm_list_size; i++)
        RegisterKernel("qc4w", aq_qd8_qc4w_gemm_list[i], BM_Qc4wGemm<false>);
    for (size_t i = 0; i < aq_qd8_qc4w_gemm_list_size; i++)
        if (aq_qd8_qc4w_gemm_list[i].packed_size)
            RegisterKernel("qc4w-asym-ag32", aq_qd8_qc4w_gemm_list[i], BM_Qc4wGemm<true>);
    for (size_t i = 0; i < aq_qd8_qc3w_gemm_list_size; i++)
        RegisterKernel("qc3w", aq_qd8_qc3w_gemm_list[i], BM_Qc3wGemm);
    for (size_t i = 0; i < aq_f32_gemm_list_size; i++) RegisterKernel("f32", aq_f32_gemm_list[i], BM_F32Gemm);
    for (size_t i = 0; i < aq_f32_qc4w_gemm_list_size; i++)
        RegisterKernel("w4a16", aq_f32_qc4w_gemm_list[i], BM_F32Qc4wGemm);
    for (size_t i = 0; i < aq_q4_0_q8_0_dot_list_size; i++)
        RegisterKernel("q4_0", aq_q4_0_q8_0_dot_list[i], BM_BlockDot<block_q4_0, aq_q4_0_q8_0_dot_kernel>);
    for (size_t i = 0; i < aq_q8_0_q8_0_dot_list_size; i++)
        RegisterKernel("q8_0", aq_q8_0_q8_0_dot_list[i], BM_BlockDot<block_q8_0, aq_q8_0_q8_0_dot_kernel>);
    // Block GEMMs: every SIMD entry, and the references of the types that have one
    // (the others' references are the same loop over another dot).
    for (size_t i = 0; i < aq_block_gemm_list_size; i++) {
        const aq_block_gemm_kernel &e = aq_block_gemm_list[i];
        bool has_simd = false;
        for (size_t j = 0; j < aq_block_gemm_list_size; j++)
            has_simd = has_simd || (aq_block_gemm_list[j].type == e.type && aq_block_gemm_list[j].isa != AQ_CPU_NONE);
        if (e.isa != AQ_CPU_NONE || has_simd) RegisterKernel(aq_block_type_get(e.type)->name, e, BM_BlockGemm);
    }
    // Repacked block GEMMs, under their weight type's name beside its plain tiles.
    for (size_t i = 0; i < aq_block_gemm_x8_list_size; i++) {
        const aq_block_gemm_x8_kernel &e = aq_block_gemm_x8_list[i];
        RegisterKernel(aq_block_type_get(e.type)->name, e, BM_BlockGemmX8);
    }
    for (size_t i = 0; i < aq_act_quantize_list_size; i++) {
        const aq_act_quantize_kernel &e = aq_act_quantize_list[i];
        if (!aq_cpu_has(e.isa)) {
            std::fprintf(stderr, "not on this CPU (no %s): %s\n", aq_cpu_feature_name(e.isa), e.name);
            continue;
        }
        for (size_t k : {size_t{2048}, size_t{5632}}) {
            for (size_t m : kTokens) {
                std::string name =
                    std::string("actq/") + e.name + "/k:" + std::to_string(k) + "/m:" + std::to_string(m);
                benchmark::RegisterBenchmark(name.c_str(), BM_ActQuantize, &e, m, k)
                    ->Unit(benchmark::kMicrosecond)
                    ->UseRealTime();
            }
        }
    }
    for (size_t i = 0; i < aq_f32_attention_list_size; i++) {
        const aq_f32_attention_kernel &e = aq_f32_attention_list[i];
        if (!aq_cpu_has(e.isa)) {
            std::fprintf(stderr, "not on this CPU (no %s): %s\n", aq_cpu_feature_name(e.isa), e.name);
            continue;
        }
        for (size_t hd : {size_t{64}, size_t{128}}) {
            for (size_t ctx : {size_t{64}, size_t{512}}) {
                std::string name =
                    std::string("attn/") + e.name + "/hd:" + std::to_string(hd) + "/ctx:" + std::to_string(ctx);
                benchmark::RegisterBenchmark(name.c_str(), BM_Attention, &e, hd, ctx)
                    ->Unit(benchmark::kMicrosecond)
                    ->UseRealTime();
            }
        }
    }
    for (const auto &[list, count] :
         {std::pair{aq_qd8_quantize_grouped_list, aq_qd8_quantize_grouped_list_size},
          std::pair{aq_qd8_quantize_grouped_asym_list, aq_qd8_quantize_grouped_asym_list_size}}) {
        for (size_t i = 0; i < count; i++) {
            const aq_qd8_quantize_grouped_kernel &e = list[i];
            if (!aq_cpu_has(e.isa)) {
                std::fprintf(stderr, "not on this CPU (no %s): %s\n", aq_cpu_feature_name(e.isa), e.name);
                continue;
            }
            for (size_t group : {size_t{32}, size_t{128}}) {
                for (size_t m : kTokens) {
                    std::string name = std::string("quantize_grouped/") + e.name +
                                       "/k:2048/g:" + std::to_string(group) + "/m:" + std::to_string(m);
                    benchmark::RegisterBenchmark(name.c_str(), BM_QuantizeGrouped, &e, m, size_t{2048}, group)
                        ->Unit(benchmark::kMicrosecond)
                        ->UseRealTime();
                }
            }
        }
    }
    for (size_t k : {size_t{2048}, size_t{5632}}) {
        for (size_t m : kTokens) {
            std::string name =
                "quantize_qd8/aq_qd8_quantize_dynamic_ref/k:" + std::to_string(k) + "/m:" + std::to_string(m);
            benchmark::RegisterBenchmark(name.c_str(), BM_QuantizeActivations, m, k)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
    }
}

} // namespace

int main(int argc, char **argv) {
    // A short default run: insert --benchmark_min_time unless the caller set it.
    std::vector<char *> args(argv, argv + argc);
    bool has_min_time = false;
    for (int i = 1; i < argc; i++)
        has_min_time = has_min_time || std::strncmp(argv[i], "--benchmark_min_time", 20) == 0;
    static char min_time[] = "--benchmark_min_time=0.05";
    if (!has_min_time) args.insert(args.begin() + 1, min_time);
    int n = static_cast<int>(args.size());
    args.push_back(nullptr);
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    RegisterAll();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

/* Tests of the SPM tokenizer: hand-worked merges on a small vocabulary,
 * round trips, buffer and argument handling, spec validation, and golden ids
 * from SentencePiece for the Austen model (data/golden-tokens.txt, written
 * by tools/golden_tokens.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "test_util.h"
#include "spm.h"

#define BYTE(b) (3 + (b)) /* id of the <0xNN> byte token in the small vocabulary */
#define N_FIXED 259       /* <unk>, <s>, </s>, 256 byte tokens */

/* The small vocabulary: ids 0..258 as above, then these pieces. Scores
 * decide the merge order (higher first). */
static const struct {
    const char *text;
    float score;
} normal_pieces[] = {
    {"\xE2\x96\x81", 0},     /* 259 ▁ */
    {"a", 0},                /* 260 */
    {"b", 0},                /* 261 */
    {"c", 0},                /* 262 */
    {"e", 0},                /* 263 */
    {"h", 0},                /* 264 */
    {"l", 0},                /* 265 */
    {"o", 0},                /* 266 */
    {"t", 0},                /* 267 */
    {"ab", -1},              /* 268 */
    {"bc", -2},              /* 269 */
    {"abc", -3},             /* 270 */
    {"\xE2\x96\x81t", -4},   /* 271 ▁t */
    {"he", -5},              /* 272 */
    {"\xE2\x96\x81the", -6}, /* 273 ▁the */
    {"ll", -7},              /* 274 */
    {"lo", -8},              /* 275 */
    {"\xE2\x96\x81h", -9},   /* 276 ▁h */
    {"<", 0},                /* 277 */
    {"s", 0},                /* 278 */
    {">", 0},                /* 279 */
    {"<s", -10},             /* 280: with it, "<s>" could merge into the control token */
    {"\xC3\xA9", 0},         /* 281 é */
    {"ca", -0.5f},           /* 282 */
    {"ab", 5},               /* 283: duplicate text, must be ignored */
};
enum {
    T_SPACE = 259,
    T_A,
    T_B,
    T_C,
    T_E,
    T_H,
    T_L,
    T_O,
    T_T,
    T_AB,
    T_BC,
    T_ABC,
    T_SP_T,
    T_HE,
    T_SP_THE,
    T_LL,
    T_LO,
    T_SP_H,
    T_LT,
    T_S,
    T_GT,
    T_LT_S,
    T_E_ACUTE,
    T_CA,
    T_AB_DUP,
    SMALL_VOCAB
};

typedef struct small_vocab {
    char byte_text[256][7];
    const char *pieces[SMALL_VOCAB];
    uint64_t lens[SMALL_VOCAB];
    float scores[SMALL_VOCAB];
    int32_t types[SMALL_VOCAB];
    aq_spm_spec spec;
} small_vocab;

static void small_vocab_init(small_vocab *v, bool add_space_prefix) {
    static const char *const fixed[3] = {"<unk>", "<s>", "</s>"};
    static const int32_t fixed_type[3] = {AQ_TOKEN_UNKNOWN, AQ_TOKEN_CONTROL, AQ_TOKEN_CONTROL};
    for (int i = 0; i < 3; i++) {
        v->pieces[i] = fixed[i];
        v->scores[i] = 0;
        v->types[i] = fixed_type[i];
    }
    for (int b = 0; b < 256; b++) {
        snprintf(v->byte_text[b], sizeof v->byte_text[b], "<0x%02X>", b);
        v->pieces[BYTE(b)] = v->byte_text[b];
        v->scores[BYTE(b)] = 0;
        v->types[BYTE(b)] = AQ_TOKEN_BYTE;
    }
    for (int i = N_FIXED; i < SMALL_VOCAB; i++) {
        v->pieces[i] = normal_pieces[i - N_FIXED].text;
        v->scores[i] = normal_pieces[i - N_FIXED].score;
        v->types[i] = AQ_TOKEN_NORMAL;
    }
    for (int i = 0; i < SMALL_VOCAB; i++) v->lens[i] = strlen(v->pieces[i]);
    v->spec = (aq_spm_spec){SMALL_VOCAB, v->pieces, v->lens, v->scores, v->types, 1, 2, 0, add_space_prefix};
}

static aq_spm *make_small(bool add_space_prefix) {
    small_vocab v;
    small_vocab_init(&v, add_space_prefix);
    aq_spm *tok = NULL;
    char msg[256];
    assert_int_equal(aq_spm_create(&v.spec, &tok, msg, sizeof msg), AQ_OK);
    assert_non_null(tok);
    assert_string_equal(msg, "");
    return tok;
}

static void expect_ids(const aq_spm *tok, const char *text, size_t len, bool bos, const int32_t *want, int32_t n_want) {
    int32_t got[64];
    int32_t n = -1;
    assert_int_equal(aq_spm_encode(tok, text, len, bos, got, 64, &n), AQ_OK);
    if (n != n_want) {
        print_error("\"%.*s\": %d tokens, want %d\n", (int)len, text, (int)n, (int)n_want);
        fail();
    }
    for (int32_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            print_error("\"%.*s\": token %d is %d, want %d\n", (int)len, text, (int)i, (int)got[i], (int)want[i]);
            fail();
        }
    }
}

#define EXPECT(tok, text, ...)                                                                                         \
    do {                                                                                                               \
        const int32_t want_[] = {__VA_ARGS__};                                                                         \
        expect_ids(tok, text, sizeof(text) - 1, false, want_, (int32_t)(sizeof want_ / sizeof want_[0]));              \
    } while (0)

/* decode(encode(text)) == text, with and without BOS. */
static void expect_round_trip(const aq_spm *tok, const char *text, size_t len) {
    for (int bos = 0; bos < 2; bos++) {
        int32_t n = 0;
        aq_error err = aq_spm_encode(tok, text, len, bos, NULL, 0, &n);
        assert_true(err == AQ_ERR_BUFFER_TOO_SMALL || (err == AQ_OK && n == 0));
        int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
        assert_non_null(ids);
        int32_t n2 = -1;
        assert_int_equal(aq_spm_encode(tok, text, len, bos, ids, n, &n2), AQ_OK);
        assert_int_equal(n2, n);
        size_t need = 0;
        err = aq_spm_decode(tok, ids, n, NULL, 0, &need);
        assert_true(err == AQ_ERR_BUFFER_TOO_SMALL || (err == AQ_OK && need == 0));
        char *back = malloc(need + 1);
        assert_non_null(back);
        size_t got = 0;
        assert_int_equal(aq_spm_decode(tok, ids, n, back, need, &got), AQ_OK);
        if (got != len || memcmp(back, text, len) != 0) {
            print_error("round trip of \"%.*s\" gave \"%.*s\"\n", (int)len, text, (int)got, back);
            fail();
        }
        free(back);
        free(ids);
    }
}

static void test_merges_by_score(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    /* ▁ a b c: ab (-1) beats bc (-2); then ab+c forms abc (-3); bc is stale. */
    EXPECT(tok, "abc", T_SPACE, T_ABC);
    /* ▁ b c a: ca (-0.5) beats bc (-2) although bc is further left. */
    EXPECT(tok, "bca", T_SPACE, T_B, T_CA);
    /* ▁ c a b: ca (-0.5) beats ab (-1); "cab" is no piece. */
    EXPECT(tok, "cab", T_SPACE, T_CA, T_B);
    /* ▁ t h e: ▁t (-4), then he (-5), then ▁t+he = ▁the (-6). */
    EXPECT(tok, "the", T_SP_THE);
    /* ▁ h e l l o: he (-5), ll (-7); lo and ▁h went stale; ▁he, hell, llo are no pieces. */
    EXPECT(tok, "hello", T_SPACE, T_HE, T_LL, T_O);
    EXPECT(tok, "the hello", T_SP_THE, T_SPACE, T_HE, T_LL, T_O);
    /* Equal scores: the leftmost pair goes first. */
    EXPECT(tok, "lll", T_SPACE, T_LL, T_L);
    EXPECT(tok, "llll", T_SPACE, T_LL, T_LL);
    /* The duplicate "ab" (id 283, score 5) loses to the first one. */
    EXPECT(tok, "ab", T_SPACE, T_AB);
    aq_spm_free(tok);
}

static void test_no_space_prefix(void **state) {
    (void)state;
    aq_spm *tok = make_small(false);
    /* t h e: only he merges; "the" and "▁t" cannot form. */
    EXPECT(tok, "the", T_T, T_HE);
    EXPECT(tok, " the", T_SP_THE);
    int32_t ids[] = {T_T, T_HE};
    char buf[8];
    size_t len = 0;
    assert_int_equal(aq_spm_decode(tok, ids, 2, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "the", 3);
    /* Without the prefix, a leading space in the text is kept. */
    int32_t sp_the = T_SP_THE;
    assert_int_equal(aq_spm_decode(tok, &sp_the, 1, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, " the", 4);
    expect_round_trip(tok, " the hello ", 11);
    aq_spm_free(tok);
}

static void test_special_text_stays_text(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    /* ▁ < s >: <s merges, but <s + > would be the control token <s>. */
    EXPECT(tok, "<s>", T_SPACE, T_LT_S, T_GT);
    /* Nothing merges; 0 x 4 1 are no pieces and fall back to their bytes,
     * never to the byte token <0x41>. */
    EXPECT(tok, "<0x41>", T_SPACE, T_LT, BYTE('0'), BYTE('x'), BYTE('4'), BYTE('1'), T_GT);
    /* "<unk>" and "</s>" likewise. */
    EXPECT(tok, "</s>", T_SPACE, T_LT, BYTE('/'), T_S, T_GT);
    expect_round_trip(tok, "<s>hello</s>", 12);
    aq_spm_free(tok);
}

static void test_byte_fallback(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    EXPECT(tok, "\xC3\xA9", T_SPACE, T_E_ACUTE);              /* é is a piece */
    EXPECT(tok, "\xC3\xA8", T_SPACE, BYTE(0xC3), BYTE(0xA8)); /* è is not */
    EXPECT(tok, "\xE6\x97\xA5\xE6\x9C\xAC", T_SPACE,          /* 日本 */
           BYTE(0xE6), BYTE(0x97), BYTE(0xA5), BYTE(0xE6), BYTE(0x9C), BYTE(0xAC));
    EXPECT(tok, "a\n", T_SPACE, T_A, BYTE('\n'));
    EXPECT(tok, "a\0b", T_SPACE, T_A, BYTE(0), T_B);
    /* A truncated sequence: E6 97 then 'a'; each stray byte is a character. */
    EXPECT(tok,
           "\xE6\x97"
           "a",
           T_SPACE, BYTE(0xE6), BYTE(0x97), T_A);
    /* Each space is its own marker (there is no ▁▁ piece). */
    EXPECT(tok, "  a", T_SPACE, T_SPACE, T_SPACE, T_A);
    EXPECT(tok, "a ", T_SPACE, T_A, T_SPACE);
    aq_spm_free(tok);

    /* No byte tokens: bytes fall back to <unk>, or fail without one. */
    const char *pieces[] = {"<unk>", "\xE2\x96\x81", "a"};
    const uint64_t lens[] = {5, 3, 1};
    const int32_t types[] = {AQ_TOKEN_UNKNOWN, AQ_TOKEN_NORMAL, AQ_TOKEN_NORMAL};
    aq_spm_spec spec = {3, pieces, lens, NULL, types, -1, -1, 0, true};
    assert_int_equal(aq_spm_create(&spec, &tok, NULL, 0), AQ_OK);
    EXPECT(tok, "ab", 1, 2, 0);
    EXPECT(tok, "\xC3\xA9", 1, 0, 0);
    int32_t ids[8], n = -1;
    /* There is no BOS to add. */
    assert_int_equal(aq_spm_encode(tok, "a", 1, true, ids, 8, &n), AQ_ERR_UNSUPPORTED);
    aq_spm_free(tok);
    spec.unk = -1;
    assert_int_equal(aq_spm_create(&spec, &tok, NULL, 0), AQ_OK);
    assert_int_equal(aq_spm_encode(tok, "ab", 2, false, ids, 8, &n), AQ_ERR_UNSUPPORTED);
    aq_spm_free(tok);
}

static void test_empty_and_bos(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    int32_t ids[4] = {-7, -7, -7, -7};
    int32_t n = -1;
    /* Empty text: no tokens, not even the space prefix. */
    assert_int_equal(aq_spm_encode(tok, "", 0, false, ids, 4, &n), AQ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(aq_spm_encode(tok, NULL, 0, false, NULL, 0, &n), AQ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(aq_spm_encode(tok, "", 0, true, ids, 4, &n), AQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    const int32_t want[] = {1, T_SP_THE};
    expect_ids(tok, "the", 3, true, want, 2);

    /* The prefix space goes with the first non-control token. */
    int32_t seq[] = {1, T_SP_THE, T_SP_THE, 2};
    char buf[16];
    size_t len = 0;
    assert_int_equal(aq_spm_decode(tok, seq, 4, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "the the", 7);
    assert_int_equal(aq_spm_decode(tok, seq, 0, NULL, 0, &len), AQ_OK);
    assert_int_equal(len, 0);
    aq_spm_free(tok);
}

static void test_round_trips(void **state) {
    (void)state;
    static const char *const texts[] = {
        "hello",
        "Hello, World! 123",
        "the cat sat on the mat.",
        "line one\nline two\n\nend\n",
        "\n",
        "\r\n\t",
        "caf\xC3\xA9 na\xC3\xAFve \xC3\xA8",
        "\xE6\x97\xA5\xE6\x9C\xAC",                /* 日本 */
        "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89!", /* 😀🎉 */
        "\xE2\x82\xAC and \xF0\x9D\x84\x9E",       /* € and 𝄞 */
        " leading",
        "   three leading",
        "trailing ",
        "trailing three   ",
        "multiple   spaces    here",
        " ",
        "  ",
        "<s> is not a control token </s> <unk>",
        "<0x41><0xFF>",
        "zzz qqq xxx",
        "abcabcabc ll lll llll ca bca",
    };
    aq_spm *tok = make_small(true);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) expect_round_trip(tok, texts[i], strlen(texts[i]));
    expect_round_trip(tok, "a\0b\0", 4);
    expect_round_trip(tok, "", 0);
    aq_spm_free(tok);
}

static void test_pieces(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    char buf[16];
    size_t len = 99;
    assert_int_equal(aq_spm_piece(tok, T_SP_THE, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, " the", 4);
    assert_int_equal(aq_spm_piece(tok, T_SPACE, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 1);
    assert_memory_equal(buf, " ", 1);
    assert_int_equal(aq_spm_piece(tok, BYTE('\n'), buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 1);
    assert_int_equal(buf[0], '\n');
    assert_int_equal(aq_spm_piece(tok, BYTE(0xE6), buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 1);
    assert_int_equal((unsigned char)buf[0], 0xE6);
    assert_int_equal(aq_spm_piece(tok, T_E_ACUTE, buf, sizeof buf, &len), AQ_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "\xC3\xA9", 2);
    /* Control and unknown tokens print nothing. */
    for (int32_t id = 0; id < 3; id++) {
        assert_int_equal(aq_spm_piece(tok, id, buf, sizeof buf, &len), AQ_OK);
        assert_int_equal(len, 0);
    }
    /* Too small: nothing lost, the size needed reported. */
    assert_int_equal(aq_spm_piece(tok, T_SP_THE, buf, 2, &len), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 4);
    assert_int_equal(aq_spm_piece(tok, T_SP_THE, NULL, 0, &len), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 4);
    assert_int_equal(aq_spm_piece(tok, 1, NULL, 0, &len), AQ_OK);
    assert_int_equal(len, 0);
    assert_int_equal(aq_spm_piece(tok, -1, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_spm_piece(tok, SMALL_VOCAB, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_spm_piece(NULL, 5, buf, sizeof buf, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_piece(tok, 5, buf, sizeof buf, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_piece(tok, 5, NULL, 4, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_n_vocab(tok), SMALL_VOCAB);
    assert_int_equal(aq_spm_n_vocab(NULL), 0);
    aq_spm_free(tok);
}

static void test_capacity(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    int32_t ids[8] = {0};
    int32_t n = -1;
    /* "hello" needs 4 tokens, 5 with BOS. */
    assert_int_equal(aq_spm_encode(tok, "hello", 5, false, NULL, 0, &n), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 4);
    assert_int_equal(aq_spm_encode(tok, "hello", 5, false, ids, 3, &n), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 4);
    assert_int_equal(aq_spm_encode(tok, "hello", 5, true, ids, 4, &n), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, 5);
    assert_int_equal(aq_spm_encode(tok, "hello", 5, true, ids, 5, &n), AQ_OK);
    assert_int_equal(n, 5);
    assert_int_equal(ids[4], T_O);

    char buf[8];
    size_t len = 0;
    assert_int_equal(aq_spm_decode(tok, ids, 5, buf, 4, &len), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 5);
    assert_int_equal(aq_spm_decode(tok, ids, 5, NULL, 0, &len), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 5);
    assert_int_equal(aq_spm_decode(tok, ids, 5, buf, 5, &len), AQ_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    aq_spm_free(tok);
}

static void test_argument_errors(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    int32_t ids[8];
    int32_t n = 0;
    char buf[8];
    size_t len = 0;
    assert_int_equal(aq_spm_encode(NULL, "a", 1, false, ids, 8, &n), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_encode(tok, "a", 1, false, ids, 8, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_encode(tok, NULL, 1, false, ids, 8, &n), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_encode(tok, "a", 1, false, NULL, 8, &n), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_encode(tok, "a", 1, false, ids, -1, &n), AQ_ERR_INVALID_ARGUMENT);

    int32_t bad[] = {T_A, SMALL_VOCAB};
    assert_int_equal(aq_spm_decode(tok, bad, 2, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    bad[1] = -1;
    assert_int_equal(aq_spm_decode(tok, bad, 2, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_spm_decode(NULL, bad, 1, buf, sizeof buf, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_decode(tok, NULL, 1, buf, sizeof buf, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_decode(tok, bad, -1, buf, sizeof buf, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_decode(tok, bad, 1, buf, sizeof buf, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_decode(tok, bad, 1, NULL, 8, &len), AQ_ERR_INVALID_ARGUMENT);
    aq_spm_free(tok);
    aq_spm_free(NULL);
}

static void expect_create_error(const aq_spm_spec *spec, aq_error want, const char *msg_part) {
    aq_spm *tok = (aq_spm *)&tok; /* must be reset to NULL */
    char msg[256] = "";
    assert_int_equal(aq_spm_create(spec, &tok, msg, sizeof msg), want);
    assert_null(tok);
    if (strstr(msg, msg_part) == NULL) {
        print_error("message \"%s\" lacks \"%s\"\n", msg, msg_part);
        fail();
    }
}

static void test_create_validation(void **state) {
    (void)state;
    small_vocab v;
    small_vocab_init(&v, true);
    aq_spm *tok = NULL;
    assert_int_equal(aq_spm_create(NULL, &tok, NULL, 0), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_spm_create(&v.spec, NULL, NULL, 0), AQ_ERR_INVALID_ARGUMENT);

    aq_spm_spec spec = v.spec;
    spec.n_vocab = 0;
    expect_create_error(&spec, AQ_ERR_INVALID_ARGUMENT, "vocabulary size");
    spec = v.spec;
    spec.pieces = NULL;
    expect_create_error(&spec, AQ_ERR_INVALID_ARGUMENT, "missing");
    spec = v.spec;
    spec.piece_lens = NULL;
    expect_create_error(&spec, AQ_ERR_INVALID_ARGUMENT, "missing");
    spec = v.spec;
    spec.bos = SMALL_VOCAB;
    expect_create_error(&spec, AQ_ERR_OUT_OF_RANGE, "bos");
    spec = v.spec;
    spec.eos = -2;
    expect_create_error(&spec, AQ_ERR_OUT_OF_RANGE, "eos");
    spec = v.spec;
    spec.unk = SMALL_VOCAB + 5;
    expect_create_error(&spec, AQ_ERR_OUT_OF_RANGE, "unknown");

    v.types[T_A] = 7;
    expect_create_error(&v.spec, AQ_ERR_FORMAT, "token type 7");
    v.types[T_A] = 0;
    expect_create_error(&v.spec, AQ_ERR_FORMAT, "token type 0");
    v.types[T_A] = AQ_TOKEN_BYTE; /* "a" is no <0xNN> */
    expect_create_error(&v.spec, AQ_ERR_FORMAT, "byte piece 260");
    v.types[T_A] = AQ_TOKEN_NORMAL;
    strcpy(v.byte_text[0x41], "<0xG1>");
    expect_create_error(&v.spec, AQ_ERR_FORMAT, "byte piece");
    strcpy(v.byte_text[0x41], "<0x41>");
    v.lens[BYTE(0x41)] = 5; /* "<0x41" */
    expect_create_error(&v.spec, AQ_ERR_FORMAT, "byte piece");
    v.lens[BYTE(0x41)] = 6;
    v.pieces[T_B] = NULL;
    expect_create_error(&v.spec, AQ_ERR_INVALID_ARGUMENT, "NULL");
    v.pieces[T_B] = "b";

    /* The spec is copied: changing it afterwards changes nothing. */
    char abc[] = "abc";
    v.pieces[T_ABC] = abc;
    char msg[64] = "stale";
    assert_int_equal(aq_spm_create(&v.spec, &tok, msg, sizeof msg), AQ_OK);
    assert_string_equal(msg, "");
    abc[0] = 'x';
    EXPECT(tok, "abc", T_SPACE, T_ABC);
    aq_spm_free(tok);

    /* Scores and types may be left out. */
    const char *pieces[] = {"a", "b", "ab"};
    const uint64_t lens[] = {1, 1, 2};
    aq_spm_spec bare = {3, pieces, lens, NULL, NULL, -1, -1, -1, false};
    assert_int_equal(aq_spm_create(&bare, &tok, NULL, 0), AQ_OK);
    EXPECT(tok, "abba", 2, 1, 0);
    aq_spm_free(tok);
}

/* A long text must not take quadratic time (a heap, not a rescan per merge). */
static void test_long_text(void **state) {
    (void)state;
    aq_spm *tok = make_small(true);
    const char unit[] = "the hello abc ca\n\xC3\xA9 lll ";
    const size_t unit_len = sizeof unit - 1, repeats = 20000;
    char *text = malloc(unit_len * repeats);
    assert_non_null(text);
    for (size_t i = 0; i < repeats; i++) memcpy(text + i * unit_len, unit, unit_len);
    expect_round_trip(tok, text, unit_len * repeats);
    free(text);
    aq_spm_free(tok);
}

/* ---- golden ids from SentencePiece ---- */

static void append_utf8(char *out, size_t *len, uint32_t cp) {
    if (cp < 0x80) {
        out[(*len)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*len)++] = (char)(0xC0 | (cp >> 6));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*len)++] = (char)(0xE0 | (cp >> 12));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*len)++] = (char)(0xF0 | (cp >> 18));
        out[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static bool parse_hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return false;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return true;
}

/* Decodes the JSON string at *p (which starts with '"') into out (at least
 * as large as the line); returns false on malformed input. */
static bool parse_json_string(const char **p, char *out, size_t *out_len) {
    const char *s = *p;
    *out_len = 0;
    if (*s++ != '"') return false;
    while (*s != '"') {
        if (*s == '\0') return false;
        if (*s != '\\') {
            out[(*out_len)++] = *s++;
            continue;
        }
        s++;
        uint32_t cp;
        switch (*s++) {
        case '"':
            out[(*out_len)++] = '"';
            break;
        case '\\':
            out[(*out_len)++] = '\\';
            break;
        case '/':
            out[(*out_len)++] = '/';
            break;
        case 'b':
            out[(*out_len)++] = '\b';
            break;
        case 'f':
            out[(*out_len)++] = '\f';
            break;
        case 'n':
            out[(*out_len)++] = '\n';
            break;
        case 'r':
            out[(*out_len)++] = '\r';
            break;
        case 't':
            out[(*out_len)++] = '\t';
            break;
        case 'u':
            if (!parse_hex4(s, &cp)) return false;
            s += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                uint32_t low;
                if (s[0] != '\\' || s[1] != 'u' || !parse_hex4(s + 2, &low) || low < 0xDC00 || low >= 0xE000)
                    return false;
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            append_utf8(out, out_len, cp);
            break;
        default:
            return false;
        }
    }
    *p = s + 1;
    return true;
}

/* Builds the tokenizer from the GGUF keys as the model loader does. */
static aq_spm *tokenizer_from_gguf(const aq_gguf *gguf) {
    aq_gguf_type elem;
    uint64_t n = 0;
    assert_int_equal(aq_gguf_get_arr_info(gguf, "tokenizer.ggml.tokens", &elem, &n), AQ_OK);
    assert_int_equal(elem, AQ_GGUF_STRING);
    assert_true(n > 0 && n < INT32_MAX);
    const char **pieces = calloc(n, sizeof *pieces);
    uint64_t *lens = calloc(n, sizeof *lens);
    float *scores = calloc(n, sizeof *scores);
    int32_t *types = calloc(n, sizeof *types);
    assert_true(pieces && lens && scores && types);
    for (uint64_t i = 0; i < n; i++) {
        aq_gguf_str s;
        assert_int_equal(aq_gguf_get_arr_str(gguf, "tokenizer.ggml.tokens", i, &s), AQ_OK);
        pieces[i] = s.ptr;
        lens[i] = s.len;
    }
    assert_int_equal(aq_gguf_get_arr_f32(gguf, "tokenizer.ggml.scores", scores, n), AQ_OK);
    assert_int_equal(aq_gguf_get_arr_i32(gguf, "tokenizer.ggml.token_type", types, n), AQ_OK);
    uint32_t bos, eos, unk;
    bool add_space_prefix = false;
    assert_int_equal(aq_gguf_get_u32(gguf, "tokenizer.ggml.bos_token_id", &bos), AQ_OK);
    assert_int_equal(aq_gguf_get_u32(gguf, "tokenizer.ggml.eos_token_id", &eos), AQ_OK);
    assert_int_equal(aq_gguf_get_u32(gguf, "tokenizer.ggml.unknown_token_id", &unk), AQ_OK);
    assert_int_equal(aq_gguf_get_bool(gguf, "tokenizer.ggml.add_space_prefix", &add_space_prefix), AQ_OK);
    assert_true(add_space_prefix);
    aq_spm_spec spec = {(int32_t)n,   pieces,       lens,         scores,          types,
                        (int32_t)bos, (int32_t)eos, (int32_t)unk, add_space_prefix};
    aq_spm *tok = NULL;
    char msg[256];
    aq_error err = aq_spm_create(&spec, &tok, msg, sizeof msg);
    if (err != AQ_OK) {
        print_error("tokenizer from GGUF: %s\n", msg);
        fail();
    }
    free(pieces);
    free(lens);
    free(scores);
    free(types);
    return tok;
}

static void test_golden_sentencepiece(void **state) {
    (void)state;
    /* Missing files fail the test: the golden comparison is the check
     * against SentencePiece itself, not an optional extra. */
    char model_path[4096], golden_path[4096];
    test_source_path(model_path, sizeof model_path, "models/austen-6m.gguf");
    test_source_path(golden_path, sizeof golden_path, "data/golden-tokens.txt");
    aq_gguf *gguf = NULL;
    char msg[256] = "";
    if (aq_gguf_open_file(model_path, &gguf, msg, sizeof msg) != AQ_OK) {
        print_error("%s: %s (made by tools/export_gguf.py)\n", model_path, msg);
        fail();
    }
    aq_spm *tok = tokenizer_from_gguf(gguf);
    FILE *f = fopen(golden_path, "r");
    if (f == NULL) {
        aq_spm_free(tok);
        aq_gguf_close(gguf);
        print_error("%s is missing (made by tools/golden_tokens.py)\n", golden_path);
        fail();
    }

    char line[8192], text[8192], back[8192];
    int32_t want[2048], got[2048];
    int cases = 0, failures = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        assert_non_null(strchr(line, '\n')); /* the line fitted */
        const char *p = line;
        size_t text_len = 0;
        assert_true(parse_json_string(&p, text, &text_len));
        assert_int_equal(*p++, '\t');
        int32_t n_want = 0;
        for (;;) {
            char *end;
            long id = strtol(p, &end, 10);
            if (end == p) break;
            assert_true(n_want < 2048);
            want[n_want++] = (int32_t)id;
            p = end;
        }
        int32_t n_got = -1;
        assert_int_equal(aq_spm_encode(tok, text, text_len, false, got, 2048, &n_got), AQ_OK);
        bool same = n_got == n_want;
        for (int32_t i = 0; same && i < n_got; i++) same = got[i] == want[i];
        if (!same) {
            print_error("golden case %d \"%.*s\": %d tokens, want %d; first difference at", cases + 1, (int)text_len,
                        text, (int)n_got, (int)n_want);
            for (int32_t i = 0; i < n_got && i < n_want; i++) {
                if (got[i] != want[i]) {
                    print_error(" %d (%d vs %d)", (int)i, (int)got[i], (int)want[i]);
                    break;
                }
            }
            print_error("\n");
            failures++;
        }
        size_t back_len = 0;
        assert_int_equal(aq_spm_decode(tok, got, n_got, back, sizeof back, &back_len), AQ_OK);
        if (back_len != text_len || memcmp(back, text, text_len) != 0) {
            print_error("golden case %d: decodes to \"%.*s\"\n", cases + 1, (int)back_len, back);
            failures++;
        }
        cases++;
    }
    fclose(f);
    aq_spm_free(tok);
    aq_gguf_close(gguf);
    assert_int_equal(failures, 0);
    assert_true(cases >= 30);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merges_by_score),
        cmocka_unit_test(test_no_space_prefix),
        cmocka_unit_test(test_special_text_stays_text),
        cmocka_unit_test(test_byte_fallback),
        cmocka_unit_test(test_empty_and_bos),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_golden_sentencepiece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

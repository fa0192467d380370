/* Chat templates: recognising a family from the Jinja text, and writing its
 * format. What each family writes is read off the templates themselves
 * (the .jinja files in data/chat_templates); chat_template.h lists them. */
#include "chat_template.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- reading the template ---- */

static const char *find(aq_chat_text hay, size_t from, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = from; n <= hay.len && i <= hay.len - n; i++)
        if (memcmp(hay.ptr + i, needle, n) == 0) return hay.ptr + i;
    return NULL;
}

static bool contains(aq_chat_text hay, const char *needle) { return find(hay, 0, needle) != NULL; }

/* A newline inside a Jinja string literal: written as is, or as the escape \n. */
static size_t newline_at(aq_chat_text t, size_t i) {
    if (i < t.len && t.ptr[i] == '\n') return 1;
    if (i + 1 < t.len && t.ptr[i] == '\\' && t.ptr[i + 1] == 'n') return 2;
    return 0;
}

/* The literal text that follows `<|im_start|>system\n` inside one string
 * literal, up to `<|im_end|>`: the default system message of SmolLM2's and
 * Qwen 2.5's templates. Occurrences followed by the end of the literal
 * ('<|im_start|>system\n' + messages[0]['content']) are skipped. */
static aq_chat_text chatml_default_system(aq_chat_text t) {
    const char *head = "<|im_start|>system";
    size_t head_len = strlen(head);
    for (const char *p = find(t, 0, head); p; p = find(t, (size_t)(p - t.ptr) + 1, head)) {
        size_t at = (size_t)(p - t.ptr);
        if (at == 0 || (t.ptr[at - 1] != '\'' && t.ptr[at - 1] != '"')) continue;
        char quote = t.ptr[at - 1];
        size_t nl = newline_at(t, at + head_len);
        if (nl == 0) continue;
        size_t start = at + head_len + nl;
        const char *end = find(t, start, "<|im_end|>");
        if (!end || start >= t.len || t.ptr[start] == quote) continue;
        size_t stop = (size_t)(end - t.ptr);
        bool closed = false; /* the literal must not end before <|im_end|> */
        for (size_t i = start; i < stop && !closed; i++) {
            if (t.ptr[i] == '\\')
                i++;
            else if (t.ptr[i] == quote)
                closed = true;
        }
        if (!closed) return (aq_chat_text){t.ptr + start, stop - start};
    }
    return (aq_chat_text){NULL, 0};
}

/* The string literal after `key` (e.g. `set date_string = "26 Jul 2024"`). */
static aq_chat_text literal_after(aq_chat_text t, const char *key) {
    const char *p = find(t, 0, key);
    if (!p) return (aq_chat_text){NULL, 0};
    size_t i = (size_t)(p - t.ptr) + strlen(key);
    while (i < t.len && t.ptr[i] == ' ') i++;
    if (i >= t.len || (t.ptr[i] != '"' && t.ptr[i] != '\'')) return (aq_chat_text){NULL, 0};
    char quote = t.ptr[i++];
    size_t start = i;
    while (i < t.len && t.ptr[i] != quote) i += t.ptr[i] == '\\' ? 2 : 1;
    if (i > t.len) i = t.len;
    return (aq_chat_text){t.ptr + start, i - start};
}

aq_chat_family aq_chat_template_parse(const char *text, size_t len, aq_chat_template *out) {
    *out = (aq_chat_template){.family = AQ_CHAT_NONE, .name = ""};
    if (!text || len == 0) return AQ_CHAT_NONE;
    aq_chat_text t = {text, len};
    /* The order is llama.cpp's (llm_chat_detect_template), which tells these
     * families apart where their markers overlap. */
    if (contains(t, "<|im_start|>") && !contains(t, "<|im_sep|>")) {
        out->family = AQ_CHAT_CHATML, out->name = "chatml";
        out->default_system = chatml_default_system(t);
        out->think = contains(t, "reasoning_content") && contains(t, "</think>");
        out->always_prefix = !contains(t, "add_generation_prompt");
    } else if (contains(t, "[INST]") && !contains(t, "[SYSTEM_PROMPT]") && !contains(t, "[AVAILABLE_TOOLS]")) {
        bool sys = contains(t, "<<SYS>>");
        out->family = sys ? AQ_CHAT_LLAMA2 : AQ_CHAT_MISTRAL, out->name = sys ? "llama2" : "mistral";
        out->bos_every_turn = contains(t, "bos_token + '[INST]") || contains(t, "bos_token + \"[INST]");
        out->strip = contains(t, ".strip()");
        out->eos_space = contains(t, "eos_token + ' '") || contains(t, "eos_token + \" \"");
    } else if (contains(t, "<start_of_turn>")) {
        out->family = AQ_CHAT_GEMMA, out->name = "gemma";
        out->always_prefix = !contains(t, "add_generation_prompt");
    } else if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>")) {
        out->family = AQ_CHAT_LLAMA3, out->name = "llama3";
        out->always_prefix = !contains(t, "add_generation_prompt");
        out->knowledge_date = contains(t, "Cutting Knowledge Date:");
        out->date = literal_after(t, "set date_string =");
        out->date_today = contains(t, "strftime_now");
    }
    return out->family;
}

const char *aq_chat_template_end_of_turn(aq_chat_family family) {
    switch (family) {
    case AQ_CHAT_CHATML:
        return "<|im_end|>";
    case AQ_CHAT_LLAMA3:
        return "<|eot_id|>";
    case AQ_CHAT_GEMMA:
        return "<end_of_turn>";
    default:
        return NULL;
    }
}

/* ---- writing ---- */

typedef struct strbuf {
    char *ptr;
    size_t len, cap;
    bool failed; /* out of memory */
} strbuf;

static void put(strbuf *s, const char *p, size_t n) {
    if (s->failed || n == 0) return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n) cap *= 2;
        char *grown = realloc(s->ptr, cap);
        if (!grown) {
            s->failed = true;
            return;
        }
        s->ptr = grown, s->cap = cap;
    }
    memcpy(s->ptr + s->len, p, n);
    s->len += n;
}

static void puts_(strbuf *s, const char *text) { put(s, text, strlen(text)); }
static void put_text(strbuf *s, aq_chat_text t) { put(s, t.ptr, t.len); }

/* A Jinja string literal's text with its escapes undone. */
static void put_unescaped(strbuf *s, aq_chat_text t) {
    for (size_t i = 0; i < t.len; i++) {
        char c = t.ptr[i];
        if (c == '\\' && i + 1 < t.len) {
            char e = t.ptr[++i];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
        put(s, &c, 1);
    }
}

/* Length of the whitespace character (Python's str.isspace(), which Jinja's
 * trim and str.strip() use) starting at p, or 0. */
static size_t space_at(const unsigned char *p, size_t avail) {
    if (avail >= 1 && ((p[0] >= 0x09 && p[0] <= 0x0D) || (p[0] >= 0x1C && p[0] <= 0x20))) return 1;
    if (avail >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0)) return 2;
    if (avail >= 3 && p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80) return 3; /* U+1680 */
    if (avail >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
        (p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF)) /* U+2000..200A, 2028, 2029, 202F */
        return 3;
    if (avail >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) return 3; /* U+205F */
    if (avail >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* Whitespace character ending at p + len (looking back at most 3 bytes). */
static size_t space_before(const unsigned char *p, size_t len) {
    for (size_t n = 1; n <= 3 && n <= len; n++)
        if (space_at(p + len - n, n) == n) return n;
    return 0;
}

/* Length of a character to strip at p (forward) or ending at p + len (back):
 * any whitespace (chars NULL), else one of the single-byte chars. */
static size_t strip_at(const unsigned char *p, size_t len, const char *chars, bool back) {
    if (!chars) return back ? space_before(p, len) : space_at(p, len);
    unsigned char c = back ? p[len - 1] : p[0];
    return c != '\0' && strchr(chars, c) ? 1 : 0;
}

/* Strips s's text after offset `from`, on the left and/or the right: Python's
 * strip() (chars NULL) or strip(chars). */
static void strip_from(strbuf *s, size_t from, const char *chars, bool left, bool right) {
    if (s->failed) return;
    const unsigned char *p = (const unsigned char *)s->ptr;
    size_t start = from, end = s->len, n;
    while (right && end > start && (n = strip_at(p + start, end - start, chars, true)) > 0) end -= n;
    while (left && start < end && (n = strip_at(p + start, end - start, chars, false)) > 0) start += n;
    memmove(s->ptr + from, s->ptr + start, end - start);
    s->len = from + (end - start);
}

/* Writes text, stripped of whitespace on both ends (Jinja's trim). */
static void put_trimmed(strbuf *s, const char *text) {
    size_t from = s->len;
    puts_(s, text);
    strip_from(s, from, NULL, true, true);
}

static bool is_role(const aq_chat_message *m, const char *role) { return strcmp(m->role, role) == 0; }

/* Today's date as "%d %b %Y" in the C locale ("06 Mar 2025"), as
 * transformers' strftime_now gives it. */
static void put_today(strbuf *s) {
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    char text[32];
    if (!localtime_r(&now, &tm) || tm.tm_mon < 0 || tm.tm_mon > 11) return;
    snprintf(text, sizeof text, "%02d %s %d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
    puts_(s, text);
}

static void chatml(strbuf *s, const aq_chat_template *t, const aq_chat_message *m, size_t n) {
    /* Qwen 3: assistant turns after the last user query keep their <think> block. */
    size_t last_query = n > 0 ? n - 1 : 0;
    for (size_t i = n; t->think && i-- > 0;) {
        size_t len = strlen(m[i].content);
        bool tool_response = len >= 31 && strncmp(m[i].content, "<tool_response>", 15) == 0 &&
                             strcmp(m[i].content + len - 16, "</tool_response>") == 0;
        if (is_role(&m[i], "user") && !tool_response) {
            last_query = i;
            break;
        }
    }
    if (n > 0 && t->default_system.len > 0 && !is_role(&m[0], "system")) {
        puts_(s, "<|im_start|>system\n");
        put_unescaped(s, t->default_system);
        puts_(s, "<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
        puts_(s, "<|im_start|>");
        puts_(s, m[i].role);
        puts_(s, "\n");
        const char *content = m[i].content, *close = strstr(content, "</think>");
        if (!t->think || !is_role(&m[i], "assistant") || !close) {
            if (t->think && is_role(&m[i], "assistant") && i > last_query && i == n - 1) {
                puts_(s, "<think>\n\n</think>\n\n");
                size_t from = s->len;
                puts_(s, content);
                strip_from(s, from, "\n", true, false);
            } else {
                puts_(s, content);
            }
        } else {
            /* content.split('</think>')[-1].lstrip('\n') and the reasoning:
             * content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') */
            const char *after = close, *next;
            while ((next = strstr(after + 8, "</think>")) != NULL) after = next;
            after += 8;
            while (*after == '\n') after++;
            const char *r_end = close;
            while (r_end > content && r_end[-1] == '\n') r_end--;
            const char *r_start = content;
            for (const char *p = content; p + 7 <= r_end; p++)
                if (memcmp(p, "<think>", 7) == 0) r_start = p + 7;
            while (r_start < r_end && *r_start == '\n') r_start++;
            bool has_reasoning = r_end > r_start;
            if (i > last_query && (i == n - 1 || has_reasoning)) {
                puts_(s, "<think>\n");
                size_t from = s->len;
                put(s, r_start, (size_t)(r_end - r_start));
                strip_from(s, from, "\n", true, true);
                puts_(s, "\n</think>\n\n");
            }
            puts_(s, after);
        }
        puts_(s, "<|im_end|>\n");
    }
}

static void llama3(strbuf *s, const aq_chat_template *t, const aq_chat_specials *sp, const aq_chat_message *m,
                   size_t n) {
    size_t first = 0;
    if (t->knowledge_date) {
        put_text(s, sp->bos);
        puts_(s, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ");
        if (t->date_today)
            put_today(s);
        else
            put_unescaped(s, t->date);
        puts_(s, "\n\n");
        if (n > 0 && is_role(&m[0], "system")) put_trimmed(s, m[first++].content);
        puts_(s, "<|eot_id|>");
    }
    for (size_t i = first; i < n; i++) {
        if (i == 0 && !t->knowledge_date) put_text(s, sp->bos);
        puts_(s, "<|start_header_id|>");
        puts_(s, m[i].role);
        puts_(s, "<|end_header_id|>\n\n");
        put_trimmed(s, m[i].content);
        puts_(s, "<|eot_id|>");
    }
}

/* Llama 2 and Mistral: a system message goes in front of the next message's
 * content (Llama 2 in a <<SYS>> block, the only place its template puts one). */
static void inst(strbuf *s, const aq_chat_template *t, const aq_chat_specials *sp, const aq_chat_message *m, size_t n) {
    bool llama2 = t->family == AQ_CHAT_LLAMA2;
    if (!t->bos_every_turn) put_text(s, sp->bos);
    size_t pending = 0, n_pending = 0; /* system messages waiting for the next turn */
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) {
            if (n_pending == 0) pending = i;
            n_pending++;
            continue;
        }
        bool user = !is_role(&m[i], "assistant");
        if (user) {
            if (t->bos_every_turn) put_text(s, sp->bos);
            puts_(s, "[INST] ");
        } else if (llama2) {
            puts_(s, " ");
        }
        size_t from = s->len;
        for (size_t j = pending; j < pending + n_pending; j++) {
            puts_(s, llama2 ? "<<SYS>>\n" : "");
            puts_(s, m[j].content);
            puts_(s, llama2 ? "\n<</SYS>>\n\n" : "\n\n");
        }
        n_pending = 0;
        puts_(s, m[i].content);
        if (t->strip) strip_from(s, from, NULL, true, true);
        if (user) {
            puts_(s, " [/INST]");
        } else {
            puts_(s, llama2 ? " " : "");
            put_text(s, sp->eos);
            puts_(s, t->eos_space ? " " : "");
        }
    }
}

static void gemma(strbuf *s, const aq_chat_specials *sp, const aq_chat_message *m, size_t n) {
    put_text(s, sp->bos);
    size_t pending = 0, n_pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) {
            if (n_pending == 0) pending = i;
            n_pending++;
            continue;
        }
        puts_(s, "<start_of_turn>");
        puts_(s, is_role(&m[i], "assistant") ? "model" : m[i].role);
        puts_(s, "\n");
        for (size_t j = pending; j < pending + n_pending; j++) {
            puts_(s, m[j].content);
            puts_(s, "\n\n");
        }
        n_pending = 0;
        put_trimmed(s, m[i].content);
        puts_(s, "<end_of_turn>\n");
    }
}

static aq_error message(char *msg, size_t cap, aq_error err, const char *fmt, ...) {
    if (msg && cap > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(msg, cap, fmt, args);
        va_end(args);
    }
    return err;
}

aq_error aq_chat_template_apply(const aq_chat_template *t, const aq_chat_specials *sp, const aq_chat_message *m,
                                size_t n, bool add_prefix, char *buf, size_t capacity, size_t *length, char *msg,
                                size_t msg_cap) {
    if (length) *length = 0;
    if (!t || !sp || !length || (!m && n > 0) || (!buf && capacity > 0))
        return message(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "a NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!m[i].role || !m[i].content)
            return message(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "message %zu has a NULL %s", i,
                           m[i].role ? "content" : "role");
    strbuf s = {0};
    bool prefix = add_prefix || t->always_prefix;
    switch (t->family) {
    case AQ_CHAT_CHATML:
        chatml(&s, t, m, n);
        if (prefix) puts_(&s, "<|im_start|>assistant\n");
        break;
    case AQ_CHAT_LLAMA3:
        llama3(&s, t, sp, m, n);
        if (prefix) puts_(&s, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case AQ_CHAT_LLAMA2:
    case AQ_CHAT_MISTRAL:
        inst(&s, t, sp, m, n);
        break; /* the prompt ends at [/INST] either way */
    case AQ_CHAT_GEMMA:
        gemma(&s, sp, m, n);
        if (prefix) puts_(&s, "<start_of_turn>model\n");
        break;
    default:
        return message(msg, msg_cap, AQ_ERR_UNSUPPORTED, "no chat template of a family we know");
    }
    if (s.failed) {
        free(s.ptr);
        return message(msg, msg_cap, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    }
    *length = s.len;
    if (s.len > 0 && capacity > 0) memcpy(buf, s.ptr, s.len < capacity ? s.len : capacity);
    free(s.ptr);
    return s.len > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

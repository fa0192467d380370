/* Chat templates: the prompt a chat model was trained on, from a list of
 * (role, content) messages. A GGUF carries the template as Jinja text
 * (tokenizer.chat_template); we run no Jinja, but recognise the common
 * families by substrings characteristic of their templates, as llama.cpp's
 * llm_chat_detect_template does, and write each family's format in C. The
 * output is what Hugging Face transformers' apply_chat_template renders from
 * the same template (tokenize=False), checked string for string by
 * tests/test_chat_template.c against data/chat_templates/. Internal.
 *
 * Families (aq_chat_template.name):
 *   "chatml"  <|im_start|>role\ncontent<|im_end|>\n ...; SmolLM2, Qwen 2.5 and
 *             Qwen 3. A default system message written in the template (as
 *             SmolLM2's and Qwen 2.5's are) is used when the first message is
 *             not a system message; Qwen 3's handling of <think> blocks in
 *             the last assistant turns is followed.
 *   "llama3"  <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
 *             with BOS first; Llama 3, and Llama 3.1 / 3.2 with their
 *             "Cutting Knowledge Date" system block (3.2's "Today Date" is
 *             today's date, as transformers' strftime_now gives it).
 *   "llama2"  <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] reply </s>...
 *             (Llama 2 chat).
 *   "mistral" <s>[INST] user [/INST]reply</s>... (Mistral 7B Instruct v0.1 /
 *             v0.2, Mixtral), the [INST] templates without <<SYS>>.
 *   "gemma"   <bos><start_of_turn>user\n...<end_of_turn>\n, the assistant's
 *             role called "model" (Gemma 1, 2 and 3).
 *
 * Where a template raises an error instead (Gemma 1/2 and Mistral refuse a
 * system message; they all refuse roles that do not alternate), we write
 * something rather than fail: a system message goes in front of the next
 * user message, as Gemma 3's template does (Mistral: system + "\n\n").
 * Roles other than system, user and assistant are written as the family
 * writes any turn, with the role's own name. */
#ifndef AQ_CHAT_TEMPLATE_H
#define AQ_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "agilequant.h"

typedef enum aq_chat_family {
    AQ_CHAT_NONE = 0, /* no template, or one we do not recognise */
    AQ_CHAT_CHATML,
    AQ_CHAT_LLAMA3,
    AQ_CHAT_LLAMA2,
    AQ_CHAT_MISTRAL,
    AQ_CHAT_GEMMA
} aq_chat_family;

/* A piece of text that is not NUL-terminated. */
typedef struct aq_chat_text {
    const char *ptr;
    size_t len;
} aq_chat_text;

/* What the template says, beyond its family. Slices point into the template
 * text, which must outlive this. */
typedef struct aq_chat_template {
    aq_chat_family family;
    const char *name;   /* "chatml", ..., "" for AQ_CHAT_NONE */
    bool always_prefix; /* the template ends with the assistant's header whatever
                                  * add_generation_prompt says (Llama 3's first template) */
    /* chatml */
    aq_chat_text default_system; /* as written inside a Jinja string literal (escapes
                                  * undone when written); len 0: none */
    bool think;                  /* Qwen 3: <think> blocks of the last assistant turns */
    /* llama3 */
    bool knowledge_date; /* Llama 3.1+: the system block with the dates */
    aq_chat_text date;   /* its default date_string, e.g. "26 Jul 2024" */
    bool date_today;     /* the template asks strftime_now for today's date */
    /* llama2 / mistral */
    bool bos_every_turn; /* bos_token + '[INST]': BOS before every user turn */
    bool strip;          /* content.strip() */
    bool eos_space;      /* Mistral v0.1: eos_token + ' ' after a reply */
} aq_chat_template;

/* Recognises the template's family; AQ_CHAT_NONE (name "") if it is none of
 * ours or len is 0. */
aq_chat_family aq_chat_template_parse(const char *text, size_t len, aq_chat_template *out);

/* The special tokens' texts a template writes as bos_token and eos_token. */
typedef struct aq_chat_specials {
    aq_chat_text bos, eos;
} aq_chat_specials;

/* Writes the prompt of n messages into buf (up to capacity bytes, not
 * NUL-terminated); *length gets its full length. add_prefix: end with the
 * header of the assistant's next turn (add_generation_prompt). Returns
 * AQ_ERR_BUFFER_TOO_SMALL when *length > capacity, AQ_ERR_INVALID_ARGUMENT for
 * a message with a NULL role or content (msg says which), AQ_ERR_UNSUPPORTED
 * for AQ_CHAT_NONE. */
aq_error aq_chat_template_apply(const aq_chat_template *tmpl, const aq_chat_specials *specials,
                                const aq_chat_message *messages, size_t n_messages, bool add_prefix, char *buf,
                                size_t capacity, size_t *length, char *msg, size_t msg_cap);

/* The text that ends a turn in the family's format ("<|im_end|>",
 * "<|eot_id|>", "<end_of_turn>"); NULL where the end of a turn is the EOS
 * token (llama2, mistral) or for AQ_CHAT_NONE. */
const char *aq_chat_template_end_of_turn(aq_chat_family family);

#endif

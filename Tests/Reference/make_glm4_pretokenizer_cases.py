"""Writes Tests/Fixtures/glm4-pretokenizer-cases.json: GLM-4's pre-split and byte-pair ids for random strings.

The split is Python `regex`'s `findall` with the exact pattern of GLM-4's official `tokenization_chatglm.py`; the ids
come from a plain transcription of tiktoken's byte-pair rule (below) over the tiny GLM-4 vocabulary in
Tests/Fixtures/glm-4-9b-chat-tiny. The `decoding` cases are random byte strings and what Python's
`bytes.decode("utf-8", errors="replace")` makes of them. `test_glm4_pretokenizer.py` regenerates the file and
checks that the committed one is identical, so the Swift tests compare against these references, not against
Swift output.

Run: python3 Tests/Reference/make_glm4_pretokenizer_cases.py
"""

import base64
import json
import pathlib
import random

import regex

# GLM-4's split pattern, character for character as tokenization_chatglm.py spells it.
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)
SEED = 20240605
STRING_COUNT = 2000
# Byte-pair ids for the first strings only (and the long runs), to keep the file near 300 KB; every string still
# round-trips in the Swift tests.
ENCODED_COUNT = 700
LONG_RUN_COUNT = 12
DECODING_COUNT = 300

TESTS = pathlib.Path(__file__).resolve().parent.parent
VOCABULARY = TESTS / "Fixtures" / "glm-4-9b-chat-tiny" / "tokenizer.model"
OUTPUT = TESTS / "Fixtures" / "glm4-pretokenizer-cases.json"

# What the random strings are built from: each entry is a pool of short strings that a segment repeats.
POOLS = {
    "ascii_word": ["the", "Hello", "WORLD", "naïve", "x", "I", "don", "can", "we", "they", "SHOUT", "mIxEd"],
    "contraction": [
        "'s", "'S", "'\u017f", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL",
        "'d", "'D", "'x", "'", "''", "'l", "'r", "'v", "\u2019s", "'\u212a", "'\u0130",
    ],
    "latin": ["é", "ß", "ø", "Ł", "ǅ", "ʰ", "ﬁ", "ſ", "ı", "İ", "K"],
    "greek_cyrillic": ["λόγος", "Ω", "ς", "Привет", "ё", "Ж"],
    "semitic_indic": ["مرحبا", "שלום", "नमस्ते", "ক", "த", "ไทย"],
    "cjk": ["你好", "清华大学", "数", "日本語", "ひらがな", "カタカナ", "한국어", "〇", "𠀀"],
    "digit": ["0", "7", "42", "123", "2024", "٣", "٠١٢", "५", "३", "３", "½", "²", "Ⅻ", "①", "𝟙", "〇", "〸"],
    "space": [
        " ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", "\v", "\f", "\x85", "\xa0", "\u1680", "\u2000", "\u2003",
        "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", " \n", "\t\n ", "\n \n",
    ],
    "not_space": ["\x1c", "\x1d", "\x1e", "\x1f", "\u200b", "\u180e", "\ufeff", "\x00", "\x01", "\x7f"],
    "punct": [
        ".", ",", "!", "?", "-", "--", "...", "(", ")", "{", "}", "[", "]", ":", ";", "\"", "#", "@", "$", "%",
        "^", "&", "*", "_", "=", "+", "/", "\\", "|", "<", ">", "~", "`", "，", "。", "！", "「", "」", "—", "…",
        "€", "©", "→",
    ],
    "emoji": ["👋", "😀", "👨\u200d👩\u200d👧", "🇫🇷", "❤\ufe0f", "👍🏽", "🤖"],
    "combining": ["\u0301", "\u0308", "e\u0301", "a\u030a", "\u0915\u094d", "\u20dd", "\u0651"],
}
KINDS = list(POOLS)


def random_string(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 10)):
        pool = POOLS[rng.choice(KINDS)]
        parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 3))))
    return "".join(parts)


def long_string(rng: random.Random) -> str:
    """A long letter run (one piece of hundreds of bytes), to reach the encoder's large-piece path."""
    letters = rng.choice(["abcdefghij ", "thequickbrown", "数字清华大学你好", "ab", "a"])
    run = "".join(rng.choice(letters.replace(" ", "")) for _ in range(rng.randint(150, 400)))
    return rng.choice(["", " ", "x", "'"]) + run + rng.choice(["", ".", " end"])


def random_bytes(rng: random.Random) -> bytes:
    """Byte strings weighted to UTF-8 lead and continuation bytes, so that most are ill-formed in an interesting
    way: truncated sequences, overlongs, surrogates, code points past U+10FFFF."""
    choices = [
        lambda: rng.randrange(0x00, 0x80),
        lambda: rng.randrange(0x80, 0xC0),
        lambda: rng.randrange(0xC0, 0xE0),
        lambda: rng.randrange(0xE0, 0xF0),
        lambda: rng.randrange(0xF0, 0xF8),
        lambda: rng.randrange(0xF8, 0x100),
        lambda: rng.choice([0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0x80, 0x9F, 0xA0, 0xBF, 0x8F, 0x90]),
    ]
    return bytes(rng.choice(choices)() for _ in range(rng.randint(1, 12)))


def load_ranks(path: pathlib.Path) -> dict:
    """The vocabulary as the official tokenizer reads it: `<base64 token> <rank>` per line."""
    ranks = {}
    with open(path) as file:
        for line in file:
            token, rank = line.strip().split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def byte_pair_encode(piece: bytes, ranks: dict) -> list:
    """tiktoken's rule: a piece that is a token is that token; otherwise start from single bytes and merge, while
    any adjacent pair's concatenation is a token, the pair of lowest rank (the leftmost of equal ones)."""
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[i : i + 1] for i in range(len(piece))]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            break
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[part] for part in parts]


def build() -> str:
    rng = random.Random(SEED)
    split = regex.compile(PATTERN)
    ranks = load_ranks(VOCABULARY)
    texts = [random_string(rng) for _ in range(STRING_COUNT)] + [long_string(rng) for _ in range(LONG_RUN_COUNT)]
    cases = []
    for index, text in enumerate(texts):
        pieces = split.findall(text)
        assert "".join(pieces) == text, "the pattern matches at every position, so the pieces cover the text"
        case = {"pieces": pieces}
        if index < ENCODED_COUNT or index >= STRING_COUNT:
            case["ids"] = [i for piece in pieces for i in byte_pair_encode(piece.encode("utf-8"), ranks)]
        cases.append(case)
    decoding = []
    for _ in range(DECODING_COUNT):
        data = random_bytes(rng)
        decoding.append({"bytes": data.hex(), "text": data.decode("utf-8", errors="replace")})

    def dump(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", f'"pattern":{dump(PATTERN)},', f'"seed":{SEED},', '"cases":[']
    lines.append(",\n".join(dump(case) for case in cases))
    lines.append('],"decoding":[')
    lines.append(",\n".join(dump(case) for case in decoding))
    lines.append("]}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(build(), encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")

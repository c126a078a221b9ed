#!/usr/bin/env python3
"""Writes the tokenizer fixtures that Tests/LetheTokenizerTests compares against.

Oracle: the Hugging Face `tokenizers` package (the implementation the Mamba checkpoints were trained with).
Run by hand from the repository root:
    /work/venv/bin/python Tests/Fixtures/tokenizer/make_tokenizer_fixtures.py [--data DIR (default: the repository's data/)]
Writes, next to this script:
  neox-real.jsonl      real lines (CoNLL-2003, GSM8K, AAVE/SAE, Multi-VALUE) -> ids, decoded text
  neox-edge.jsonl      hand-written edge cases -> ids, decoded text, pre-tokenizer pieces
  neox-fuzz.jsonl      500 pseudo-random strings over a mixed alphabet (seed 20251129) -> ids, decoded, pieces
  neox-decode.jsonl    id sequences (incl. ones that split UTF-8 sequences) -> decoded text
  tiny-tokenizer.json  a small byte-level BPE trained here, no normalizer, merges stored as pairs, and added tokens
                       with every flag combination (single_word, lstrip, rstrip, normalized, special)
  tiny-cases.jsonl     texts (hand-written, then 500 random ones over the added tokens) -> ids under
                       tiny-tokenizer.json
  neox-scalar-classes.txt   the class of every Unicode scalar as the ByteLevel pre-tokenizer's regex sees it
                       (L letter, N number, S whitespace, O other), as "first last class" hex ranges
  neox-nfc-scalars.jsonl    every scalar that the NFC normalizer changes, with its NFC form; then every pair
                       (a, b) from a two-scalar canonical decomposition and every full decomposition longer than two
                       scalars (Hangul aside), with their NFC forms
  neox-nfc-marks.jsonl      3,000 random sequences of bases, combining marks (every scalar with a non-zero
                       combining class), decomposable scalars and Hangul jamo, with the package's NFC
  tiny-word-scalars.txt     the scalars before which tiny's single_word token "[W]" does not match (the word
                       characters, `\w` of the package's regex crate) and those lstrip takes ("first last W|S" hex ranges)
  tiny-prefix-tokenizer.json, tiny-prefix-cases.jsonl   the same with an NFC normalizer, add_prefix_space and merges
                       stored as "a b" strings (the older format)
Every line: {"text": str, "ids": [int], "nfc": bool[, "decoded": str][, "pieces": [str]]}; "decoded" (the package's
decode of the ids) is left out where it equals the text; "nfc" says whether
decoded == the package's NFC of text (false where lstrip/rstrip drop whitespace, or tiny's "é" token is a byte).
"""
import argparse
import csv
import json
import os
import random
import unicodedata

from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, AddedToken

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
NEOX = os.path.join(REPO, "data", "tokenizer", "gpt-neox-20b-tokenizer.json")


def case(tok, text, with_pieces=False):
    ids = tok.encode(text).ids
    decoded = tok.decode(ids, skip_special_tokens=False)
    nfc = tok.normalizer.normalize_str(text) if tok.normalizer else text
    row = {"text": text, "ids": ids, "nfc": decoded == nfc}
    if decoded != text:
        row["decoded"] = decoded
    if with_pieces:
        # The ByteLevel pre-tokenizer alone (GPT-2 split pattern), on the NFC text, in byte-level characters.
        row["pieces"] = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(nfc)]
    return row


def write_jsonl(name, rows):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} rows")


def real_lines(data):
    lines = []
    # CoNLL-2003: every 12th sentence of eng.testa, words joined by single spaces.
    sentence, sentences = [], []
    with open(os.path.join(data, "conll2003", "eng.testa"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                if sentence:
                    sentences.append(" ".join(sentence))
                sentence = []
            else:
                sentence.append(line.split(" ")[0])
    lines += sentences[::4][:700]
    # GSM8K: questions and answers (answers hold "<<48/2=24>>" calculator annotations and "#### 72").
    with open(os.path.join(data, "gsm8k", "test.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(l) for l in f]
    for row in rows[:350]:
        lines += [row["question"], row["answer"]]
    # AAVE/SAE pairs.
    with open(os.path.join(data, "dialects", "aave-sae.csv"), encoding="utf-8") as f:
        pairs = list(csv.DictReader(f))
    for row in pairs[::20][:300]:
        lines += [row["AAVE"], row["SAE"]]
    # Multi-VALUE glosses and dialect rewrites.
    with open(os.path.join(data, "dialects", "multi-value-unittests.json"), encoding="utf-8") as f:
        tests = json.load(f)
    for examples in tests.values():
        for ex in examples:
            lines.append(ex["gloss"])
            lines += ex["dialect"]
    return lines


def edge_cases():
    cases = [
        "", " ", "  ", "\n", "\t", "\r\n", "a", "<|endoftext|>", "<|padding|>", "<|endoftext|><|endoftext|>",
        "Hello<|endoftext|>world", "Hello <|endoftext|> world", "end.<|endoftext|>\n\nNext", "<|endoftext|>  x",
        "x<|padding|>y", "<|endoftext", "|endoftext|>", "<|endoftext|", "<<|endoftext|>>", "<|ENDOFTEXT|>",
        "don't", "DON'T", "I'm", "I'M", "you're", "YOU'RE", "we've", "WE'VE", "she'll", "SHE'LL", "he'd", "HE'D",
        "it's", "IT'S", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "''s", "'''", "' s", "rock'n'roll",
        "’s curly apostrophe", "l'été", "O'Neill's", "'", "'x", "x'", " '", "'\n",
        "a\tb", "a\t\tb", "a\n\nb", "a\r\nb", "a \n b", "a\n b", "a \nb", "  leading", "trailing  ", "\n\n\n",
        "line1\nline2\n", "tab\tsep\tvalues\t", "\t\t\tindented", " \t \t mixed", "x\u000by\u000cz",
        "\u00a0nbsp\u00a0x", "thin\u2009space", "ideographic\u3000space", "nel\u0085x", "ogham\u1680x",
        "\u2028line\u2029para", "zero\u200bwidth", "\u001cfile\u001dsep\u001e\u001f", "\ufeffbom",
        "2024", "3.14159", "1,000,000", "-42", "1e10", "0x1F", "12345678901234567890", "9" * 100,
        "Ⅻ roman", "x² + y³", "½ ¼", "٣٤٥ arabic-indic", "१२३ devanagari digits", "๑๒๓ thai digits",
        "こんにちは世界", "日本語のテキスト。", "中文，标点！", "한국어 텍스트", "ㄱㄴㄷ", "\u1100\u1161\u11a8",
        "مرحبا بالعالم", "العربية: ١٢٣", "नमस्ते दुनिया", "हिन्दी", "Привет, мир!", "Ελληνικά", "עברית",
        "ภาษาไทย", "ქართული", "Հայերեն", "ᚠᚢᚦ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟙𝟚𝟛", "ǅungla ǈ", "ʰʲ modifier",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇬🇧", "🇺", "❤️", "1️⃣", "a😀b", " 😀 ", "😀😀😀",
        "🧑🏿‍💻 coder", "🫠", "e\u0301", "e\u0301\u0301", "\u0301", "a\u0308o\u0308u\u0308", "Å", "A\u030a",
        "\u212b", "\u1e9b\u0323", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "한\u0300", "\u0958", "\u2126 ohm", "\u00c5",
        "\u0cca\u0cd5 kannada", "\U00011935\U00011930 \U00011938", "\uac00\u11a8 LV+T jamo", "가각\u11a8", "日\u0301本", "漢字\u3099", "\u4e00\u0300\u0316",
        "e<|endoftext|>\u0301", "café", "cafe\u0301", "naïve résumé", "Zoë", "\u0041\u030a\u0301",
        "x" * 10000, "é" * 3000, "ab" * 5000, "😀" * 500, "Supercalifragilisticexpialidocious" * 50,
        " " * 2, " " * 3, " " * 23, " " * 24, " " * 25, " " * 30, " " * 48, " " * 49, "a" + " " * 26 + "b",
        "\t" * 30, "\n" * 30, " \t" * 15, "x" + " " * 13 + "\ny", "  \n  ", " \n", "\n ",
        "def f(x):\n    return x  # comment\n", "if (a && b) { c++; }", "<html><body>hi</body></html>",
        "https://example.com/path?q=1&r=2", "user@example.com", "$100.00", "50%", "#hashtag @mention",
        "C++ and C#", "!!!???...", "—–-", "«quotes»", "“smart quotes”", "…", "§¶†‡", "\\n literal",
        "\x00null", "\x07bell", "\x7f", "\u0080\u0081", "\ue000 private", "\U000f0000 supplementary private",
    ]
    for n in range(2, 31):
        cases.append("word" + " " * n + "next")
    return cases


def fuzz_cases(n, seed):
    rng = random.Random(seed)
    alphabet = (
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") +
        list(" " * 12 + "\t\n\r'\".,;:!?-_()[]{}<>|/\\@#$%^&*+=~`") +
        ["'s", "'S", "'ll", "'LL", "'re", "<|endoftext|>", "<|padding|>", "  ", "   ", "\r\n", "\u00a0", "\u3000",
         "\u2009", "\u0085", "\u200b", "\u001c", "\ufeff"] +
        list("éèüöñçßøåÆŒĳǅ") + ["e\u0301", "a\u0308", "\u0301", "\u0323\u0307"] +
        list("日本語中文字한국어ㄱ") + ["\u1100\u1161"] + list("مرحبا١٢٣") + list("नमस्ते१२") + list("Привет") +
        list("²½Ⅻ𝟙") + ["😀", "👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", "\u200d", "\ufe0f", "🏿"]
    )
    out = []
    for _ in range(n):
        length = rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
        out.append("".join(rng.choice(alphabet) for _ in range(length)))
    return out


def decode_cases(tok, rng):
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    rows = []
    # Ids that hold parts of UTF-8 sequences ("Ã" = 0xC3, "ł" = 0xF0 ...) in every order, alone and together.
    partial = [tok.token_to_id(t) for t in ["Ã", "©", "ł", "Ł", "ĺ", "Ģ", "Ġ"]]
    for _ in range(150):
        ids = [rng.randrange(vocab_size) for _ in range(rng.randrange(1, 12))]
        rows.append(ids)
    for _ in range(100):
        rows.append([rng.choice(partial) for _ in range(rng.randrange(1, 8))])
    rows += [[], [0], [1], [50254], [50276, 0, 1], [vocab_size - 1]]
    return [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)} for ids in rows]


def scalar_classes(tok):
    """Classes from how the pre-tokenizer splits "A" + c, "1" + c and "." + c: a letter joins "A", a number
    joins "1", other punctuation joins "."; whitespace joins none of them."""
    pre = tok.pre_tokenizer
    ranges = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if len(pre.pre_tokenize_str("A" + c)) == 1:
            k = "L"
        elif len(pre.pre_tokenize_str("1" + c)) == 1:
            k = "N"
        elif len(pre.pre_tokenize_str("." + c)) == 1:
            k = "O"
        else:
            k = "S"
        if ranges and ranges[-1][2] == k and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        elif ranges and ranges[-1][2] == k and ranges[-1][1] == 0xD7FF and cp == 0xE000:
            ranges[-1][1] = cp  # the surrogate gap is not a boundary
        else:
            ranges.append([cp, cp, k])
    with open(os.path.join(HERE, "neox-scalar-classes.txt"), "w") as f:
        for first, last, k in ranges:
            f.write(f"{first:x} {last:x} {k}\n")
    print(f"neox-scalar-classes.txt: {len(ranges)} ranges")
    rows = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        normalized = tok.normalizer.normalize_str(chr(cp))
        if normalized != chr(cp):
            rows.append({"scalar": cp, "nfc": normalized})
    for cp in range(0x110000):
        decomposition = unicodedata.decomposition(chr(cp)) if not 0xD800 <= cp < 0xE000 else ""
        parts = decomposition.split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            pair = chr(int(parts[0], 16)) + chr(int(parts[1], 16))
            rows.append({"pair": pair, "nfc": tok.normalizer.normalize_str(pair)})
        full = unicodedata.normalize("NFD", chr(cp)) if not 0xD800 <= cp < 0xE000 and not 0xAC00 <= cp <= 0xD7A3 else ""
        if len(full) > 2:  # multi-level decompositions, fully decomposed
            rows.append({"pair": full, "nfc": tok.normalizer.normalize_str(full)})
    with open(os.path.join(HERE, "neox-nfc-scalars.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"neox-nfc-scalars.jsonl: {len(rows)} rows")


def nfc_mark_sequences(tok, rng):
    marks, decomposable = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        if unicodedata.combining(chr(cp)):
            marks.append(chr(cp))
        elif unicodedata.decomposition(chr(cp)) and not unicodedata.decomposition(chr(cp)).startswith("<"):
            decomposable.append(chr(cp))
    # Marks the package's Unicode 9.0 tables do not know (found by probing; see NFC.swift), to draw them often.
    newer = [chr(c) for c in [0x7FD, 0x899, 0x8D1, 0x8D3, 0xC3C, 0xD3B, 0xEBA, 0x1715, 0x1AC0, 0x1DF6, 0x1DFA,
                              0xA82C, 0x10F46, 0x1133B, 0x11939, 0x16FF0, 0x11930, 0x11935]]
    bases = list("aeiouAEOnsyx") + ["\u0627", "\u0915", "\u0f40", "\u1100", "\u1161", "\uac00", "\u0cc6", "\u0cca",
                                    "\u0b47", "\u0dd9", " "]
    jamo = [chr(c) for c in range(0x11A8, 0x11C3, 5)] + ["\u1161", "\u1175"]
    rows = []
    for _ in range(3000):
        length = rng.randrange(2, 7)
        text = "".join(rng.choice([rng.choice(bases), rng.choice(marks), rng.choice(marks), rng.choice(decomposable),
                                   rng.choice(newer), rng.choice(jamo)]) for _ in range(length))
        rows.append({"pair": text, "nfc": tok.normalizer.normalize_str(text)})
    with open(os.path.join(HERE, "neox-nfc-marks.jsonl"), "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"neox-nfc-marks.jsonl: {len(rows)} rows")


def tiny_tokenizer(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<s>", "</s>"], show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.add_tokens([
        AddedToken("[W]", single_word=True, normalized=False),
        AddedToken("[L]", lstrip=True, normalized=False),
        AddedToken("[R]", rstrip=True, normalized=False),
        AddedToken("[LR]", lstrip=True, rstrip=True, normalized=False),
        AddedToken("[N]", normalized=True),
        AddedToken("cat", single_word=True, normalized=True),
        AddedToken("[N", normalized=True),
        AddedToken("é", normalized=True),
    ])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    return tok


def tiny_cases():
    return [
        "", "a [W] b", "a[W]b", "x [W]", "[W]", "_[W]", "[W]_", "é[W]", "1[W]2", "a [L] b", "a   [L]b", "[L]",
        "\n\t[L]x", "a [R]   b", "a[R]\n\nb", "a  [LR]  b", "[LR]", "[N] [N]x", "[N[N]", "[N", "a cat sat",
        "concatenate", "cat", "cats", "the cat.", "_cat", "cat_", "e\u0301", "cafe\u0301 é", "<s>hello</s>",
        "x <mask> y", "x<mask>y", "  <mask>", "<mask>[R] [L]", "[R] [R]", "[L][L]", "the quick brown fox",
        "Hello, World! 123 don't", "\u00e9\u0301", "[W][W]", " [W] ", "ab[W]", "[LR][LR]", "a [R]  [L] b",
    ]


def tiny_random_cases(n, seed):
    """Random strings over the tiny tokenizers' added tokens, their neighbours (word characters, whitespace) and
    NFC-relevant text: every flag meets every kind of neighbour."""
    rng = random.Random(seed)
    alphabet = ["[W]", "[L]", "[R]", "[LR]", "[N]", "cat", "[N", "\u00e9", "e\u0301", "<mask>", "<s>", "</s>", " ", "  ",
                "\t", "\n", "a", "b", "_", "1", ".", "[", "]", "W", "L", "R", "\u3000", "\u01c5", "\u0301", "x"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.choice([1, 2, 3, 5, 8, 13]))) for _ in range(n)]


def word_scalars(tok):
    word_id, strip_id = tok.token_to_id("[W]"), tok.token_to_id("[L]")
    scalars = [cp for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]
    kinds = {}
    for start in range(0, len(scalars), 20000):
        chunk = scalars[start:start + 20000]
        words = tok.encode_batch([chr(c) + "[W]" for c in chunk])
        strips = tok.encode_batch([chr(c) + "[L]" for c in chunk])
        for c, w, s in zip(chunk, words, strips):
            if word_id not in w.ids:
                kinds[c] = "W"
            elif s.ids == [strip_id]:
                kinds[c] = "S"
    ranges = []
    for c in sorted(kinds):
        if ranges and ranges[-1][2] == kinds[c] and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c, kinds[c]])
    with open(os.path.join(HERE, "tiny-word-scalars.txt"), "w") as f:
        for first, last, kind in ranges:
            f.write(f"{first:x} {last:x} {kind}\n")
    print(f"tiny-word-scalars.txt: {len(ranges)} ranges")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "data"))
    args = parser.parse_args()
    rng = random.Random(20251129)
    neox = Tokenizer.from_file(NEOX)

    real = real_lines(args.data)
    assert len(real) >= 2000, len(real)
    write_jsonl("neox-real.jsonl", [case(neox, t) for t in real])
    write_jsonl("neox-edge.jsonl", [case(neox, t, with_pieces=True) for t in edge_cases()])
    write_jsonl("neox-fuzz.jsonl", [case(neox, t, with_pieces=True) for t in fuzz_cases(500, 20251129)])
    write_jsonl("neox-decode.jsonl", decode_cases(neox, rng))
    scalar_classes(neox)
    nfc_mark_sequences(neox, random.Random(9))

    tiny = tiny_tokenizer(real[:1500])
    tiny.save(os.path.join(HERE, "tiny-tokenizer.json"))
    word_scalars(tiny)
    write_jsonl("tiny-cases.jsonl", [case(tiny, t) for t in tiny_cases() + tiny_random_cases(500, 17)])

    variant = json.loads(tiny.to_str())
    variant["normalizer"] = {"type": "NFC"}
    variant["pre_tokenizer"]["add_prefix_space"] = True
    variant["model"]["merges"] = [" ".join(pair) for pair in variant["model"]["merges"]]
    with open(os.path.join(HERE, "tiny-prefix-tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(variant, f, ensure_ascii=False, indent=1)
    prefixed = Tokenizer.from_str(json.dumps(variant))
    write_jsonl("tiny-prefix-cases.jsonl",
                [case(prefixed, t) for t in tiny_cases() + edge_cases()[:120] + tiny_random_cases(500, 18)])


if __name__ == "__main__":
    main()

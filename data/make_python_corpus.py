#!/usr/bin/env python3
"""Builds data/prose/python-docs.jsonl and data/code/python-stdlib.jsonl, the permissively licensed prose and code
that Lethe's embedded model is pretrained on (see data/PROVENANCE.md).

Sources: Debian bookworm's python3.11-doc package (the reST sources of the Python 3.11 documentation under
/usr/share/doc/python3.11/html/_sources) and libpython3.11-stdlib (/usr/lib/python3.11). Both are licensed under the PSF
License Agreement (the documentation's own "History and License" page says so). Run: apt-get install python3.11-doc;
python3 data/make_python_corpus.py. Output is deterministic (sorted files, fixed rules).

It also writes data/ae/python-docs-more.jsonl.zst and data/ae/python-stdlib-more.jsonl.zst: every other page of the
documentation and every other ordinary module of the standard library (no tests, no generated tables), disjoint from
the two files above. Only the auto-encoder's recipe (pipelines/pretrain-ae-small.json) reads them: distinct text, so
that its decoder sees more of the vocabulary than the pretraining corpus holds.
"""
import json
import os
import re
import subprocess
import sys

DOCS = "/usr/share/doc/python3.11/html/_sources"
STDLIB = "/usr/lib/python3.11"
HERE = os.path.dirname(os.path.abspath(__file__))

# Narrative parts of the documentation (not the API reference tables).
DOC_PARTS = ["tutorial", "howto", "faq", "reference", "glossary.rst.txt", "library/intro.rst.txt",
             "library/datatypes.rst.txt", "library/functions.rst.txt", "library/stdtypes.rst.txt",
             "library/exceptions.rst.txt", "library/constants.rst.txt", "library/unittest.rst.txt",
             "library/logging.rst.txt", "library/asyncio-task.rst.txt", "library/re.rst.txt",
             "library/itertools.rst.txt", "library/collections.rst.txt", "library/typing.rst.txt",
             "library/argparse.rst.txt", "library/pathlib.rst.txt", "library/datetime.rst.txt"]

# Pure-Python standard library modules: ordinary, readable code.
CODE_FILES = ["abc.py", "argparse.py", "base64.py", "bisect.py", "calendar.py", "cmd.py", "colorsys.py",
              "configparser.py", "contextlib.py", "copy.py", "csv.py", "dataclasses.py", "difflib.py", "enum.py",
              "fnmatch.py", "fractions.py", "functools.py", "getopt.py", "gettext.py", "glob.py", "graphlib.py",
              "gzip.py", "heapq.py", "hmac.py", "ipaddress.py", "keyword.py", "linecache.py", "locale.py",
              "numbers.py", "operator.py", "optparse.py", "pprint.py", "queue.py", "quopri.py", "random.py",
              "reprlib.py", "sched.py", "secrets.py", "selectors.py", "shlex.py", "shutil.py", "statistics.py",
              "string.py", "stringprep.py", "textwrap.py", "timeit.py", "token.py", "tokenize.py", "trace.py",
              "traceback.py", "types.py", "uuid.py", "warnings.py", "weakref.py", "zipapp.py",
              "json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py", "json/tool.py",
              "collections/__init__.py", "html/__init__.py", "html/parser.py", "urllib/parse.py",
              "email/utils.py", "email/headerregistry.py", "logging/__init__.py", "logging/handlers.py",
              "unittest/case.py", "unittest/mock.py", "asyncio/queues.py", "asyncio/locks.py", "asyncio/tasks.py"]

# Documentation folders that hold prose beyond the narrative parts above (the library and C API references, the
# release notes, the guides to using, extending and distributing Python).
MORE_DOC_PARTS = ["library", "c-api", "whatsnew", "using", "extending", "distutils", "install", "installing",
                  "distributing"]

# Standard-library folders that are tests, generated tables or bundled tools rather than ordinary modules.
NOT_ORDINARY_CODE = {"test", "tests", "idlelib", "encodings", "pydoc_data", "lib2to3", "turtledemo", "__pycache__",
                     "site-packages", "dist-packages"}

ROLE = re.compile(r":[a-zA-Z:+-]+:`!?~?([^`<]*?)(?:\s*<[^>]*>)?`")


def inline_markup_to_text(text):
    """Roles, literals, links and emphasis of one paragraph to their plain text."""
    text = ROLE.sub(lambda m: m.group(1).split(".")[-1] if "~" in m.group(0) else m.group(1), text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`<]+?)\s*<[^>]*>`_{1,2}", r"\1", text)  # hyperlinks: `text <url>`_
    text = re.sub(r"`([^`]+)`_{0,2}", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", text)


def rst_to_text(source):
    """Plain paragraphs from reST: drops directives, comments, code blocks and heading rules; keeps sentences."""
    paragraphs, current = [], []
    skip_indented = False  # inside a directive body or a literal block
    for raw in source.splitlines():
        line = raw.rstrip()
        if skip_indented:
            if not line or raw[:1] in " \t":
                continue
            skip_indented = False
        if not line.strip():
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        stripped = line.strip()
        if stripped.startswith(".. ") or stripped == "..":
            skip_indented = True
            continue
        if re.fullmatch(r"([=\-~^*#\"'+`])\1{2,}", stripped):
            continue
        if stripped.startswith((">>>", "...", "|")) or stripped.startswith(("+--", "+==")):
            continue
        text = stripped
        if text.endswith("::"):
            text = text[:-2].rstrip()
            text = text + ":" if text and not text.endswith(":") else text
            skip_indented = True
        if text:
            current.append(text)
    if current:
        paragraphs.append(" ".join(current))
    paragraphs = [inline_markup_to_text(p) for p in paragraphs]
    # Keep paragraphs that read as prose: several words, mostly letters.
    keep = [p for p in paragraphs if len(p.split()) >= 6 and sum(c.isalpha() for c in p) > 0.6 * len(p)]
    return "\n\n".join(keep)


def doc_files(parts=DOC_PARTS):
    for part in parts:
        path = os.path.join(DOCS, part)
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                for name in sorted(names):
                    if name.endswith(".rst.txt"):
                        yield os.path.join(root, name)
        else:
            yield path


def doc_lines(paths):
    for path in paths:
        text = rst_to_text(open(path, encoding="utf-8").read())
        if text:
            name = os.path.relpath(path, DOCS)[: -len(".rst.txt")]
            yield json.dumps({"text": text, "meta": {"source": f"Python 3.11 documentation: {name}"}},
                             ensure_ascii=False) + "\n"


def code_lines(names):
    for name in names:
        text = open(os.path.join(STDLIB, name), encoding="utf-8").read()
        yield json.dumps({"text": text, "meta": {"source": f"CPython 3.11 Lib/{name}"}}, ensure_ascii=False) + "\n"


def more_code_files():
    """Every ordinary module of the standard library not in CODE_FILES, sorted."""
    names = []
    for root, dirs, files in os.walk(STDLIB):
        dirs[:] = [d for d in dirs if d not in NOT_ORDINARY_CODE and not d.startswith("config-")]
        names += [os.path.relpath(os.path.join(root, f), STDLIB) for f in files if f.endswith(".py")]
    return sorted(set(names) - set(CODE_FILES))


def write_zst(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "".join(lines).encode("utf-8")
    subprocess.run(["zstd", "-19", "-q", "-f", "-o", path], input=data, check=True)


def main():
    narrative = sorted(set(doc_files()))
    with open(os.path.join(HERE, "prose", "python-docs.jsonl"), "w", encoding="utf-8") as out:
        out.writelines(doc_lines(narrative))
    with open(os.path.join(HERE, "code", "python-stdlib.jsonl"), "w", encoding="utf-8") as out:
        out.writelines(code_lines(CODE_FILES))
    write_zst(os.path.join(HERE, "ae", "python-docs-more.jsonl.zst"),
              doc_lines(sorted(set(doc_files(MORE_DOC_PARTS)) - set(narrative))))
    write_zst(os.path.join(HERE, "ae", "python-stdlib-more.jsonl.zst"), code_lines(more_code_files()))


if __name__ == "__main__":
    sys.exit(main())

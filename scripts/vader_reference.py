#!/usr/bin/env python3
"""Scores a labelled TSV (label<TAB>text, header line) with the reference vaderSentiment.

Writes one line per data row, `row_index<TAB>compound`, to --out (the compound exactly as the
reference returns it, rounded to 4 decimals). With --time, also prints the reference's
throughput in tweets per second on stderr.

Texts are decoded exactly like murmur-lexicon's `eval::read_labelled_tsv`: only `\\uXXXX`
escapes (non-surrogate) are turned into characters, everything else is kept verbatim.
"""
import argparse
import re
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def unescape(text):
    def replace(match):
        code = int(match.group(1), 16)
        if 0xD800 <= code <= 0xDFFF:
            return match.group(0)
        return chr(code)

    return ESCAPE.sub(replace, text)


def read_texts(path):
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.read().split("\n")
    texts = []
    for line in lines[1:]:
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip():
            continue
        _label, text = line.split("\t", 1)
        texts.append(unescape(text))
    return texts


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--time", action="store_true", help="print tweets/s of the reference on stderr")
    args = parser.parse_args()

    analyzer = SentimentIntensityAnalyzer()
    texts = read_texts(args.data)
    with open(args.out, "w", encoding="utf-8") as out:
        for index, text in enumerate(texts):
            out.write(f"{index}\t{analyzer.polarity_scores(text)['compound']}\n")

    if args.time:
        passes = 3
        start = time.perf_counter()
        for _ in range(passes):
            for text in texts:
                analyzer.polarity_scores(text)
        elapsed = time.perf_counter() - start
        rate = passes * len(texts) / elapsed
        print(f"python vaderSentiment: {rate:,.0f} tweets/s on one core ({len(texts)} texts x {passes})",
              file=sys.stderr)


if __name__ == "__main__":
    main()

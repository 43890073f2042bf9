"""pipeline.fingerprint: canonical URLs, normalized text, shingles, MinHash, LSH bands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import xxhash

from pipeline.content import fingerprint as fp

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
DATA = ROOT / "tests" / "data" / "neardup"


def seed_text(i: int) -> str:
    return SEEDS[i].read_text(encoding="utf-8")


# ------------------------------------------------------------------ canonical_url

@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters, whatever their case; the rest sorted by name
        ("https://news.example/a?utm_source=rss&utm_Medium=feed&id=7", "https://news.example/a?id=7"),
        ("https://news.example/a?fbclid=X1&gclid=Y2&mc_cid=1&mc_eid=2&b=2&a=1", "https://news.example/a?a=1&b=2"),
        ("https://news.example/a?ocid=x&cmpid=y&_ga=1.2&igshid=z&smid=tw&ref_src=twsrc", "https://news.example/a"),
        ("https://news.example/a?ref=rss", "https://news.example/a"),
        ("https://code.example/repo/file?ref=main", "https://code.example/repo/file?ref=main"),
        # repeated names keep their order, empty pairs and an empty query go
        ("https://news.example/a?tag=b&x=1&tag=a&&", "https://news.example/a?tag=b&tag=a&x=1"),
        ("https://news.example/a?", "https://news.example/a"),
        # fragment, case, default ports, userinfo, trailing dot
        ("https://news.example/a#comments", "https://news.example/a"),
        ("HTTPS://News.Example/Path/Case", "https://news.example/Path/Case"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("https://news.example:80/a", "https://news.example:80/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://user:secret@news.example/a", "https://news.example/a"),
        ("https://news.example./a", "https://news.example/a"),
        ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
        # internationalized host names
        ("https://bücher.example/titel", "https://xn--bcher-kva.example/titel"),
        ("https://BÜCHER.example/", "https://xn--bcher-kva.example/"),
        ("https://例え。jp/", "https://xn--r8jz45g.jp/"),
        # path: duplicate slashes, dot segments, trailing slash kept, empty path
        ("https://news.example//2026//06/story", "https://news.example/2026/06/story"),
        ("https://news.example/a/./b/../c", "https://news.example/a/c"),
        ("https://news.example/story/", "https://news.example/story/"),
        ("https://news.example/story", "https://news.example/story"),
        ("https://news.example", "https://news.example/"),
        # percent-encoding (RFC 3986 §6.2.2): hex uppercase, unreserved decoded
        ("https://news.example/%7euser/%41%2d%5F", "https://news.example/~user/A-_"),
        ("https://news.example/a%2fb?q=%e2%82%ac", "https://news.example/a%2Fb?q=%E2%82%AC"),
        ("https://news.example/caf\u00e9 bar", "https://news.example/caf%C3%A9%20bar"),
        ("https://news.example/100%", "https://news.example/100%25"),
    ],
)
def test_canonical_url_normalizes(url: str, expected: str) -> None:
    assert fp.canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    urls = [
        "HTTPS://News.Example:443//a/./b/%7e?utm_source=x&b=%e2%82%ac&a=1#f",
        "http://bücher.example/caf\u00e9?ref=rss&q=a+b",
    ]
    for url in urls:
        once = fp.canonical_url(url)
        assert fp.canonical_url(once) == once


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("/2026/06/story?utm_campaign=x", "https://news.example/2026/06/story"),  # relative
        ("story-amp/../story", "https://news.example/2026/06/story"),  # relative, dotted
        ("//mirror.example/story", "https://mirror.example/story"),  # scheme-relative
        ("https://Origin.example/original-story", "https://origin.example/original-story"),
        ("  https://news.example/2026/06/story  ", "https://news.example/2026/06/story"),
        # ignored: not http(s), empty, or the homepage template bug
        ("javascript:void(0)", "https://news.example/2026/06/story-amp"),
        ("android-app://com.example/https/news.example/x", "https://news.example/2026/06/story-amp"),
        ("mailto:desk@news.example", "https://news.example/2026/06/story-amp"),
        ("", "https://news.example/2026/06/story-amp"),
        ("https://news.example/", "https://news.example/2026/06/story-amp"),
    ],
)
def test_canonical_url_uses_declared_canonical(declared: str, expected: str) -> None:
    fetched = "https://news.example/2026/06/story-amp?utm_source=feed"
    assert fp.canonical_url(fetched, declared) == expected


def test_canonical_url_homepage_may_declare_itself() -> None:
    assert fp.canonical_url("https://news.example/?utm_source=x", "https://news.example/") == "https://news.example/"


def test_canonical_url_leaves_other_schemes_alone() -> None:
    assert fp.canonical_url(" mailto:desk@news.example ") == "mailto:desk@news.example"


# ------------------------------------------------------------------ text

def test_normalized_text_unifies_typography() -> None:
    curly = "Anthropic\u2019s \u201cpause\u201d \u2014 self\u2011improvement\u2026  NOW"
    straight = "anthropic's \"pause\" - self-improvement... now"
    assert fp.normalized_text(curly) == fp.normalized_text(straight) == "anthropics pause self improvement now"


def test_normalized_text_nfkc_casefold_and_invisible_characters() -> None:
    assert fp.normalized_text("\uff21\uff22\uff23 \ufb01nal STRA\u00dfE") == "abc final strasse"
    assert fp.normalized_text("self\u00adimprove\u200bment") == "selfimprovement"
    assert fp.normalized_text(" a\t\n\u00a0 b ") == "a b"


def test_normalized_text_keeps_non_latin_words() -> None:
    assert fp.normalized_text("\u0928\u092e\u0938\u094d\u0924\u0947, \u4e16\u754c!") == "\u0928\u092e\u0938\u094d\u0924\u0947 \u4e16\u754c"


def test_content_hash_ignores_presentation_only() -> None:
    text = seed_text(1)
    restyled = text.upper().replace("\u2019", "'").replace("\n", "\n\n  ")
    assert fp.content_hash(restyled) == fp.content_hash(text)
    assert fp.content_hash(text.replace("Thursday", "Friday", 1)) != fp.content_hash(text)
    assert fp.content_hash(text) == hashlib.sha256(fp.normalized_text(text).encode()).hexdigest()


def test_normalized_title() -> None:
    assert fp.normalized_title("Anthropic urges \u2018pause\u2019 | The Left Shift") == "anthropic urges pause"
    assert fp.normalized_title("Anthropic urges pause - The Left Shift", "The Left Shift") == "anthropic urges pause"
    assert fp.normalized_title("AI lab urges pause - critics disagree", "The Left Shift") == "ai lab urges pause critics disagree"
    assert fp.normalized_title("AI lab urges pause - critics disagree") == "ai lab urges pause critics disagree"


# ------------------------------------------------------------------ shingles

def test_shingles_are_hashed_word_5grams() -> None:
    text = "One two three four five six seven."
    expected = {xxhash.xxh3_64_intdigest(" ".join(w).encode()) for w in
                (("one", "two", "three", "four", "five"), ("two", "three", "four", "five", "six"),
                 ("three", "four", "five", "six", "seven"))}
    assert fp.shingles(text) == expected
    assert fp.shingles("ONE, two; three four five six seven") == expected


def test_shingles_of_short_and_empty_texts() -> None:
    assert fp.shingles("Pause now.") == {xxhash.xxh3_64_intdigest(b"pause now")}
    assert fp.shingles(" \u2014 ") == set()
    assert len(fp.shingles("a b c d e f g", k=3)) == 5


def test_jaccard_and_containment() -> None:
    a, b = {1, 2, 3, 4}, {3, 4, 5}
    assert fp.jaccard(a, b) == pytest.approx(2 / 5)
    assert fp.containment(a, b) == pytest.approx(2 / 3)
    assert fp.jaccard(set(), set()) == 0.0
    assert fp.containment(set(), {1}) == 0.0


# ------------------------------------------------------------------ MinHash

def reference_minhash(shingle_hashes: set[int], num_perm: int, seed: int) -> list[int]:
    """Plain-Python (a*x + b) mod (2^61 - 1) with the module's parameters: arbitrary
    precision, no overflow possible."""
    a_hi, a_lo, b = fp._permutations(num_perm, seed)
    xs = [(h ^ (h >> 32)) & 0xFFFFFFFF for h in shingle_hashes]
    rows = []
    for i in range(num_perm):
        a = (int(a_hi[i, 0]) << 32) | int(a_lo[i, 0])
        rows.append(min((a * x + int(b[i, 0])) % fp.MERSENNE_61 for x in xs))
    return rows


def test_minhash_matches_exact_modular_arithmetic() -> None:
    shingle_set = fp.shingles(seed_text(2))
    signature = fp.minhash_signature(shingle_set)
    assert len(signature) == fp.NUM_PERM
    assert [v % fp.MERSENNE_61 for v in signature] == reference_minhash(shingle_set, fp.NUM_PERM, fp.MINHASH_SEED)


def test_minhash_functions_pick_different_shingles() -> None:
    # Guards against a hash family without wrap-around, where every function would pick
    # the shingle with the smallest value and the signature would hold one sample.
    shingle_set = fp.shingles(seed_text(0))
    assert len(set(fp.minhash_signature(shingle_set))) > 100


def test_minhash_deterministic_order_free_and_seeded() -> None:
    hashes = list(fp.shingles(seed_text(3)))
    signature = fp.minhash_signature(hashes)
    assert fp.minhash_signature(reversed(hashes)) == signature
    assert fp.minhash_signature(set(hashes)) == signature
    assert fp.minhash_signature(hashes, seed=2) != signature
    assert len(fp.minhash_signature(hashes, num_perm=64)) == 64


def test_minhash_estimates_jaccard() -> None:
    original = seed_text(1)
    trimmed = "\n".join(original.splitlines()[:20])
    sa, sb = fp.shingles(original), fp.shingles(trimmed)
    ma, mb = fp.minhash_signature(sa), fp.minhash_signature(sb)
    estimate = sum(x == y for x, y in zip(ma, mb)) / fp.NUM_PERM
    assert 0.2 < fp.jaccard(sa, sb) < 0.9
    assert estimate == pytest.approx(fp.jaccard(sa, sb), abs=0.15)  # ~4 standard errors


def test_minhash_of_empty_set() -> None:
    assert fp.minhash_signature(set()) == (fp.EMPTY_SLOT,) * fp.NUM_PERM


def test_minhash_handles_texts_longer_than_one_block() -> None:
    words = " ".join(f"w{i}" for i in range(3 * fp._CHUNK + 17))
    shingle_set = fp.shingles(words)
    assert [v % fp.MERSENNE_61 for v in fp.minhash_signature(shingle_set, num_perm=8)] == reference_minhash(shingle_set, 8, 1)


# ------------------------------------------------------------------ band keys

def test_band_keys_shape_and_range() -> None:
    signature = fp.minhash_signature(fp.shingles(seed_text(4)))
    keys = fp.band_keys(signature)
    assert len(keys) == fp.BANDS
    assert all(0 <= k < 2**63 for k in keys)  # fits a signed 64-bit BIGINT
    assert len(fp.band_keys(signature, 32)) == 32
    assert fp.band_keys(tuple(signature)) == keys


def test_band_keys_mix_in_the_band_index() -> None:
    keys = fp.band_keys((5,) * 128, 32)  # every band holds the same rows
    assert len(set(keys)) == 32


def test_band_keys_reject_uneven_split() -> None:
    with pytest.raises(ValueError):
        fp.band_keys((1,) * 128, 48)


def test_identical_texts_identical_bands() -> None:
    text = seed_text(0)
    assert fp.fingerprint(text).bands == fp.fingerprint(text.upper()).bands


def outlet_copy(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    template = (DATA / "outlet_quill.txt").read_text(encoding="utf-8")
    body = lines[1 : max(3, int(len(lines) * 0.7))]
    return template.replace("{{HEADLINE}}", "A new headline").replace("{{BODY}}", "\n".join(body))


@pytest.mark.parametrize("i", range(5))
def test_seed_copy_shares_a_band_with_its_original(i: int) -> None:
    original = fp.fingerprint(seed_text(i))
    copy = fp.fingerprint(outlet_copy(seed_text(i)))
    assert set(original.bands) & set(copy.bands)


def test_different_reports_share_no_band() -> None:
    bands = [set(fp.fingerprint(seed_text(i)).bands) for i in range(5)]
    assert all(not (bands[i] & bands[j]) for i in range(5) for j in range(i + 1, 5))


def test_fingerprint_assembles_the_parts() -> None:
    text = seed_text(3)
    result = fp.fingerprint(text)
    assert result.content_hash == fp.content_hash(text)
    assert result.word_count == len(fp.normalized_text(text).split())
    assert result.minhash == fp.minhash_signature(fp.shingles(text))
    assert result.bands == fp.band_keys(result.minhash)

"""Identity of an article: its canonical URL, its content hash, its near-duplicate sketch.

Pure: no I/O, no clock, no randomness that is not derived from a fixed seed, so the same
text gives the same fingerprint on every machine and in every run (the warehouse stores
hashes and LSH band keys and compares them across runs).

Layers, from strict to loose:
- ``canonical_url``: the same page under different URLs (tracking parameters, case, ports).
- ``content_hash``: the same text under different URLs (sha256 of ``normalized_text``).
- ``minhash_signature`` + ``band_keys``: candidates for "same story text, different
  boilerplate or edits" (locality-sensitive hashing); ``neardup.compare`` confirms them
  with the exact Jaccard / containment of ``shingles``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import numpy as np
import xxhash

from pipeline.models import Fingerprint

# --------------------------------------------------------------------------- URLs

# Query parameters that only say how a reader arrived, never which page they asked for.
# Matched case-insensitively on the decoded name. Sources: the vendors' own documentation
# of their click identifiers and campaign tags.
TRACKING_PARAMS: frozenset[str] = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
    "twclid", "ttclid", "li_fat_id", "igshid", "epik",  # ad-network click identifiers
    "mc_cid", "mc_eid",  # Mailchimp campaign / subscriber
    "_ga", "_gl",  # Google Analytics cross-domain linker
    "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",  # HubSpot
    "mkt_tok",  # Marketo
    "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv",  # mail tools
    "ocid", "cmpid", "cmp", "icid", "s_cid", "smid", "smtyp",  # publishers' campaign ids
    "ref_src", "ref_url", "sr_share", "share_source", "at_medium", "at_campaign",
    "ns_source", "ns_mchannel", "ns_campaign", "ns_linkname", "ns_fee",  # comScore
    "__twitter_impression", "spm",
})
# Any parameter starting with one of these is campaign tagging (utm_source, utm_medium...).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hmb_")
# ``ref`` is too generic to drop blindly (GitLab's ?ref=main picks a branch), so it goes
# only when its value names a channel a reader came from.
REF_TRACKING_VALUES: frozenset[str] = frozenset({
    "rss", "feed", "feedly", "newsletter", "email", "mail", "twitter", "x", "facebook",
    "fb", "linkedin", "reddit", "hn", "hackernews", "mastodon", "bluesky", "flipboard",
    "social", "share", "homepage", "home", "nav", "sidebar", "related", "search",
})

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 §2.3 unreserved characters: percent-encoding them changes nothing (§6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters allowed literally in a path or query (RFC 3986 §3.3, §3.4); '%' handled apart.
_ALLOWED = _UNRESERVED | frozenset("!$&'()*+,;=:@/?")
_HEX = frozenset("0123456789abcdefABCDEF")


def canonical_url(url: str, declared: str | None = None) -> str:
    """The one URL this page is known by.

    The page's declared ``<link rel="canonical">`` wins when it resolves (against ``url``)
    to an absolute http(s) URL, on *any* host: syndicated copies often point to the
    original publisher, and that claim is exactly what dedup wants. Outlet attribution
    must therefore use the URL the page was fetched from (``Article.url``), never this one.
    A declared canonical that is the site's root while ``url`` is not is ignored: that is
    the classic CMS template bug that would make every article one page.

    Normalization (RFC 3986 §6.2.2-6.2.3): lowercase scheme and host, host as IDNA
    (stdlib IDNA 2003 per label, left as-is when a label refuses), no trailing dot, no
    default port, no userinfo (credentials are never identity), no fragment, dot segments
    removed, duplicate slashes collapsed, trailing slash kept (servers differ), empty path
    as "/", percent-encoding normalized, tracking parameters removed (``TRACKING_PARAMS``,
    ``TRACKING_PREFIXES``, ``ref`` with a ``REF_TRACKING_VALUES`` value), remaining
    parameters sorted by name (values of a repeated name keep their order), empty query
    dropped. Non-http(s) input is returned stripped but otherwise untouched.
    """
    chosen = _declared_or_fetched(url.strip(), declared)
    parts = urlsplit(chosen)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return chosen
    netloc = _netloc(scheme, parts.hostname, _port(parts))
    path = _normalize_path(parts.path)
    return urlunsplit((scheme, netloc, path, _normalize_query(parts.query), ""))


def _declared_or_fetched(url: str, declared: str | None) -> str:
    if not declared or not declared.strip():
        return url
    resolved = urljoin(url, declared.strip())
    parts = urlsplit(resolved)
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return url
    if parts.path in ("", "/") and urlsplit(url).path not in ("", "/"):
        return url  # canonical -> homepage on an article: a template bug, not a claim
    return resolved


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # a port that is not a number: keep the URL's own spelling
        return None


def _netloc(scheme: str, hostname: str, port: int | None) -> str:
    host = _idna_host(hostname.rstrip("."))
    if ":" in host:  # an IPv6 literal keeps its brackets (RFC 3986 §3.2.2)
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return host
    return f"{host}:{port}"


def _idna_host(host: str) -> str:
    # Ideographic and full-width full stops separate labels too (RFC 3490 §3.1).
    host = re.sub("[\u3002\uff0e\uff61]", ".", host.lower())
    labels = []
    for label in host.split("."):
        try:
            labels.append(label.encode("idna").decode("ascii") if label else label)
        except UnicodeError:  # too long or prohibited: keep it rather than guess
            labels.append(label)
    return ".".join(labels)


def _normalize_path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", _normalize_percent(path))
    return _remove_dot_segments(path) or "/"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on whole segments (the path is already absolute or empty)."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    trailing = segments[-1] in (".", "..")
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def _normalize_query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = _normalize_percent(name), _normalize_percent(value)
        if not _is_tracking(name, value):
            pairs.append((name, sep, value))
    pairs.sort(key=lambda p: p[0])  # stable: a repeated name keeps its values' order
    return "&".join(n + s + v for n, s, v in pairs)


def _is_tracking(name: str, value: str) -> bool:
    key = _percent_decode_ascii(name).lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    return key == "ref" and _percent_decode_ascii(value).lower() in REF_TRACKING_VALUES


def _percent_decode_ascii(text: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def _normalize_percent(text: str) -> str:
    """Uppercase hex, decode unreserved, encode what may not appear raw (RFC 3986 §6.2.2)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        hexpair = text[i + 1 : i + 3]
        if ch == "%" and len(hexpair) == 2 and set(hexpair) <= _HEX:
            decoded = chr(int(hexpair, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + hexpair.upper())
            i += 3
            continue
        out.append(ch if ch in _ALLOWED else _encode(ch))
        i += 1
    return "".join(out)


def _encode(ch: str) -> str:
    # A stray '%' becomes %25; non-ASCII becomes UTF-8 octets (RFC 3987 §3.1 IRI -> URI).
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- text

# Apostrophes in all their typographic forms are deleted, so "Anthropic’s" and
# "Anthropic's" give the same word and contractions stay one word ("don't" -> "dont").
_APOSTROPHES = "'\u2018\u2019\u201b\u02bc\u02b9\u2032\u0060\u00b4"


class _CharTable(dict[int, str | None]):
    """``str.translate`` table filled on first sight of each character: translate runs in
    C, and Unicode categories are looked up once per distinct character, not per use."""

    def __missing__(self, code: int) -> str | None:
        self[code] = _char_class(chr(code))
        return self[code]


def _char_class(ch: str) -> str | None:
    if ch in _APOSTROPHES or unicodedata.category(ch) == "Cf":
        return None  # deleted: apostrophes, soft hyphens, zero-width characters
    return " " if unicodedata.category(ch)[0] in "PSZC" else ch


_TABLE = _CharTable()


def normalized_text(text: str) -> str:
    """NFKC, casefold, apostrophes and format characters deleted, every other punctuation
    or symbol (quotes and dashes of any kind included) turned into a space, whitespace
    collapsed: ``self-improvement`` -> ``self improvement``, ``loop—a`` -> ``loop a``.
    Letters, digits and combining marks are kept, so non-Latin scripts keep their words.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.translate(_TABLE).split())


def words(text: str) -> list[str]:
    """The normalized words of ``text``."""
    return normalized_text(text).split()


def content_hash(text: str) -> str:
    """sha256 hex digest of ``normalized_text(text)``: equal for texts that differ only in
    case, punctuation, typography or spacing."""
    return hashlib.sha256(normalized_text(text).encode("utf-8")).hexdigest()


def normalized_title(title: str, site_name: str | None = None) -> str:
    """A headline reduced for "same title, same outlet" comparisons.

    A trailing ``| Site`` (also ``·`` / ``•``) segment is dropped: those separators brand
    a page and rarely occur inside headlines. A trailing `` - Site`` / `` — Site`` / ``:
    Site`` segment is dropped only when it equals ``site_name``, since dashes and colons
    do occur in headlines. The rest is ``normalized_text``.
    """
    head = re.split(r"\s+[|\u00b7\u2022]\s+", title.strip())[0] or title
    if site_name:
        site = normalized_text(site_name)
        parts = re.split(r"\s+[-\u2013\u2014:]\s+", head)
        if len(parts) > 1 and normalized_text(parts[-1]) == site:
            head = " - ".join(parts[:-1])
    return normalized_text(head)


# --------------------------------------------------------------------------- shingles

SHINGLE_WORDS = 5  # word 5-grams: the unit the measurements in ARCHITECTURE.md used


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[int]:
    """64-bit xxh3 hashes of the word ``k``-grams of ``normalized_text(text)``.

    xxh3 with seed 0 is stable across runs, platforms and processes (unlike ``hash()``).
    A text of fewer than ``k`` words is one shingle of all its words; an empty text has
    none.
    """
    return shingles_of_words(words(text), k)


def shingles_of_words(tokens: list[str], k: int = SHINGLE_WORDS) -> set[int]:
    """``shingles`` for an already normalized word list."""
    return set(shingle_hashes(tokens, k))


def shingle_array(tokens: list[str], k: int = SHINGLE_WORDS) -> np.ndarray:
    """``shingles_of_words`` as a sorted array of distinct uint64 (for numpy set operations)."""
    hashes = np.array(shingle_hashes(tokens, k), dtype=np.uint64)
    return np.unique(hashes) if hashes.size > 1 else hashes


def shingle_hashes(tokens: list[str], k: int = SHINGLE_WORDS) -> list[int]:
    """The hash of each word ``k``-gram of ``tokens``, in order (repeats kept).

    A k-gram's text is ``" ".join`` of its words, which is a slice of the whole text
    joined once: hashing slices of one buffer gives the same values as joining and
    encoding each k-gram, at half the cost. Words that hold a space themselves (never
    the case for ``words``) take the k-gram by k-gram way.
    """
    if not tokens:
        return []
    whole = " ".join(tokens).encode("utf-8")
    if len(tokens) < k:
        return [xxhash.xxh3_64_intdigest(whole)]
    spaces = np.flatnonzero(np.frombuffer(whole, dtype=np.uint8) == 32)
    if spaces.size != len(tokens) - 1:
        return [xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + k]).encode("utf-8"))
                for i in range(len(tokens) - k + 1)]
    starts = [0, *(spaces[: len(tokens) - k] + 1).tolist()]
    ends = [*spaces[k - 1 :].tolist(), len(whole)]
    view, digest = memoryview(whole), xxhash.xxh3_64_intdigest
    return [digest(view[s:e]) for s, e in zip(starts, ends)]


def jaccard(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty (nothing shared, no evidence of a copy)."""
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def containment(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / min(|a|, |b|): how much of the smaller text lies inside the larger one
    (an excerpt or a trimmed copy scores near 1 while its Jaccard is low); 0.0 if either
    is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


# --------------------------------------------------------------------------- MinHash

NUM_PERM = 128
MINHASH_SEED = 1
# 64 bands of 2 rows: a pair at the copy threshold (J = 0.3) becomes a candidate with
# probability 1 - (1 - 0.3^2)^64 = 0.998 (32 x 4 gives 0.23), and excerpts (J 0.05-0.2,
# confirmed by containment) 0.15-0.93. Cost: more false candidates among texts of one
# story (bench: 8 % of non-copy pairs vs 0.04 % at 32 x 4; 0 for off-topic texts), each
# dismissed by one exact Jaccard, and 64 keys per text in the warehouse. Measured
# candidate recall (bench): copies with J >= 0.3 1.0 (32 x 4: 0.87), excerpts 0.80
# (32 x 4: 0.13).
BANDS = 64
MERSENNE_61 = (1 << 61) - 1
# Value of every slot of an empty set's signature: above any hash value, so an empty text
# never looks like a copy of a real one.
EMPTY_SLOT = 1 << 62  # also fits a signed 64-bit column
# Shingles per numpy block: keeps temporaries (128 x 256 x 8 bytes) in cache, which
# measured about twice as fast as one block for an 800-word text, and bounds memory.
_CHUNK = 256

_P = np.uint64(MERSENNE_61)
_M32 = np.uint64(0xFFFFFFFF)
_M29 = np.uint64((1 << 29) - 1)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a_hi, a_lo, b) columns: a in [1, p), b in [0, p), a split at bit 32.

    Generated with numpy's PCG64 from ``seed``: the same on every platform and numpy
    release (NEP 19 keeps ``Generator.integers`` stream-compatible for a given bit
    generator), so stored signatures stay comparable.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(1, MERSENNE_61, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, MERSENNE_61, size=num_perm, dtype=np.uint64)
    return (a >> np.uint64(32))[:, None], (a & _M32)[:, None], b[:, None]


def minhash_signature(
    shingle_hashes: Iterable[int], num_perm: int = NUM_PERM, seed: int = MINHASH_SEED
) -> tuple[int, ...]:
    """MinHash: for each of ``num_perm`` hash functions h(x) = (a*x + b) mod (2^61 - 1),
    the minimum over the shingles.

    Overflow: numpy has no 128-bit integers, and a*x with a < 2^61 does not fit in 64 bits.
    Shrinking ``a`` so that a*x fits would be wrong (a*x + b < p means no wrap-around: h
    grows with x and every function picks the same shingle), so ``a`` keeps its full range
    and the product is reduced exactly, using 2^61 ≡ 1 (mod p): x is the shingle hash
    folded to 32 bits, a = a_hi*2^32 + a_lo, and each partial product fits in uint64 (see
    ``_hash_block``). Folding to 32 bits makes two shingles of one text collide with
    probability about n^2 / 2^33 (1e-4 for 1000 shingles), which moves no estimate.
    Cost (bench): about 0.7 ms for an 800-word text, some twelve numpy passes; the 0.2 ms
    of ARCHITECTURE.md is what wrapping (overflowing) uint64 arithmetic costs.
    """
    x = _fold32(shingle_hashes)
    if x.size == 0:
        return (EMPTY_SLOT,) * num_perm
    params = _permutations(num_perm, seed)
    mins = np.full(num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, x.size, _CHUNK):
        np.minimum(mins, _hash_block(x[start : start + _CHUNK], *params).min(axis=1), out=mins)
    return tuple(int(v) for v in mins)


def _fold32(shingle_hashes: Iterable[int]) -> np.ndarray:
    h = np.fromiter(shingle_hashes, dtype=np.uint64)
    return (h ^ (h >> np.uint64(32))) & _M32


def _hash_block(x: np.ndarray, a_hi: np.ndarray, a_lo: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a*x + b) mod p for a block of x < 2^32, one row per hash function.

    a*x = a_lo*x + a_hi*x*2^32. a_lo*x < 2^64 fits. t = a_hi*x < 2^61; writing
    t = t_hi*2^29 + t_lo, t*2^32 = t_hi*2^61 + t_lo*2^32 ≡ t_hi + t_lo*2^32 (mod p).
    Every addend is below 2^62, their sum below 2^64; one more fold x ≡ (x & p) + (x >> 61)
    leaves each value in [0, p + 7]: the final "subtract p if >= p" is skipped because
    it would touch 8 of 2^61 values and the result is still a fixed function of x.
    """
    x = x[None, :]
    lo = a_lo * x
    t = a_hi * x
    s = lo & _P
    s += lo >> np.uint64(61)
    s += t >> np.uint64(29)
    s += (t & _M29) << np.uint64(32)
    s += b
    high = s >> np.uint64(61)
    s &= _P
    s += high
    return s


def band_keys(signature: tuple[int, ...], bands: int = BANDS) -> tuple[int, ...]:
    """LSH band keys: the signature cut into ``bands`` runs of ``rows`` values, each run
    hashed (xxh3, seeded with the band index so equal rows in different bands differ) to
    a non-negative int below 2^63, so it fits a DuckDB BIGINT.

    Two texts with Jaccard s share at least one band with probability 1 - (1 - s^rows)^bands.
    """
    if bands <= 0 or len(signature) % bands:
        raise ValueError(f"{len(signature)} signature values do not split into {bands} bands")
    rows = np.asarray(signature, dtype=np.uint64).reshape(bands, len(signature) // bands)
    return tuple(
        xxhash.xxh3_64_intdigest(row.astype("<u8").tobytes(), seed=i) & ((1 << 63) - 1)
        for i, row in enumerate(rows)
    )


def fingerprint(text: str, bands: int = BANDS) -> Fingerprint:
    """Content hash, word count, MinHash signature and LSH band keys of ``text``."""
    tokens = words(text)
    signature = minhash_signature(shingles_of_words(tokens))
    return Fingerprint(
        content_hash=hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest(),
        word_count=len(tokens),
        minhash=signature,
        bands=band_keys(signature, bands),
    )

"""Page bytes -> text, the way browsers pick the encoding (WHATWG Encoding / HTML sniffing).

Order: a byte-order mark; the ``charset`` of the HTTP Content-Type; a ``<meta charset>`` or
``<meta http-equiv="content-type">`` in the first 1024 bytes; detection with
charset_normalizer; windows-1252 last (the browsers' default for unlabelled Western pages).
Labels are mapped as the Encoding Standard maps them (``iso-8859-1``, ``ascii`` and
``latin1`` mean windows-1252; ``gb2312`` and ``gbk`` mean gb18030; a ``utf-16`` meta means
UTF-8, since a page whose meta could be read as ASCII is not UTF-16).

Wrong declarations: a declared encoding is used when the bytes decode under it. When they
do not (a page saying UTF-8 that is not), or when a single-byte encoding is declared but
the bytes are valid UTF-8 with non-ASCII characters (a UTF-8 page served as Latin-1: valid
multi-byte UTF-8 by chance in legacy text is vanishingly rare), detection decides, and the
``source`` says so. Browsers would show replacement characters or mojibake there; we keep
what the author wrote.

Binary bodies (ZIP, PDF, images, media, anything with NUL bytes in its start) are refused
whatever the Content-Type says: ``sniff_binary`` names what was found.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

PRESCAN_BYTES = 1024  # the HTML standard's prescan window
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_LABELS = {  # WHATWG Encoding Standard label -> the encoding it names (Python codec name)
    "iso-8859-1": "cp1252", "latin1": "cp1252", "l1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252",
    "iso8859-1": "cp1252", "windows-1252": "cp1252", "cp1252": "cp1252", "x-cp1252": "cp1252",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "windows-1254": "cp1254",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "chinese": "gb18030",
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932", "windows-31j": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "x-euc-jp": "euc_jp", "big5-hkscs": "big5hkscs",
    "tis-620": "cp874", "iso-8859-11": "cp874", "x-mac-cyrillic": "mac_cyrillic",
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8",  # a meta read as ASCII is not UTF-16
    "x-user-defined": "cp1252", "unicode-1-1-utf-8": "utf-8", "utf8": "utf-8",
}
_SINGLE_BYTE = ("cp125", "latin", "iso8859", "koi8", "mac_", "cp874", "cp437", "cp850")
_META = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.IGNORECASE)
_BINARY = ((b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"), (b"%PDF-", "a PDF document"),
           (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
           (b"\x1f\x8b", "gzip data"), (b"BZh", "bzip2 data"), (b"7z\xbc\xaf", "a 7-Zip archive"),
           (b"Rar!", "a RAR archive"), (b"\x00\x00\x01\x00", "an icon"), (b"OggS", "Ogg media"),
           (b"ID3", "MP3 audio"), (b"\x1aE\xdf\xa3", "WebM/Matroska media"), (b"wOFF", "a web font"),
           (b"\xd0\xcf\x11\xe0", "an Office document"), (b"\x7fELF", "an executable"), (b"MZ", "an executable"))


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    source: str  # "bom", "http", "meta", "detected", "default" (+ why a declaration was set aside)


def sniff_binary(body: bytes) -> str | None:
    """What a non-text body is ("a ZIP archive", ...), or None when it may be text."""
    head = body[:512]
    for magic, what in _BINARY:
        if head.startswith(magic):
            return what
    if head[8:12] == b"WEBP" or head[4:8] == b"ftyp":
        return "an image or media file"
    if b"\x00" in head and not head.startswith(tuple(b for b, _ in _BOMS[1:])):
        return "binary data (NUL bytes)"
    return None


def decode_page(body: bytes, content_type: str | None = None) -> Decoded:
    """The page's text and how its encoding was chosen."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom):].decode(name, errors="replace"), name, "bom")
    for source, label in (("http", _http_charset(content_type)), ("meta", _meta_charset(body))):
        name = _codec(label)
        if name:
            return _declared(body, name, source)
    return _detected(body, "detected")


def _declared(body: bytes, name: str, source: str) -> Decoded:
    try:
        text = body.decode(name)
    except UnicodeDecodeError:
        return _detected(body, f"detected ({source} said {name}, bytes do not match)", fallback=name)
    if name.startswith(_SINGLE_BYTE) and not body.isascii() and _is_utf8(body):
        return Decoded(body.decode("utf-8"), "utf-8", f"detected ({source} said {name}, bytes are UTF-8)")
    return Decoded(text, name, source)


def _detected(body: bytes, source: str, fallback: str = "cp1252") -> Decoded:
    if body.isascii() or _is_utf8(body):
        return Decoded(body.decode("utf-8"), "utf-8", source)
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        name = _codec(best.encoding) or best.encoding
        return Decoded(body.decode(name, errors="replace"), name, source)
    return Decoded(body.decode(fallback, errors="replace"), fallback, "default")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:  # a sequence cut by a body cap is still UTF-8
        return exc.start >= len(body) - 3 and exc.reason == "unexpected end of data"
    return True


def _http_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset\s*=\s*[\"']?([^\"';,\s]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META.search(body[:PRESCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when it names nothing known."""
    if not label:
        return None
    label = label.strip().lower()
    label = _LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None

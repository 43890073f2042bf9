"""Which outlet published a URL: configured prefixes and domains first, else the
registrable domain (public-suffix aware: news.bbc.co.uk -> bbc.co.uk)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from .config import Outlet

# The bundled public suffix list snapshot, never fetched at run time (no network).
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass(frozen=True)
class OutletMatch:
    outlet_id: str
    name: str
    domain: str | None
    configured: bool


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """eTLD+1 of a host; an IP address or a bare name stays as it is."""
    host = host.lower().strip(".").strip("[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    ext = _EXTRACT(host)
    top = getattr(ext, "top_domain_under_public_suffix", None) or ext.registered_domain
    return top or host


class OutletResolver:
    """Attribute URLs to outlets: longest configured URL prefix, then configured domain,
    then a discovered outlet named by its registrable domain (or the page's site name)."""

    def __init__(self, outlets: tuple[Outlet, ...]) -> None:
        self._prefixes = sorted(((p, o) for o in outlets for p in o.url_prefixes),
                                key=lambda po: -len(po[0]))
        self._domains = {registrable_domain(d): o for o in outlets for d in o.domains}
        self._by_id = {o.id: o for o in outlets}

    def configured(self, outlet_id: str) -> OutletMatch | None:
        o = self._by_id.get(outlet_id)
        return OutletMatch(o.id, o.name, o.domains[0] if o.domains else None, True) if o else None

    def resolve(self, url: str | None, site_name: str | None = None) -> OutletMatch | None:
        if not url:
            return None
        for prefix, o in self._prefixes:
            if url.startswith(prefix):
                return OutletMatch(o.id, o.name, o.domains[0] if o.domains else None, True)
        host = urlsplit(url).hostname
        if not host:
            return None
        domain = registrable_domain(host)
        if domain in self._domains:
            o = self._domains[domain]
            return OutletMatch(o.id, o.name, domain, True)
        return OutletMatch(domain, site_name or domain, domain, False)

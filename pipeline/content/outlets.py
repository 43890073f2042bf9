"""Which outlet published a URL: configured prefixes and domains first, else the
registrable domain (public-suffix aware: news.bbc.co.uk -> bbc.co.uk).

A host that is an IP address names no publication (many sites can share one address),
so there the name the page or the aggregator gives (og:site_name, Google News
``<source>``) decides: it is matched against the configured outlets' names, else slugged
into the outlet id ("The Lakeside Ledger" -> "the-lakeside-ledger")."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from pipeline.config import Outlet, outlet_slug

# The bundled public suffix list snapshot, never fetched at run time (no network).
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass(frozen=True)
class OutletMatch:
    outlet_id: str
    name: str
    domain: str | None
    configured: bool


def is_ip_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


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
    if hasattr(ext, "top_domain_under_public_suffix"):  # tldextract >= 5.3 renamed it
        return ext.top_domain_under_public_suffix or host
    return ext.registered_domain or host


class OutletResolver:
    """Attribute URLs to outlets: longest configured URL prefix, then configured domain,
    then a discovered outlet named by its registrable domain (or the page's site name)."""

    def __init__(self, outlets: tuple[Outlet, ...]) -> None:
        self._prefixes = sorted(((p, o) for o in outlets for p in o.url_prefixes),
                                key=lambda po: -len(po[0]))
        self._domains = {registrable_domain(d): o for o in outlets for d in o.domains}
        self._exact_domains = {d.lower().strip("."): o for o in outlets for d in o.domains}
        self._by_id = {o.id: o for o in outlets}
        self._by_name = {outlet_slug(n): o for o in outlets for n in (o.name, o.id) if outlet_slug(n)}

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
        own = self._configured_parent(host)
        if own:
            return OutletMatch(own[1].id, own[1].name, own[0], True)
        domain = registrable_domain(host)
        if domain in self._domains:
            o = self._domains[domain]
            return OutletMatch(o.id, o.name, domain, True)
        if is_ip_host(domain) and site_name and outlet_slug(site_name):
            return self._named(site_name)
        return OutletMatch(domain, site_name or domain, domain, False)

    def _named(self, name: str) -> OutletMatch:
        """An outlet known only by name: the configured one of that name, else its slug."""
        o = self._by_name.get(outlet_slug(name))
        if o:
            return OutletMatch(o.id, o.name, o.domains[0] if o.domains else None, True)
        return OutletMatch(outlet_slug(name), name, None, False)

    def _configured_parent(self, host: str) -> tuple[str, Outlet] | None:
        """The longest configured domain that is ``host`` or a parent of it. Needed beside
        the registrable domain: a name under a suffix the bundled public suffix list does
        not know (``.test``, a new gTLD) has no registrable domain to compare."""
        labels = host.lower().strip(".").split(".")
        for i in range(len(labels)):
            outlet = self._exact_domains.get(".".join(labels[i:]))
            if outlet:
                return ".".join(labels[i:]), outlet
        return None

"""Host URLs and credentials for Elasticsearch, kept apart so that secrets never reach a message.

Credentials written into a host URL (``https://user:pw@es:9200``) are taken out of it, so the URL
can be shown anywhere; the password, the API key and the ``Authorization`` value travel only in
request headers, and :func:`secret_strings` lists every form of them for redaction.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from samplerr.core.config import ElasticsearchSettings


@dataclass(frozen=True, slots=True)
class HostList:
    """Host URLs without credentials, and the basic-auth pair found in them, if any."""

    urls: tuple[str, ...]
    userinfo: tuple[str, str] | None


def split_hosts(hosts: tuple[str, ...] | list[str]) -> HostList:
    """Normalise host URLs and take credentials out of them.

    A bare ``name`` or ``name:port`` means ``http://name:9200`` / ``http://name:port``;
    ``https://name`` keeps its scheme's port (443). ``https://user:pw@name:9200`` becomes
    ``https://name:9200`` and the pair ``(user, pw)``, so the URL can be shown anywhere.
    """
    urls: list[str] = []
    userinfo: tuple[str, str] | None = None
    for raw in hosts:
        text = raw.strip()
        if "://" not in text:
            text = "http://" + text
        parts = urllib.parse.urlsplit(text)
        if not parts.hostname:
            raise ValueError(f"host {display_url(raw)!r} has no host name")
        if parts.username is not None and userinfo is None:
            userinfo = (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
        host = parts.hostname
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        port = parts.port
        if port is None:
            port = 443 if parts.scheme == "https" else 9200
        path = parts.path.rstrip("/")
        urls.append(f"{parts.scheme}://{host}:{port}{path}")
    if not urls:
        raise ValueError("no Elasticsearch host configured")
    return HostList(tuple(urls), userinfo)


def display_url(url: str) -> str:
    """``url`` with any ``user:password@`` removed."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.rpartition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


def auth_header(settings: ElasticsearchSettings, userinfo: tuple[str, str] | None = None) -> str | None:
    """The ``Authorization`` value: an API key wins over basic auth; ``None`` when neither is set.

    ``api_key`` is either the encoded key Elasticsearch returns (``encoded`` field) or ``id:key``.
    """
    if settings.api_key:
        key = settings.api_key
        if ":" in key:
            key = base64.b64encode(key.encode("utf-8")).decode("ascii")
        return f"ApiKey {key}"
    username, password = settings.username, settings.password
    if username is None and userinfo is not None:
        username, password = userinfo
    if username is None:
        return None
    token = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def secret_strings(
    settings: ElasticsearchSettings, userinfo: tuple[str, str] | None, auth: str | None
) -> tuple[str, ...]:
    """Every form in which a secret could show: password, key, its parts, the header value."""
    secrets = [settings.password, settings.api_key, userinfo[1] if userinfo else None]
    if auth is not None:
        secrets.append(auth.partition(" ")[2])
    if settings.api_key and ":" in settings.api_key:
        secrets.append(settings.api_key.partition(":")[2])
    # Longest first, so a secret that contains another is replaced whole.
    return tuple(sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True))

"""Credentials a subscription URL carries (`https://user:pw@host/hook`): sent as HTTP Basic authentication, as
providers that accept such URLs do (the URL's user and password never go on the request line), and masked
wherever a URL or a request is shown or recorded. Pure functions.

What is shown masked can come back: a form filled with a subscription as shown (the dashboard's) sends its masked
URL or header with the field next to it that was changed. A masked value sent back means "unchanged" (`kept_url`,
`kept_headers`), as a password field that shows dots keeps the password, rather than storing `***` as the secret.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})


def _userinfo(url: str) -> tuple[str | None, str | None]:
    if "@" not in url:  # the common case, without parsing: this runs on every attempt
        return None, None
    try:
        parts = urlsplit(url)
        return parts.username, parts.password
    except ValueError:
        return None, None


def has_credentials(url: str) -> bool:
    return _userinfo(url) != (None, None)


def basic_auth(url: str) -> dict[str, str]:
    """`Authorization: Basic …` for the user and password in `url` (RFC 7617, UTF-8, percent-decoded); no
    header when it has none."""
    user, password = _userinfo(url)
    if user is None and password is None:
        return {}
    pair = f"{unquote(user or '')}:{unquote(password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def mask_url(url: str) -> str:
    """`url` safe to show: its password (or a user standing alone, often a token) replaced by `***`."""
    user, password = _userinfo(url)
    if user is None and password is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    userinfo = f"{user}:{MASK}" if password is not None else MASK
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def masked_request(url: str, headers: Mapping[str, str] | None) -> tuple[str, Mapping[str, str] | None]:
    """A request to `url` as it may be shown or recorded: the URL's credentials and the header made of them
    masked. A URL without credentials costs one substring test (this runs on every attempt)."""
    if "@" not in url:
        return url, headers
    return mask_url(url), mask_headers(headers)


def mask_headers(headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """`headers` with the value of any `Authorization` header reduced to its scheme (`Basic ***`)."""
    if headers is None or _AUTH_HEADERS.isdisjoint(map(str.lower, headers)):
        return headers
    return {name: _masked(value) if name.lower() in _AUTH_HEADERS else value for name, value in headers.items()}


def _masked(value: str) -> str:
    scheme, space, _ = value.partition(" ")
    return f"{scheme} {MASK}" if space else MASK


def kept_url(new: str, old: str) -> str:
    """`new`, with `old`'s credentials where `new` carries them as shown masked (`u:***@`, `***@`)."""
    user, password = _userinfo(new)
    masked = password == MASK if password is not None else user == MASK
    if not masked or not has_credentials(old):
        return new
    parts = urlsplit(new)
    old_user, old_password = _userinfo(old)
    if password is None and old_password is not None:
        return new  # `***@` stands for a user alone: `old` had a password, which `***@` never showed
    kept = urlsplit(old).netloc.rpartition("@")[0]
    if password is not None and user != old_user:
        return new  # another user: the password shown was not this one's
    return urlunsplit(parts._replace(netloc=f"{kept}@{parts.netloc.rpartition('@')[2]}"))


def kept_headers(new: Mapping[str, str], old: Mapping[str, str]) -> dict[str, str]:
    """`new`, with `old`'s value of each authorization header `new` gives as shown masked (`Bearer ***`)."""
    was = {name.lower(): value for name, value in old.items() if name.lower() in _AUTH_HEADERS}
    return {
        name: was[name.lower()] if name.lower() in was and value == _masked(was[name.lower()]) else value
        for name, value in new.items()
    }

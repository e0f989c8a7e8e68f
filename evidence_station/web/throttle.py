"""Login throttling: per client address and per account name.

Who the client is comes from the TCP peer. ``X-Forwarded-For`` is believed only when the
peer is one of the configured ``[web] trusted_proxies``: any client can send that header,
and believing it from anyone gave every guess a fresh address (12 of 12 guesses went
through). Behind a trusted proxy the client is the right-most address in the header that
is not itself a trusted proxy (the left part is whatever the client chose to send).

A per-address limit alone lets a botnet guess one account's password from many
addresses, so failures are also counted per account name. Names are counted whether or
not an account has them, so the throttle says nothing about which names exist.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network

from starlette.requests import Request

WINDOW_S = 60.0
SWEEP_ABOVE = 10_000  # keys kept before stale ones are swept (many invented names)
Network = IPv4Network | IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client an attempt is counted against (see the module docstring)."""
    peer = peer or "unknown"
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a garbled header from behind our own proxy: count the proxy
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def request_client(request: Request, proxies: Sequence[Network]) -> str:
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"), proxies)


def account_key(username: str) -> str:
    """The per-account counter's key: the name as typed, folded the way names compare."""
    return "account:" + username.strip().lower()


class LoginThrottle:
    """Failed logins in the last minute, per key; in memory (one web process)."""

    def __init__(self, limit: int, *, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked(self, *keys: str) -> bool:
        """True when any key has used up its failures for this minute."""
        now = self.clock()
        with self._lock:
            return any(len(self._recent(key, now)) >= self.limit for key in keys)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > SWEEP_ABOVE:
                for stale in list(self._failures):
                    self._recent(stale, now)
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

"""A plain, recursive RFC 6962 implementation that the fast code is checked against
(the transparency-dev/merkle ``testonly/reference_test.go`` habit). Written straight
from RFC 6962 §2.1 (MTH), §2.1.1 (PATH) and §2.1.2 (PROOF/SUBPROOF): slow and obviously
right. Subtree hashes are memoised per leaf list so the 0…300 sweep stays quick."""

from __future__ import annotations

import hashlib


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self._cache: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        key = (lo, hi)
        if key not in self._cache:
            n = hi - lo
            if n == 0:
                value = hashlib.sha256(b"").digest()
            elif n == 1:
                value = hashlib.sha256(b"\x00" + self.leaves[lo]).digest()
            else:
                k = _k(n)
                value = hashlib.sha256(
                    b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)
                ).digest()
            self._cache[key] = value
        return self._cache[key]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n <= 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self.mth(lo, hi)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, complete), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def consistency(self, m: int, n: int) -> list[bytes]:
        if m == 0 or m == n:
            return []
        return self.subproof(m, 0, n, True)


def mth(leaves: list[bytes]) -> bytes:
    return Reference(leaves).mth(0, len(leaves))

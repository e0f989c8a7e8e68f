"""Stored Merkle tree: every perfect subtree hash on disk, so proofs are O(log n).

Level ``k`` is a file of 32-byte hashes; entry ``i`` is the hash of the perfect subtree
over leaves ``[i * 2**k, (i + 1) * 2**k)``. Appending a leaf adds one entry to level 0
and one more to each level whose count just became complete. Any RFC 6962 subtree hash
is then a handful of lookups: perfect, aligned ranges are one lookup and the ragged
right edge is O(log n) of them. A proof at 10^6 leaves reads a few hundred hashes
instead of rehashing a million events.

The levels are a cache derived from the events: :class:`hashing.ledger.Ledger` rebuilds
them when they do not match the events (after a crash), so they are not fsynced on each
append; :meth:`sync` makes them durable before a clean close vouches for them, and
:meth:`matches` is the check a power cut cannot pass (every level's count = size >> level).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from hashing.merkle import EMPTY_ROOT, HASH_SIZE, node_hash, split_point


class TreeStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._maps: dict[int, tuple[int, mmap.mmap | None]] = {}
        self._pending: dict[int, bytearray] = {}
        self._counts: list[int] = []
        self._load_counts()

    # -- layout ---------------------------------------------------------------------
    def _level_path(self, level: int) -> Path:
        return self.directory / f"level-{level:02d}.bin"

    def _load_counts(self) -> None:
        self._counts = []
        level = 0
        while self._level_path(level).exists():
            self._counts.append(self._level_path(level).stat().st_size // HASH_SIZE)
            level += 1

    @property
    def size(self) -> int:
        return self._counts[0] if self._counts else 0

    def reset(self) -> None:
        """Forget every stored hash (before a rebuild)."""
        self._close_maps()
        for path in self.directory.glob("level-*.bin"):
            path.unlink()
        self._counts = []
        self._pending = {}

    # -- writing --------------------------------------------------------------------
    def append(self, leaf_hashes: list[bytes]) -> None:
        """Add leaves; call :meth:`flush` to hand them to the OS."""
        for leaf in leaf_hashes:
            level = 0
            node = leaf
            while True:
                if len(self._counts) <= level:
                    self._counts.append(0)
                self._pending.setdefault(level, bytearray()).extend(node)
                self._counts[level] += 1
                if self._counts[level] % 2:
                    break
                left = self._get(level, self._counts[level] - 2)
                node = node_hash(left, node)
                level += 1

    def flush(self) -> None:
        # Highest level first: a reader that sees leaf n in level 0 finds every parent
        # hash above it already written (it sizes the tree by level 0).
        for level, data in sorted(self._pending.items(), reverse=True):
            if not data:
                continue
            with open(self._level_path(level), "ab") as handle:
                handle.write(data)
        self._pending = {}

    def rollback(self, size: int) -> None:
        """Forget everything past ``size`` leaves, pending or written, without writing.

        Used after a failed append: the unwritten hashes are dropped and the files cut
        back to what ``size`` leaves need. A failure here leaves the files long, which
        :meth:`matches` catches on the next open (the caches are then rebuilt)."""
        self._pending = {}
        self._close_maps()
        try:
            for level in range(len(self._counts)):
                path = self._level_path(level)
                keep = (size >> level) * HASH_SIZE
                if path.exists() and path.stat().st_size > keep:
                    os.truncate(path, keep)
        finally:
            self._load_counts()

    def sync(self) -> None:
        """fsync every level file and the directory naming them (before a clean-close
        state file vouches for them: DESIGN.md, "Durable means fsynced, in order")."""
        self.flush()
        for level in range(len(self._counts)):
            fd = os.open(self._level_path(level), os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def matches(self, size: int) -> bool:
        """Whether the level files hold exactly the hashes of ``size`` leaves: level ``k``
        has ``size >> k`` entries, for every level, and no level beyond them has any. A
        missing or short level (a power cut after a close whose caches were not durable)
        fails here instead of as a FileNotFoundError in ``check`` or ``export``."""
        level = 0
        while True:
            path = self._level_path(level)
            want = (size >> level) * HASH_SIZE
            try:
                have = path.stat().st_size
            except FileNotFoundError:
                have = 0
                if want == 0:
                    return True
            if have != want:
                return False
            if want == 0:
                return not self._level_path(level + 1).exists()
            level += 1

    def truncate(self, size: int) -> None:
        """Drop every hash that covers leaves at or beyond ``size``."""
        self.flush()
        self._close_maps()
        for level in range(len(self._counts)):
            keep = size >> level
            if self._counts[level] > keep:
                os.truncate(self._level_path(level), keep * HASH_SIZE)
                self._counts[level] = keep

    # -- reading --------------------------------------------------------------------
    def _close_maps(self) -> None:
        for _, mapping in self._maps.values():
            if mapping is not None:
                mapping.close()
        self._maps = {}

    def close(self) -> None:
        self.flush()
        self._close_maps()

    def _get(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``index`` at ``level``."""
        pending = self._pending.get(level)
        if pending:
            first_pending = self._counts[level] - len(pending) // HASH_SIZE
            if index >= first_pending:
                offset = (index - first_pending) * HASH_SIZE
                return bytes(pending[offset : offset + HASH_SIZE])
        mapped_count, mapping = self._maps.get(level, (0, None))
        if index >= mapped_count:
            if mapping is not None:
                mapping.close()
            path = self._level_path(level)
            file_size = path.stat().st_size
            with open(path, "rb") as handle:
                mapping = mmap.mmap(handle.fileno(), file_size, access=mmap.ACCESS_READ)
            mapped_count = file_size // HASH_SIZE
            self._maps[level] = (mapped_count, mapping)
            if index >= mapped_count:
                raise IndexError(f"tree level {level} has no entry {index}")
        assert mapping is not None
        offset = index * HASH_SIZE
        return mapping[offset : offset + HASH_SIZE]

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that occurs in the RFC 6962 decomposition."""
        count = end - start
        if count <= 0:
            raise ValueError(f"empty range {start}..{end}")
        if count & (count - 1) == 0 and start % count == 0:
            return self._get(count.bit_length() - 1, start // count)
        k = split_point(count)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def leaf_hash(self, index: int) -> bytes:
        return self._get(0, index)

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree has {self.size} leaves, asked for a root at {size}")
        return EMPTY_ROOT if size == 0 else self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 6962 §2.1.1 PATH(index, D[0:size])."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of size {size} (have {self.size})")
        proof: list[bytes] = []
        start, end = 0, size
        # Walk down from the root; collect siblings, then reverse (leaf-to-root order).
        while end - start > 1:
            k = split_point(end - start)
            if index < start + k:
                proof.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree_hash(start, start + k))
                start = start + k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 6962 §2.1.2 PROOF(old_size, D[0:new_size])."""
        if not 0 <= old_size <= new_size <= self.size:
            raise ValueError(f"no consistency proof {old_size} -> {new_size} (have {self.size})")
        if old_size == 0 or old_size == new_size:
            return []
        proof: list[bytes] = []
        start, end, complete = 0, new_size, True
        m = old_size
        # SUBPROOF(m, D[start:end], complete), iteratively.
        while True:
            count = end - start
            if m == count:
                if not complete:
                    proof.append(self.subtree_hash(start, end))
                break
            k = split_point(count)
            if m <= k:
                proof.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree_hash(start, start + k))
                start = start + k
                m -= k
                complete = False
        proof.reverse()
        return proof

"""Analysis after commit, off the copy path: media facts, the spoken start statement,
clock drift, interruptions and missing files, the storage deadline, and the review queue.

Every result is a ledger event; nothing here ever opens a stored file for writing.
"""

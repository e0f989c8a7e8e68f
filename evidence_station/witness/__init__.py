"""Witness cosigning (C2SP tlog-witness): the witness server and the station's client.

A checkpoint signed only by the station proves nothing against the station itself: an
insider with root can rebuild the whole history with the same key. A witness remembers
the latest checkpoint of each station it follows and cosigns a new one only if it extends
what it saw, so a rewritten or forked history cannot get a second cosignature
(DESIGN.md, "Witnesses").
"""

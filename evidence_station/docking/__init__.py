"""Docking: from "a camera appeared" to "safe to unplug", per port.

``status`` holds what each dock is doing (the live table and the status JSON the web UI
reads), ``register`` the device register (R16), ``receipt`` the officer's proof of what
was taken, ``worker`` one docking from mount to unmount, ``daemon`` the event loop that
starts workers as cameras come and go.
"""

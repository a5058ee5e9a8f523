"""The avatar channel: a face for the voice session (built in, or HeyGen LiveAvatar in LITE mode).

See docs/architecture.md ("Avatar") for the map of this package.
"""

"""Training: the two stages of the dual-input-output method, with run directories and resume.

This package imports torch; the rest of edgecnn does not need it.
"""

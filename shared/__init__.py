"""What crosses a process boundary: message schemas, Redis keys, settings, tokens.

Nothing in this package imports from ``gateway``, ``analyzer`` or ``services``.
"""

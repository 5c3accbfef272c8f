"""Analyzer workers: sampled frames in, per-frame facial measures and cues out.

The data path reads in order: ``worker`` claims a session → ``runner`` reads its frame
stream → ``frames`` decodes → ``landmarks`` finds the face → ``alignment``/``pose`` →
``metrics`` against the ``baseline`` → ``analysis`` builds the feedback message.
"""

"""WebRTC gateway: signalling, media relay, frame sampling and feedback fan-out.

The data path reads in order: ``api`` (signalling) → ``room`` (relay between patient and
therapist) → ``sampler`` (frames into Redis) … analyzer … ``fanout`` (feedback back out).
"""

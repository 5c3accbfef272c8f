"""The clinic: people and access, intake, assessments, home programmes, sessions,
progress, questionnaires, referral flags and reports, as a JSON API under ``/clinic``.

``create_clinic_app(settings)`` (in ``services.clinic.app``) builds the aiohttp
application; the gateway mounts it, and ``telerehab clinic`` serves it alone.
"""

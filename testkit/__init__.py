"""Test support beside the product, never inside it: synthetic faces from real photos with
known per-side movement (``synthetic``, ``warp``), clip writers (``video``, ``media``,
``marked_clip``), clinic records (``clinic_records``), a worker's frame feed
(``worker_feed``) and a free port (``net``). The product never imports it; tests and
benchmarks do (run from the repository root).
"""

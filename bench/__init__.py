"""Benchmarks anyone can rerun (bench/README.md): scripts run as files
(`.venv/bin/python bench/<name>.py`), and the baseline endpoint (`bench.baseline`)
that lemniscus/urls.py routes only with `BENCH_BASELINE` on. Not in the image
(.dockerignore); no app imports from here."""

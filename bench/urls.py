"""The benchmark's routes, included by lemniscus/urls.py under `bench/` only when
`BENCH_BASELINE` is on (never in production)."""

from django.urls import path

from bench.baseline import BenchInsertView

urlpatterns = [path("insert", BenchInsertView.as_view())]

"""The app as the deployed-stack bench serves it: `gunicorn -c deploy/gunicorn.conf.py
bench.deployed_app:app`, behind nginx, with the production environment file's settings.

Everything is production's (read from the environment: PostgreSQL, Redis limits, CSRF, secure
cookies, ProxyFix) but for one addition: the ceiling endpoints of `app/bench_views.py`, which
`ProductionConfig.validate()` refuses — so this class skips that check and nothing else.
"""

from app import create_app
from config import ProductionConfig


class DeployedBenchConfig(ProductionConfig):
    BENCH_ENDPOINTS = True

    @classmethod
    def validate(cls) -> None:
        """Production's checks, but for the benchmark endpoints this app exists to add."""
        cls.BENCH_ENDPOINTS = False
        try:
            super().validate()
        finally:
            cls.BENCH_ENDPOINTS = True


app = create_app(DeployedBenchConfig)

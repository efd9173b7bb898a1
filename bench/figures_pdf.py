"""The steering committee's PDF (/admin/chiffres.pdf): how long a coordinator waits for it.

    .venv/bin/python -m bench.figures_pdf            # from the project root
    .venv/bin/python -m bench.figures_pdf --profile  # and where a warm request's time goes
                                                     # (needs `pip install pyinstrument`)

Seeds the demo data (`flask seed-demo`: three sites, a term of workshops, registrations) into a
fresh SQLite file, logs a coordinator in, and asks for the current school year's PDF through
Flask's test client (the cost is the app's: queries, template, WeasyPrint; not HTTP's), each
scenario in a fresh Python process, as a fresh gunicorn worker would be:

- cold: the first request of a process that has not imported WeasyPrint (before post_worker_init
  warmed it up, every worker's first PDF paid its import and first layout);
- warmed: the first request after `app.pdf.warm_up()`, what gunicorn's post_worker_init runs;
- then `--runs` more requests in the warmed process: their median and max.

Prints the figures and whether the target holds (first request after warm-up and median under
1 s). Exits 0 either way: missing the target is reported, not fatal.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.0


def scenario(database: Path, warm: bool, runs: int, profile: bool) -> dict:
    from app import create_app
    from app.booking.demo import register_demo_teachers
    from app.catalog.demo import seed_demo
    from app.extensions import db
    from app.staff.models import Role
    from app.staff.services import create_account
    from config import TestConfig

    config = type(
        "BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
        register_demo_teachers(seed_demo())
        create_account("bench@ac-amiens.fr", "Banc d'essai", Role.coordinator, "banc-essai-2026")
        db.session.commit()
    client = app.test_client()
    client.post(
        "/connexion", data={"courriel": "bench@ac-amiens.fr", "mot_de_passe": "banc-essai-2026"}
    )
    if warm:
        from app.pdf import warm_up

        warm_up()

    def one() -> float:
        start = time.perf_counter()
        response = client.get("/admin/chiffres.pdf")
        assert response.status_code == 200 and response.data.startswith(b"%PDF-"), response.status
        return time.perf_counter() - start

    times = [one() for _ in range(1 + runs)]
    if profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            one()
        print(profiler.output_text(color=False, show_all=False), file=sys.stderr)
    return {"first": times[0], "rest": times[1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm requests after the first")
    parser.add_argument("--profile", action="store_true", help="profile one warm request")
    parser.add_argument("--scenario", choices=["cold", "warmed"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:  # a child process: one scenario, its figures as JSON
        with tempfile.TemporaryDirectory() as folder:
            found = scenario(
                Path(folder) / "bench.db", args.scenario == "warmed", args.runs, args.profile
            )
        print(json.dumps(found))
        return
    results = {}
    for name in ("cold", "warmed"):
        command = [sys.executable, "-m", "bench.figures_pdf", "--scenario", name]
        command += ["--runs", str(args.runs if name == "warmed" else 0)]
        command += ["--profile"] if args.profile and name == "warmed" else []
        output = subprocess.run(command, check=True, capture_output=True, text=True)
        if args.profile and name == "warmed":
            print(output.stderr)
        results[name] = json.loads(output.stdout.strip().splitlines()[-1])
    rest = results["warmed"]["rest"]
    median = statistics.median(rest) if rest else results["warmed"]["first"]
    print(f"/admin/chiffres.pdf on the demo data ({args.runs} warm runs)")
    print(f"  first request, WeasyPrint not warmed up : {results['cold']['first']:.3f} s")
    print(f"  first request after app.pdf.warm_up()   : {results['warmed']['first']:.3f} s")
    if rest:
        print(f"  warm requests: median {median:.3f} s, max {max(rest):.3f} s")
    met = results["warmed"]["first"] < TARGET_S and median < TARGET_S
    print(f"  target < {TARGET_S:.0f} s after warm-up: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()

"""The scheduler process: `--once`, heartbeats on /sante, SIGTERM, one active process among
several on PostgreSQL and a standby taking over when it dies."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.heartbeat import Heartbeat
from app.mail.models import MailStatus
from scheduler.leader import LOCK_KEY
from tests.conftest import SMTPSink, outbox

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(live_app):
    return live_app


@pytest.fixture
def scheduler_env(database_url, tmp_path):
    return {
        **os.environ,
        "ATELIERS_ENV": "development",
        "DATABASE_URL": database_url,
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "SCHEDULER_DELIVERY_SECONDS": "0.2",
        "SCHEDULER_ELECTION_SECONDS": "0.2",
    }


def start(env, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def beats() -> dict[str, str]:
    db.session.remove()
    return {row.name: row.process for row in db.session.scalars(sa.select(Heartbeat))}


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class Lines:
    """A process's output, read as it comes (a thread), for a test to wait on."""

    def __init__(self, process):
        self.lines: list[str] = []
        self._stream = process.stdout
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def finish(self) -> str:
        """All of it, once the process has ended."""
        self._reader.join(10)
        self._stream.close()
        return self.text


def queue_mails(count: int) -> None:
    """`count` plain mails in the outbox, "Essai 0"… to prof0@…, committed."""
    from app.mail.models import OutboxMail

    db.session.add_all(
        OutboxMail(
            template="test",
            recipient=f"prof{n}@ac-amiens.fr",
            subject=f"Essai {n}",
            body_text="Bonjour",
            body_html="<p>Bonjour</p>",
        )
        for n in range(count)
    )
    db.session.commit()


def stop(process):
    if process.poll() is None:
        process.kill()
    return process.communicate(timeout=10)[0]


def test_once_delivers_and_leaves_a_heartbeat_that_health_reports(
    app, scheduler_env, make_workshop, applicant
):
    from app.booking import services

    services.register(make_workshop().id, applicant(1))

    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--once"],
        cwd=ROOT,
        env=scheduler_env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "1 sent" in done.stderr
    db.session.remove()
    assert [m.status.value for m in outbox()] == ["sent"]
    health = app.test_client().get("/sante").json
    assert health["scheduler"]["sweeps"]["deliver_outbox"]["did"] == "1 sent, 0 to retry, 0 failed"
    assert set(health["scheduler"]["sweeps"]) == {
        "deliver_outbox",
        "send_reminders",
        "send_trainer_lists",
        "send_exchange_links",
        "build_exchange_agendas",
        "send_follow_ups",
        "purge_mail_bodies",
        "purge_personal_data",
    }
    host, pid = health["scheduler"]["process"].rsplit(":", 1)
    assert host and pid.isdigit()


def test_sigterm_stops_the_scheduler_cleanly(app, scheduler_env):
    process = start(scheduler_env)
    try:
        assert wait_for(lambda: "deliver_outbox" in beats()), "no heartbeat"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        output = stop(process)
    assert "scheduler stopped" in output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_active_scheduler_and_a_standby_that_takes_over(app, scheduler_env):
    first = start(scheduler_env)
    second = None
    try:
        assert wait_for(lambda: beats().get("deliver_outbox", "").endswith(f":{first.pid}"))
        second = start(scheduler_env)
        second_output = Lines(second)
        # Its first election lost (a process takes a second or two to start on a busy machine)…
        assert wait_for(lambda: "standing by" in second_output.text), second_output.text
        time.sleep(2)  # …then ten more rounds: the standby must not work meanwhile
        assert beats()["deliver_outbox"].endswith(f":{first.pid}")

        first.kill()  # the active one dies: PostgreSQL frees its lock with its connection
        first.wait(timeout=10)
        assert wait_for(lambda: beats()["deliver_outbox"].endswith(f":{second.pid}")), (
            "the standby did not take over"
        )
    finally:
        stop(first)
        if second is not None:
            second.kill()  # not stop(): its output is being read by `second_output`
            second.wait(timeout=10)
    assert "now the active scheduler" in second_output.finish()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_once_while_another_process_is_active_says_so_and_exits_0(app, scheduler_env):
    holder = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        done = subprocess.run(
            [sys.executable, "-m", "scheduler", "--once"],
            cwd=ROOT,
            env=scheduler_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert done.returncode == 0
    assert "another scheduler process is active" in done.stderr
    assert beats() == {}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_scheduler_processes_deliver_each_of_1000_mails_exactly_once(app, scheduler_env, smtp):
    """Election off, on purpose: two processes sweep the same outbox at the same time."""
    queue_mails(1000)
    env = {
        **scheduler_env,
        "SCHEDULER_ELECTION": "0",
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "SCHEDULER_DELIVERY_SECONDS": "0.05",
    }
    first, second = start(env), start(env)
    try:
        assert wait_for(lambda: len(smtp.received) >= 1000, timeout=120), len(smtp.received)
        time.sleep(1)  # anything sent twice would arrive now
    finally:
        outputs = [stop(first), stop(second)]

    message_ids = [m["Message-ID"] for m in smtp.messages]
    assert len(message_ids) == 1000 and len(set(message_ids)) == 1000
    assert all(" sent" in output for output in outputs), "both processes took part"


def test_one_delivery_sweep_sends_batch_after_batch(app, smtp):
    """A programme mail queues thousands: one sweep does not stop at the first batch."""
    from scheduler.jobs import deliver_outbox

    app.config["MAIL_BATCH_SIZE"] = 10
    queue_mails(35)

    report = deliver_outbox()

    assert report.sent == 35 and len(smtp.messages) == 35


class HoldingSink(SMTPSink):
    """Holds the answer to the `hold_at`-th mail's DATA until `release()`: the mail in flight
    when the test kills the sender. Every DATA received counts, answered or not."""

    def __init__(self, hold_at: int):
        self.hold_at = hold_at
        self.holding = threading.Event()
        self._release = threading.Event()
        super().__init__()

    def make_handler(self):
        sink = self

        class Handler(type(super().make_handler())):
            async def handle_DATA(self, server, session, envelope):
                answer = await super().handle_DATA(server, session, envelope)
                if len(sink.received) == sink.hold_at:
                    sink.holding.set()
                    await asyncio.get_running_loop().run_in_executor(None, sink._release.wait, 60)
                return answer

        return Handler()

    def release(self):
        self._release.set()


def test_a_scheduler_killed_mid_batch_sends_at_most_the_mail_in_flight_twice(app, scheduler_env):
    """Issue 13, item 2: SIGKILL while the 4th mail of a batch of 12 waits for the relay's answer.
    The mails already accepted were recorded one by one (none goes again), the dead process's
    claims are taken back once its heartbeat is older than MAIL_CLAIM_TIMEOUT_SECONDS, and the
    next scheduler sends the rest: nothing lost, only the mail in flight may arrive twice."""
    from app.mail.models import OutboxMail

    claim_timeout = 5
    sink = HoldingSink(hold_at=4)
    sink.start()
    queue_mails(12)
    env = {
        **scheduler_env,
        "MAIL_SERVER": sink.host,
        "MAIL_PORT": str(sink.port),
        "MAIL_BATCH_SIZE": "12",
        "MAIL_CLAIM_TIMEOUT_SECONDS": str(claim_timeout),
    }
    first = start(env)
    second = None
    try:
        assert sink.holding.wait(60), stop(first)
        first.kill()  # SIGKILL: no handler, no cleanup
        first.wait(timeout=10)
        killed_at = time.monotonic()
        in_flight = sink.messages[3]["Message-ID"]
        sink.release()

        second = start(env)
        everything = wait_for(
            lambda: len({m["Message-ID"] for m in sink.messages}) == 12,
            timeout=claim_timeout + 60,
        )
        waited = time.monotonic() - killed_at
        db.session.remove()
        recorded = wait_for(
            lambda: (
                db.session.scalar(
                    sa.select(sa.func.count()).where(OutboxMail.status != MailStatus.sent)
                )
                == 0
            )
        )
    finally:
        output = stop(first) + (stop(second) if second is not None else "")
        sink.stop()

    received = Counter(m["Message-ID"] for m in sink.messages)
    twice = [mid for mid, count in received.items() if count > 1]
    lost = 12 - len(received)
    print(
        f"\nkilled mid-batch: {sum(received.values())} mails received for 12, sent twice: "
        f"{len(twice)}, lost: {lost}; the rest delivered {waited:.1f} s after the kill "
        f"(claim timeout {claim_timeout} s)"
    )
    assert everything, output
    assert lost == 0
    assert set(twice) <= {in_flight}, "only the mail in flight may go twice"
    assert recorded, "every row recorded as sent"
    assert waited < claim_timeout + 45, output


def test_a_run_waiting_on_a_slow_relay_keeps_its_claim(app, scheduler_env):
    """The scheduler beats the claim of its delivery run from another thread: a relay slower than
    the claim timeout does not make another process take the mails back and send them again."""
    from app.mail.models import MailSender, OutboxMail

    def beaten_for() -> float:
        """Seconds between the run's claim and its latest beat."""
        db.session.remove()
        found = db.session.execute(
            sa.select(MailSender.beat_at, sa.func.min(OutboxMail.claimed_at))
            .join(OutboxMail, OutboxMail.claim == MailSender.claim)
            .group_by(MailSender.beat_at)
        ).first()
        return (found[0] - found[1]).total_seconds() if found else 0.0

    claim_timeout = 2
    sink = HoldingSink(hold_at=1)
    sink.start()
    queue_mails(6)
    env = {
        **scheduler_env,
        "SCHEDULER_ELECTION": "0",
        "MAIL_SERVER": sink.host,
        "MAIL_PORT": str(sink.port),
        "MAIL_CLAIM_TIMEOUT_SECONDS": str(claim_timeout),
    }
    first, second = start(env), start(env)  # both sweep the outbox every 0.2 s
    try:
        assert sink.holding.wait(60), stop(first) + stop(second)
        # Held until the run's heartbeat was beaten three claim timeouts after its claim: long
        # enough for the other process to take the mails back, had the run stopped beating.
        assert wait_for(lambda: beaten_for() > 3 * claim_timeout, timeout=60), beaten_for()
        sink.release()
        assert wait_for(lambda: len(sink.received) >= 6, timeout=60)
        db.session.remove()
        assert wait_for(
            lambda: (
                db.session.scalar(
                    sa.select(sa.func.count()).where(OutboxMail.status != MailStatus.sent)
                )
                == 0
            )
        )
    finally:
        output = stop(first) + stop(second)
        sink.stop()
    received = Counter(m["Message-ID"] for m in sink.messages)
    assert sorted(received.values()) == [1] * 6, output
    assert "go back to the outbox" not in output

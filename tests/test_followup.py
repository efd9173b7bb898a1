"""After the session: certificates and questionnaire links mailed once to each person present,
read back from the PDF; the public verification page; the questionnaire answered once, bad input
refused; the staff's view of the answers; the hours of the school year on the management page.

Attendance is written here directly with the models (Attendance, SessionClosure): the check-in
has its own tests.
"""

import html
import re
import secrets
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app import tokens
from app.attendance import certificates, followup
from app.attendance.models import (
    Attendance,
    Certificate,
    LevelFit,
    Presence,
    QuestionnaireAnswer,
    SessionClosure,
    WillUse,
)
from app.booking.models import Registration, RegistrationStatus
from app.extensions import db
from app.formatting import PARIS, Period, school_year_of
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from app.tokens import TokenPurpose
from tests.conftest import login, require

HTML_NAME = "<b>Léa</b>"
NOT_FOUND_QUESTIONNAIRE = "Questionnaire introuvable"


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


# --- helpers -------------------------------------------------------------------------------------


def person(workshop, n, *, status=RegistrationStatus.confirmed, **fields) -> Registration:
    values = dict(
        last_name=f"Martin{n}",
        first_name="Léa",
        email=f"lea.martin{n}@ac-amiens.fr",
        school="École Jules Ferry",
        uai="0801234G",
    )
    values.update(fields)
    registration = Registration(workshop=workshop, status=status, **values)
    db.session.add(registration)
    db.session.commit()
    return registration


def mark(registration, presence=Presence.present) -> None:
    db.session.add(
        Attendance(
            registration_id=registration.id,
            workshop_id=registration.workshop_id,
            presence=presence,
            tapped_at_ms=1,
        )
    )
    db.session.commit()


def close(workshop) -> None:
    db.session.add(SessionClosure(workshop_id=workshop.id))
    db.session.commit()


@pytest.fixture
def session_held(at, clock):
    """A Wednesday morning session (9 h – 12 h) with Zoé L'Hôte-Dupré, a name holding HTML and
    Paul Durand present, Marc Absent absent, and one person never marked; the clock at 12 h 10."""

    def make(*, closed=True, **fields):
        workshop = at(
            paris(2026, 3, 11, 9), title=fields.pop("title", "Le TBI en classe"), **fields
        )
        people = {
            "zoe": person(
                workshop, 1, first_name="Zoé", last_name="L'Hôte-Dupré", school="École Jean Macé"
            ),
            "html": person(workshop, 2, first_name=HTML_NAME, last_name="Dupont"),
            "paul": person(workshop, 3, first_name="Paul", last_name="Durand", uai=None),
            "absent": person(workshop, 4, first_name="Marc", last_name="Absent"),
            "unmarked": person(workshop, 5, first_name="Inès", last_name="Nonpointée"),
        }
        for key in ("zoe", "html", "paul"):
            mark(people[key])
        mark(people["absent"], Presence.absent)
        clock.set(paris(2026, 3, 11, 12, 10))
        if closed:
            close(workshop)
        return workshop, people

    return make


def certificate_mails() -> list[OutboxMail]:
    return list(
        db.session.scalars(
            sa.select(OutboxMail)
            .where(OutboxMail.template == "attendance/certificate")
            .order_by(OutboxMail.id)
        )
    )


def pdf_text(data: bytes) -> str:
    require(
        shutil.which("pdftotext") is not None, "pdftotext (Debian's poppler-utils) is not installed"
    )
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode("utf-8")


def questionnaire_path(mail) -> str:
    return re.search(r"/questionnaire/[A-Za-z0-9_-]{43}", mail.body_text).group(0)


def read(response) -> str:
    """A page's words as a person reads them: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the sweep -----------------------------------------------------------------------------------


def test_each_person_present_gets_one_mail_with_the_certificate_pdf(session_held):
    workshop, people = session_held()

    report = followup.send_follow_ups()

    assert (report.sent, report.sessions) == (3, 1)
    mails = certificate_mails()
    assert sorted(m.recipient for m in mails) == sorted(
        people[k].email for k in ("zoe", "html", "paul")
    )
    for mail in mails:
        registration = db.session.get(Registration, mail.subject_id)
        certificate = certificates.certificate_of(registration.id)
        assert mail.subject == "Attestation de présence : Le TBI en classe"
        assert certificate.minutes == 180
        assert re.fullmatch(
            r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", certificate.code
        )
        assert f"http://ateliers.test/attestations/{certificate.code}" in mail.body_text
        assert "/questionnaire/" in mail.body_text and "/inscription/" in mail.body_text
        [attachment] = mail.attachments
        assert attachment.content_type == "application/pdf"
        assert attachment.filename == "attestation-presence-2026-03-11.pdf"
        text = pdf_text(attachment.data)
        assert "Attestation de présence" in text
        assert registration.last_name in text
        assert "Le TBI en classe" in text and "3 heures" in text
        assert "mercredi 11 mars 2026" in text and "de 9 h à 12 h" in text
        assert "45 rue Saint-Leu" in text and "Claire Dumont" in text
        assert "CRDP de l'académie d'Amiens" in text
        assert certificate.code in text
        assert f"http://ateliers.test/attestations/{certificate.code}" in text
    zoe = pdf_text(certificates.certificate_pdf(certificates.certificate_of(people["zoe"].id)))
    assert "Zoé L'Hôte-Dupré" in zoe and "École Jean Macé (UAI 0801234G)" in zoe
    shown = pdf_text(certificates.certificate_pdf(certificates.certificate_of(people["html"].id)))
    assert f"{HTML_NAME} Dupont" in shown  # the markup shows as text
    assert db.session.get(SessionClosure, workshop.id).followed_up_at is not None


def test_absent_and_unmarked_people_get_nothing(session_held):
    _, people = session_held()
    followup.send_follow_ups()
    recipients = {m.recipient for m in certificate_mails()}
    assert people["absent"].email not in recipients and people["unmarked"].email not in recipients
    assert certificates.certificate_of(people["absent"].id) is None
    assert certificates.certificate_of(people["unmarked"].id) is None


def test_a_second_sweep_sends_nothing_more(session_held):
    workshop, _ = session_held()
    followup.send_follow_ups()
    first = (count(Certificate), count(OutboxMail))

    assert not followup.send_follow_ups()
    # A second scheduler that read the closure before the first one marked it: still nothing twice.
    db.session.get(SessionClosure, workshop.id).followed_up_at = None
    db.session.commit()
    report = followup.send_follow_ups()

    assert (report.sent, report.sessions) == (0, 1)
    assert (count(Certificate), count(OutboxMail)) == first


def test_an_unclosed_session_gets_nothing_and_is_logged_once(session_held, clock, caplog):
    workshop, _ = session_held(closed=False)

    assert not followup.send_follow_ups()  # the trainer may still close it
    clock.set(paris(2026, 3, 12, 12, 11))  # more than 24 h after its end
    report = followup.send_follow_ups()

    assert (report.sent, report.unclosed) == (0, 1)
    assert certificate_mails() == [] and count(Certificate) == 0
    assert f"session {workshop.id}" in caplog.text and "not closed" in caplog.text
    assert followup.send_follow_ups().unclosed == 0  # said once

    close(workshop)  # closed late: the attendance is now vouched for
    assert followup.send_follow_ups().sent == 3


def test_a_closed_session_of_a_cancelled_workshop_sends_nothing(session_held):
    from app.catalog.models import WorkshopStatus

    workshop, _ = session_held()
    workshop.status = WorkshopStatus.cancelled
    db.session.commit()

    report = followup.send_follow_ups()

    assert (report.sent, report.sessions) == (0, 1)
    assert certificate_mails() == []


def test_a_walk_in_present_gets_a_certificate_and_minutes_follow_the_duration(at, clock):
    workshop = at(
        paris(2026, 3, 11, 17), ends_at=paris(2026, 3, 11, 18, 30), title="L'ENT après la classe"
    )
    walk_in = person(workshop, 1, status=RegistrationStatus.walk_in)
    mark(walk_in)
    clock.set(paris(2026, 3, 11, 18, 35))
    close(workshop)

    assert followup.send_follow_ups().sent == 1

    certificate = certificates.certificate_of(walk_in.id)
    assert certificate.minutes == 90
    assert "1 h 30" in pdf_text(certificates.certificate_pdf(certificate))


def test_a_session_closed_before_its_end_mails_its_certificates_only_once_it_is_over(
    at, clock, client, make_staff
):
    """The 14 h – 16 h session closed at 14 h 24: nothing leaves before 16 h, the trainer is told
    when, and the certificates then attest the two hours that did happen."""
    workshop = at(paris(2026, 12, 9, 14), ends_at=paris(2026, 12, 9, 16), title="Le TBI")
    came = person(workshop, 1)
    mark(came)
    clock.set(paris(2026, 12, 9, 14, 24))
    login(client, make_staff("trainer", trainer=workshop.trainer))
    confirm = read(client.get(f"/formateur/seances/{workshop.id}/clore"))
    assert "recevront leur attestation de présence par courriel à 16 h, à la fin de la séance" in (
        confirm
    )
    client.post(f"/formateur/seances/{workshop.id}/clore")
    page = read(client.get(f"/formateur/seances/{workshop.id}/pointage"))
    assert "Séance close" in page
    assert (
        "L'attestation de présence de la personne présente partira par courriel à 16 h, "
        "à la fin de la séance" in page
    )

    clock.set(paris(2026, 12, 9, 14, 27))
    assert not followup.send_follow_ups()
    clock.set(paris(2026, 12, 9, 15, 59))
    assert not followup.send_follow_ups()
    assert certificate_mails() == [] and count(Certificate) == 0
    assert db.session.get(SessionClosure, workshop.id).followed_up_at is None

    clock.set(paris(2026, 12, 9, 16, 2))
    assert followup.send_follow_ups().sent == 1
    certificate = certificates.certificate_of(came.id)
    assert certificate.minutes == 120 and certificate.issued_at >= workshop.ends_at
    [mail] = certificate_mails()
    assert "2 heures" in mail.body_text
    page = read(client.get(f"/formateur/seances/{workshop.id}/pointage"))
    assert (
        "Les attestations de présence ont été envoyées le mercredi 9 décembre 2026, 16 h 02" in page
    )


def test_certificates_leave_when_the_session_ends_or_in_minutes_once_over(at, clock):
    workshop = at(paris(2026, 12, 9, 14), ends_at=paris(2026, 12, 9, 16))
    clock.set(paris(2026, 12, 8, 18))
    assert followup.certificates_leave(workshop) == (
        "le mercredi 9 décembre 2026, 16 h, à la fin de la séance"
    )
    clock.set(paris(2026, 12, 9, 13, 30))
    assert followup.certificates_leave(workshop) == "à 16 h, à la fin de la séance"
    clock.set(paris(2026, 12, 9, 16))
    assert followup.certificates_leave(workshop) == "dans les minutes qui viennent"


def test_the_mail_reaches_the_smtp_server_with_the_pdf(session_held, smtp):
    _, people = session_held()
    followup.send_follow_ups()

    assert deliver_pending().sent == 3

    [message] = smtp.to(people["zoe"].email)
    assert message["Subject"] == "Attestation de présence : Le TBI en classe"
    [pdf] = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert pdf.get_filename() == "attestation-presence-2026-03-11.pdf"
    data = pdf.get_content()
    assert data.startswith(b"%PDF")
    code = certificates.certificate_of(people["zoe"].id).code
    assert code in pdf_text(data)
    body = message.get_body(("plain",)).get_content()
    assert "/questionnaire/" in body and code in body


def test_the_sweep_is_registered_in_the_scheduler():
    from scheduler.jobs import SWEEPS, send_follow_ups

    assert send_follow_ups in [sweep for sweep, _ in SWEEPS]


# --- verification --------------------------------------------------------------------------------


def test_the_verification_page_says_genuine_for_a_real_code(client, session_held):
    _, people = session_held()
    followup.send_follow_ups()
    code = certificates.certificate_of(people["html"].id).code

    for typed in (code, code.lower(), code.replace("-", ""), code.replace("-", "").lower()):
        response = client.get(f"/attestations/{typed}")
        assert response.status_code == 200, typed
        page = response.get_data(as_text=True)
        assert "Attestation authentique" in page
        assert "&lt;b&gt;Léa&lt;/b&gt; Dupont" in page and HTML_NAME not in page
        assert "Le TBI en classe" in page and "mercredi 11 mars 2026" in page and "3 heures" in page


@pytest.mark.parametrize(
    "typed",
    [
        "K7QD-M2XP-9HTA",
        "K7QDM2XP9HT",
        "K7QD-M2XP-9HTA-AAAA",
        "O0I1-L000-0000",
        "x" * 300,
        "%3Cscript%3E",
    ],
)
def test_a_wrong_code_gets_a_french_404(client, session_held, typed):
    session_held()
    followup.send_follow_ups()
    response = client.get(f"/attestations/{typed}")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Aucune attestation ne correspond à ce code" in page and "<script>" not in page


def test_verification_is_rate_limited_per_address(client):
    statuses = [
        client.get(f"/attestations/{certificates.new_code()}").status_code for _ in range(31)
    ]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
    assert "Trop de demandes" in client.get("/attestations/AAAA-AAAA-AAAA").get_data(as_text=True)


def test_codes_are_typed_in_any_case_with_or_without_dashes():
    assert certificates.normalise_code(" k7qd m2xp-9hta ") == "K7QD-M2XP-9HTA"
    assert certificates.normalise_code("K7QD-M2XP-9HT0") is None  # no zero in the alphabet
    assert certificates.normalise_code("") is None
    assert len({certificates.new_code() for _ in range(1000)}) == 1000


# --- the questionnaire ---------------------------------------------------------------------------


@pytest.fixture
def questionnaire(session_held):
    """(path of Zoé's questionnaire, her registration)."""
    _, people = session_held()
    followup.send_follow_ups()
    [mail] = [m for m in certificate_mails() if m.recipient == people["zoe"].email]
    return questionnaire_path(mail), people["zoe"]


def answer(**fields):
    data = {
        "utilite": "4",
        "niveau": "right",
        "usage": "yes",
        "commentaire": "Très concret, merci.",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_answer_once_then_a_second_answer_is_refused(client, questionnaire):
    path, zoe = questionnaire
    page = client.get(path)
    assert page.status_code == 200 and "Le TBI en classe" in page.get_data(as_text=True)
    # same-origin: never to another site, but the form's own POST keeps the Referer Flask-WTF
    # requires over https (tests/test_deployment.py).
    assert page.headers["Referrer-Policy"] == "same-origin"

    response = client.post(path, data=answer())
    assert response.status_code == 303
    assert "Merci ! Votre réponse est enregistrée." in client.get(path).get_data(as_text=True)
    row = db.session.scalar(sa.select(QuestionnaireAnswer))
    assert (row.registration_id, row.usefulness, row.level_fit, row.will_use, row.comment) == (
        zoe.id,
        4,
        LevelFit.right,
        WillUse.yes,
        "Très concret, merci.",
    )

    again = client.post(path, data=answer(utilite="1", niveau="too_hard", commentaire="Autre avis"))
    assert again.status_code == 409
    assert "Vous avez déjà répondu" in again.get_data(as_text=True)
    db.session.expire_all()
    assert count(QuestionnaireAnswer) == 1
    assert db.session.scalar(sa.select(QuestionnaireAnswer.usefulness)) == 4
    assert "Vous avez déjà répondu" in client.get(path).get_data(as_text=True)


def test_the_service_refuses_a_second_answer_too(questionnaire):
    path, _ = questionnaire
    secret = path.rsplit("/", 1)[1]
    followup.record_answer(secret, followup.Answer(5, LevelFit.right, WillUse.yes))
    with pytest.raises(followup.AlreadyAnswered):
        followup.record_answer(secret, followup.Answer(1, LevelFit.too_easy, WillUse.no))
    assert count(QuestionnaireAnswer) == 1


def test_forged_or_revoked_links_open_nothing(client, questionnaire):
    path, zoe = questionnaire
    manage = tokens.mint(TokenPurpose.manage_registration, zoe.id)
    db.session.commit()
    forged = [
        f"/questionnaire/{secrets.token_urlsafe(32)}",
        f"/questionnaire/{manage}",  # a token of another purpose
        "/questionnaire/abc",
        f"/questionnaire/{path.rsplit('/', 1)[1][:-1]}",
        "/questionnaire/" + "A" * 5000,
    ]
    for url in forged:
        for response in (client.get(url), client.post(url, data=answer())):
            assert response.status_code == 404, url
            assert NOT_FOUND_QUESTIONNAIRE in response.get_data(as_text=True)
    tokens.revoke_all(TokenPurpose.questionnaire, zoe.id)
    db.session.commit()
    assert client.post(path, data=answer()).status_code == 404
    assert count(QuestionnaireAnswer) == 0


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"utilite": "0"}, "Choisissez une note d'utilité entre 1 et 5."),
        ({"utilite": "6"}, "Choisissez une note d'utilité entre 1 et 5."),
        ({"utilite": "abc"}, "Choisissez une note d'utilité entre 1 et 5."),
        ({"utilite": "4.5"}, "Choisissez une note d'utilité entre 1 et 5."),
        ({"utilite": None}, "Choisissez une note d'utilité entre 1 et 5."),
        (
            {"niveau": "parfait"},
            "Indiquez si le niveau était trop facile, adapté ou trop difficile.",
        ),
        ({"niveau": None}, "Indiquez si le niveau était trop facile, adapté ou trop difficile."),
        ({"usage": None}, "Indiquez si vous l'utiliserez en classe : oui, peut-être ou non."),
        ({"commentaire": "x" * 10_000}, "Le commentaire ne peut dépasser 2\u202f000 caractères."),
        ({"commentaire": "nul\x00"}, "Le commentaire contient des caractères invisibles"),
    ],
)
def test_bad_answers_get_a_french_message_and_write_nothing(client, questionnaire, fields, message):
    path, _ = questionnaire
    response = client.post(path, data=answer(**fields))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in html.unescape(page)
    assert count(QuestionnaireAnswer) == 0


def test_an_empty_form_lists_every_missing_answer(client, questionnaire):
    path, _ = questionnaire
    response = client.post(path, data={})
    assert response.status_code == 422
    assert "Le questionnaire contient 3 erreurs" in response.get_data(as_text=True)
    assert count(QuestionnaireAnswer) == 0


def test_a_comment_of_2000_characters_with_html_is_kept_as_text(client, questionnaire):
    path, _ = questionnaire
    comment = "<script>alert(1)</script>\r\n" + "é" * (2000 - 26)  # a browser's line break
    assert client.post(path, data=answer(commentaire=comment)).status_code == 303
    assert db.session.scalar(sa.select(QuestionnaireAnswer.comment)) == comment.replace(
        "\r\n", "\n"
    )


# --- the staff's view of the answers -------------------------------------------------------------


def test_who_may_see_a_sessions_answers(client, session_held, make_staff):
    from app.catalog.models import Trainer

    workshop, _ = session_held()
    url = f"/formateur/seances/{workshop.id}/questionnaires"

    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")

    login(client, make_staff("trainer"))
    assert client.get(url).status_code == 403
    client.post("/deconnexion")

    login(client, make_staff("trainer", trainer=db.session.get(Trainer, workshop.trainer_id)))
    assert client.get(url).status_code == 200
    assert url in client.get(f"/formateur/seances/{workshop.id}").get_data(as_text=True)
    client.post("/deconnexion")

    login(client, make_staff("coordinator"))
    assert client.get(url).status_code == 200
    assert client.get("/formateur/seances/999999/questionnaires").status_code == 404


def test_the_answers_page_shows_counts_average_and_comments(client, session_held, make_staff):
    workshop, _ = session_held()
    followup.send_follow_ups()
    secrets_ = [questionnaire_path(m).rsplit("/", 1)[1] for m in certificate_mails()]
    followup.record_answer(
        secrets_[0], followup.Answer(5, LevelFit.right, WillUse.yes, "<i>Super</i>")
    )
    followup.record_answer(secrets_[1], followup.Answer(4, LevelFit.too_easy, WillUse.maybe))

    summary = followup.answers_summary(workshop)
    assert (summary.count, summary.invited, summary.usefulness_average) == (2, 3, "4,5")
    assert summary.level_fit[LevelFit.right] == 1 and summary.will_use[WillUse.maybe] == 1

    login(client, make_staff("coordinator"))
    page = client.get(f"/formateur/seances/{workshop.id}/questionnaires").get_data(as_text=True)
    assert "2 réponses" in page and "3 questionnaires envoyés" in page
    assert "4,5 / 5" in page
    assert "&lt;i&gt;Super&lt;/i&gt;" in page and "<i>Super</i>" not in page
    assert "Zoé" not in page  # answers are shown without names


# --- the teacher's hours ---------------------------------------------------------------------------


def certified(at, moment, *, minutes, email="zoe@ac-amiens.fr", ends_at=None) -> Registration:
    workshop = at(moment, ends_at=ends_at)
    registration = person(workshop, 1, email=email, first_name="Zoé", last_name="L'Hôte-Dupré")
    db.session.add(
        Certificate(registration_id=registration.id, code=certificates.new_code(), minutes=minutes)
    )
    db.session.commit()
    return registration


def test_the_management_page_shows_this_school_years_hours(client, at, clock):
    this_year = certified(at, paris(2025, 9, 17, 14), minutes=180)
    certified(at, paris(2026, 1, 14, 9), minutes=90, ends_at=paris(2026, 1, 14, 10, 30))
    certified(at, paris(2025, 6, 11, 9), minutes=180)  # the previous school year
    certified(at, paris(2026, 2, 4, 9), minutes=600, email="autre@ac-amiens.fr")  # someone else
    secret = tokens.mint(TokenPurpose.manage_registration, this_year.id)
    db.session.commit()

    page = client.get(f"/inscription/{secret}").get_data(as_text=True)

    assert (
        "Vous avez suivi 4 h 30 de formation cette année scolaire, "
        "sur les 18 heures d'animations pédagogiques" in page
    )
    assert f"/inscription/{secret}/attestation.pdf" in page
    response = client.get(f"/inscription/{secret}/attestation.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attestation-presence-2025-09-17.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Zoé L'Hôte-Dupré" in pdf_text(response.data)


def test_no_certificate_no_link_and_a_404_for_the_pdf(client, make_workshop):
    registration = person(make_workshop(), 1)
    secret = tokens.mint(TokenPurpose.manage_registration, registration.id)
    questionnaire_secret = tokens.mint(TokenPurpose.questionnaire, registration.id)
    db.session.commit()

    page = client.get(f"/inscription/{secret}").get_data(as_text=True)
    assert "attestation.pdf" not in page and "Vous avez suivi" not in page
    assert client.get(f"/inscription/{secret}/attestation.pdf").status_code == 404
    assert client.get(f"/inscription/{questionnaire_secret}/attestation.pdf").status_code == 404


@pytest.mark.parametrize(
    "moment, start_year",
    [
        (datetime(2026, 8, 31, 21, 59, tzinfo=UTC), 2025),  # 23 h 59 in Paris on 31 August
        (datetime(2026, 8, 31, 22, 0, tzinfo=UTC), 2026),  # midnight in Paris: 1 September
        (datetime(2026, 1, 15, 12, tzinfo=UTC), 2025),
    ],
)
def test_the_school_year_runs_from_september_to_august_in_paris(moment, start_year):
    school_year = Period.of_school_year(school_year_of(moment))
    start, end = school_year.starts_at, school_year.ends_at
    assert (start, end) == (paris(start_year, 9, 1), paris(start_year + 1, 9, 1))


@pytest.mark.parametrize(
    "minutes, text",
    [
        (180, "3 heures"),
        (60, "1 heure"),
        (90, "1 h 30"),
        (270, "4 h 30"),
        (45, "45 minutes"),
        (0, "0 heure"),
    ],
)
def test_durations_read_in_french(minutes, text):
    assert certificates.duration_fr(minutes) == text

"""The call for contributions of the exchange half-day and its review, through HTTP: the public
form (every field's bad input gets a French message and writes nothing), the acknowledgement
mail and its management link, editing until the deadline, withdrawing (POST only, the draft slot
goes), forged links, and the coordinators' decisions with their mails. SQLite and PostgreSQL.
"""

import html
import re
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from app import tokens
from app.catalog.models import Level
from app.exchange.models import (
    AgendaSlot,
    AgendaVersion,
    Contribution,
    ContributionFormat,
    ContributionStatus,
    Equipment,
    HalfDayState,
    SlotKind,
)
from app.exchange.proposals import presenter, review
from app.exchange.proposals.data import PRESENTER_EDIT, ProposalData, ProposalRefused
from app.extensions import db
from app.formatting import PARIS
from app.mail.delivery import deliver_pending
from app.mail.models import OutboxMail
from app.staff.models import AuditEntry
from app.tokens import Token, TokenPurpose
from tests.conftest import login, outbox

CALL = "/rencontres/2025/proposer"
LINK = re.compile(r"http://ateliers\.test/rencontres/2025/propositions/([A-Za-z0-9_-]{43})")
DEADLINE = datetime(2026, 4, 1, 18, 0, tzinfo=PARIS)
STARTS = datetime(2026, 5, 20, 13, 30, tzinfo=PARIS)


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def half_day(make_half_day, topic):
    topic("ent", "ENT")
    topic("tbi", "Tableau blanc interactif")
    return make_half_day()


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def written() -> tuple[int, int, int, int]:
    """(proposals, mails, tokens, audit entries)."""
    return rows(Contribution), rows(OutboxMail), rows(Token), rows(AuditEntry)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_of(response, field: str) -> str | None:
    match = re.search(
        rf'<p class="error-message" id="{field}-erreur">(.*?)</p>',
        response.get_data(as_text=True),
        re.S,
    )
    return html.unescape(match[1]) if match else None


def topic_id(slug="ent") -> int:
    from app.catalog.models import Topic

    return db.session.scalar(sa.select(Topic.id).where(Topic.slug == slug))


def proposal_form(**fields):
    data = {
        "intervenants": "Léa Martin\r\nPaul Durand",
        "courriel": "Lea.Martin@AC-Amiens.fr",
        "organisation": "École Jules Ferry, Amiens",
        "titre": "L'ENT en maternelle",
        "resume": "Comment nos élèves de grande section publient\r\nleur cahier de vie sur l'ENT.",
        "format": "demonstration",
        "theme": str(topic_id()),
        "niveau": "debutant",
        "besoins": ["visio", "projecteur"],
        "arrivee": "14:00",
        "depart": "",
        "site_web": "",
    }
    data.update(fields)
    return data


def submit(client, **fields):
    return client.post(CALL, data=proposal_form(**fields))


def the_contribution() -> Contribution:
    return db.session.scalar(sa.select(Contribution))


def secret_of(mail_row) -> str:
    return LINK.search(mail_row.body_text)[1]


def submitted(client, **fields) -> tuple[Contribution, str]:
    """A proposal sent through the form, and the secret of its management link."""
    response = submit(client, **fields)
    assert response.status_code == 303, error_summary(response)
    contribution = db.session.scalars(
        sa.select(Contribution).order_by(Contribution.id.desc())
    ).first()
    return contribution, secret_of(outbox("exchange/proposal_received")[-1])


def error_summary(response) -> str:
    match = re.search(
        r'<div class="notice notice-error error-summary".*?</div>',
        response.get_data(as_text=True),
        re.S,
    )
    return html.unescape(match[0]) if match else response.get_data(as_text=True)[:500]


def manage_url(secret: str, year: int = 2025) -> str:
    return f"/rencontres/{year}/propositions/{secret}"


def draft_slot(half_day, contribution, version=None) -> AgendaSlot:
    slot = AgendaSlot(
        half_day_id=half_day.id,
        version_id=version.id if version else None,
        kind=SlotKind.contribution,
        contribution_id=contribution.id,
        room_id=half_day.rooms[1].id,
        starts_at=STARTS + timedelta(minutes=30),
        ends_at=STARTS + timedelta(minutes=60),
    )
    db.session.add(slot)
    db.session.commit()
    return slot


def slots_of(contribution) -> list[tuple[int | None]]:
    return db.session.execute(
        sa.select(AgendaSlot.version_id).where(AgendaSlot.contribution_id == contribution.id)
    ).all()


# --- the form ------------------------------------------------------------------------------------


def test_the_form_offers_the_catalogue_topics_and_the_half_day_s_five_minute_grid(client, half_day):
    response = client.get(CALL)
    assert response.status_code == 200
    page = text(response)
    assert "Proposer une intervention" in page and "jusqu'au mercredi 1er avril 2026, 18 h" in page
    assert ">ENT</option>" in page and ">Tableau blanc interactif</option>" in page
    arrivals = re.findall(
        r'<option value="(\d\d:\d\d)">', page.split('id="arrivee"')[1].split("</select>")[0]
    )
    departures = re.findall(
        r'<option value="(\d\d:\d\d)">', page.split('id="depart"')[1].split("</select>")[0]
    )
    assert arrivals[0] == "13:30" and arrivals[-1] == "16:55" and len(arrivals) == 42
    assert departures[0] == "13:35" and departures[-1] == "17:00" and len(departures) == 42
    # Every control has a label; grouped choices have a legend.
    for name in (
        "intervenants",
        "courriel",
        "organisation",
        "titre",
        "resume",
        "theme",
        "arrivee",
        "depart",
    ):
        assert f'<label for="{name}">' in page, name
    assert (
        "<legend>Format" in page
        and "<legend>Niveau du public visé" in page
        and "<legend>Besoins matériels" in page
    )
    for equipment in Equipment:
        assert equipment.title in page
    assert 'class="honeypot" aria-hidden="true"' in page


@pytest.mark.parametrize(
    "path", ["/rencontres/2030/proposer", "/rencontres/99999999999999/proposer"]
)
def test_an_unknown_year_is_a_404(client, half_day, path):
    response = client.get(path)
    assert response.status_code == 404 and "Page introuvable" in text(response)
    assert client.post(path, data=proposal_form()).status_code == 404
    assert written() == (0, 0, 0, 0)


def test_a_valid_proposal_is_recorded_acknowledged_and_its_link_opens_its_page(client, half_day):
    response = submit(client)
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/rencontres/2025/proposer/merci"
    )

    contribution = the_contribution()
    assert contribution.status is ContributionStatus.submitted
    assert contribution.presenters == "Léa Martin\nPaul Durand"
    assert contribution.email == "lea.martin@ac-amiens.fr"
    assert contribution.organisation == "École Jules Ferry, Amiens"
    assert contribution.title == "L'ENT en maternelle"
    assert (
        contribution.summary
        == "Comment nos élèves de grande section publient\nleur cahier de vie sur l'ENT."
    )
    assert contribution.format is ContributionFormat.demonstration
    assert contribution.topic.slug == "ent" and contribution.level is Level.beginner
    assert contribution.needs == {Equipment.videoconference, Equipment.projector}
    assert (contribution.available_from, contribution.available_until) == (time(14, 0), None)

    [token] = db.session.scalars(sa.select(Token)).all()
    assert (token.purpose, token.owner_id) == (TokenPurpose.exchange_proposal, contribution.id)
    [ack] = outbox("exchange/proposal_received")
    assert ack.recipient == "lea.martin@ac-amiens.fr"
    assert ack.subject == "Proposition reçue : L'ENT en maternelle"
    assert ack.subject_kind == "contribution" and ack.subject_id == contribution.id
    assert "jusqu'au mercredi 1er avril 2026, 18 h" in ack.body_text
    secret = secret_of(ack)
    assert f"http://ateliers.test/rencontres/2025/propositions/{secret}" in ack.body_html

    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    assert "Proposition reçue" in text(thanks) and "lea.martin@ac-amiens.fr" in text(thanks)

    page = client.get(manage_url(secret))
    assert page.status_code == 200
    assert "L'ENT en maternelle" in text(page) and "En attente d'examen" in text(page)
    # same-origin: the token never goes to another site, and the page's own form keeps the
    # Referer that Flask-WTF requires over https (tests/test_deployment.py).
    assert (
        page.headers["Cache-Control"] == "no-store"
        and page.headers["Referrer-Policy"] == "same-origin"
    )


def test_the_acknowledgement_reaches_the_smtp_server(smtp, client, half_day):
    submit(client, titre="Créer un livre numérique « à la maison »")
    assert deliver_pending().sent == 1
    [message] = smtp.to("lea.martin@ac-amiens.fr")
    assert message["Subject"] == "Proposition reçue : Créer un livre numérique « à la maison »"
    body = message.get_body(("plain",)).get_content()
    assert LINK.search(body) and "Démonstration (30 min)" in body
    assert "Gérer ma proposition" in message.get_body(("html",)).get_content()


@pytest.mark.parametrize("config_overrides", [{"ALLOWED_EMAIL_DOMAINS": ["ac-amiens.fr"]}])
def test_partners_propose_from_their_own_domain_even_when_teachers_are_held_to_the_academy_s(
    client, half_day, config_overrides
):
    response = submit(client, courriel="Chef.Projet@Somme-Numerique.fr")

    assert response.status_code == 303
    assert the_contribution().email == "chef.projet@somme-numerique.fr"


def test_the_thanks_page_without_a_proposal_leads_back_to_the_form(client, half_day):
    response = client.get("/rencontres/2025/proposer/merci")
    assert response.status_code == 302 and response.headers["Location"].endswith(CALL)


# --- bad input: a French message under the field, nothing written ------------------------------

BAD_INPUT = [
    ("intervenants", "", "Indiquez le nom d'au moins une personne qui présente."),
    ("intervenants", " \r\n \r\n", "Indiquez le nom d'au moins une personne qui présente."),
    ("intervenants", "A\r\nB\r\nC\r\nD\r\nE", "4 personnes au plus"),
    ("intervenants", "x" * 101, "Chaque nom ne peut dépasser 100 caractères."),
    ("intervenants", "x" * 10_000, "trop longue"),
    ("intervenants", "Léa Martin\r\n42", "« 42 » n'est pas un nom"),
    ("intervenants", "Léa\x00Martin", "caractère invisible"),
    ("courriel", "", "Indiquez votre adresse électronique."),
    ("courriel", "pas une adresse", "n'est pas valide"),
    ("courriel", "lea@ac-amiens.fr\r\nBcc: tous@ac-amiens.fr", "n'est pas valide"),
    ("courriel", "x" * 250 + "@ac-amiens.fr", "trop longue"),
    ("organisation", "", "Indiquez votre établissement ou organisme."),
    ("organisation", "   ", "Indiquez votre établissement ou organisme."),
    ("organisation", "x" * 201, "200 caractères"),
    ("organisation", "École\r\nBcc: tous@ac-amiens.fr", "doit tenir sur une ligne"),
    ("titre", "", "Indiquez le titre de votre proposition."),
    ("titre", "x" * 201, "Le titre ne peut dépasser 200 caractères."),
    ("titre", "x" * 10_000, "Le titre ne peut dépasser 200 caractères."),
    ("titre", "Un titre\r\nX-Injected: oui", "Le titre doit tenir sur une ligne"),
    ("titre", "Un titre\u2028suite", "Le titre doit tenir sur une ligne"),
    ("titre", "Un titre\u200b invisible", "Le titre doit tenir sur une ligne"),
    ("resume", "", "Indiquez un résumé de votre proposition."),
    ("resume", "x" * 2001, "Le résumé ne peut dépasser 2\u202f000 caractères : il en compte 2001."),
    ("resume", "x" * 10_000, "il en compte 10000"),
    ("resume", "Un résumé\x07 qui sonne", "Le résumé contient un caractère invisible"),
    ("format", "", "Choisissez le format de votre intervention."),
    ("format", "keynote", "Choisissez un des formats proposés."),
    ("theme", "", "Choisissez un thème."),
    ("theme", "999999", "Choisissez un thème de la liste."),
    ("theme", "abc", "Choisissez un thème de la liste."),
    ("niveau", "", "Choisissez le niveau du public visé."),
    ("niveau", "avance", "Choisissez « Débutant » ou « Expert »."),
    ("besoins", ["visio", "laser"], "Choisissez vos besoins parmi ceux de la liste."),
    ("arrivee", "12:00", "Choisissez une heure d'arrivée dans la liste"),
    ("arrivee", "14:02", "Choisissez une heure d'arrivée dans la liste"),
    ("arrivee", "17:00", "Choisissez une heure d'arrivée dans la liste"),
    ("arrivee", "25:00", "Choisissez une heure d'arrivée dans la liste"),
    ("depart", "13:30", "Choisissez une heure de départ dans la liste"),
    ("depart", "18:00", "Choisissez une heure de départ dans la liste"),
    ("site_web", "http://pub.example", "Votre demande n'a pas pu être enregistrée."),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT, ids=lambda v: repr(v)[:30])
def test_bad_input_is_refused_in_french_and_writes_nothing(client, half_day, field, value, message):
    response = submit(client, **{field: value})
    assert response.status_code == 422
    # The honeypot is hidden: its message is in the summary only.
    shown = error_summary(response) if field == "site_web" else error_of(response, field)
    assert shown is not None and message in shown, (shown, error_summary(response))
    assert "Le formulaire contient" in text(response)
    assert written() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"arrivee": "15:00", "depart": "14:00"},
            "depart",
            "Vous partez (14 h) avant d'arriver (15 h)",
        ),
        ({"arrivee": "15:00", "depart": "15:00"}, "depart", "avant d'arriver"),
        (
            {"arrivee": "16:30", "format": "round_table"},
            "arrivee",
            "pas disponible assez longtemps pour une intervention de 60 minutes",
        ),
        ({"arrivee": "", "depart": "13:40"}, "depart", "de 15 minutes"),
    ],
)
def test_availability_must_leave_room_for_the_contribution(
    client, half_day, fields, field, message
):
    fields.setdefault("format", "testimony")
    response = submit(client, **fields)
    assert response.status_code == 422
    assert message in (error_of(response, field) or ""), error_summary(response)
    assert written() == (0, 0, 0, 0)


def test_every_problem_shows_at_once_in_the_page_s_order(client, half_day):
    response = submit(client, titre="", courriel="", arrivee="16:50", format="workshop")
    assert response.status_code == 422
    assert "pas disponible assez longtemps" in error_of(response, "arrivee")
    summary = error_summary(response)
    links = re.findall(r'<a href="#([a-z_]+)">', summary)
    assert links == ["courriel", "titre", "arrivee"], summary
    assert written() == (0, 0, 0, 0)


def test_the_service_refuses_availability_outside_the_half_day_too(half_day):
    data = ProposalData(
        presenters=("Léa Martin",),
        organisation="École",
        title="Titre",
        summary="Résumé",
        format=ContributionFormat.testimony,
        topic_id=topic_id(),
        level=Level.beginner,
        needs=frozenset(),
        available_from=time(12, 0),
        available_until=None,
        email="lea@ac-amiens.fr",
    )
    with pytest.raises(ProposalRefused, match="entre 13 h 30 et 16 h 55") as refused:
        presenter.submit(half_day, data)
    assert refused.value.field == "arrivee"
    with pytest.raises(ProposalRefused, match="entre 13 h 35 et 17 h"):
        presenter.submit(
            half_day,
            ProposalData(
                **{**data.__dict__, "available_from": None, "available_until": time(17, 30)}
            ),
        )
    assert written() == (0, 0, 0, 0)


def test_every_field_missing_from_the_post(client, half_day):
    response = client.post(CALL, data={})
    assert response.status_code == 422
    for field in (
        "intervenants",
        "courriel",
        "organisation",
        "titre",
        "resume",
        "format",
        "theme",
        "niveau",
    ):
        assert error_of(response, field), field
    assert written() == (0, 0, 0, 0)


def test_a_refused_form_keeps_what_was_typed(client, half_day):
    response = submit(client, titre="", organisation="Circonscription d'Abbeville")
    page = response.get_data(as_text=True)
    assert 'value="Circonscription d&#39;Abbeville"' in page
    assert re.search(
        r'<input[^>]*checked[^>]*value="demonstration"|<input[^>]*value="demonstration"[^>]*checked',
        page,
    )
    assert re.search(r'<option selected value="14:00">|<option value="14:00" selected>', page)


def test_html_is_kept_as_text_and_escaped_everywhere(client, half_day, make_staff):
    title = "<script>alert('titre')</script> & <b>gras</b>"
    summary = "<img src=x onerror=alert(1)>\r\nDeuxième ligne"
    contribution, secret = submitted(
        client, titre=title, resume=summary, intervenants="<i>Léa</i> Martin"
    )
    assert (
        contribution.title == title
        and contribution.summary == "<img src=x onerror=alert(1)>\nDeuxième ligne"
    )
    assert contribution.presenters == "<i>Léa</i> Martin"

    coordinator = make_staff("coordinator")
    login(client, coordinator)
    pages = [
        client.get("/rencontres/2025/proposer/merci"),
        client.get(manage_url(secret)),
        client.get(f"{manage_url(secret)}/retirer"),
        client.get("/admin/rencontres/2025/propositions"),
        client.get(f"/admin/rencontres/2025/propositions/{contribution.id}"),
    ]
    for page in pages:
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<script>alert" not in body and "<img src=x" not in body and "<i>Léa" not in body
        assert "&lt;script&gt;" in body
    [ack] = outbox("exchange/proposal_received")
    assert "<script>alert" not in ack.body_html and "&lt;script&gt;" in ack.body_html
    assert title in ack.body_text  # plain text: shown as typed


# --- closed call ---------------------------------------------------------------------------------


def test_after_the_deadline_the_call_is_closed(client, half_day, clock):
    clock.set(DEADLINE.astimezone(UTC))
    page = client.get(CALL)
    assert page.status_code == 200
    assert "L'appel à propositions est clos" in text(
        page
    ) and "mercredi 1er avril 2026, 18 h" in text(page)
    assert 'name="titre"' not in page.get_data(as_text=True)
    assert '/rencontres/2025"' not in page.get_data(as_text=True)  # no agenda published yet
    response = submit(client)
    assert response.status_code == 409 and "L'appel à propositions est clos" in text(response)
    assert written() == (0, 0, 0, 0)


def test_one_second_before_the_deadline_it_is_still_open(client, half_day, clock):
    clock.set(DEADLINE.astimezone(UTC) - timedelta(seconds=1))
    assert submit(client).status_code == 303


@pytest.mark.parametrize("state", [HalfDayState.review, HalfDayState.draft])
def test_once_the_half_day_moved_on_the_call_is_closed(client, make_half_day, topic, state):
    topic("ent", "ENT")
    make_half_day(state=state)
    assert "L'appel à propositions est clos" in text(client.get(CALL))
    assert submit(client).status_code == 409
    assert written() == (0, 0, 0, 0)


def test_the_closed_page_links_to_the_published_agenda(client, make_half_day, topic):
    topic("ent", "ENT")
    half_day = make_half_day(state=HalfDayState.published)
    db.session.add(
        AgendaVersion(half_day_id=half_day.id, number=1, published_by="coordination@ac-amiens.fr")
    )
    db.session.commit()
    page = client.get(CALL).get_data(as_text=True)
    assert 'href="/rencontres/2025"' in page and "Voir le programme" in page


# --- double click, rate limits, CSRF -------------------------------------------------------------


def test_a_double_click_records_one_proposal(client, half_day):
    assert submit(client).status_code == 303
    again = submit(client, titre="  l'ent EN   maternelle ")
    assert again.status_code == 422
    assert "Vous avez déjà envoyé une proposition intitulée" in (error_of(again, "titre") or "")
    assert rows(Contribution) == 1 and len(outbox("exchange/proposal_received")) == 1

    # Another title, or the same title from another address, is another proposal.
    assert submit(client, titre="Le TBI en CP").status_code == 303
    assert submit(client, courriel="paul.durand@ac-amiens.fr").status_code == 303
    assert rows(Contribution) == 3


def test_a_withdrawn_proposal_s_title_can_be_sent_again(client, half_day):
    _, secret = submitted(client)
    client.post(f"{manage_url(secret)}/retirer")
    assert submit(client).status_code == 303
    assert rows(Contribution) == 2


def test_proposals_per_address_are_rate_limited(app, client, half_day):
    app.config["RATELIMIT_REGISTRATION_PER_EMAIL"] = "2 per hour"
    assert submit(client, titre="Un").status_code == 303
    assert submit(client, titre="Deux").status_code == 303
    refused = submit(client, titre="Trois")
    assert refused.status_code == 429 and "Trop de demandes" in text(refused)
    assert submit(client, titre="Trois", courriel="paul.durand@ac-amiens.fr").status_code == 303
    assert client.get(CALL).status_code == 200  # reading the form is not limited
    assert rows(Contribution) == 3


def test_the_form_needs_its_csrf_token(app, client, half_day):
    app.config["WTF_CSRF_ENABLED"] = True
    refused = submit(client)
    assert refused.status_code == 400 and "Le formulaire a expiré" in text(refused)
    assert written() == (0, 0, 0, 0)
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(CALL).get_data(as_text=True)
    )[1]
    assert submit(client, csrf_token=token).status_code == 303


# --- the presenter's page: edit until the deadline ----------------------------------------------


def test_the_page_shows_the_proposal_in_its_edit_form_and_get_changes_nothing(client, half_day):
    contribution, secret = submitted(client)
    before = (written(), contribution.updated_at)
    page = client.get(manage_url(secret))
    body = page.get_data(as_text=True)
    assert 'value="L&#39;ENT en maternelle"' in body
    assert "Léa Martin\nPaul Durand</textarea>" in body
    assert "Retirer ma proposition" in body and "Enregistrer les modifications" in body
    db.session.expire_all()
    assert (written(), the_contribution().updated_at) == before


def test_editing_until_the_deadline(client, half_day, clock):
    contribution, secret = submitted(client)
    response = client.post(
        manage_url(secret),
        data=proposal_form(
            titre="L'ENT en petite section",
            format="workshop",
            besoins=[],
            arrivee="",
            depart="16:00",
            niveau="expert",
            theme=str(topic_id("tbi")),
        ),
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(manage_url(secret))
    assert "Vos modifications sont enregistrées." in text(client.get(manage_url(secret)))
    db.session.expire_all()
    changed = the_contribution()
    assert (
        changed.title == "L'ENT en petite section" and changed.format is ContributionFormat.workshop
    )
    assert (
        changed.needs == frozenset()
        and changed.level is Level.expert
        and changed.topic.slug == "tbi"
    )
    assert (changed.available_from, changed.available_until) == (None, time(16, 0))
    assert (
        changed.status is ContributionStatus.submitted
        and changed.email == "lea.martin@ac-amiens.fr"
    )
    assert rows(AuditEntry) == 0  # not reviewed yet: nothing for the coordinators to notice

    clock.set(DEADLINE.astimezone(UTC))
    page = client.get(manage_url(secret))
    assert "Enregistrer les modifications" not in text(
        page
    ) and "L'appel à propositions est clos" in text(page)
    late = client.post(manage_url(secret), data=proposal_form(titre="Trop tard"))
    assert late.status_code == 409 and "clos" in text(late)
    db.session.expire_all()
    assert the_contribution().title == "L'ENT en petite section"


def test_a_bad_edit_is_refused_and_changes_nothing(client, half_day):
    contribution, secret = submitted(client)
    response = client.post(
        manage_url(secret), data=proposal_form(titre="", arrivee="16:50", format="workshop")
    )
    assert response.status_code == 422
    assert error_of(response, "titre") == "Indiquez le titre de votre proposition."
    response = client.post(
        manage_url(secret), data=proposal_form(arrivee="16:50", format="workshop")
    )
    assert response.status_code == 422 and "pas disponible assez longtemps" in error_of(
        response, "arrivee"
    )
    db.session.expire_all()
    assert (
        the_contribution().title == "L'ENT en maternelle"
        and the_contribution().format is ContributionFormat.demonstration
    )


def test_an_edit_cannot_take_the_title_of_another_of_one_s_proposals(client, half_day):
    submitted(client, titre="Premier")
    _, secret = submitted(client, titre="Second")
    response = client.post(manage_url(secret), data=proposal_form(titre="premier"))
    assert response.status_code == 422 and "déjà envoyé" in error_of(response, "titre")
    # Saving a proposal unchanged is fine (its own title is not a duplicate).
    assert client.post(manage_url(secret), data=proposal_form(titre="Second")).status_code == 303


def test_an_accepted_proposal_edited_stays_accepted_and_coordinators_see_the_change(
    client, half_day, clock, make_staff
):
    contribution, secret = submitted(client)
    coordinator = make_staff("coordinator")
    review.decide(contribution, True, "Bienvenue !", coordinator)
    clock.advance(hours=2)
    response = client.post(manage_url(secret), data=proposal_form(titre="L'ENT en moyenne section"))
    assert response.status_code == 303
    db.session.expire_all()
    edited = the_contribution()
    assert (
        edited.status is ContributionStatus.accepted and edited.title == "L'ENT en moyenne section"
    )
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == PRESENTER_EDIT))
    assert (
        entry.target_id == edited.id
        and entry.actor_name == "lea.martin@ac-amiens.fr (lien de la proposition)"
    )

    login(client, coordinator)
    listing = text(client.get("/admin/rencontres/2025/propositions"))
    assert "Modifiée après l'examen" in listing
    detail = text(client.get(f"/admin/rencontres/2025/propositions/{edited.id}"))
    assert "Modifiée par son auteur après l'examen" in detail
    assert "titre : « L'ENT en maternelle » → « L'ENT en moyenne section »" in detail

    # A new decision takes the change into account: the flag goes.
    clock.advance(hours=1)
    review.decide(edited, False, "Finalement, le programme est complet.", coordinator)
    assert "Modifiée après l'examen" not in text(client.get("/admin/rencontres/2025/propositions"))


# --- withdrawing ---------------------------------------------------------------------------------


def test_withdrawing_asks_first_then_withdraws_on_post_and_drops_the_draft_slot(
    client, half_day, make_staff
):
    contribution, secret = submitted(client)
    review.decide(contribution, True, "", make_staff("coordinator"))
    version = AgendaVersion(half_day_id=half_day.id, number=1)
    db.session.add(version)
    db.session.commit()
    draft_slot(half_day, contribution)
    draft_slot(half_day, contribution, version)

    confirm = client.get(f"{manage_url(secret)}/retirer")
    assert confirm.status_code == 200
    assert "Retirer ma proposition ?" in text(confirm) and "elle sera retirée du programme" in text(
        confirm
    )
    assert 'method="post"' in confirm.get_data(as_text=True)
    db.session.expire_all()
    assert (
        the_contribution().status is ContributionStatus.accepted
        and len(slots_of(contribution)) == 2
    )

    response = client.post(f"{manage_url(secret)}/retirer")
    assert response.status_code == 303 and response.headers["Location"].endswith(manage_url(secret))
    db.session.expire_all()
    withdrawn = the_contribution()
    assert withdrawn.status is ContributionStatus.withdrawn and withdrawn.withdrawn_at is not None
    assert slots_of(withdrawn) == [(version.id,)]  # the published version is history: kept
    [confirmation] = outbox("exchange/proposal_withdrawn")
    assert confirmation.recipient == "lea.martin@ac-amiens.fr"
    assert confirmation.subject == "Proposition retirée : L'ENT en maternelle"

    page = text(client.get(manage_url(secret)))
    assert "Proposition retirée" in page and "Enregistrer les modifications" not in page
    assert "Retirer ma proposition</a>" not in page

    again = client.post(f"{manage_url(secret)}/retirer")
    assert again.status_code == 303
    assert "déjà retirée" in text(client.get(manage_url(secret)))
    assert len(outbox("exchange/proposal_withdrawn")) == 1
    # Nor can it be edited any more.
    assert client.post(manage_url(secret), data=proposal_form(titre="Autre")).status_code == 409


def test_withdrawing_is_possible_after_the_deadline_until_the_half_day_starts(
    client, half_day, clock
):
    contribution, secret = submitted(client)
    clock.set(STARTS.astimezone(UTC) - timedelta(minutes=1))
    assert "Retirer ma proposition" in text(client.get(manage_url(secret)))
    clock.set(STARTS.astimezone(UTC))
    page = text(client.get(manage_url(secret)))
    assert "Retirer ma proposition</a>" not in page
    assert client.get(f"{manage_url(secret)}/retirer").status_code == 302
    client.post(f"{manage_url(secret)}/retirer")
    assert "La demi-journée a commencé" in text(client.get(manage_url(secret)))
    db.session.expire_all()
    assert the_contribution().status is ContributionStatus.submitted
    assert outbox("exchange/proposal_withdrawn") == []


# --- forged links --------------------------------------------------------------------------------


def test_a_forged_revoked_or_misdirected_link_is_a_french_404(client, half_day, make_half_day):
    contribution, secret = submitted(client)
    other_purpose = tokens.mint(TokenPurpose.manage_registration, contribution.id)
    revoked = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
    db.session.commit()
    tokens.revoke_all(TokenPurpose.exchange_proposal, contribution.id)
    fresh = tokens.mint(TokenPurpose.exchange_proposal, contribution.id)
    db.session.commit()
    make_half_day(2026)
    before = written()

    for path in [
        manage_url("x" * 43),
        manage_url("court"),
        manage_url(secret[:-1] + ("A" if secret[-1] != "A" else "B")),
        manage_url(other_purpose),
        manage_url(revoked),
        manage_url(secret),
        manage_url(fresh, year=2026),
        manage_url(fresh, year=2024),
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Lien introuvable" in text(response)
        assert client.get(f"{path}/retirer").status_code == 404
        assert client.post(f"{path}/retirer").status_code == 404
        assert client.post(path, data=proposal_form(titre="Piraté")).status_code == 404
    assert client.get(manage_url(fresh)).status_code == 200
    db.session.expire_all()
    assert written() == before and the_contribution().status is ContributionStatus.submitted
    assert the_contribution().title == "L'ENT en maternelle"


# --- review: access ------------------------------------------------------------------------------


def test_review_pages_need_a_coordinator(client, half_day, make_contribution, make_staff):
    contribution = make_contribution(half_day)
    pages = [
        "/admin/rencontres/2025/propositions",
        f"/admin/rencontres/2025/propositions/{contribution.id}",
    ]
    decision = f"/admin/rencontres/2025/propositions/{contribution.id}/decision"
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/connexion"
        ), path
    assert client.post(decision, data={"decision": "accepter"}).status_code == 302

    login(client, make_staff("trainer"))
    for path in pages:
        assert client.get(path).status_code == 403, path
    assert client.post(decision, data={"decision": "accepter", "message": ""}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Contribution, contribution.id).status is ContributionStatus.submitted
    assert outbox() == [] and rows(AuditEntry) == 0


def test_unknown_proposals_and_years_are_404_for_coordinators(
    client, coordinator, half_day, make_half_day, make_contribution
):
    other = make_contribution(make_half_day(2026))
    for path in [
        "/admin/rencontres/2030/propositions",
        "/admin/rencontres/2025/propositions/999999",
        f"/admin/rencontres/2025/propositions/{other.id}",
        "/admin/rencontres/2025/propositions/99999999999999",
    ]:
        assert client.get(path).status_code == 404, path
    assert (
        client.post(
            f"/admin/rencontres/2025/propositions/{other.id}/decision",
            data={"decision": "accepter"},
        ).status_code
        == 404
    )
    assert outbox() == []


# --- review: the list ----------------------------------------------------------------------------


def test_the_list_counts_and_filters(client, coordinator, half_day, make_contribution, topic):
    tbi = topic("tbi")
    make_contribution(
        half_day,
        title="Accepté ENT",
        status=ContributionStatus.accepted,
        needs={Equipment.tablets},
        available_from=time(14, 0),
    )
    make_contribution(
        half_day,
        title="Accepté TBI",
        status=ContributionStatus.accepted,
        topic=tbi,
        format=ContributionFormat.round_table,
        level=Level.expert,
    )
    make_contribution(half_day, title="En attente", available_until=time(15, 30))
    make_contribution(half_day, title="Refusé", status=ContributionStatus.declined)
    make_contribution(half_day, title="Retiré", status=ContributionStatus.withdrawn)

    page = text(client.get("/admin/rencontres/2025/propositions"))
    assert "Toutes : 5" in page and "Acceptée : 2" in page and "En attente d'examen : 1" in page
    assert "Non retenue : 1" in page and "Retirée : 1" in page
    assert "arrivée après 14 h" in page and "départ à 15 h 30" in page and "Tablettes" in page

    def titles(**query):
        body = text(client.get("/admin/rencontres/2025/propositions", query_string=query))
        return sorted(re.findall(r"/propositions/\d+\">([^<]+)</a>", body))

    assert titles(etat="accepted") == ["Accepté ENT", "Accepté TBI"]
    assert titles(theme=tbi.id) == ["Accepté TBI"]
    assert titles(format="round_table") == ["Accepté TBI"]
    assert titles(niveau="expert") == ["Accepté TBI"]
    assert titles(besoin="tablettes") == ["Accepté ENT"]
    assert titles(etat="accepted", niveau="debutant") == ["Accepté ENT"]
    # Unknown or absurd values filter nothing.
    assert len(titles(etat="nimporte", theme="x", besoin="<b>")) == 5
    assert len(titles(theme="99999999999999999999999", format="-1", niveau="")) == 5


# --- review: decisions and their mails -----------------------------------------------------------


def decide(client, contribution, decision, message=""):
    return client.post(
        f"/admin/rencontres/2025/propositions/{contribution.id}/decision",
        data={"decision": decision, "message": message},
    )


def test_accepting_records_logs_and_mails_the_message_with_the_link(
    client, coordinator, half_day, clock
):
    contribution, _ = submitted(client)
    response = decide(client, contribution, "accepter", "Bienvenue !\r\nVous serez en salle 1.")
    assert response.status_code == 303
    assert "Proposition acceptée" in text(client.get(response.headers["Location"]))

    db.session.expire_all()
    accepted = the_contribution()
    assert accepted.status is ContributionStatus.accepted
    assert (
        accepted.review_message == "Bienvenue !\nVous serez en salle 1."
        and accepted.reviewed_at == clock.now
    )
    [entry] = db.session.scalars(sa.select(AuditEntry)).all()
    assert (entry.action, entry.target_kind, entry.target_id) == (
        "contribution.accept",
        "contribution",
        accepted.id,
    )
    assert entry.actor_id == coordinator.id and "acceptée" in entry.summary

    [mail_row] = outbox("exchange/review_accepted")
    assert mail_row.recipient == "lea.martin@ac-amiens.fr"
    assert mail_row.subject == "Votre proposition est retenue : L'ENT en maternelle"
    assert "> Bienvenue !\n> Vous serez en salle 1." in mail_row.body_text
    assert "Bienvenue !<br>Vous serez en salle 1." in mail_row.body_html
    secret = secret_of(mail_row)
    assert secret != secret_of(outbox("exchange/proposal_received")[0])  # a fresh link
    page = text(client.get(manage_url(secret)))
    assert "Proposition retenue" in page and "Vous serez en salle 1." in page


def test_declining_needs_a_message(client, coordinator, half_day):
    contribution, _ = submitted(client)
    before = written()
    for blank in ("", "  \r\n "):
        response = decide(client, contribution, "refuser", blank)
        assert response.status_code == 422
        assert "Indiquez au proposant pourquoi" in text(response)
        assert 'id="message-refuser-erreur"' in response.get_data(as_text=True)
    assert written() == before

    response = decide(client, contribution, "refuser", "Le thème est déjà couvert <cette année>.")
    assert response.status_code == 303
    db.session.expire_all()
    assert the_contribution().status is ContributionStatus.declined
    [mail_row] = outbox("exchange/review_declined")
    assert mail_row.subject == "Votre proposition n'est pas retenue : L'ENT en maternelle"
    assert "> Le thème est déjà couvert <cette année>." in mail_row.body_text
    assert "&lt;cette année&gt;" in mail_row.body_html
    assert LINK.search(mail_row.body_text)


@pytest.mark.parametrize(
    ("decision", "message", "expected"),
    [
        ("peut-etre", "", "Choisissez « Accepter » ou « Ne pas retenir »."),
        ("", "", "Choisissez une décision."),
        ("accepter", "x" * 2001, "2\u202f000 caractères"),
    ],
)
def test_a_malformed_decision_changes_nothing(
    client, coordinator, half_day, decision, message, expected
):
    contribution, _ = submitted(client)
    before = written()
    response = decide(client, contribution, decision, message)
    assert response.status_code == 422 and expected in text(response)
    assert written() == before


def test_the_same_decision_twice_sends_one_mail(client, coordinator, half_day):
    contribution, _ = submitted(client)
    assert decide(client, contribution, "accepter", "Bienvenue").status_code == 303
    again = decide(client, contribution, "accepter", "Bienvenue")
    assert again.status_code == 303
    assert "déjà acceptée : rien n'a changé" in text(client.get(again.headers["Location"]))
    assert len(outbox("exchange/review_accepted")) == 1 and rows(AuditEntry) == 1


def test_a_decision_can_change_and_declining_drops_the_draft_slot(
    client, coordinator, half_day, clock
):
    contribution, _ = submitted(client)
    decide(client, contribution, "accepter", "")
    slot_id = draft_slot(half_day, contribution).id
    clock.advance(days=1)
    detail = text(client.get(f"/admin/rencontres/2025/propositions/{contribution.id}"))
    assert "Ne pas retenir" in detail and 'value="accepter"' not in detail

    assert decide(client, contribution, "refuser", "Faute de place, désolé.").status_code == 303
    db.session.expire_all()
    assert (
        the_contribution().status is ContributionStatus.declined
        and the_contribution().reviewed_at == clock.now
    )
    assert db.session.get(AgendaSlot, slot_id) is None
    assert (
        len(outbox("exchange/review_accepted")) == 1
        and len(outbox("exchange/review_declined")) == 1
    )

    assert decide(client, contribution, "accepter", "Une place s'est libérée !").status_code == 303
    db.session.expire_all()
    assert the_contribution().status is ContributionStatus.accepted
    assert len(outbox("exchange/review_accepted")) == 2
    summaries = list(db.session.scalars(sa.select(AuditEntry.summary).order_by(AuditEntry.id)))
    assert summaries[1].endswith("non retenue (elle était acceptée)")


@pytest.mark.parametrize("state", list(HalfDayState))
def test_reviewing_works_in_every_state_of_the_half_day(
    client, coordinator, make_half_day, make_contribution, state
):
    half_day = make_half_day(state=state)
    contribution = make_contribution(half_day)
    assert decide(client, contribution, "accepter").status_code == 303
    assert len(outbox("exchange/review_accepted")) == 1


def test_withdrawn_proposals_and_past_half_days_cannot_be_reviewed(
    client, coordinator, half_day, make_contribution, clock
):
    withdrawn = make_contribution(half_day, status=ContributionStatus.withdrawn)
    detail = text(client.get(f"/admin/rencontres/2025/propositions/{withdrawn.id}"))
    assert "retirée par son auteur" in detail and 'name="decision"' not in detail
    response = decide(client, withdrawn, "accepter")
    assert response.status_code == 422 and "retirée par son auteur" in text(response)

    pending = make_contribution(half_day)
    clock.set(STARTS.astimezone(UTC))
    response = decide(client, pending, "accepter")
    assert response.status_code == 422 and "La demi-journée a commencé" in text(response)
    db.session.expire_all()
    assert db.session.get(Contribution, withdrawn.id).status is ContributionStatus.withdrawn
    assert db.session.get(Contribution, pending.id).status is ContributionStatus.submitted
    assert outbox() == [] and rows(AuditEntry) == 0


def test_decisions_need_the_csrf_token(app, client, coordinator, half_day, make_contribution):
    contribution = make_contribution(half_day)
    app.config["WTF_CSRF_ENABLED"] = True
    assert decide(client, contribution, "accepter").status_code == 400
    assert outbox() == [] and rows(AuditEntry) == 0
    page = client.get(f"/admin/rencontres/2025/propositions/{contribution.id}").get_data(
        as_text=True
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = client.post(
        f"/admin/rencontres/2025/propositions/{contribution.id}/decision",
        data={"decision": "accepter", "message": "", "csrf_token": token},
    )
    assert response.status_code == 303 and len(outbox("exchange/review_accepted")) == 1


# --- a double click for real: simultaneous POSTs through a live server --------------------------


@pytest.fixture
def live_half_day(live_app):
    """The 2025 half-day and a topic, committed for real (the server's threads must see them)."""
    from app.catalog.models import Room, Site, Topic
    from app.exchange.models import HalfDay, HalfDayRoom

    site = Site(
        slug="amiens",
        name="Amiens",
        street="45 rue Saint-Leu",
        postcode="80026",
        city="Amiens",
        latitude=49.9,
        longitude=2.3,
    )
    room = Room(site=site, name="Auditorium", capacity=120)
    topic = Topic(slug="ent", name="ENT")
    half_day = HalfDay(
        school_year=2025,
        title="Rencontres TICE 2025-2026",
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=3, minutes=30),
        deadline=DEADLINE,
        state=HalfDayState.call_open,
        site=site,
        capacity=120,
    )
    half_day.rooms = [HalfDayRoom(room=room, is_auditorium=True)]
    db.session.add_all([site, room, topic, half_day])
    db.session.commit()
    return half_day


@pytest.mark.live
@pytest.mark.parametrize("config_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_simultaneous_identical_posts_record_one_proposal(live_server, live_half_day):
    from tests.test_concurrency import Job, csrf_token, run_together

    data = proposal_form()  # read in this thread: the clients' threads have no app context

    def prepare(client):
        return CALL, {**data, "csrf_token": csrf_token(client.get(CALL))}

    jobs = run_together(live_server.url, [Job(f"client-{n}", prepare) for n in range(6)])

    assert sorted(job.status for job in jobs) == [303] + [422] * 5
    db.session.rollback()  # a fresh snapshot (SQLite's WAL keeps the old one until then)
    assert rows(Contribution) == 1 and len(outbox("exchange/proposal_received")) == 1

"""The back office: workshops created, checked, published, changed and cancelled, registrations
handled by a coordinator — each action in the audit log — and only coordinators get in."""

import html
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Trainer, Workshop, WorkshopStatus
from app.extensions import db
from app.formatting import PARIS
from app.staff.models import AuditEntry
from tests.conftest import form_data, login, outbox


@pytest.fixture
def coordinator(client, make_staff):
    user = make_staff("coordinator")
    login(client, user)
    return user


def audit_summaries() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.summary).order_by(AuditEntry.id)))


def workshop_form(workshop=None, **fields):
    """The form's fields for `workshop` (its topic, room, trainer), a Wednesday in term time."""
    data = {
        "titre": "Créer un livre numérique",
        "description": "Avec les élèves de cycle 3.",
        "theme": workshop.topic_id,
        "niveau": "debutant",
        "salle": workshop.room_id,
        "formateur": workshop.trainer_id,
        "jour": "2026-03-18",
        "debut": "14:00",
        "fin": "17:00",
        "capacite": "10",
        "a_apporter": "",
        "date_limite": "",
    }
    data.update(fields)
    return data


def paris(*args):
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


# --- access --------------------------------------------------------------------------------------

ADMIN_PAGES = ["/admin/", "/admin/ateliers", "/admin/ateliers/nouveau", "/admin/journal"]


def test_anonymous_visitors_are_sent_to_the_login_page(client, make_workshop):
    workshop = make_workshop()
    for path in [
        *ADMIN_PAGES,
        f"/admin/ateliers/{workshop.id}/modifier",
        f"/admin/ateliers/{workshop.id}/inscriptions",
    ]:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            "/connexion"
        ), path
    assert client.post(f"/admin/ateliers/{workshop.id}/publier").status_code == 302


def test_trainers_get_403(client, make_staff, make_workshop):
    workshop = make_workshop()
    login(client, make_staff("trainer", trainer=workshop.trainer))
    for path in [
        *ADMIN_PAGES,
        f"/admin/ateliers/{workshop.id}/modifier",
        f"/admin/ateliers/{workshop.id}/inscriptions",
    ]:
        assert client.get(path).status_code == 403, path
    assert (
        client.post(f"/admin/ateliers/{workshop.id}/annuler", data={"motif": "x"}).status_code
        == 403
    )
    assert db.session.get(Workshop, workshop.id).status is WorkshopStatus.published


def test_coordinators_get_in(client, coordinator, make_workshop):
    make_workshop()
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path


# --- creating, checking, publishing --------------------------------------------------------------


def test_a_new_workshop_is_a_draft_until_published_then_in_the_catalogue(
    client, coordinator, make_workshop
):
    model = make_workshop()
    response = client.post("/admin/ateliers/nouveau", data=workshop_form(model))
    assert response.status_code == 302
    created = db.session.scalar(
        sa.select(Workshop).where(Workshop.title == "Créer un livre numérique")
    )
    assert created.status is WorkshopStatus.draft
    assert created.starts_at == paris(2026, 3, 18, 14, 0) and created.ends_at == paris(
        2026, 3, 18, 17, 0
    )
    assert "Créer un livre numérique" not in client.get("/ateliers").get_data(as_text=True)
    assert client.post(f"/admin/ateliers/{created.id}/publier").status_code == 302
    assert db.session.get(Workshop, created.id).status is WorkshopStatus.published
    assert "Créer un livre numérique" in client.get("/ateliers").get_data(as_text=True)
    assert audit_summaries() == [
        f"Création de « Créer un livre numérique » (mercredi 18 mars 2026, 14 h, {model.room.site.name}, brouillon)",
        f"Publication de « Créer un livre numérique » (mercredi 18 mars 2026, 14 h, {model.room.site.name})",
    ]


def test_a_holiday_warns_and_saves_only_once_confirmed(client, coordinator, make_workshop):
    model = make_workshop()
    data = workshop_form(model, jour="2026-07-14", debut="09:00", fin="12:00")
    response = client.post("/admin/ateliers/nouveau", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Le mardi 14 juillet 2026 : jour férié (Fête nationale)." in page
    assert (
        "J&#39;ai lu les avertissements et je confirme" in page
        or "J'ai lu les avertissements" in page
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 1
    response = client.post("/admin/ateliers/nouveau", data={**data, "confirmer": "y"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 2


def test_a_double_booked_room_blocks_the_save(client, coordinator, make_workshop, clock):
    model = make_workshop()
    local = model.starts_at.astimezone(PARIS)
    other = Trainer(first_name="Karim", last_name="Benali", email="karim.benali@ac-amiens.fr")
    db.session.add(other)
    db.session.commit()
    data = workshop_form(
        model,
        jour=local.strftime("%Y-%m-%d"),
        debut=(local + timedelta(hours=1)).strftime("%H:%M"),
        fin=(local + timedelta(hours=2)).strftime("%H:%M"),
        formateur=other.id,
    )
    response = client.post("/admin/ateliers/nouveau", data={**data, "confirmer": "y"})
    assert response.status_code == 422
    assert "est déjà prise" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 1
    assert audit_summaries() == []


def test_every_problem_of_a_new_workshop_shows_in_one_submit(client, coordinator, at):
    # 14 July 2026 (a public holiday), 14 h–17 h: the room and the trainer are already taken.
    taken = at(paris(2026, 7, 14, 14, 0), title="Le TBI au cycle 2")
    room = taken.room
    data = workshop_form(
        taken,
        titre="",
        jour="2026-07-14",
        debut="15:00",
        fin="16:30",
        capacite=str(room.capacity + 4),
        date_limite="2026-07-14T18:00",
    )
    response = client.post("/admin/ateliers/nouveau", data=data)
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    alert = page[page.index('id="erreurs"') :]
    alert = alert[: alert.index("</div>")]
    for message in (
        "Titre : Indiquez le titre.",
        f"La salle « {room.name} » ({room.site.name}) est déjà prise le mardi 14 juillet 2026 "
        "de 14 h à 17 h par l'atelier « Le TBI au cycle 2 ».",
        "Claire Dumont anime déjà « Le TBI au cycle 2 » le mardi 14 juillet 2026",
        f"{room.capacity + 4} places demandées, mais la salle « {room.name} » n'en compte que "
        f"{room.capacity}.",
        "La date limite d'inscription doit précéder le début de l'atelier.",
    ):
        assert message in alert, message
    assert "5 problèmes à corriger" in alert
    # the holiday warning is there too, to read before the next submit
    assert "Le mardi 14 juillet 2026 : jour férié (Fête nationale)." in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 1


def test_an_end_before_the_start_still_shows_the_other_problems(client, coordinator, at):
    taken = at(paris(2026, 3, 18, 14, 0))
    data = workshop_form(taken, debut="15:00", fin="13:00", capacite=str(taken.room.capacity + 1))
    page = unescape(client.post("/admin/ateliers/nouveau", data=data).get_data(as_text=True))
    assert "La fin de l'atelier doit être après son début." in page
    assert "places demandées, mais la salle" in page


def test_the_form_shows_the_room_and_trainer_bookings_that_day(client, coordinator, at, make_site):
    taken = at(paris(2026, 3, 18, 9, 0), title="Tablettes au cycle 1")
    elsewhere = make_site(slug="peronne", name="Péronne").rooms[0]
    away = at(paris(2026, 3, 18, 17, 0), title="ENT : le cahier de textes", site=elsewhere.site)
    at(paris(2026, 3, 19, 14, 0), title="Le lendemain")
    data = workshop_form(taken, debut="14:00", fin="16:00")
    page = unescape(
        client.post("/admin/ateliers/nouveau", data={**data, "titre": ""}).get_data(as_text=True)
    )
    panel = page[page.index('id="ce-jour-la"') :]
    assert "Ce jour-là : mercredi 18 mars 2026" in panel
    room_part, trainer_part = panel.split("<h3>")[1:3]
    assert f"Salle « {taken.room.name} »" in room_part and "Tablettes au cycle 1" in room_part
    assert "ENT : le cahier de textes" not in room_part
    assert "9 h – 12 h" in trainer_part and "ENT : le cahier de textes" in trainer_part
    assert "Péronne" in trainer_part and "Le lendemain" not in panel
    # the same panel alone, for the script that follows the form's changes
    fragment = client.get(
        "/admin/ateliers/ce-jour-la",
        query_string={"jour": "2026-03-19", "salle": taken.room_id, "formateur": taken.trainer_id},
    )
    assert fragment.status_code == 200
    text = unescape(fragment.get_data(as_text=True))
    assert "Le lendemain" in text and "Tablettes au cycle 1" not in text
    assert away.id != taken.id
    bare = client.get("/admin/ateliers/ce-jour-la", query_string={"jour": "n'importe"})
    assert "Choisissez une date" in unescape(bare.get_data(as_text=True))


def test_a_created_workshop_lands_on_its_own_page(client, coordinator, make_workshop):
    model = make_workshop()
    response = client.post("/admin/ateliers/nouveau", data=workshop_form(model))
    created = db.session.scalar(
        sa.select(Workshop).where(Workshop.title == "Créer un livre numérique")
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/ateliers/{created.id}"
    page = unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "<h1>Créer un livre numérique</h1>" in page
    assert "Atelier créé en brouillon" in page and "Brouillon" in page
    assert "mercredi 18 mars 2026" in page and "Publier" in page
    published = client.post(f"/admin/ateliers/{created.id}/publier", data={"retour": "atelier"})
    assert published.headers["Location"] == f"/admin/ateliers/{created.id}"
    assert client.get("/admin/ateliers/999999").status_code == 404


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"titre": ""}, "Indiquez le titre."),
        ({"fin": "13:00"}, "La fin de l&#39;atelier doit être après son début."),
        ({"capacite": "0"}, "Entre 1 et 500 places."),
        ({"capacite": "abc"}, "N&#39;est pas un entier valide."),
        ({"capacite": "3.5"}, "N&#39;est pas un entier valide."),
        ({"capacite": "40"}, "n&#39;en compte que"),
        ({"jour": "2026-03-29", "debut": "02:30", "fin": "04:00"}, "n&#39;existe pas"),
        ({"jour": "31/02/2026"}, "N&#39;est pas une date valide."),
        ({"jour": ""}, "Indiquez la date"),
        ({"salle": "999999"}, "N&#39;est pas un choix valide."),
        ({"titre": "<script>alert(1)</script>"}, "ne peut pas contenir les caractères"),
        ({"date_limite": "2026-03-19T12:00"}, "La date limite d&#39;inscription doit précéder"),
    ],
)
def test_bad_workshop_input_is_refused_and_nothing_written(
    client, coordinator, make_workshop, fields, message
):
    model = make_workshop()
    response = client.post(
        "/admin/ateliers/nouveau", data={**workshop_form(model, **fields), "confirmer": "y"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page or message.replace("&#39;", "'") in page, page[page.find("<main") :][
        :3000
    ]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workshop)) == 1


def test_duplicating_prefills_the_form_with_the_original(client, coordinator, make_workshop):
    model = make_workshop(title="Tablettes : produire des récits")
    page = client.get(f"/admin/ateliers/nouveau?copie={model.id}").get_data(as_text=True)
    assert "Copie de « Tablettes : produire des récits »" in page
    assert 'value="Tablettes : produire des récits"' in page
    assert client.get("/admin/ateliers/nouveau?copie=999999").status_code == 404


# --- changes to a published workshop ------------------------------------------------------------


def test_moving_a_published_workshop_mails_the_people_and_raises_the_sequence(
    client, coordinator, make_workshop, applicant
):
    from app.booking.services import register

    workshop = make_workshop(capacity=2)
    for n in (1, 2, 3):
        register(workshop.id, applicant(n))
    sequence = workshop.sequence
    local = workshop.starts_at.astimezone(PARIS) + timedelta(days=1)
    data = workshop_form(
        workshop,
        titre=workshop.title,
        description=workshop.description,
        jour=local.strftime("%Y-%m-%d"),
        debut=local.strftime("%H:%M"),
        fin=(local + timedelta(hours=3)).strftime("%H:%M"),
        capacite="2",
    )
    response = client.post(
        f"/admin/ateliers/{workshop.id}/modifier", data={**data, "confirmer": "y"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    moved = db.session.get(Workshop, workshop.id)
    assert moved.starts_at == workshop.starts_at + timedelta(
        days=1
    ) or moved.starts_at == local.astimezone(UTC)
    assert moved.sequence == sequence + 1
    changed = outbox("changed")
    assert sorted(m.recipient for m in changed) == [
        "lea.martin1@ac-amiens.fr",
        "lea.martin2@ac-amiens.fr",
        "lea.martin3@ac-amiens.fr",
    ]
    assert sum(1 for m in changed if m.calendar_method == "REQUEST") == 2
    assert any(s.startswith(f"Changement de « {workshop.title} » : ") for s in audit_summaries())


def test_raising_the_capacity_promotes_the_first_waiting(
    client, coordinator, make_workshop, applicant
):
    from app.booking.services import register

    workshop = make_workshop(capacity=1)
    for n in (1, 2, 3):
        register(workshop.id, applicant(n))
    local = workshop.starts_at.astimezone(PARIS)
    data = workshop_form(
        workshop,
        titre=workshop.title,
        description=workshop.description,
        jour=local.strftime("%Y-%m-%d"),
        debut=local.strftime("%H:%M"),
        fin=workshop.ends_at.astimezone(PARIS).strftime("%H:%M"),
        capacite="2",
    )
    response = client.post(
        f"/admin/ateliers/{workshop.id}/modifier", data={**data, "confirmer": "y"}
    )
    assert response.status_code == 302
    statuses = dict(db.session.execute(sa.select(Registration.email, Registration.status)).all())
    assert statuses["lea.martin2@ac-amiens.fr"] is RegistrationStatus.confirmed
    assert statuses["lea.martin3@ac-amiens.fr"] is RegistrationStatus.waiting
    assert [m.recipient for m in outbox("promoted")] == ["lea.martin2@ac-amiens.fr"]
    assert f"Capacité de « {workshop.title} » : 1 → 2, 1 personnes promues" in audit_summaries()


def test_lowering_the_capacity_below_the_confirmed_is_refused(
    client, coordinator, make_workshop, applicant
):
    from app.booking.services import register

    workshop = make_workshop(capacity=3)
    for n in (1, 2):
        register(workshop.id, applicant(n))
    local = workshop.starts_at.astimezone(PARIS)
    data = workshop_form(
        workshop,
        titre="Un autre titre",
        jour=local.strftime("%Y-%m-%d"),
        debut=local.strftime("%H:%M"),
        fin=workshop.ends_at.astimezone(PARIS).strftime("%H:%M"),
        capacite="1",
    )
    response = client.post(
        f"/admin/ateliers/{workshop.id}/modifier", data={**data, "confirmer": "y"}
    )
    assert response.status_code == 422
    assert "2 personnes ont une place confirmée" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Workshop, workshop.id).title != "Un autre titre"  # nothing written
    assert audit_summaries() == []


def test_cancelling_tells_everyone_and_is_logged(client, coordinator, make_workshop, applicant):
    from app.booking.services import register

    workshop = make_workshop(capacity=1)
    register(workshop.id, applicant(1))
    register(workshop.id, applicant(2))
    response = client.post(
        f"/admin/ateliers/{workshop.id}/annuler", data={"motif": "Formateur malade."}
    )
    assert response.status_code == 302
    assert db.session.get(Workshop, workshop.id).status is WorkshopStatus.cancelled
    mails = outbox("workshop_cancelled")
    assert sorted(m.recipient for m in mails) == [
        "lea.martin1@ac-amiens.fr",
        "lea.martin2@ac-amiens.fr",
    ]
    assert [m.calendar_method for m in mails if m.recipient == "lea.martin1@ac-amiens.fr"] == [
        "CANCEL"
    ]
    assert "Formateur malade." in mails[0].body_text
    (summary,) = audit_summaries()
    assert (
        summary.startswith(f"Annulation de « {workshop.title} »")
        and "1 inscrit·es et 1 en attente" in summary
    )


def test_cancelling_needs_a_reason(client, coordinator, make_workshop):
    workshop = make_workshop()
    response = client.post(f"/admin/ateliers/{workshop.id}/annuler", data={"motif": "  "})
    assert response.status_code == 422 and "Indiquez le motif" in response.get_data(as_text=True)
    assert db.session.get(Workshop, workshop.id).status is WorkshopStatus.published


def test_a_closed_or_started_session_offers_no_cancel_and_the_server_refuses(
    client, coordinator, make_workshop, applicant, clock
):
    """A session its trainer closed (an hour before the start at the earliest), and one under
    way: no "Annuler" in the list, the cancel page explains why, a POST changes nothing."""
    from app.attendance import checkin
    from app.booking.services import register

    closed = make_workshop(starts_in=timedelta(minutes=30), title="Séance close")
    started = make_workshop(starts_in=timedelta(minutes=-30), title="Séance commencée")
    later = make_workshop(starts_in=timedelta(days=3), title="Séance à venir")
    for workshop in (closed, later):
        register(workshop.id, applicant(1))
    checkin.close(closed)
    db.session.commit()

    listing = client.get("/admin/ateliers").get_data(as_text=True)
    assert f"/admin/ateliers/{later.id}/annuler" in listing
    assert f"/admin/ateliers/{closed.id}/annuler" not in listing
    assert f"/admin/ateliers/{started.id}/annuler" not in listing

    for workshop, message in (
        (closed, "Le formateur a clos cette séance : elle a eu lieu et ne peut plus être annulée."),
        (started, "Cet atelier a déjà commencé ou eu lieu : il ne peut plus être annulé."),
    ):
        page = client.get(f"/admin/ateliers/{workshop.id}/annuler").get_data(as_text=True)
        assert message in html.unescape(page) and 'name="motif"' not in page
        response = client.post(
            f"/admin/ateliers/{workshop.id}/annuler", data={"motif": "Formateur malade."}
        )
        assert response.status_code == 422 and message in html.unescape(response.text)
        db.session.expire_all()
        assert db.session.get(Workshop, workshop.id).status is WorkshopStatus.published
    assert outbox("workshop_cancelled") == [] and audit_summaries() == []


# --- registrations -------------------------------------------------------------------------------


def test_a_coordinator_adds_cancels_and_admits_each_logged(
    client, coordinator, make_workshop, applicant
):
    from app.booking.services import register

    workshop = make_workshop(capacity=1)
    response = client.post(
        f"/admin/ateliers/{workshop.id}/inscriptions",
        data=form_data(1, nom="Lefèvre", prenom="Zoé"),
    )
    assert response.status_code == 302
    register(workshop.id, applicant(2))
    register(workshop.id, applicant(3))
    zoe, second, third = db.session.scalars(sa.select(Registration).order_by(Registration.id)).all()
    assert zoe.status is RegistrationStatus.confirmed and [
        m.recipient for m in outbox("confirmed")
    ] == [zoe.email]

    # No free seat: admitting is refused with a message, nothing changes.
    page = client.post(f"/admin/inscriptions/{third.id}/admettre", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Aucune place n&#39;est libre" in page or "Aucune place n'est libre" in page
    # Cancel Zoé: the first waiting is promoted; then another seat, and the coordinator picks the third.
    client.post(f"/admin/inscriptions/{zoe.id}/annuler")
    db.session.expire_all()
    assert db.session.get(Registration, second.id).status is RegistrationStatus.confirmed
    workshop = db.session.get(Workshop, workshop.id)
    workshop.capacity = 2
    db.session.commit()
    client.post(f"/admin/inscriptions/{third.id}/admettre")
    db.session.expire_all()
    assert db.session.get(Registration, third.id).status is RegistrationStatus.confirmed
    assert db.session.get(Registration, third.id).waiting_position is None
    summaries = audit_summaries()
    assert (
        summaries[0]
        == f"Inscription ajoutée à la main : Zoé Lefèvre (inscription confirmée) à « {workshop.title} »"
    )
    assert (
        summaries[1].startswith("Inscription annulée : Zoé Lefèvre") and "promu·e" in summaries[1]
    )
    assert summaries[2].startswith("Léa MartinD passe de la liste d'attente à une place confirmée")
    # The audit log page shows them, with the coordinator's name.
    page = client.get("/admin/journal").get_data(as_text=True)
    assert coordinator.full_name in page and "Zoé Lefèvre" in page


def test_registration_actions_on_unknown_ids_are_404(client, coordinator):
    for path in (
        "/admin/inscriptions/999999/annuler",
        "/admin/inscriptions/99999999999999999999/annuler",
        "/admin/inscriptions/999999/admettre",
    ):
        assert client.post(path).status_code == 404, path


# --- sites, rooms, topics, trainers --------------------------------------------------------------


def test_sites_rooms_topics_and_trainers_are_created_and_edited_each_logged(client, coordinator):
    from app.catalog.models import Room, Site, Topic

    site_data = {
        "slug": "montdidier",
        "nom": "Montdidier",
        "rue": "1 place de la Mairie",
        "code_postal": "80500",
        "ville": "Montdidier",
        "latitude": "49.65",
        "longitude": "2.57",
        "acces": "Parking devant.",
    }
    assert client.post("/admin/sites/nouveau", data=site_data).status_code == 302
    site = db.session.scalar(sa.select(Site).where(Site.slug == "montdidier"))
    assert site.latitude == pytest.approx(49.65)
    # The slug is chosen once: an edit keeps it whatever the form says.
    assert (
        client.post(
            f"/admin/sites/{site.id}",
            data={**site_data, "slug": "autre", "nom": "Montdidier (CDDP)"},
        ).status_code
        == 302
    )
    db.session.expire_all()
    site = db.session.get(Site, site.id)
    assert (site.slug, site.name) == ("montdidier", "Montdidier (CDDP)")

    assert (
        client.post(
            f"/admin/sites/{site.id}/salles/nouvelle",
            data={"nom": "Salle 1", "capacite": "14", "visio": "y"},
        ).status_code
        == 302
    )
    room = db.session.scalar(sa.select(Room).where(Room.site_id == site.id))
    assert (room.capacity, room.videoconference, room.step_free) == (14, True, False)
    assert (
        client.post(
            "/admin/themes/nouveau", data={"slug": "robotique", "nom": "Robotique"}
        ).status_code
        == 302
    )
    assert db.session.scalar(sa.select(Topic.name).where(Topic.slug == "robotique")) == "Robotique"
    assert (
        client.post(
            "/admin/formateurs/nouveau",
            data={"prenom": "Karim", "nom": "Benali", "courriel": "Karim.Benali@ac-amiens.fr"},
        ).status_code
        == 302
    )
    assert (
        db.session.scalar(sa.select(Trainer.email).where(Trainer.last_name == "Benali"))
        == "karim.benali@ac-amiens.fr"
    )
    page = client.get("/admin/lieux").get_data(as_text=True)
    assert (
        "Montdidier (CDDP)" in page
        and "Salle 1" in page
        and "Robotique" in page
        and "Karim Benali" in page
    )
    assert audit_summaries() == [
        "Création du site « Montdidier »",
        "Modification du site « Montdidier (CDDP) » : nom",
        "Création de la salle « Salle 1 »",
        "Création du thème « Robotique »",
        "Création du formateur « Karim Benali »",
    ]


@pytest.mark.parametrize(
    "path, data, message",
    [
        ("/admin/themes/nouveau", {"slug": "amiens", "nom": "X"}, "réservé aux calendriers"),
        ("/admin/themes/nouveau", {"slug": "Pas Un Slug", "nom": "X"}, "lettres minuscules"),
        ("/admin/themes/nouveau", {"slug": "ent", "nom": "Doublon"}, "déjà pris"),
        (
            "/admin/sites/nouveau",
            {"slug": "tous", "nom": "X", "rue": "1 rue", "code_postal": "80000", "ville": "X"},
            "déjà pris par un calendrier",
        ),
        (
            "/admin/sites/nouveau",
            {"slug": "x", "nom": "X", "rue": "1 rue", "code_postal": "8000", "ville": "X"},
            "5 chiffres",
        ),
        (
            "/admin/sites/nouveau",
            {
                "slug": "x",
                "nom": "X",
                "rue": "1 rue",
                "code_postal": "80000",
                "ville": "X",
                "latitude": "91",
            },
            "Entre -90 et 90",
        ),
        (
            "/admin/formateurs/nouveau",
            {"prenom": "Claire", "nom": "Dumont", "courriel": "claire.dumont@ac-amiens.fr"},
            "déjà l&#39;adresse",
        ),
        (
            "/admin/formateurs/nouveau",
            {"prenom": "<b>", "nom": "Dumont", "courriel": "x@ac-amiens.fr"},
            "ne peut contenir que des lettres",
        ),
    ],
)
def test_bad_place_input_is_refused_with_a_message(
    client, coordinator, make_workshop, path, data, message
):
    from app.catalog.models import Site, Topic

    make_workshop()  # a site, the topic "ent", the trainer Claire Dumont
    counts = [
        db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Site, Topic, Trainer)
    ]
    response = client.post(path, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and (
        message in page or message.replace("&#39;", "'") in page
    ), page[page.find("<main") :][:2000]
    assert counts == [
        db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Site, Topic, Trainer)
    ]
    assert audit_summaries() == []


def test_a_room_cannot_shrink_below_an_upcoming_workshop(client, coordinator, make_workshop):
    workshop = make_workshop(capacity=12)
    room = workshop.room
    response = client.post(
        f"/admin/salles/{room.id}", data={"nom": room.name, "capacite": "10", "plain_pied": "y"}
    )
    assert response.status_code == 422
    assert "offrent plus de 10 places" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(room), room.id).capacity == 16

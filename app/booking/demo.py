"""Demo registrations for `make run`: four teachers on the catalogue demo's session held today,
for trying the trainer's list and the tablet check-in with the demo trainer's login."""

from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Workshop
from app.clock import now
from app.extensions import db
from app.formatting import folded

# fmt: off
TODAY_TEACHERS = [
    ("Léa", "Martin", "École Jules Ferry, Amiens"),
    ("Zoé", "L'Hôte-Dupré", "École maternelle Saint-Leu, Amiens"),
    ("Émile", "Bernard", "École Voltaire, Amiens"),
    ("Inès", "Caron", "École Jean Moulin, Amiens"),
]
# fmt: on


def register_demo_teachers(workshop: Workshop) -> None:
    for first, last, school in TODAY_TEACHERS:
        email = f"{folded(first)}.{folded(last)}".replace("'", "") + "@ac-amiens.fr"
        db.session.add(
            Registration(
                workshop=workshop,
                first_name=first,
                last_name=last,
                school=school,
                email=email,
                status=RegistrationStatus.confirmed,
                confirmed_at=now(),
            )
        )
    db.session.commit()

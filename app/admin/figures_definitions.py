"""Every figure of the committee's report, defined once: its key, French label, kind, section and
definition. The page, the PDF report and the CSV export show these labels and definitions, and
`Line.value(key)` (`app.admin.figures_lines`) computes them.
"""

from dataclasses import dataclass

from app.attendance.models import LevelFit, WillUse
from app.booking.models import Source


@dataclass(frozen=True)
class Figure:
    """One figure: its key, its French label and definition, how its value reads."""

    key: str
    label: str
    #: "count", "rate" (a fraction shown as a percentage), "hours", "mean" (out of 5), or
    #: "distribution" (a count per category, each with its share of the total).
    kind: str
    #: The section it belongs to on the page.
    group: str
    definition: str
    #: For a distribution: its categories, (value, French title), in order.
    categories: tuple[tuple[str, str], ...] = ()


DIRECT = "direct"
SOURCE_CATEGORIES = (*((s.value, s.title) for s in Source), (DIRECT, "Accès direct"))
LEVEL_FIT_CATEGORIES = tuple((f.value, f.title) for f in LevelFit)
WILL_USE_CATEGORIES = tuple((w.value, w.title) for w in WillUse)

WORKSHOPS, REGISTRATIONS, ATTENDANCE, REACH, QUESTIONNAIRE = (
    "Ateliers",
    "Inscriptions",
    "Présence",
    "Public touché",
    "Questionnaire",
)

#: Every figure, in the order the page, the report and the CSV give them.
FIGURES: tuple[Figure, ...] = (
    Figure(
        "held",
        "Ateliers tenus",
        "count",
        WORKSHOPS,
        definition="Ateliers publiés qui commencent dans la période (heure de Paris) et qui ont "
        "eu lieu : terminés au moment du calcul, non annulés. Tous les chiffres qui suivent "
        "portent sur ces ateliers, sauf les ateliers annulés et à venir.",
    ),
    Figure(
        "cancelled",
        "Ateliers annulés",
        "count",
        WORKSHOPS,
        definition="Ateliers de la période annulés, quelle que soit la date de l'annulation.",
    ),
    Figure(
        "planned",
        "Ateliers à venir",
        "count",
        WORKSHOPS,
        definition="Ateliers publiés de la période qui ne sont pas encore terminés au moment du "
        "calcul : ils ne comptent dans aucun autre chiffre.",
    ),
    Figure(
        "seats",
        "Places offertes",
        "count",
        WORKSHOPS,
        definition="Somme des capacités des ateliers tenus.",
    ),
    Figure(
        "hours_held",
        "Heures d'ateliers tenus",
        "hours",
        WORKSHOPS,
        definition="Somme des durées des ateliers tenus.",
    ),
    Figure(
        "registrations",
        "Inscriptions",
        "count",
        REGISTRATIONS,
        definition="Toutes les inscriptions aux ateliers tenus, quoi qu'elles soient devenues "
        "(confirmées, en liste d'attente, annulées), hors personnes venues sans inscription.",
    ),
    Figure(
        "walk_ins",
        "Venues sans inscription",
        "count",
        REGISTRATIONS,
        definition="Personnes ajoutées sur place par le formateur ou la formatrice.",
    ),
    Figure(
        "confirmed",
        "Inscriptions confirmées",
        "count",
        REGISTRATIONS,
        definition="Inscriptions qui avaient une place à la fin (ni annulées, ni en attente).",
    ),
    Figure(
        "fill_rate",
        "Taux de remplissage",
        "rate",
        REGISTRATIONS,
        definition="Inscriptions confirmées ÷ places offertes.",
    ),
    Figure(
        "waiting_at_start",
        "En liste d'attente au début",
        "count",
        REGISTRATIONS,
        definition="Personnes encore en liste d'attente au début de l'atelier (il n'y a plus de "
        "promotion automatique dans les deux heures qui précèdent), y compris celles que le "
        "formateur a accueillies à la porte.",
    ),
    Figure(
        "waiting_pressure",
        "Pression de la liste d'attente",
        "rate",
        REGISTRATIONS,
        definition="Personnes en liste d'attente au début ÷ places offertes.",
    ),
    Figure(
        "waitlisted_workshops",
        "Ateliers avec liste d'attente",
        "count",
        REGISTRATIONS,
        definition="Ateliers tenus où au moins une personne a été mise en liste d'attente : "
        "encore en attente au début, promue ensuite sur une place libérée, ou partie avant "
        "d'avoir eu une place.",
    ),
    Figure(
        "sources",
        "Origine des inscriptions",
        "distribution",
        REGISTRATIONS,
        categories=SOURCE_CATEGORIES,
        definition="Lien suivi pour s'inscrire : liste de diffusion (programme envoyé par "
        "courriel), affiche (code QR), ENT, ou accès direct (lien sans marque d'origine) ; "
        "nombre d'inscriptions et part du total des inscriptions.",
    ),
    Figure(
        "closed_sessions",
        "Séances closes",
        "count",
        ATTENDANCE,
        definition="Ateliers tenus dont le formateur a pris les présences et clos la séance. "
        "Les taux de présence et d'absence ne portent que sur ces séances.",
    ),
    Figure(
        "closed_confirmed",
        "Inscrits confirmés des séances closes",
        "count",
        ATTENDANCE,
        definition="Inscriptions confirmées aux séances closes : la base des deux taux suivants.",
    ),
    Figure(
        "attendance_rate",
        "Taux de présence",
        "rate",
        ATTENDANCE,
        definition="Inscrits confirmés des séances closes marqués présents ÷ inscrits confirmés "
        "des séances closes.",
    ),
    Figure(
        "no_show_rate",
        "Taux d'absence",
        "rate",
        ATTENDANCE,
        definition="Inscrits confirmés des séances closes marqués absents ÷ inscrits confirmés "
        "des séances closes (à la clôture, une personne inscrite non pointée est marquée "
        "absente).",
    ),
    Figure(
        "attendees",
        "Participations",
        "count",
        REACH,
        definition="Personnes marquées présentes aux ateliers tenus, une fois par atelier : "
        "inscrites, accueillies depuis la liste d'attente ou venues sans inscription.",
    ),
    Figure(
        "teachers",
        "Enseignants touchés",
        "count",
        REACH,
        definition="« Touché » veut dire venu au moins une fois : adresses électroniques "
        "distinctes des personnes marquées présentes à un atelier tenu. Une personne venue à "
        "plusieurs ateliers compte une fois ; dans une ventilation, elle compte dans chaque "
        "ligne où elle est venue, si bien que les lignes ne s'additionnent pas.",
    ),
    Figure(
        "schools",
        "Écoles touchées",
        "count",
        REACH,
        definition="Écoles distinctes des personnes présentes : par code UAI quand il a été "
        "donné, sinon par le nom de l'école (sans accents, majuscules, ponctuation ni espaces "
        "en trop). Comme pour les enseignants, les lignes ne s'additionnent pas.",
    ),
    Figure(
        "hours_delivered",
        "Heures de formation délivrées",
        "hours",
        REACH,
        definition="Somme, sur les participations, de la durée de l'atelier : les heures que "
        "les attestations de présence prouvent.",
    ),
    Figure(
        "answers",
        "Réponses au questionnaire",
        "count",
        QUESTIONNAIRE,
        definition="Questionnaires remplis après les ateliers tenus.",
    ),
    Figure(
        "usefulness_mean",
        "Utilité moyenne",
        "mean",
        QUESTIONNAIRE,
        definition="Moyenne des notes d'utilité données, de 1 (pas utile) à 5 (très utile).",
    ),
    Figure(
        "level_fit",
        "Niveau ressenti",
        "distribution",
        QUESTIONNAIRE,
        categories=LEVEL_FIT_CATEGORIES,
        definition="Réponses à « le niveau de l'atelier était… » : nombre et part des réponses.",
    ),
    Figure(
        "will_use",
        "Réutilisation en classe",
        "distribution",
        QUESTIONNAIRE,
        categories=WILL_USE_CATEGORIES,
        definition="Réponses à « utiliserez-vous ce que vous avez appris en classe ? » : "
        "nombre et part des réponses.",
    ),
)
FIGURES_BY_KEY = {figure.key: figure for figure in FIGURES}
#: The figures at the top of the page and of the report.
KEY_FIGURES = (
    "held",
    "cancelled",
    "seats",
    "registrations",
    "fill_rate",
    "attendance_rate",
    "teachers",
    "schools",
    "hours_delivered",
    "usefulness_mean",
)
GROUPS = tuple(dict.fromkeys(figure.group for figure in FIGURES))
#: A rate or mean that cannot be computed (nothing to divide by) reads as this.
NOT_APPLICABLE = "—"

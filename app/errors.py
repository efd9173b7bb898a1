"""Error pages in French: nothing a teacher sees is an English stack trace."""

import contextlib

from flask import current_app, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc

from app.extensions import db

#: Seconds a client is asked to wait when the database is out of reach (503).
RETRY_AFTER_SECONDS = 30

_MESSAGES = {
    400: (
        "Requête invalide",
        "La demande n'a pas pu être comprise. Revenez à la page précédente et réessayez.",
    ),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou plus. Le lien est peut-être incomplet."),
    405: ("Action impossible", "Cette adresse ne s'utilise pas ainsi."),
    409: ("Action impossible", "Cette action n'est pas possible."),
    413: (
        "Envoi trop volumineux",
        "Les données envoyées dépassent la taille permise pour un formulaire. Rien n'a été "
        "enregistré : revenez à la page précédente et envoyez un texte plus court.",
    ),
    429: (
        "Trop de demandes",
        "Vous avez fait trop de demandes en peu de temps. Patientez quelques minutes puis réessayez.",
    ),
    503: (
        "Service momentanément indisponible",
        "Le service ne parvient pas à joindre sa base de données. Rien n'a été enregistré : "
        "réessayez dans quelques instants.",
    ),
    500: (
        "Erreur du service",
        "Une erreur inattendue s'est produite. Rien n'a été enregistré ; réessayez dans un instant.",
    ),
}


class Refused(Exception):
    """What the rules refuse, with the French reason shown to the person (`str()`; several
    reasons in `reasons`). Nothing is written: raised before any write, or inside a unit of work
    (`app.database.write_transaction`), which then rolls back.

    A view that shows the reason beside its form catches it; one that does not lets it reach
    the handler registered here, a French page with the reason (409).
    """

    def __init__(self, *reasons: str) -> None:
        super().__init__(*reasons)
        self.reasons = [str(reason) for reason in reasons]

    def __str__(self) -> str:
        return " ".join(self.reasons)


class NotFound(LookupError):
    """What a link or a form names does not exist (or is not public): a 404 wherever it lands."""


def page(code: int, message: str | None = None):
    """The French error page of this status, with its own message or the status's default."""
    title, default = _MESSAGES[code]
    return render_template("error.html", title=title, message=message or default, code=code), code


def register(app) -> None:
    for code in _MESSAGES:
        app.register_error_handler(code, lambda error, code=code: page(code))

    @app.errorhandler(exc.OperationalError)  # unreachable, connection lost, SQLite locked 30 s
    @app.errorhandler(exc.InterfaceError)  # the driver's connection is unusable
    @app.errorhandler(exc.TimeoutError)  # no connection free in the pool in time
    def database_unavailable(error):
        """The database is out of reach, for now: 503 and when to try again, not a 500. The
        transaction is rolled back (nothing half-written); the pool reconnects by itself
        (`pool_pre_ping`) once the database answers again."""
        with contextlib.suppress(exc.SQLAlchemyError):
            db.session.rollback()
        reason = " ".join(str(getattr(error, "orig", None) or error).split())  # one line
        current_app.logger.error("database unavailable: %s", reason)
        body, code = page(503)
        return body, code, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}

    @app.errorhandler(Refused)
    def refused(error):
        with contextlib.suppress(exc.SQLAlchemyError):
            db.session.rollback()
        return page(409, str(error))

    @app.errorhandler(NotFound)
    def not_found(error):
        return page(404)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return page(
            400,
            "Le formulaire a expiré ou a été envoyé depuis une autre page. "
            "Rechargez la page et envoyez-le de nouveau.",
        )

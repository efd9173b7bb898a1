"""Error pages in French: nothing a teacher sees is an English stack trace."""

from flask import render_template
from flask_wtf.csrf import CSRFError

_MESSAGES = {
    400: ("Requête invalide", "La demande n'a pas pu être comprise. Revenez à la page précédente et réessayez."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou plus. Le lien est peut-être incomplet."),
    405: ("Action impossible", "Cette adresse ne s'utilise pas ainsi."),
    413: (
        "Envoi trop volumineux",
        "Les données envoyées dépassent la taille permise pour un formulaire. Rien n'a été "
        "enregistré : revenez à la page précédente et envoyez un texte plus court.",
    ),
    429: (
        "Trop de demandes",
        "Vous avez fait trop de demandes en peu de temps. Patientez quelques minutes puis réessayez.",
    ),
    500: (
        "Erreur du service",
        "Une erreur inattendue s'est produite. Rien n'a été enregistré ; réessayez dans un instant.",
    ),
}


def page(code: int, message: str | None = None):
    """The French error page of this status, with its own message or the status's default."""
    title, default = _MESSAGES[code]
    return render_template("error.html", title=title, message=message or default, code=code), code


def register(app) -> None:
    for code in _MESSAGES:
        app.register_error_handler(code, lambda error, code=code: page(code))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return page(
            400,
            "Le formulaire a expiré ou a été envoyé depuis une autre page. "
            "Rechargez la page et envoyez-le de nouveau.",
        )

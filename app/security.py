"""Security headers on every response, and refusal of file parts (no
form of the service takes a file, so one sent anyway is refused before any view reads it).

One `after_request`, registered before the blueprints so that it runs after theirs (Flask runs
the app's `after_request` functions in reverse order of registration): a header a view or a
feature already set (a secret link's `Referrer-Policy: same-origin`, a calendar's `no-referrer`,
an export's `private, no-store`) is kept; only what is missing gets the default.
"""

from flask import Flask, request

from app import errors

#: Scripts and styles come from files under app/static only: no inline <script>, <style> or
#: style="…" anywhere in the pages (WeasyPrint's PDFs are rendered without headers).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: The programme's preview only: the mail's HTML, shown in a sandboxed `<iframe srcdoc>` that
#: inherits the page's policy, is styled inline as mail clients need (scripts stay refused).
CONTENT_SECURITY_POLICY_MAIL_PREVIEW = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
HSTS = "max-age=31536000"

#: Staff spaces show personal data: never kept by a browser or a proxy.
NO_STORE_PREFIXES = ("/admin/", "/formateur/", "/connexion/reinitialiser/")
#: Secret-link pages whose own forms need the Referer that Flask-WTF checks over https.
SAME_ORIGIN_REFERRER_PREFIXES = ("/connexion/reinitialiser/",)


def register(app: Flask) -> None:
    app.before_request(refuse_file_parts)
    app.after_request(add_headers)


def refuse_file_parts():
    """No form of this service takes a file: a file part (say `nom` sent as an upload) would reach
    a text field's filters as a `FileStorage` and crash them, so it is refused here, for every
    form at once, before any view reads the form."""
    if request.mimetype == "multipart/form-data" and request.files:
        return errors.page(
            400,
            "Ce formulaire n'accepte pas de fichier : saisissez le texte demandé dans chaque champ. "
            "Rien n'a été enregistré.",
        )
    return None


def add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    path = request.path
    if path.startswith(SAME_ORIGIN_REFERRER_PREFIXES):
        headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if path.startswith(NO_STORE_PREFIXES) and "Cache-Control" not in headers:
        headers["Cache-Control"] = "private, no-store"
    return response

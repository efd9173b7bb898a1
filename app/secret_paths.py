"""The URLs that carry a secret (a management link's token, a feed's token, a certificate's
code), and `redact()`, which masks those secrets in what gets logged.

gunicorn's access log (`deploy/gunicorn.conf.py`) logs request lines and referrers through
`redact()`; nginx's site (`deploy/nginx/ateliers-tice.conf`) has the same expression in its `map`
blocks. A test builds every route whose URL has a `<token>` or a `<code>` and checks both logs.
It needs only `re`: gunicorn's master process loads it before any app.
"""

import re

#: The path segment after one of these prefixes is a secret ("merci" pages excepted).
SECRET_PATH = re.compile(
    r"(/(?:inscription|questionnaire|attestations|connexion/reinitialiser"
    r"|calendriers/(?:perso|formateur)|rencontres/[0-9]+/(?:inscription|propositions))/)"
    r"(?!merci(?:[/?#]|$))[^/?#.\s\"]+"
)

MASK = "***"


def redact(text: str) -> str:
    """`text` (a path, a request line, a full URL) with every secret segment masked."""
    return SECRET_PATH.sub(rf"\g<1>{MASK}", text)

"""Calendar responses: `text/calendar; charset=utf-8`, strong ETag, Last-Modified, 304."""

from flask import Response, request

from app.calendars.services import RenderedFeed

CONTENT_TYPE = "text/calendar; charset=utf-8"


def not_modified(feed: RenderedFeed) -> bool:
    """If-None-Match first; If-Modified-Since only when there is no If-None-Match (RFC 9110)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.if_none_match:
        return request.if_none_match.contains_weak(feed.etag)
    since = request.if_modified_since
    return since is not None and feed.last_modified <= since


def ics_response(feed: RenderedFeed, *, private: bool = False, filename: str | None = None):
    """The feed, or an empty 304 when the client's copy is current.

    Clients revalidate on every poll (`no-cache`); a feed opened by a secret link is `private`.
    """
    if not_modified(feed):
        response = Response(status=304)
    else:
        response = Response(feed.body, content_type=CONTENT_TYPE)
        if filename:
            response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.set_etag(feed.etag)
    response.last_modified = feed.last_modified
    response.headers["Cache-Control"] = "private, no-cache" if private else "public, no-cache"
    if private:
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response

"""What the feeds remember between polls: each feed's current hash and when it was first seen."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime
from app.extensions import db


class FeedState(db.Model):
    """A feed's current ETag and the moment those bytes were first served (its Last-Modified).

    Bytes can change with no row changing (a past cancelled workshop drops out, a workshop is
    deleted): keeping the hash and the time it was first seen moves Last-Modified forward then,
    and never back.
    """

    __tablename__ = "feed_states"

    #: "tous", "site:amiens", "niveau:debutant", "theme:ent", "formateur:3", "perso:<digest>".
    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    #: SHA-256 of the feed's bytes, hex (the strong ETag, unquoted).
    etag: Mapped[str] = mapped_column(sa.String(64))
    first_seen_at = mapped_column(UTCDateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<FeedState {self.key} {self.etag[:8]}>"

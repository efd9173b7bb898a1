"""Enumerations shared by models and screens: stored values in English-free ASCII, French titles."""

import enum

import sqlalchemy as sa
from sqlalchemy.orm import mapped_column


class TitledEnum(enum.Enum):
    """An enum whose members carry the French title shown on screens: `Level.beginner.title`."""

    def __new__(cls, value: str, title: str):
        member = object.__new__(cls)
        member._value_ = value
        member.title = title
        return member

    @classmethod
    def from_value(cls, value: str | None):
        """The member stored as `value`, or None for an unknown value (e.g. from a URL)."""
        try:
            return cls(value)
        except ValueError:
            return None


def enum_column(enum_cls, **kwargs):
    """A portable enum column: its value in a VARCHAR, checked by a named constraint."""
    return mapped_column(
        sa.Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda members: [m.value for m in members],
            name=enum_cls.__name__.lower(),
            validate_strings=True,
        ),
        **kwargs,
    )

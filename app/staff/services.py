"""Staff accounts: creation, password checks, password reset by a mailed link."""

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app import tokens
from app.catalog.models import Trainer
from app.clock import now
from app.database import begin_write
from app.errors import Refused
from app.extensions import db
from app.forms import normalise_email
from app.mail import services as mail
from app.staff.models import Role, StaffUser
from app.tokens import TokenPurpose

#: A reset link works once, and only this long.
RESET_LINK_LIFETIME = timedelta(hours=2)
MIN_PASSWORD_LENGTH = 12
#: The demo accounts' passwords, printed by `make run`: refused outside development and tests.
DEMO_PASSWORDS = frozenset({"demo-coordination", "demo-formateur"})
#: Checked against when the e-mail is unknown, so that a wrong login takes as long either way.
_DUMMY_HASH = generate_password_hash("pas un vrai mot de passe")


class AccountRefused(Refused):
    """An account or a password refused; `str()` is shown as is, in French."""


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why a new password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > 200:
        return "Le mot de passe ne peut pas dépasser 200 caractères."
    if email and normalise_email(password) == normalise_email(email):
        return "Le mot de passe ne peut pas être votre adresse électronique."
    if password in DEMO_PASSWORDS and not current_app.config["DEMO_ACCOUNTS"]:
        return "Ce mot de passe de démonstration est refusé en production."
    return None


def create_account(
    email: str, full_name: str, role: Role, password: str, *, trainer: Trainer | None = None
) -> StaffUser:
    """Add an account (not committed). A trainer's account is tied to their catalogue entry."""
    email = normalise_email(email)
    full_name = " ".join((full_name or "").split())
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountRefused(f"Adresse électronique invalide : « {email} ».")
    if not full_name or len(full_name) > 200:
        raise AccountRefused("Le nom est obligatoire (200 caractères au plus).")
    if role is Role.trainer and trainer is None:
        raise AccountRefused("Un compte formateur doit être rattaché à un formateur du catalogue.")
    if problem := password_problem(password, email=email):
        raise AccountRefused(problem)
    if db.session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)):
        raise AccountRefused(f"Un compte existe déjà pour {email}.")
    if trainer is not None and db.session.scalar(
        sa.select(StaffUser.id).where(StaffUser.trainer_id == trainer.id)
    ):
        raise AccountRefused(f"{trainer.full_name} a déjà un compte.")
    user = StaffUser(
        email=email,
        full_name=full_name,
        role=role,
        trainer=trainer if role is Role.trainer else None,
        password_hash=generate_password_hash(password),
        password_changed_at=now(),
    )
    db.session.add(user)
    return user


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active account with this e-mail and password, or None (same time either way)."""
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    if password in DEMO_PASSWORDS and not current_app.config["DEMO_ACCOUNTS"]:
        return None
    return user


def start_session(user: StaffUser) -> None:
    """A login: a session recorded on the server (a token whose secret the session cookie
    carries), so that logging out, a password change or a deactivation ends it everywhere."""
    begin_write()
    user.session_secret = tokens.mint(TokenPurpose.staff_session, user.id)
    db.session.execute(
        sa.update(StaffUser).where(StaffUser.id == user.id).values(last_login_at=now())
    )
    db.session.commit()


def load_session_user(session_secret: str) -> StaffUser | None:
    """The account of a live login session, if the account is still active."""
    token = tokens.resolve(TokenPurpose.staff_session, session_secret)
    user = token and db.session.get(StaffUser, token.owner_id)
    if not user or not user.active:
        return None
    user.session_secret = session_secret
    return user


def end_session(user: StaffUser) -> None:
    """A logout: this session ends on the server, whatever copy of the cookie remains."""
    begin_write()
    tokens.revoke(TokenPurpose.staff_session, user.session_secret)
    db.session.commit()


def request_password_reset(email: str) -> None:
    """Mail a reset link if an active account has this address; say nothing either way."""
    begin_write()
    user = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.email == normalise_email(email), StaffUser.active)
    )
    if user is not None:
        secret = tokens.mint(TokenPurpose.password_reset, user.id)
        mail.queue(
            "staff/password_reset",
            user.email,
            "Réinitialiser votre mot de passe – Ateliers TICE",
            about=user,
            user=user,
            secret=secret,
            lifetime_hours=int(RESET_LINK_LIFETIME.total_seconds() // 3600),
        )
    db.session.commit()


def reset_token_owner(secret: str) -> StaffUser | None:
    """The account a reset link opens: live, younger than its lifetime, unused."""
    token = tokens.resolve(TokenPurpose.password_reset, secret)
    if token is None or token.created_at < now() - RESET_LINK_LIFETIME:
        return None
    user = db.session.get(StaffUser, token.owner_id)
    if user is None or not user.active or token.created_at < user.password_changed_at:
        return None
    return user


def reset_password(secret: str, password: str) -> StaffUser:
    """Set a new password through a reset link; the link and every other one die with it."""
    begin_write()
    user = reset_token_owner(secret)
    if user is None:
        db.session.rollback()
        raise AccountRefused(
            "Ce lien de réinitialisation n'est plus valable (déjà utilisé ou expiré). "
            "Demandez-en un nouveau."
        )
    if problem := password_problem(password, email=user.email):
        db.session.rollback()
        raise AccountRefused(problem)
    _set_password(user, password)
    tokens.revoke_all(TokenPurpose.password_reset, user.id)
    db.session.commit()
    return user


def set_password(user: StaffUser, password: str) -> None:
    """Change a password from the shell (not committed)."""
    if problem := password_problem(password, email=user.email):
        raise AccountRefused(problem)
    _set_password(user, password)


def _set_password(user: StaffUser, password: str) -> None:
    user.password_hash = generate_password_hash(password)
    user.password_changed_at = now()
    tokens.revoke_all(TokenPurpose.staff_session, user.id)  # every login of the account ends


def login_rate_key(email: str) -> str:
    """A rate-limit key per login name that does not keep the address in the limiter's store."""
    return "connexion:" + hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]


#: The demo accounts `make run` creates and prints: (e-mail, name, role, password, trainer e-mail).
DEMO_ACCOUNTS = (
    (
        "coordination@ateliers-tice.test",
        "Coordination CRDP (démo)",
        Role.coordinator,
        "demo-coordination",
        None,
    ),
    (
        "claire.dumont@ac-amiens.fr",
        "Claire Dumont",
        Role.trainer,
        "demo-formateur",
        "claire.dumont@ac-amiens.fr",
    ),
)


def seed_demo_accounts() -> list[tuple[str, str, Role]]:
    """Create the demo accounts that are missing (development only); return every demo login."""
    if not current_app.config["DEMO_ACCOUNTS"]:
        raise AccountRefused("Les comptes de démonstration sont refusés dans cette configuration.")
    for email, name, role, password, trainer_email in DEMO_ACCOUNTS:
        if db.session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email)):
            continue
        trainer = None
        if trainer_email:
            trainer = db.session.scalar(sa.select(Trainer).where(Trainer.email == trainer_email))
            if trainer is None:
                continue
        create_account(email, name, role, password, trainer=trainer)
    db.session.commit()
    return [(email, password, role) for email, _, role, password, _ in DEMO_ACCOUNTS]

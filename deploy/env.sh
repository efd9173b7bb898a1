# Shared by deploy/flask, deploy/backup and deploy/restore (sourced, never run on its own).
#
# Sets ROOT (the checkout: this file's directory's parent) and loads the production environment
# file — the one systemd gives the units (EnvironmentFile=) — into the environment:
#   ATELIERS_ENV_FILE   the file to load (default /etc/ateliers-tice/ateliers-tice.env)
# The file's settings win over variables already set, as with systemd.

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
ATELIERS_ENV_FILE="${ATELIERS_ENV_FILE:-/etc/ateliers-tice/ateliers-tice.env}"

if [[ ! -f "$ATELIERS_ENV_FILE" ]]; then
  echo "Fichier de réglages introuvable : $ATELIERS_ENV_FILE" >&2
  echo "(le copier depuis deploy/ateliers-tice.env.example, ou indiquer un autre fichier avec ATELIERS_ENV_FILE=…)" >&2
  exit 1
fi
if [[ ! -r "$ATELIERS_ENV_FILE" ]]; then
  echo "Fichier de réglages illisible par l'utilisateur $(id -un) : $ATELIERS_ENV_FILE" >&2
  echo "(lancer la commande en tant qu'utilisateur du service : sudo -u ateliers …)" >&2
  exit 1
fi

set -a
# shellcheck disable=SC1090
. "$ATELIERS_ENV_FILE"
set +a

# The database of DATABASE_URL for libpq's tools (psql, pg_dump, pg_restore): PG_URL, the
# SQLAlchemy URL with libpq's scheme and without its password, and PGPASSWORD, so that the
# password never shows in the process list (`ps` shows every user the command lines).
database_for_libpq() {
  if [[ -z "${DATABASE_URL:-}" ]]; then
    echo "DATABASE_URL n'est pas défini dans $ATELIERS_ENV_FILE." >&2
    exit 1
  fi
  local url="$DATABASE_URL"
  case "$url" in
    postgresql+psycopg://*) url="postgresql://${url#postgresql+psycopg://}" ;;
    postgresql+*://*) url="postgresql://${url#postgresql+*://}" ;;
    postgresql://* | postgres://*) ;;
    *)
      echo "DATABASE_URL n'est pas une base PostgreSQL (postgresql+psycopg://…) : sauvegarde et restauration ne concernent que PostgreSQL." >&2
      exit 1
      ;;
  esac
  # postgresql://user:password@rest → postgresql://user@rest, the password (percent-decoded)
  # in PGPASSWORD.
  local pattern='^(postgres(ql)?://)([^:@/]*):([^@]*)@(.*)$'
  if [[ "$url" =~ $pattern ]]; then
    local password="${BASH_REMATCH[4]}"
    url="${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[5]}"
    PGPASSWORD="$(printf '%b' "${password//%/\\x}")"
    export PGPASSWORD
  fi
  PG_URL="$url"
}

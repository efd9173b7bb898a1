"""The back office's blueprint at /admin/ (coordinators only). Its views live by concern in
`views` (home, audit log), `workshop_views`, `registration_views`, `place_views` and
`outbox_views`, all on this one blueprint so that every endpoint stays `admin.<view>`."""

from flask import Blueprint

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

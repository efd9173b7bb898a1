"""The mail package's blueprint: no routes yet, it makes the shared mail layout findable."""

from flask import Blueprint

blueprint = Blueprint("mail", __name__, template_folder="templates")

"""Coordinators build the agenda, adjust it by hand and publish it as versions."""

from flask import Blueprint

blueprint = Blueprint("exchange_planning", __name__, url_prefix="/admin/rencontres", template_folder="templates")

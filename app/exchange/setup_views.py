"""Coordinators set up each year's half-day: date (suggested), hours, rooms and equipment, deadline, videoconference link."""

from flask import Blueprint

blueprint = Blueprint("exchange_setup", __name__, url_prefix="/admin/rencontres", template_folder="templates")

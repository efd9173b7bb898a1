"""Public pages of the exchange half-day: the landing page, the agenda by time and room, its PDF and calendar feed, registration to attend."""

from flask import Blueprint

blueprint = Blueprint("exchange", __name__, template_folder="templates")

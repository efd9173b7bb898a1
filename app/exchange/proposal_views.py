"""The call for contributions: the public proposal form and the presenter's management page."""

from flask import Blueprint

blueprint = Blueprint("exchange_proposals", __name__, template_folder="templates")

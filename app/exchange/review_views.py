"""Coordinators review the proposals: accept or decline, with a message mailed to the proposer."""

from flask import Blueprint

blueprint = Blueprint("exchange_review", __name__, url_prefix="/admin/rencontres", template_folder="templates")

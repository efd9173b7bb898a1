"""The mail package's blueprint. It has no routes: it puts the mail layout shared by every
feature's mails (`mail/…` templates) on the template path."""

from flask import Blueprint

blueprint = Blueprint("mail", __name__, template_folder="templates")

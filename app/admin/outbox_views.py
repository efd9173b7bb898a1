"""The back office's outbox: every mail with its state, one mail read as sent (and its .eml), a
failed mail offered again. What is shown and the retry's rules live in `app.admin.outbox`."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import outbox
from app.admin.blueprint import blueprint
from app.database import get_by_id, valid_id
from app.mail.models import MailStatus, OutboxMail
from app.staff.access import coordinator_required


@blueprint.get("/courriels")
@coordinator_required
def outbox_list():
    status = MailStatus.from_value(request.args.get("etat"))
    before = request.args.get("avant", type=int)
    query = (request.args.get("q") or "")[:254]
    page = outbox.listing(status, before if valid_id(before) else None, query)
    return render_template(
        "admin/outbox.html", page=page, status=status, query=query, statuses=list(MailStatus)
    )


@blueprint.get("/courriels/<int:mail_id>")
@coordinator_required
def outbox_mail(mail_id: int):
    mail = get_by_id(OutboxMail, mail_id)
    if mail is None:
        abort(404)
    return render_template("admin/outbox_mail.html", reading=outbox.read(mail))


@blueprint.get("/courriels/<int:mail_id>.eml")
@coordinator_required
def outbox_eml(mail_id: int):
    mail = get_by_id(OutboxMail, mail_id)
    reading = outbox.read(mail) if mail is not None else None
    if reading is None or reading.raw is None:
        abort(404)
    return Response(
        reading.raw,
        mimetype="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="courriel-{mail.id}.eml"',
            "Cache-Control": "private, no-store",
        },
    )


@blueprint.post("/courriels/<int:mail_id>/renvoyer")
@coordinator_required
def outbox_retry(mail_id: int):
    if get_by_id(OutboxMail, mail_id) is None:
        abort(404)
    try:
        mail = outbox.retry(current_user, mail_id)
    except outbox.RetryRefused as refusal:  # told on the mail's page, where the retry was asked
        flash(str(refusal))
    else:
        flash(f"Le courriel à {mail.recipient} repart avec le prochain envoi.")
    return redirect(url_for("admin.outbox_mail", mail_id=mail_id))

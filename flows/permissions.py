"""The conveyor's permissions, one per stage, named explicitly.

Roles hold them through the stages their files list (``roles/*.toml``). Names never
derive from node names, so renaming a node cannot silently rename a permission.
"""

from django.utils.translation import gettext_lazy as _

QUALIFY_LEAD = "flows.qualify_lead"
PREPARE_ORDER = "flows.prepare_order"
APPROVE_DISCOUNT = "flows.approve_discount"
PREPARE_DOCUMENTS = "flows.prepare_documents"
DELIVER_ORDER = "flows.deliver_order"
FOLLOW_UP = "flows.follow_up"

# (codename, description) for the process model's Meta.permissions
DECLARED = [
    (QUALIFY_LEAD.split(".")[1], _("Can qualify leads")),
    (PREPARE_ORDER.split(".")[1], _("Can prepare orders")),
    (APPROVE_DISCOUNT.split(".")[1], _("Can approve discounts over the limit")),
    (PREPARE_DOCUMENTS.split(".")[1], _("Can prepare order documents")),
    (DELIVER_ORDER.split(".")[1], _("Can deliver orders")),
    (FOLLOW_UP.split(".")[1], _("Can follow up delivered orders")),
]

# the reminder flow's one stage: a next step promised to a client (flows/reminders.py)
REMIND_CLIENT = "flows.remind_client"
REMINDER_DECLARED = [(REMIND_CLIENT.split(".")[1], _("Can do the next steps promised to clients"))]

# the side-task flow's one stage: non-selling work handed over from a stage (the assistants)
DO_SIDE_TASK = "flows.do_side_task"
SIDE_TASK_DECLARED = [(DO_SIDE_TASK.split(".")[1], _("Can do side tasks handed over from stages"))]

# the data-quality flow's one stage: the base's quality (the database operators)
FIX_DATA = "flows.fix_client_data"
DATA_QUALITY_DECLARED = [(FIX_DATA.split(".")[1], _("Can fix the client base's data"))]

# the pay disputes flow's one stage: a team lead decides a disputed statement line
DECIDE_PAY_DISPUTE = "flows.decide_pay_dispute"
DISPUTE_DECLARED = [(DECIDE_PAY_DISPUTE.split(".")[1], _("Can decide pay disputes"))]

"""The kinds of fault a customer reports from the device's QR page (service/customer_reports.py);
a device model's `[parts_needed]` may key parts by them (`fault:Leak`)."""

from foundations.i18n import N_

# Stored and matched in English; the page shows each translated (`N_` marks them).
FAULT_CATEGORIES = (N_("Not working"), N_("Poor performance"), N_("Leak"),
                    N_("Noise or vibration"), N_("Error on display"), N_("Other"))

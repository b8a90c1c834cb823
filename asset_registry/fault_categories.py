"""The kinds of fault a customer reports from the device's QR page (service/customer_reports.py);
a device model's `[parts_needed]` may key parts by them (`fault:Leak`)."""

FAULT_CATEGORIES = ("Not working", "Poor performance", "Leak", "Noise or vibration",
                    "Error on display", "Other")

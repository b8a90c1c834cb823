"""Notifications: who is told what, and the one worker that tells them.

Rules, the SLA monitor, work-order notices and sales only *record* a notification
(`record.notify`, in the transaction of the change that calls for it); the delivery
worker (`delivery.NotificationDelivery`, main process only) sends every pending one
through the configured sender, outside any transaction, so a slow mail server never
holds up ingest or a plan. Recipients are named the same way everywhere
(`recipients`); the address book turns those names into e-mail addresses.
"""

"""The citizens' pages (网上诉求): a request submitted without an account becomes a ticket of
source ``web``; a ticket (of any channel) looked up by its number and the phone number it was
filed with. Served on a listener of its own, apart from the staff's app, by its own small
aiohttp app (``citizen_app.py``, its pages ``citizen_pages.py``) that mounts only these
routes; the phone numbers it takes (``phones.py``), its rate limits in Redis (``limits.py``),
who is asking and whether the form is this site's (``guard.py``), the service plain of HTTP
(``intake.py``), its bodies (``citizen_schemas.py``). Imports the ground floor, the config,
the tickets and of the staff web only its error shape, body reader and time format
(``ivr.web.errors``, ``ivr.web.bodies``, ``ivr.web.ticket_routes.iso``); the staff web
imports nothing from here."""

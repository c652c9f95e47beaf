"""An Asterisk box behind the Kamailio front door (issue 18, docs/scale-out-sip.md): what
changes in the generated files when :attr:`ConfOptions.kamailio` names Kamailio
(``hotline asterisk-conf|up|reload --kamailio sip:host:port`` or ``$HOTLINE_KAMAILIO``).

* ``hotline-pjsip.conf`` gets the ``kamailio`` endpoint (:func:`kamailio.pjsip_kamailio`),
  identified by Kamailio's address, so the citizens' INVITEs Kamailio dispatches to this box
  enter the hotline's context (``hotline-inbound``) like the carrier's;
* the operators' phones register with Kamailio, not with the box: each operator's AOR gets
  the static contact ``sip:<user>@<Kamailio>``, so ``PJSIP/<user>`` (the interface of
  agents.yaml, which the hotline server dials) reaches the operator wherever the phone
  registered, and the static queue's members are dialled as ``PJSIP/<user>@kamailio``
  (:func:`kamailio.via_kamailio`);
* the browser phones too (agents.yaml ``webrtc``, with Kamailio's WebSocket: ``hotline
  kamailio-conf --ws-port``/``--wss-port``): the AOR of ``<user>-web`` gets the static contact
  ``sip:<user>-web@<Kamailio>``, so the queue's ``PJSIP/<user>-web`` goes to Kamailio over UDP,
  which sends it on over the browser's WebSocket. The endpoint keeps ``webrtc = yes`` (ICE,
  AVPF, rtcp-mux, DTLS-SRTP): the media goes between the browser and this box directly.
"""

from __future__ import annotations

import re

from ivr.asterisk.conf_options import ConfOptions
from ivr.asterisk.errors import AsteriskConfigError
from ivr.asterisk.kamailio import KAMAILIO_ENDPOINT, pjsip_kamailio, via_kamailio

__all__ = ["behind_kamailio", "kamailio_contact"]

_CONTACT = re.compile(r"^sip:(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?$")


def kamailio_contact(value: str) -> str:
    """``host:port`` or ``sip:host[:port]`` as a SIP URI (``sip:host:port``)."""
    uri = value.strip()
    if uri and not uri.startswith("sip:"):
        uri = f"sip:{uri}"
    if not _CONTACT.match(uri):
        raise AsteriskConfigError(
            f"Kamailio's address {value!r} must be host:port or sip:host:port, "
            "e.g. sip:10.0.0.10:5060"
        )
    return uri


def behind_kamailio(files: dict[str, str], opts: ConfOptions) -> dict[str, str]:
    """``files`` (the generated files) changed for a box behind Kamailio; as they are when
    ``opts.kamailio`` is empty."""
    if not opts.kamailio:
        return files
    contact = kamailio_contact(opts.kamailio)
    m = _CONTACT.match(contact)
    assert m is not None
    host, port = m.group("host"), m.group("port")
    where = f"{host}:{port}" if port else host
    out = dict(files)
    pjsip = out["hotline-pjsip.conf"]
    for agent in opts.agents:
        if agent.endpoint:
            aor = f"[{agent.endpoint}](hotline-operator-aor)\n"
            pjsip = pjsip.replace(aor, f"{aor}contact = sip:{agent.endpoint}@{where}\n", 1)
        if agent.webrtc:  # the browser phone, registered over Kamailio's WebSocket
            aor = f"[{agent.webrtc}](hotline-webrtc-aor)\n"
            pjsip = pjsip.replace(aor, f"{aor}contact = sip:{agent.webrtc}@{where}\n", 1)
    identify = []
    if host not in opts.carrier_match:  # on the carrier's address it is identified already
        identify = [
            f"[{KAMAILIO_ENDPOINT}]",
            "type = identify",
            f"endpoint = {KAMAILIO_ENDPOINT}",
            f"match = {host.strip('[]')}",
            "",
        ]
    out["hotline-pjsip.conf"] = "\n".join([pjsip, pjsip_kamailio(contact), *identify])
    members = []
    for line in out["hotline-queue-members.conf"].splitlines():
        if line.startswith("member => "):
            interface, _, rest = line.removeprefix("member => ").partition(",")
            line = f"member => {via_kamailio(interface)},{rest}"
        members.append(line)
    out["hotline-queue-members.conf"] = "\n".join([*members, ""])
    return out

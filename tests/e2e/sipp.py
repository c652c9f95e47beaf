"""SIPp calls for the end-to-end tests: a citizen calling in over real SIP, pressing keys as
RFC 2833 telephone-events (PT 101) played from the pcaps of Debian's ``sip-tester``.

Each call is its own SIPp process running a scenario written for it: INVITE, ACK, then the
keys at fixed times after the ACK (which SIPp sends once the hotline answered), then it waits
for Asterisk's BYE (the test hangs the channel up, or the dialplan does) and answers it, or
sends its own BYE after ``hangup_after`` seconds.
"""

from __future__ import annotations

import html
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PCAP_DIR = Path("/usr/share/sip-tester")
_PCAP_NAMES = {"*": "star", "#": "pound"}


#: 7 s of speech (PCMA, PT 8) from sip-tester: what an operator says, so that the
#: conversation carries audio (the call recording has something to record)
VOICE_PCAP = PCAP_DIR / "g711a.pcap"


def dtmf_pcap(digit: str) -> Path:
    return PCAP_DIR / f"dtmf_2833_{_PCAP_NAMES.get(digit, digit)}.pcap"


def free_udp_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def free_media_port() -> int:
    """An even port with the next three free too (SIPp's RTP/RTCP pair, and the video pair)."""
    for _ in range(200):
        base = free_udp_port() & ~1
        socks = []
        try:
            for p in range(base, base + 4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no free media ports")


def _pcap_packets(path: Path) -> list[tuple[float, bytes]]:
    """(time, frame) of each packet of a classic little-endian pcap file."""
    data = path.read_bytes()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        raise ValueError(f"{path}: not a little-endian microsecond pcap")
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off : off + 16])
        out.append((sec + usec / 1e6, data[off + 16 : off + 16 + incl]))
        off += 16 + incl
    return out


def dtmf_sequence_pcap(keys: list[tuple[float, str]], target: Path) -> float:
    """Write one pcap with every key of ``keys`` as RFC 2833 events; return the time of the
    first key (the scenario pauses that long, then plays the pcap).

    The packets are sip-tester's own captures (``dtmf_2833_<digit>.pcap``, ten packets: the
    event, its continuations and three end packets), re-stamped so that the call's events
    form one RTP stream: sequence numbers rise across keys, each key gets its own RTP
    timestamp and the packets their place in time. Played one capture after another, they
    would not: every capture has its own fixed sequence numbers and timestamp, so Asterisk
    drops a repeated digit (same timestamp as the last event) and a digit whose capture has
    lower sequence numbers than the one before (``*`` then ``9``).
    """
    presses: list[tuple[float, str]] = []
    for at, digits in keys:
        presses += [(at + 0.4 * i, d) for i, d in enumerate(digits)]
    if not presses:
        raise ValueError("no keys")
    first = presses[0][0]
    frames: list[tuple[float, bytes]] = []
    seq = 1000
    for at, digit in presses:
        packets = _pcap_packets(dtmf_pcap(digit))
        t0 = packets[0][0]
        rtp_ts = 8000 * (10 + round(at * 50)) // 50  # a fresh timestamp for each key
        for when, frame in packets:
            ip = 14  # Ethernet
            ihl = (frame[ip] & 0x0F) * 4
            rtp = ip + ihl + 8
            head = bytearray(frame)
            struct.pack_into(">HI", head, rtp + 2, seq & 0xFFFF, rtp_ts)
            seq += 1
            frames.append((at - first + (when - t0), bytes(head)))
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    base = 1_700_000_000
    for when, frame in frames:
        sec = int(when)
        usec = round((when - sec) * 1e6)
        out += struct.pack("<IIII", base + sec, usec, len(frame), len(frame)) + frame
    target.write_bytes(bytes(out))
    return first


def scenario_xml(
    caller: str,
    caller_name: str,
    keys: list[tuple[float, str]],
    hangup_after: float | None = None,
    pcap: Path | None = None,
) -> str:
    """A UAC scenario. ``keys``: (seconds after the ACK, digits) in order; several digits in
    one entry are pressed 400 ms apart. ``pcap`` is where to write their RTP events."""
    name = html.escape(caller_name, quote=True)
    steps: list[str] = []
    now = 0.0
    if keys:
        assert pcap is not None
        first = dtmf_sequence_pcap(keys, pcap)
        steps.append(f'  <pause milliseconds="{round(first * 1000)}"/>')
        steps.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
        now = first
    if hangup_after is not None:
        steps.append(f'  <pause milliseconds="{max(0, round((hangup_after - now) * 1000))}"/>')
        ending = _BYE + '  <recv response="200" crlf="true"/>\n'
    else:
        ending = '  <recv request="BYE"/>\n' + _OK_BYE
    return _HEAD.format(name=name, caller=caller) + "\n".join(steps) + "\n" + ending + _TAIL


_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline e2e caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Subject: hotline e2e
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv

    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>

  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

"""

_BYE = """  <send retrans="500">
    <![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_OK_BYE = """  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

_TAIL = "</scenario>\n"


def via_proxy_uac(xml: str) -> str:
    """A caller's scenario behind a record-routing proxy: the route set of the 200 OK."""
    xml = xml.replace(
        '<recv response="200" rtd="true"/>', '<recv response="200" rtd="true" rrs="true"/>'
    )
    for method, cseq in (("ACK", "1 ACK"), ("BYE", "2 BYE")):
        xml = xml.replace(f"{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
                          f"{method} [next_url] SIP/2.0")  # fmt: skip
        xml = xml.replace(f"CSeq: {cseq}\n", f"CSeq: {cseq}\n      [routes]\n")
    return xml


def via_proxy_uas(xml: str) -> str:
    """An operator's scenario behind a record-routing proxy: its responses echo the
    Record-Route, its BYE follows the route set."""
    xml = xml.replace("[last_CSeq:]\n", "[last_CSeq:]\n      [last_Record-Route:]\n")
    return xml.replace("CSeq: 1 BYE\n", "CSeq: 1 BYE\n      [routes]\n")


@dataclass
class SippCall:
    """One SIPp process placing one call to ``number``."""

    number: str
    caller: str
    proc: subprocess.Popen[bytes]
    workdir: Path
    started: float

    @classmethod
    def start(
        cls,
        workdir: Path,
        sip_port: int,
        number: str,
        caller: str,
        *,
        caller_name: str = "市民",
        keys: list[tuple[float, str]] | None = None,
        hangup_after: float | None = None,
        timeout: float = 240.0,
        proxy: bool = False,
    ) -> SippCall:
        """``proxy``: the call goes through a record-routing proxy (Kamailio): the ACK and
        BYE follow the route set to the far end's Contact."""
        workdir.mkdir(parents=True, exist_ok=True)
        xml = workdir / "caller.sipp.xml"
        pcap = workdir / "keys.pcap"
        text = scenario_xml(caller, caller_name, keys or [], hangup_after, pcap)
        xml.write_text(via_proxy_uac(text) if proxy else text, "utf-8")
        log = open(workdir / "sipp.out", "wb")  # noqa: SIM115 - closed by wait()
        cmd = [
            "sipp",
            f"127.0.0.1:{sip_port}",
            "-sf",
            str(xml),
            "-s",
            number,
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_udp_port()),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(free_media_port()),
            "-nostdin",
            "-timeout",
            f"{int(timeout)}s",
            "-timeout_error",
            "-trace_err",
            "-trace_msg",
        ]
        proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        return cls(number, caller, proc, workdir, time.monotonic())

    def wait(self, timeout: float = 60.0) -> int:
        """SIPp's exit status (0: the call went as scripted)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            return self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def errors(self) -> str:
        """SIPp's error and message traces, for an assertion message."""
        out = []
        for path in sorted(self.workdir.glob("*")):
            if path.name.endswith(("_errors.log", ".out")) or path.name.endswith("_messages.log"):
                out.append(f"--- {path.name}\n{path.read_text('utf-8', 'replace')[-3000:]}")
        return "\n".join(out)


# -- operators: a softphone registered as an operator endpoint, as a SIPp UAS ----------------

REGISTER_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="operator softphone registers (digest auth)">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:{contact_port}>
      Expires: {expires}
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{user}@[local_ip]:{contact_port}>
      [authentication username={user} password={password}]
      Expires: {expires}
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""

_UAS_INVITE = """<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="operator softphone">
  <recv request="OPTIONS" optional="true" next="ping"/>
  <recv request="INVITE" crlf="true" rrs="true">{capture}</recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"""

# the caller's From (with its tag): the To of the operator's BYE
_CAPTURE_FROM = """
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="caller"/>
    </action>
  """

_UAS_ANSWER = """  <pause milliseconds="{ring_ms}"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=operator 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=sendrecv

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec play_pcap_audio="{voice}"/></action></nop>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To:[$caller]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""

_UAS_BUSY = """  <pause milliseconds="{ring_ms}"/>
  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
"""

# after the call: stop (``last``) or take the next one; Asterisk's qualify OPTIONS ("ping") are
# calls of their own for SIPp, answered here
_STOP = """  <nop><action><exec int_cmd="stop_gracefully"/></action></nop>
"""

_UAS_TAIL = """{stop}  <nop next="done"/>
  <label id="ping"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag02[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
  <label id="done"/>
</scenario>
"""


@dataclass
class Operator:
    """An operator's softphone: a SIPp UAS on its own port, registered (digest auth) as the
    PJSIP endpoint ``user``. It takes one call (``once``) or any number; each rings ``ring``
    seconds, then is answered, talked over for ``talk`` seconds and hung up by the operator,
    or (``busy``) refused with 486 Busy Here. It answers Asterisk's OPTIONS pings."""

    user: str
    password: str
    sip_port: int
    proc: subprocess.Popen[bytes] | None
    workdir: Path
    port: int

    @classmethod
    def start(
        cls,
        workdir: Path,
        sip_port: int,
        user: str,
        password: str,
        *,
        busy: bool = False,
        ring: float = 1.0,
        talk: float = 3.0,
        once: bool = True,
        timeout: float = 300.0,
        proxy: bool = False,
    ) -> Operator:
        """``proxy``: registered with a record-routing proxy (Kamailio), which rings it."""
        workdir.mkdir(parents=True, exist_ok=True)
        tail = _UAS_BUSY if busy else _UAS_ANSWER
        xml = workdir / "operator.sipp.xml"
        scenario = _UAS_INVITE + tail + _UAS_TAIL
        xml.write_text(
            (via_proxy_uas(scenario) if proxy else scenario).format(
                stop=_STOP if once else "",
                user=user,
                ring_ms=round(ring * 1000),
                talk_ms=round(talk * 1000),
                voice=VOICE_PCAP,
                capture="" if busy else _CAPTURE_FROM,
            ),
            "utf-8",
        )
        # Asterisk rewrites the contact to where the REGISTER came from (rewrite_contact):
        # register from the port the UAS then listens on
        port = free_udp_port()
        op = cls(user, password, sip_port, None, workdir, port)
        rc = op._register(3600)
        if rc != 0:
            raise AssertionError(f"{user} could not register (SIPp exit {rc})")
        log = open(workdir / "sipp.out", "wb")  # noqa: SIM115 - closed below
        cmd = [
            *("sipp", "-sf", str(xml), "-aa"),
            *("-i", "127.0.0.1", "-p", str(port)),
            *("-mi", "127.0.0.1", "-mp", str(free_media_port())),
            *("-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error"),
            *("-trace_err", "-trace_msg"),
        ]
        op.proc = subprocess.Popen(
            cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        return op

    def _register(self, expires: int) -> int:
        workdir = self.workdir / f"register-{expires}"
        workdir.mkdir(exist_ok=True)
        xml = workdir / "register.sipp.xml"
        xml.write_text(
            REGISTER_XML.format(
                user=self.user, password=self.password, contact_port=self.port, expires=expires
            ),
            "utf-8",
        )
        return subprocess.run(
            [
                *("sipp", f"127.0.0.1:{self.sip_port}", "-sf", str(xml), "-m", "1"),
                *("-i", "127.0.0.1", "-p", str(self.port), "-nostdin"),
                *("-timeout", "15s", "-timeout_error", "-trace_err"),
            ],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        ).returncode

    def wait(self, timeout: float = 60.0) -> int:
        """SIPp's exit status once it took its call (0: it went as scripted)."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            return self.proc.wait(10)

    def stop(self) -> None:
        """Stop the softphone and unregister (from its port, once free)."""
        self.kill()
        self._register(0)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def errors(self) -> str:
        out = []
        for path in sorted(self.workdir.glob("*")):
            if path.name.endswith(("_errors.log", ".out", "_messages.log")):
                out.append(f"--- {path.name}\n{path.read_text('utf-8', 'replace')[-3000:]}")
        return "\n".join(out)

"""Asterisk next to the hotline: the Asterisk 22 config generated from the admin config, and a
local development Asterisk in a Debian sid chroot to run it in.

The config: :mod:`.conf` (the one import: static ``asterisk_conf/`` files, :func:`~.conf.write`),
:mod:`.conf_options` (operators, SIP and AMI secrets, FastAGI URLs, the process-AGI command),
:mod:`.conf_generated` (the ``hotline-*.conf`` files). The local Asterisk: :mod:`.local` (the one
import), :mod:`.chroot` (where the root is), :mod:`.provision` (debootstrap, ``/etc/asterisk``),
:mod:`.mounts`, :mod:`.control` (start, stop, ``rx``, status), :mod:`.pids` (finding its
process), :mod:`.pbx_reload` (reload, and the problems its log got), :mod:`.errors` (the ``HL-AST``
ids). ``hotline asterisk-conf`` and ``hotline asterisk ...`` are :mod:`ivr.console.asterisk_cli`.

Imports: :mod:`ivr.errors`, :mod:`ivr.settings`, :mod:`ivr.runinfo`, :mod:`ivr.config` (the
admin config bundle), and from :mod:`queueing` only the AMI secret and callback-event names
(``queueing.ami``) and the dialler's settings (``ivr.config.queue_models``). It must not import
:mod:`ivr.tickets`, :mod:`ivr.web`, :mod:`ivr.cli`, :mod:`ivr.engine` or :mod:`ivr.agi`:
nothing in the call path depends on it, and it runs no calls.
"""

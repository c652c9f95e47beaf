"""Running a real Asterisk next to the hotline: a local Asterisk 22 in a chroot (:mod:`.local`)."""

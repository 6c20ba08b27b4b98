package imapserver

// COMPRESS (RFC 4978 §3).
func cmdCompress(s *session, tag string, uid bool) error { return bad("COMPRESS not implemented") }

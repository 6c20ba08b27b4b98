package smtpserver

import "testing"

// RaceEnabled lets the external test package (store_mem_test.go, which
// imports maildir, which imports smtpserver) ask whether -race is on.
const RaceEnabled = raceEnabled

// StartServer is startServer for the external test package.
func StartServer(t testing.TB, s *Server) string { return startServer(t, s) }

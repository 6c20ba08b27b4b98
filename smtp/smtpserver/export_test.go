package smtpserver

// RaceEnabled lets the external test package (store_mem_test.go, which
// imports maildir, which imports smtpserver) ask whether -race is on.
const RaceEnabled = raceEnabled

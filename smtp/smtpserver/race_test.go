//go:build race

package smtpserver

const raceEnabled = true

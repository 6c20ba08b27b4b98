//go:build !race

package smtpserver

const raceEnabled = false

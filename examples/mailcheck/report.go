package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Severity orders findings: problems first.
type Severity string

// The severities of a finding. Error and Warn are problems (non-zero exit);
// OK and Info are what was checked and found fine.
const (
	Error Severity = "error"
	Warn  Severity = "warning"
	Info  Severity = "info"
	OK    Severity = "ok"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warn:
		return 1
	case Info:
		return 2
	}
	return 3
}

// Finding is one result of a check: what was looked at (Subject, such as
// "smtp 25" or "SPF"), a stable identifier (ID, for scripts and tests), what
// was found, and for a problem the fix in one sentence.
type Finding struct {
	Severity Severity `json:"severity"`
	ID       string   `json:"id"`
	Subject  string   `json:"subject"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Report collects the findings of one run, plus details for -json.
type Report struct {
	Command  string    `json:"command"`
	Target   string    `json:"target"`
	Findings []Finding `json:"findings"`
	Details  any       `json:"details,omitempty"`
}

func (r *Report) add(sev Severity, id, subject, fix, format string, args ...any) {
	// One line per finding: joined errors carry newlines, and a server's
	// reply must not be able to forge lines of the report.
	msg := strings.Join(strings.FieldsFunc(fmt.Sprintf(format, args...), func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
	r.Findings = append(r.Findings, Finding{Severity: sev, ID: id, Subject: subject, Message: msg, Fix: fix})
}

func (r *Report) problem(sev Severity, id, subject, fix, format string, args ...any) {
	r.add(sev, id, subject, fix, format, args...)
}

func (r *Report) ok(id, subject, format string, args ...any) {
	r.add(OK, id, subject, "", format, args...)
}

func (r *Report) info(id, subject, format string, args ...any) {
	r.add(Info, id, subject, "", format, args...)
}

// Problems returns the findings of severity Error or Warn.
func (r *Report) Problems() []Finding {
	var p []Finding
	for _, f := range r.Findings {
		if f.Severity == Error || f.Severity == Warn {
			p = append(p, f)
		}
	}
	return p
}

// Has reports whether a finding with the given ID is in the report.
func (r *Report) Has(id string) bool {
	for _, f := range r.Findings {
		if f.ID == id {
			return true
		}
	}
	return false
}

// sorted puts errors first, then warnings, then the rest in the order the
// checks ran (so what was checked reads per port or per record).
func (r *Report) sorted() []Finding {
	fs := append([]Finding(nil), r.Findings...)
	sort.SliceStable(fs, func(i, j int) bool { return min(fs[i].Severity.rank(), 2) < min(fs[j].Severity.rank(), 2) })
	return fs
}

// WriteText writes the report for people: problems first, each with its fix.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "mailcheck %s %s\n", r.Command, r.Target)
	probs := r.Problems()
	if len(probs) == 0 {
		b.WriteString("No problems found.\n")
	} else {
		fmt.Fprintf(&b, "%d problem(s):\n", len(probs))
	}
	last := Severity("")
	for _, f := range r.sorted() {
		if f.Severity != last && (f.Severity == Info || f.Severity == OK) && last != Info && last != OK {
			b.WriteString("\nChecked:\n")
		}
		last = f.Severity
		label := map[Severity]string{Error: "ERROR", Warn: "WARN ", Info: "info ", OK: "ok   "}[f.Severity]
		fmt.Fprintf(&b, "  %s %-14s %s\n", label, f.Subject, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(&b, "        fix: %s\n", f.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report for scripts.
func (r *Report) WriteJSON(w io.Writer) error {
	r.Findings = r.sorted()
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

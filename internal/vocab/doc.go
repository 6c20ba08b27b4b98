// Package vocab holds the test that keeps the README's vocabulary tables
// true: every name they list exists in each package, with one shape.
package vocab

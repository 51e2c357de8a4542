// Package importrules holds only a test: the rules of which package of the
// module may import which (layers call down, never up). It fails in CI when
// a change breaks one.
package importrules

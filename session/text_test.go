package session

import (
	"testing"
	"unicode"
)

// TestFirstMark: checkMarks skips the table for every character before firstMark, which holds
// only if none of them is a combining mark.
func TestFirstMark(t *testing.T) {
	for r := rune(0); r < firstMark; r++ {
		if unicode.In(r, unicode.Mn, unicode.Me) {
			t.Fatalf("%U is a combining mark, before firstMark %U", r, firstMark)
		}
	}
	if !unicode.In(firstMark, unicode.Mn) {
		t.Fatalf("firstMark %U is not a combining mark", firstMark)
	}
}

package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/duetchat/duet"
)

// FuzzNormalize checks that Normalize never fails, returns valid UTF-8 with nothing invisible and
// single spaces only, and is idempotent.
func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q, not valid UTF-8", s, n)
		}
		if i := strings.IndexFunc(n, visiblyNothing); i >= 0 {
			t.Fatalf("Normalize(%q) = %q, with invisible %U at %d", s, n, []rune(n[i:])[0], i)
		}
		if strings.Contains(n, "  ") || strings.TrimSpace(n) != n {
			t.Fatalf("Normalize(%q) = %q, with extra spaces", s, n)
		}
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", s, n, n, again)
		}
	})
}

// FuzzMessage checks that Message never fails on any text and refuses only with a ParamErr,
// and that it decides on the normal form, except that the capitals of a camel-case compound
// ("BigAss") may also separate words: what Normalize(text) is refused for, text is refused for.
func FuzzMessage(f *testing.F) {
	filter := newFilter(f, Options{WordsFile: writeWords(f, testWords...), LinksAfter: 3})
	f.Fuzz(func(t *testing.T, text string, sentBefore int) {
		err := filter.Message(text, Sent(sentBefore))
		if err != nil {
			if e, ok := errors.AsType[*duet.Error](err); !ok || e.Code != duet.ParamErr {
				t.Fatalf("Message(%q, %d) = %v, want nil or a ParamErr", text, sentBefore, err)
			}
		}
		normal := Normalize(text)
		normalErr := filter.Message(normal, Sent(sentBefore))
		if normalErr != nil && err == nil || !strings.ContainsFunc(text, unicode.IsUpper) && duet.ErrorMessage(normalErr) != duet.ErrorMessage(err) {
			t.Fatalf("Message(%q) = %v but Message(%q) = %v", text, err, normal, normalErr)
		}
	})
}
